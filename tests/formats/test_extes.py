"""ExTES: the real record in and out, and every irregularity of the full file."""

from __future__ import annotations

import json

import pytest

from curation_app import formats
from curation_app.domain import Dialogue, Role, Turn
from curation_app.errors import ExportError
from tests.formats.conftest import EXTES, as_bytes, sample_head, sample_records


def record() -> dict:
    return sample_head(EXTES, 1)[0]


def read(records, vocab):
    return formats.read_bytes(as_bytes(records), "extes", vocab)


def test_extes_record_is_identical_on_export(extes_result, extes_vocab):
    assert extes_result.refused == [] and extes_result.warnings == []
    dialogue = extes_result.records[0].dialogue
    assert dialogue.topic == "Communication Challenges"
    assert dialogue.description.startswith("After a long day at work")
    exported = json.loads(formats.dumps([dialogue], "extes", extes_vocab))
    assert exported == sample_records(EXTES)


def test_extes_empty_strategy_means_none_and_is_written_back_as_empty_string(
        extes_result, extes_vocab):
    turns = extes_result.records[0].dialogue.turns
    assert turns[1].role is Role.SUPPORTER and turns[1].strategies == []
    assert turns[3].strategies == ["Reflective Statements"]
    exported = json.loads(formats.dumps([extes_result.records[0].dialogue], "extes",
                                        extes_vocab))
    assert list(exported[0]["content"][1].items()) == [
        ("AI Strategy", ""), ("AI", "Of course! I'm here to listen. What's been going on?")
    ]


def set_turn(index, turn):
    def mutate(r):
        r["content"][index] = turn(r["content"][index])
    return mutate


# (change to the real record, field named by the warning, words of the warning)
IRREGULARITIES = [
    (lambda r: r.update(Description=r.pop("description")), "Description",
     "key read as 'description'"),
    (set_turn(3, lambda t: {"AI strategy": t["AI Strategy"], "AI": t["AI"]}),
     'content[3]["AI strategy"]', "key read as 'AI Strategy'"),
    (set_turn(3, lambda t: {"strategy": t["AI Strategy"], "AI": t["AI"]}),
     "content[3].strategy", "key read as 'AI Strategy'"),
    (set_turn(2, lambda t: {"User": {"text": t["User"]}}), "content[2].User",
     "text given as an object; read its string value"),
    (set_turn(3, lambda t: {"AI Strategy": t["AI Strategy"], "AI": {"Response": t["AI"]}}),
     "content[3].AI", "text given as an object"),
    (set_turn(3, lambda t: {"AI Strategy": None, "AI": t["AI"]}), 'content[3]["AI Strategy"]',
     "null; read as no strategy"),
    (set_turn(3, lambda t: {"AI": t["AI"]}), "content[3]",
     "AI turn without an 'AI Strategy' key; read as no strategy"),
    (set_turn(3, lambda t: {"AI Strategy": "reflective statements", "AI": t["AI"]}),
     'content[3]["AI Strategy"]', "strategy 'reflective statements' read as "
                                  "'Reflective Statements'"),
    (set_turn(1, lambda t: {"AI Strategy": "Other", "AI": t["AI"]}),
     'content[1]["AI Strategy"]', "strategy 'Other' read as 'Others'"),
    (set_turn(3, lambda t: {"AI Strategy": ["Reflective Statements"], "AI": t["AI"]}),
     'content[3]["AI Strategy"]', "a 1-item list; read as its strategy"),
    (set_turn(2, lambda t: {"user": t["User"]}), "content[2].user", "key read as 'User'"),
    (lambda r: r["content"].pop(0), "content[0]", "dialogue starts with the AI"),
    (lambda r: r["content"].pop(), "content[14]", "dialogue ends with the User"),
    (lambda r: r["content"].pop(3), "content[3]", "two User turns in a row"),
    (lambda r: r.update(scene=float("nan")), "scene", "NaN is not valid JSON; read as missing"),
]


@pytest.mark.parametrize(("mutate", "field", "message"), IRREGULARITIES)
def test_extes_irregularity_is_normalised_with_a_warning_naming_record_and_field(
        mutate, field, message, extes_vocab):
    changed = record()
    mutate(changed)
    result = read([record(), changed], extes_vocab)
    assert result.refused == []
    assert len(result.records) == 2
    assert any(w.index == 1 and w.field == field and message in w.message
               for w in result.warnings), [str(w) for w in result.warnings]


def test_extes_turn_holding_both_user_and_ai_is_split_user_first(extes_vocab):
    changed = record()
    content = changed["content"]
    content[2:4] = [{**content[3], **content[2]}]  # AI keys first in the dict, on purpose
    result = read([changed], extes_vocab)
    turns = result.records[0].dialogue.turns
    assert len(turns) == 16
    assert [t.role for t in turns[2:4]] == [Role.SEEKER, Role.SUPPORTER]
    assert turns[3].strategies == ["Reflective Statements"]
    assert ("content[2]", "turn holds both User and AI; split into two turns, User first") \
        in [(w.field, w.message) for w in result.warnings]
    exported = json.loads(formats.dumps([result.records[0].dialogue], "extes", extes_vocab))
    assert exported == sample_records(EXTES)


