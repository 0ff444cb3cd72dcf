"""The writers' direct path (``stored_writer``: a record straight from a stored dialogue) against
the general one (``write_record`` of the ``Dialogue``, then the schema check): wherever the
direct path takes a dialogue, its record is the general path's, key order included, and valid
against the format's schema (the generated checker and jsonschema both); anything else is
left to the general path. Over varied dialogues, odd ones included: empty or unknown
strategies, several strategies, metadata, non-ASCII text, integers past 64 bits, unknown
roles, empty turns."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from curation_app import formats
from curation_app.errors import ExportError
from curation_app.formats.validation import RecordValidator
from curation_app.presets import load_preset
from curation_app.store.release_queries import StoredDialogue, _stored

TEXTS = ["I feel tired.", "ctrl \x01\x1f\x7f \u2028 \"q\" \\ 汉字 😀", "", "é" * 40]


def _plain_turns(rng: random.Random, names: list[str], n: int) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for j in range(n):
        if j % 2 == 0 or rng.random() < 0.1:
            turn: dict[str, Any] = {"role": "seeker", "text": rng.choice(TEXTS)}
            strategies: Any = rng.choice([None, [], "MISSING"])
        else:
            turn = {"role": "supporter", "text": rng.choice(TEXTS)}
            strategies = rng.choice([None, [], [names[0]], [names[1]], "MISSING"])
        if strategies != "MISSING":
            turn["strategies"] = strategies
        if rng.random() < 0.1:
            turn["metadata"] = rng.choice([None, {}])
        turns.append(turn)
    return turns


def _oddity(rng: random.Random, names: list[str], turns: list[dict[str, Any]],
            fields: dict[str, Any]) -> Any:
    """One odd thing done to a plain dialogue; returns the turns (which may be replaced)."""
    turn = rng.choice(turns) if turns else {}
    kind = rng.randrange(16)
    if kind == 0:
        turn.update(role="supporter", strategies=["not a strategy"])
    elif kind == 1:
        turn["strategies"] = [names[0], names[1]]
    elif kind == 2:
        turn.update(role="supporter", strategies=[""])
    elif kind == 3:
        turn.update(role="supporter", strategies=names[0])
    elif kind == 4:
        turn.update(role="supporter", strategies=[3])
    elif kind == 5:
        turn.update(role="seeker", strategies=[names[0]])
    elif kind == 6:
        turn["role"] = "bot"
    elif kind == 7:
        turn["text"] = 12
    elif kind == 8:
        turn["metadata"] = rng.choice([{"extes": {"x": 1}}, {"peconv": {"emo": "a"}},
                                       {"esconv": {"annotation": {"feedback": "5"}}},
                                       {"jsonl": 1.5}])
    elif kind == 9:
        turn["note"] = 2 ** 70  # a key no writer reads, a number orjson reads inexactly
    elif kind == 10:
        return []
    elif kind == 11:
        return {"role": "seeker", "text": "a"}
    elif kind == 12:
        fields["metadata"] = rng.choice([{"extes": {"mood": "ok"}}, {"peconv": {"dialog_id": 7}},
                                         {"esconv": {"survey_score": {"a": 1.5}}},
                                         {"other": 2 ** 70}, None, []])
    elif kind == 13:
        fields["provenance"] = rng.choice([{"cost_usd": 3e-05, "model": "m"}, {"n": 2 ** 65},
                                           {"prompt": [{"role": "system", "content": "汉字"}]},
                                           None])
    elif kind == 14:
        turns.append("not a turn")  # type: ignore[arg-type]
    else:
        turn["role"] = "supporter"
        turn["strategies"] = [names[0], names[0]]
    return turns


def _stored_dialogues(vocab_name: str, count: int = 600, seed: int = 3) -> list[StoredDialogue]:
    vocab = load_preset(vocab_name)
    names = list(vocab.strategy_names)
    rng = random.Random(seed)
    out = []
    for i in range(count):
        turns: Any = _plain_turns(rng, names, rng.choice([1, 2, 6, 18]))
        fields: dict[str, Any] = {"metadata": {}, "provenance": {}}
        if i % 2 == 0:
            turns = _oddity(rng, names, turns, fields)
        row = (i + 1 if rng.random() < 0.9 else None,
               rng.choice([None, f"ext-{i}", "汉字 id"]), vocab.language,
               rng.choice([None, vocab.topics[0], "Überraschung"]),
               rng.choice([None, "anger"]), rng.choice([None, "a description", "説明"]),
               rng.choice(["draft", "approved", "discarded"]),
               rng.choice(["imported", "generated", "manual"]),
               json.dumps(fields["provenance"]), json.dumps(fields["metadata"]),
               json.dumps(turns, ensure_ascii=False), None)
        out.append(_stored(row, "p"))
    return out


def _general(stored: StoredDialogue, fmt: str, vocab, position: int) -> dict[str, Any] | None:
    """The general path's record, or None where it refuses the dialogue."""
    try:
        dialogue = stored.dialogue()
        return formats.export_record(dialogue, fmt, vocab, position)
    except (ExportError, KeyError, TypeError):
        return None


@pytest.mark.parametrize(("vocab_name", "fmt"),
                         list(itertools.product(("extes", "peconv", "esconv"),
                                                formats.FORMAT_NAMES)))
def test_direct_records_are_the_general_ones_and_valid(vocab_name, fmt):
    vocab = load_preset(vocab_name)
    schema = formats.schema_for(fmt, vocab)
    checker = RecordValidator(schema)
    full = Draft202012Validator(schema)
    write = formats._adapter(fmt).stored_writer(vocab)
    taken = left = 0
    for position, stored in enumerate(_stored_dialogues(vocab_name)):
        record = write(stored, position)
        if record is None:
            left += 1
            continue
        taken += 1
        expected = _general(stored, fmt, vocab, position)
        assert expected is not None, stored
        assert json.dumps(record, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
        assert checker.problems(record) == []
        assert full.is_valid(record), stored
    assert taken > 300 and left > 150  # both paths are exercised


def test_turns_read_inexactly_never_take_the_direct_path():
    """A number past 64 bits where a writer reads it is read by orjson as a float: such turns
    must go the general path, which decodes them exactly."""
    vocab = load_preset("extes")
    turns = [{"role": "seeker", "text": "a"}, {"role": "supporter", "text": "b",
                                                "strategies": [], "metadata": {"k": 2 ** 70}}]
    stored = _stored((1, None, "en", None, None, None, "draft", "imported", "{}", "{}",
                      json.dumps(turns), None), "p")
    for fmt in formats.FORMAT_NAMES:
        assert formats._adapter(fmt).stored_writer(vocab)(stored, 0) is None
    assert stored.dialogue().turns[1].metadata == {"k": 2 ** 70}
