"""JSON Lines of canonical records: lossless for all three samples, located line errors."""

from __future__ import annotations

import json

import pytest

from curation_app import formats
from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.errors import InvalidInputError


@pytest.mark.parametrize("which", ["esconv", "peconv", "extes"])
def test_jsonl_round_trip_of_each_sample_is_lossless(which, request):
    result = request.getfixturevalue(f"{which}_result")
    vocab = request.getfixturevalue(f"{which}_vocab")
    dialogues = [r.dialogue for r in result.records]
    text = formats.dumps(dialogues, "jsonl", vocab)
    assert text.count("\n") == len(dialogues)
    again = formats.read_bytes(text.encode("utf-8"), "jsonl", vocab)
    assert again.refused == [] and again.warnings == []
    assert [r.dialogue for r in again.records] == dialogues


def test_jsonl_keeps_status_source_provenance_and_turn_metadata(esconv_vocab):
    dialogue = Dialogue(
        turns=[Turn(Role.SEEKER, "line one\u2028still line one"),
               Turn(Role.SUPPORTER, "ok", ["Question"], {"note": [1, 2]})],
        status=Status.APPROVED, source=Source.GENERATED, external_id="g-1",
        provenance={"model": "gpt-4o-mini", "tokens": 812, "cost": 0.0012},
    )
    text = formats.dumps([dialogue], "jsonl", esconv_vocab)
    assert "\u2028" in text  # written as is (ensure_ascii=False); lines split on \n only
    assert [r.dialogue for r in formats.read_bytes(text.encode(), "jsonl",
                                                   esconv_vocab).records] == [dialogue]


def line(**changes) -> str:
    record = Dialogue(turns=[Turn(Role.SEEKER, "hi"), Turn(Role.SUPPORTER, "hello",
                                                           ["Question"])]).to_record()
    record.update(changes)
    return json.dumps(record)


def test_jsonl_skips_blank_lines_and_refuses_bad_lines_by_line_number(esconv_vocab):
    bad_role = json.loads(line())
    bad_role["turns"][0]["role"] = "bot"
    text = "\n".join([line(), "", '{"turns": [', json.dumps(bad_role), "  ", line(), "[1]"])
    result = formats.read_bytes(text.encode(), "jsonl", esconv_vocab)
    assert [r.index for r in result.records] == [0, 5]
    assert result.total == 5
    assert [str(p) for p in result.refused] == [
        "record 2 (line 3): not valid JSON: the line ends early (column 12: Expecting value)",
        "record 3 (line 4), field turns[0].role: 'bot' is not one of: 'seeker', 'supporter'",
        "record 6 (line 7): expected a dialogue object, got [1]",
    ]


def test_jsonl_normalises_labels_and_refuses_two_strategies_on_a_single_strategy_project(
        esconv_vocab):
    record = json.loads(line(topic="JOB CRISIS"))
    record["turns"][1]["strategies"] = ["questions"]
    two = json.loads(line())
    two["turns"][1]["strategies"] = ["Question", "Others"]
    text = json.dumps(record) + "\n" + json.dumps(two) + "\n"
    result = formats.read_bytes(text.encode(), "jsonl", esconv_vocab)
    dialogue = result.records[0].dialogue
    assert (dialogue.topic, dialogue.turns[1].strategies) == ("job crisis", ["Question"])
    assert [w.field for w in result.warnings] == ["topic", "turns[1].strategies[0]"]
    assert [(p.index, p.field) for p in result.refused] == [(1, "turns[1].strategies")]


def test_jsonl_missing_language_becomes_the_projects(peconv_vocab):
    record = json.loads(line())
    del record["language"]
    result = formats.read_bytes(json.dumps(record).encode(), "jsonl", peconv_vocab)
    assert result.records[0].dialogue.language == "zh"


def test_jsonl_given_a_json_array_says_which_formats_read_arrays(esconv_vocab):
    with pytest.raises(InvalidInputError, match="looks like a JSON array, not JSON Lines"):
        formats.read_bytes(b'[{"turns": []}]', "jsonl", esconv_vocab)
