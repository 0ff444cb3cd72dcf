"""PECONV: the public 100-dialogue sample in and out, strategy spellings, refusals."""

from __future__ import annotations

import json

import pytest

from curation_app import formats
from curation_app.domain import Dialogue, Role, Turn
from tests.formats.conftest import PECONV, as_bytes, sample_head, sample_records


def one_record(**changes) -> list[dict]:
    record = sample_head(PECONV, 1)[0]
    record.update(changes)
    return [record]


def test_peconv_sample_reads_100_dialogues_and_1577_turns(peconv_result):
    result = peconv_result
    assert (result.total, len(result.records), result.refused) == (100, 100, [])
    turns = [t for r in result.records for t in r.dialogue.turns]
    assert len(turns) == 1577
    assert all(r.dialogue.language == "zh" for r in result.records)
    assert result.records[0].dialogue.external_id == "1"


def test_peconv_record_100_nan_topic_is_taken_as_missing_with_a_warning(peconv_result):
    parsed = next(r for r in peconv_result.records if r.dialogue.external_id == "100")
    assert parsed.dialogue.topic is None
    warnings = [w for w in peconv_result.warnings if w.index == parsed.index and w.field == "topic"]
    assert [str(w) for w in warnings] == [
        f"record {parsed.index} (dialog_id 100), field topic: NaN is not valid JSON; "
        "read as missing"
    ]


def test_peconv_assistant_speaker_is_read_as_parent_with_one_warning_per_record(peconv_result):
    first = peconv_result.records[0].dialogue
    assert [t.role for t in first.turns[:2]] == [Role.SEEKER, Role.SUPPORTER]
    speaker_warnings = [w for w in peconv_result.warnings if w.field.endswith(".speaker")]
    assert len(speaker_warnings) == 100
    assert str(speaker_warnings[0]) == ("record 0 (dialog_id 1), field dialog[1].speaker: "
                                        "speaker '智能助手' read as '家长' (9 turns)")


def test_peconv_round_trip_keeps_texts_roles_emotions_and_topics(peconv_result, peconv_vocab):
    exported = json.loads(formats.dumps([r.dialogue for r in peconv_result.records], "peconv",
                                        peconv_vocab))
    original = sample_records(PECONV)
    assert [r["dialog_id"] for r in exported] == [r["dialog_id"] for r in original]
    assert all(type(r["dialog_id"]) is int for r in exported)
    assert [r["emotion"] for r in exported] == [r["emotion"] for r in original]
    # NaN cannot be written as JSON: record dialog_id 100 comes back with topic null
    assert [r["topic"] for r in exported] == [
        None if r["dialog_id"] == 100 else r["topic"] for r in original
    ]
    written = {"孩子": "孩子", "智能助手": "家长"}
    for out, orig in zip(exported, original, strict=True):
        assert [t["text"] for t in out["dialog"]] == [t["text"] for t in orig["dialog"]]
        assert [t["speaker"] for t in out["dialog"]] == [written[t["speaker"]]
                                                         for t in orig["dialog"]]


def test_peconv_writer_uses_the_preset_display_names_and_strategy_lists(peconv_vocab):
    dialogue = Dialogue(turns=[Turn(Role.SEEKER, "我考试没考好"),
                               Turn(Role.SUPPORTER, "我懂你的失落", ["validation", "empathy"])],
                        language="zh", topic="考试没考好", emotion="sad", external_id="7")
    record = json.loads(formats.dumps([dialogue], "peconv", peconv_vocab))[0]
    assert record == {
        "dialog_id": "7", "emotion": "sad", "topic": "考试没考好",
        "dialog": [{"speaker": "孩子", "text": "我考试没考好"},
                   {"speaker": "家长", "text": "我懂你的失落",
                    "strategy": ["validation", "empathy"]}],
    }


def test_peconv_dialogue_without_external_id_is_numbered_by_position(peconv_vocab):
    dialogues = [Dialogue(turns=[Turn(Role.SEEKER, "嗨")]) for _ in range(2)]
    records = json.loads(formats.dumps(dialogues, "peconv", peconv_vocab))
    assert [r["dialog_id"] for r in records] == [1, 2]


@pytest.mark.parametrize(("strategy", "expected"), [
    (["validation", "empathy"], ["validation", "empathy"]),
    ("support", ["support"]),
    ("认可、共情", ["validation", "empathy"]),
    ("validation, support", ["validation", "support"]),
    ("empathy/support", ["empathy", "support"]),
    ("Validation; 支持", ["validation", "support"]),
    ("", []),
    (None, []),
])
def test_peconv_strategy_accepts_lists_single_and_joined_names(strategy, expected,
                                                               peconv_vocab):
    records = one_record()
    records[0]["dialog"][1]["strategy"] = strategy
    result = formats.read_bytes(as_bytes(records), "peconv", peconv_vocab)
    assert result.refused == []
    assert result.records[0].dialogue.turns[1].strategies == expected


