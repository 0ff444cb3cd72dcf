"""ESConv: the real 1,300-dialogue file in and out, and the variants real files carry."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from curation_app import formats
from curation_app.domain import Dialogue, Role, Turn
from curation_app.errors import ExportError
from curation_app.formats import esconv
from tests.formats.conftest import ESCONV, as_bytes, sample_head, sample_records

PUBLISHED_STRATEGY_COUNTS = {
    "Question": 3801, "Others": 3341, "Providing Suggestions": 2954,
    "Affirmation and Reassurance": 2827, "Self-disclosure": 1713, "Reflection of feelings": 1436,
    "Information": 1215, "Restatement or Paraphrasing": 1089,
}


def small_sample() -> list[dict]:
    return sample_head(ESCONV, 3)


def test_esconv_import_matches_the_published_counts(esconv_result):
    result = esconv_result
    turns = [t for r in result.records for t in r.dialogue.turns]
    assert (result.total, len(result.records), len(turns)) == (1300, 1300, 38365)
    assert Counter(t.role for t in turns) == {Role.SEEKER: 19989, Role.SUPPORTER: 18376}
    assert Counter(s for t in turns for s in t.strategies) == PUBLISHED_STRATEGY_COUNTS
    assert result.refused == [] and result.warnings == []
    assert all(r.unknown_labels == [] for r in result.records)


def test_esconv_maps_labels_and_keeps_every_other_key_as_metadata(esconv_result):
    original = sample_records(ESCONV)[0]
    dialogue = esconv_result.records[0].dialogue
    assert dialogue.emotion == original["emotion_type"]
    assert dialogue.topic == original["problem_type"]
    assert dialogue.description == original["situation"]
    assert dialogue.language == "en"
    kept = dialogue.metadata["esconv"]
    assert list(kept) == ["experience_type", "survey_score", "seeker_question1",
                          "seeker_question2", "supporter_question1", "supporter_question2"]
    assert kept["survey_score"] == original["survey_score"]


def test_esconv_round_trip_is_identical(esconv_result, esconv_vocab):
    text = formats.dumps([r.dialogue for r in esconv_result.records], "esconv", esconv_vocab)
    exported = json.loads(text)
    assert exported == sample_records(ESCONV)
    assert list(exported[0]) == list(esconv.ORDER)


def test_esconv_problem_type_keeps_its_original_inconsistent_casing(esconv_result):
    topics = {r.dialogue.topic for r in esconv_result.records}
    assert {"Sleep Problems", "job crisis"} <= topics


@pytest.mark.parametrize(("seeker", "supporter"), [("usr", "sys"), ("speaker", "listener"),
                                                    ("Seeker", "SUPPORTER")])
def test_esconv_speaker_aliases_are_recognised_and_written_back_canonically(
        seeker, supporter, esconv_vocab):
    records = small_sample()
    for turn in records[0]["dialog"]:
        turn["speaker"] = seeker if turn["speaker"] == "seeker" else supporter
    result = formats.read_bytes(as_bytes(records), "esconv", esconv_vocab)
    assert result.refused == []
    roles = [t["speaker"] for t in small_sample()[0]["dialog"]]
    assert [str(t.role) for t in result.records[0].dialogue.turns] == roles
    messages = [str(w) for w in result.warnings]
    assert any(f"field dialog[0].speaker: speaker '{seeker}' read as 'seeker'" in m
               for m in messages)
    exported = json.loads(formats.dumps([r.dialogue for r in result.records], "esconv",
                                        esconv_vocab))
    assert exported == small_sample()


@pytest.mark.parametrize(("written", "read"), [
    ("Questions", "Question"), ("question", "Question"), ("Other", "Others"),
    ("reflection of Feelings", "Reflection of feelings"), ("Self disclosure", "Self-disclosure"),
])
def test_esconv_strategy_aliases_and_casing_are_normalised_with_a_warning(
        written, read, esconv_vocab):
    records = small_sample()
    records[0]["dialog"][1]["annotation"]["strategy"] = written
    result = formats.read_bytes(as_bytes(records), "esconv", esconv_vocab)
    assert result.records[0].dialogue.turns[1].strategies == [read]
    assert [str(w) for w in result.warnings] == [
        f"record 0, field dialog[1].annotation.strategy: strategy '{written}' read as '{read}'"
    ]


def test_esconv_off_list_strategy_is_kept_and_reported_as_unknown(esconv_vocab):
    records = small_sample()
    records[0]["dialog"][1]["annotation"]["strategy"] = "Humour"
    result = formats.read_bytes(as_bytes(records), "esconv", esconv_vocab)
    assert result.records[0].dialogue.turns[1].strategies == ["Humour"]
    assert result.records[0].unknown_labels == [
        formats.UnknownLabel("strategy", "Humour", "dialog[1].annotation.strategy")
    ]


def test_esconv_feedback_and_unknown_keys_survive_a_round_trip(esconv_vocab):
    records = small_sample()
    records[0]["dialog"][0]["annotation"] = {"feedback": "5"}
    records[0]["dialog"][1]["annotation"]["confidence"] = 0.9
    records[0]["dialog"][2]["timestamp"] = "12:00"
    records[0]["rater"] = {"id": 7}
    result = formats.read_bytes(as_bytes(records), "esconv", esconv_vocab)
    turns = result.records[0].dialogue.turns
    assert turns[0].metadata == {"esconv": {"annotation": {"feedback": "5"}}}
    assert turns[2].metadata == {"esconv": {"timestamp": "12:00"}}
    exported = json.loads(formats.dumps([r.dialogue for r in result.records], "esconv",
                                        esconv_vocab))
    assert exported == records


def test_esconv_consecutive_turns_of_one_speaker_stay_separate(esconv_vocab):
    records = small_sample()
    dialog = records[0]["dialog"]
    dialog.insert(1, dict(dialog[0], content="and another thing"))
    result = formats.read_bytes(as_bytes(records), "esconv", esconv_vocab)
    roles = [t.role for t in result.records[0].dialogue.turns[:3]]
    assert roles == [Role.SEEKER, Role.SEEKER, Role.SUPPORTER]


@pytest.mark.parametrize(("mutate", "field", "message"), [
    (lambda r: r["dialog"][3].update(content=None), "dialog[3].content",
     "expected a string, got null"),
    (lambda r: r["dialog"][2].pop("speaker"), "dialog[2].speaker", "is missing"),
    (lambda r: r["dialog"][2].update(speaker="narrator"), "dialog[2].speaker",
     "unknown speaker 'narrator'"),
    (lambda r: r.update(dialog=[]), "dialog", "must not be empty"),
    (lambda r: r.pop("dialog"), "dialog", "is missing"),
    (lambda r: r["dialog"][1].update(annotation="Question"), "dialog[1].annotation",
     "expected an object, got a string"),
    (lambda r: r["dialog"][0]["annotation"].update(strategy=["Question", "Others"]),
     "dialog[0].annotation.strategy", "2 strategies on one turn"),
    (lambda r: r.update(problem_type=3), "problem_type", "expected a string or null"),
])
def test_esconv_structural_errors_refuse_the_record_with_index_and_field(
        mutate, field, message, esconv_vocab):
    records = small_sample()
    mutate(records[2])
    result = formats.read_bytes(as_bytes(records), "esconv", esconv_vocab)
    assert [r.index for r in result.records] == [0, 1]
    assert result.total == 3
    assert [(p.index, p.field) for p in result.refused] == [(2, field)]
    assert message in result.refused[0].message


def test_esconv_normalises_missing_annotation_and_null_strategy_with_warnings(esconv_vocab):
    records = small_sample()
    del records[0]["dialog"][0]["annotation"]
    records[0]["dialog"][1]["annotation"]["strategy"] = None
    result = formats.read_bytes(as_bytes(records), "esconv", esconv_vocab)
    assert result.refused == []
    fields = [w.field for w in result.warnings]
    assert fields[:2] == ["dialog[0].annotation", "dialog[1].annotation.strategy"]
    assert result.records[0].dialogue.turns[1].strategies == []


def test_esconv_export_of_another_project_still_writes_seeker_and_supporter(peconv_vocab):
    dialogue = Dialogue(turns=[Turn(Role.SEEKER, "我很难过"),
                               Turn(Role.SUPPORTER, "我明白", ["empathy"])],
                        language="zh", topic="搬家", emotion="sad")
    record = json.loads(formats.dumps([dialogue], "esconv", peconv_vocab))[0]
    assert record == {
        "emotion_type": "sad", "problem_type": "搬家", "situation": None,
        "dialog": [
            {"speaker": "seeker", "annotation": {}, "content": "我很难过"},
            {"speaker": "supporter", "annotation": {"strategy": "empathy"}, "content": "我明白"},
        ],
    }


def test_esconv_export_refuses_a_turn_with_two_strategies_naming_the_field(peconv_vocab):
    dialogue = Dialogue(turns=[Turn(Role.SEEKER, "a"),
                               Turn(Role.SUPPORTER, "b", ["empathy", "support"])],
                        external_id="d7")
    with pytest.raises(ExportError) as caught:
        formats.dumps([dialogue], "esconv", peconv_vocab)
    assert "record 0 (external id d7)" in str(caught.value)
    assert "field dialog[1].annotation.strategy: expected a string, got an array" \
        in str(caught.value)