def test_extes_fixes_are_written_back_in_the_canonical_shape(extes_vocab):
    changed = record()
    changed["Description"] = changed.pop("description")
    changed["content"][3] = {"AI strategy": "reflective statements",
                             "AI": {"text": changed["content"][3]["AI"]}}
    result = read([changed], extes_vocab)
    exported = json.loads(formats.dumps([result.records[0].dialogue], "extes", extes_vocab))
    assert exported == sample_records(EXTES)


def test_extes_off_list_strategy_is_kept_and_reported_as_an_unknown_label(extes_vocab):
    changed = record()
    changed["content"][3]["AI Strategy"] = "Humour"
    result = read([changed], extes_vocab)
    assert result.refused == []
    assert result.records[0].dialogue.turns[3].strategies == ["Humour"]
    assert result.records[0].unknown_labels == [
        formats.UnknownLabel("strategy", "Humour", 'content[3]["AI Strategy"]')
    ]


REFUSALS = [
    (set_turn(4, lambda t: {"emotion": "sad"}), "content[4]",
     "turn has neither a User nor an AI text"),
    (set_turn(4, lambda t: {}), "content[4]", "turn has neither a User nor an AI text"),
    (set_turn(4, lambda t: "just a string"), "content[4]", "expected an object, got a string"),
    (set_turn(4, lambda t: {"User": 42}), "content[4].User", "expected a string, got an integer"),
    (set_turn(3, lambda t: {"AI Strategy": "", "AI": {"a": "x", "b": "y"}}), "content[3].AI",
     "expected a string, got an object"),
    (set_turn(3, lambda t: {"AI Strategy": ["Affirmation", "Offer Hope"], "AI": t["AI"]}),
     'content[3]["AI Strategy"]', "2 strategies on one turn"),
    (set_turn(3, lambda t: {"AI Strategy": 5, "AI": t["AI"]}), 'content[3]["AI Strategy"]',
     "expected a string, got an integer"),
    (set_turn(2, lambda t: {"User": t["User"], "AI Strategy": "Affirmation"}),
     'content[2]["AI Strategy"]', "a strategy on a User turn"),
    (set_turn(2, lambda t: {"User": t["User"], "user": "again"}), "content[2]",
     "holds 2 keys for 'User'"),
    (lambda r: r.update(content=[]), "content", "must not be empty"),
    (lambda r: r.pop("content"), "content", "is missing"),
    (lambda r: r.update(content="hello"), "content", "expected an array, got a string"),
]


@pytest.mark.parametrize(("mutate", "field", "message"), REFUSALS)
def test_extes_broken_record_is_refused_with_index_and_field(mutate, field, message,
                                                             extes_vocab):
    changed = record()
    mutate(changed)
    result = read([record(), changed, record()], extes_vocab)
    assert [r.index for r in result.records] == [0, 2]
    assert result.total == 3
    assert [(p.index, p.field) for p in result.refused] == [(1, field)], \
        [str(p) for p in result.refused]
    assert message in result.refused[0].message


def test_extes_field_paths_point_into_the_source_after_a_split(extes_vocab):
    changed = record()
    content = changed["content"]
    content[2:4] = [{**content[2], **content[3]}]  # a split shifts later turns by one
    content[9]["User"] = None  # was content[10] in the real record
    result = read([changed], extes_vocab)
    assert [p.field for p in result.refused] == ["content[9].User"]


def test_extes_export_refuses_a_user_turn_with_a_strategy(extes_vocab):
    dialogue = Dialogue(turns=[Turn(Role.SEEKER, "hi", ["Affirmation"])], external_id="x1")
    with pytest.raises(ExportError, match=r"record 0 \(external id x1\) as extes: field "
                                          r"content\[0\]: a User turn cannot carry a strategy"):
        formats.dumps([dialogue], "extes", extes_vocab)


def test_extes_export_refuses_a_strategy_outside_the_vocabulary(extes_vocab):
    dialogue = Dialogue(turns=[Turn(Role.SEEKER, "hi"), Turn(Role.SUPPORTER, "yo", ["Humour"])])
    dialogue.id = 41
    with pytest.raises(ExportError) as caught:
        formats.dumps([dialogue], "extes", extes_vocab)
    message = str(caught.value)
    assert message.startswith("cannot export dialogue 41 as extes: field "
                              'content[1]["AI Strategy"]: \'Humour\' is not one of: \'\', '
                              "'Reflective Statements', ")