def test_peconv_alias_of_a_strategy_is_read_with_a_warning(peconv_vocab):
    records = one_record()
    records[0]["dialog"][1]["strategy"] = ["共情"]
    result = formats.read_bytes(as_bytes(records), "peconv", peconv_vocab)
    assert result.records[0].dialogue.turns[1].strategies == ["empathy"]
    assert "record 0 (dialog_id 1), field dialog[1].strategy[0]: strategy '共情' read as " \
           "'empathy'" in [str(w) for w in result.warnings]


def test_peconv_unknown_strategy_and_topic_are_reported_with_their_fields(peconv_vocab):
    records = one_record(topic="外星人来访")
    records[0]["dialog"][3]["strategy"] = "批评"
    result = formats.read_bytes(as_bytes(records), "peconv", peconv_vocab)
    assert result.records[0].unknown_labels == [
        formats.UnknownLabel("strategy", "批评", "dialog[3].strategy"),
        formats.UnknownLabel("topic", "外星人来访", "topic"),
    ]
    assert result.records[0].dialogue.topic == "外星人来访"


def test_peconv_several_strategies_are_refused_on_a_single_strategy_project(extes_vocab):
    records = one_record()
    records[0]["dialog"][1]["strategy"] = ["Affirmation", "Offer Hope"]
    result = formats.read_bytes(as_bytes(records), "peconv", extes_vocab)
    assert result.records == []
    assert [str(p) for p in result.refused] == [
        "record 0 (dialog_id 1), field dialog[1].strategy: 2 strategies on one turn "
        "('Affirmation', 'Offer Hope'); this project allows one"
    ]


def test_peconv_string_dialog_id_round_trips_as_a_string(peconv_vocab):
    records = one_record(dialog_id="qb-001")
    result = formats.read_bytes(as_bytes(records), "peconv", peconv_vocab)
    assert result.records[0].dialogue.external_id == "qb-001"
    exported = json.loads(formats.dumps([result.records[0].dialogue], "peconv", peconv_vocab))
    assert exported[0]["dialog_id"] == "qb-001"


def test_peconv_null_text_is_refused_naming_record_id_and_field(peconv_vocab):
    records = sample_head(PECONV, 13)
    records[12]["dialog"][3]["text"] = None
    result = formats.read_bytes(as_bytes(records), "peconv", peconv_vocab)
    assert len(result.records) == 12
    assert [str(p) for p in result.refused] == [
        "record 12 (dialog_id 13), field dialog[3].text: expected a string, got null"
    ]


@pytest.mark.parametrize(("mutate", "field", "message"), [
    (lambda r: r["dialog"][0].update(speaker="老师"), "dialog[0].speaker",
     "unknown speaker '老师'; expected 孩子 or 家长 (or an alias)"),
    (lambda r: r["dialog"][0].pop("speaker"), "dialog[0].speaker", "is missing"),
    (lambda r: r.update(dialog={}), "dialog", "expected an array, got an object"),
    (lambda r: r.update(dialog_id=[1]), "dialog_id", "expected an integer or a string"),
    (lambda r: r["dialog"][1].update(strategy=[3]), "dialog[1].strategy[0]",
     "expected a string, got an integer"),
])
def test_peconv_structural_errors_refuse_the_record(mutate, field, message, peconv_vocab):
    records = one_record()
    mutate(records[0])
    result = formats.read_bytes(as_bytes(records), "peconv", peconv_vocab)
    assert result.records == []
    assert [p.field for p in result.refused] == [field]
    assert message in result.refused[0].message


def test_peconv_extra_keys_are_kept_and_written_back(peconv_vocab):
    records = one_record(rewritten_by="annotator 3")
    records[0]["dialog"][0]["ts"] = 12
    result = formats.read_bytes(as_bytes(records), "peconv", peconv_vocab)
    dialogue = result.records[0].dialogue
    assert dialogue.metadata == {"peconv": {"dialog_id": 1, "rewritten_by": "annotator 3"}}
    exported = json.loads(formats.dumps([dialogue], "peconv", peconv_vocab))[0]
    assert exported["rewritten_by"] == "annotator 3"
    assert exported["dialog"][0]["ts"] == 12
