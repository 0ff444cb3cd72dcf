"""No input may escape as a raw traceback: mangled bytes and mangled records, every format.

Seeds are fixed so a failure reproduces. Beyond "no crash", a record that is taken must also be
writable again in its format, and reading that output must give the same dialogue: normalising
is done once, at the door.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from curation_app import formats
from curation_app.domain import Dialogue, Role, Turn
from curation_app.errors import InvalidInputError
from curation_app.presets import load_preset
from tests.formats.conftest import ESCONV, EXTES, PECONV, as_bytes, mutations, sample_head

SOURCES = {"peconv": PECONV, "extes": EXTES, "esconv": ESCONV}


def small_records(fmt: str) -> list:
    if fmt == "jsonl":
        dialogue = Dialogue(turns=[Turn(Role.SEEKER, "hi"),
                                   Turn(Role.SUPPORTER, "hello", ["Question"], {"k": 1})],
                            topic="job crisis", metadata={"esconv": {"survey_score": {}}})
        return [dialogue.to_record()]
    record = sample_head(SOURCES[fmt], 1)[0]
    turns = "content" if fmt == "extes" else "dialog"
    record[turns] = record[turns][:6]
    return [record]


def encode(records: list, fmt: str) -> bytes:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    return as_bytes(records)


def vocab_for(fmt: str):
    return load_preset("esconv" if fmt == "jsonl" else fmt)


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_mangled_bytes_give_a_result_or_one_clear_error(fmt):
    rng = random.Random(f"bytes-{fmt}")
    vocab = vocab_for(fmt)
    data = encode(small_records(fmt), fmt)
    for _ in range(300):
        mangled = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            action = rng.random()
            at = rng.randrange(len(mangled))
            if action < 0.4:
                mangled[at] = rng.randrange(256)
            elif action < 0.6:
                del mangled[at:at + rng.randint(1, 20)]
            elif action < 0.8:
                mangled[at:at] = rng.choice([b"NaN", b"null", b"{", b"]", b'"', b"\xff", b"\n"])
            else:
                mangled = mangled[:at]
        try:
            result = formats.read_bytes(bytes(mangled), fmt, vocab)
        except InvalidInputError as exc:
            assert "\n" not in str(exc)
            continue
        taken = {r.index for r in result.records}
        refused = {p.index for p in result.refused}
        assert not taken & refused


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_mangled_records_are_refused_or_taken_and_then_written_back_stably(fmt):
    rng = random.Random(f"records-{fmt}")
    base = small_records(fmt)[0]
    for variant in mutations(base, rng, 250):
        vocab = vocab_for(fmt)
        result = formats.read_bytes(encode([base, variant], fmt), fmt, vocab)
        assert result.total == 2
        assert sorted([r.index for r in result.records]
                      + sorted({p.index for p in result.refused})) == [0, 1]
        for problem in result.refused:
            assert problem.message and isinstance(problem.field, str)
        if len(result.records) < 2:
            continue
        for parsed in result.records:
            for label in parsed.unknown_labels:
                vocab = vocab.extended(label.kind, [label.label])
        dialogues = [r.dialogue for r in result.records]
        again = formats.read_bytes(formats.dumps(dialogues, fmt, vocab).encode(), fmt, vocab)
        assert again.refused == [], [str(p) for p in again.refused]
        assert [unnumbered(r.dialogue, d) for r, d in zip(again.records, dialogues,
                                                           strict=True)] == dialogues


def unnumbered(written: Dialogue, original: Dialogue) -> Dialogue:
    """PECONV needs an id: the writer numbers a dialogue that had none. Undo that to compare."""
    if original.external_id is None and written.external_id is not None:
        metadata = {k: v for k, v in written.metadata.items() if k != "peconv"}
        extras = {k: v for k, v in written.metadata.get("peconv", {}).items() if k != "dialog_id"}
        if extras:
            metadata["peconv"] = extras
        return replace(written, external_id=None, metadata=metadata)
    return written
