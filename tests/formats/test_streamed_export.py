"""The streamed writer: the same bytes as rendering the whole file in memory with ``json``, and
no partial file when an export fails half-way."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from curation_app import formats
from curation_app.domain import Dialogue, Role, Turn
from curation_app.errors import ExportError
from curation_app.formats.base import temp_beside

SOURCES = {"peconv": "peconv", "extes": "extes", "esconv": "esconv", "jsonl": "esconv"}


def in_memory(dialogues: list[Dialogue], fmt: str, vocab) -> bytes:
    """What the writer wrote before it streamed: every record, then one ``json.dumps``."""
    records = [formats.export_record(d, fmt, vocab, i) for i, d in enumerate(dialogues)]
    if fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False, allow_nan=False,
                                  separators=(",", ":")) + "\n" for r in records)
    else:
        text = json.dumps(records, ensure_ascii=False, allow_nan=False, indent=2) + "\n"
    return text.encode("utf-8")


def awkward(fmt: str, base: Dialogue) -> list[Dialogue]:
    """Copies of ``base`` holding what orjson and json write differently or refuse (floats in
    exponent form, integers past 64 bits, negative zero), control characters, text outside
    the BMP, empty containers; in the format's own metadata and, for jsonl, provenance."""
    floats = {"cost": 3e-05, "huge": 1e16, "zero": -0.0, "plain": 1.5, "empty": [],
              "none": {}, "nested": {"a": [1, None, True, "x", 2.5e-07]}}
    texts = ["ctrl \x01\x1f\x7f \u2028 tab\t \"q\" \\ 汉字 😀", "é" * 3]
    out = []
    for i, extra in enumerate([floats, {"big": 2 ** 70}, {"only": "strings"}, {}]):
        turns = [Turn(t.role, texts[i % 2] if j == 0 else t.text, list(t.strategies),
                      {fmt: dict(extra)} if (extra and j == 1) else {})
                 for j, t in enumerate(base.turns)]
        out.append(Dialogue(turns=turns, topic=base.topic, emotion=base.emotion,
                            description=base.description, external_id=f"odd {i}",
                            metadata={fmt: dict(extra)} if extra else {},
                            provenance={"model": "m", "cost_usd": 1e-05 * (i + 1),
                                        "temperature": 0.7} if i != 2 else {}))
    return out


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_streamed_export_equals_the_in_memory_rendering(fmt, request, tmp_path):
    source = SOURCES[fmt]
    result = request.getfixturevalue(f"{source}_result")
    vocab = request.getfixturevalue(f"{source}_vocab")
    dialogues = [r.dialogue for r in result.records[:60]]
    dialogues += awkward(fmt, dialogues[0])
    expected = in_memory(dialogues, fmt, vocab)
    assert formats.dumps(dialogues, fmt, vocab).encode("utf-8") == expected
    target = tmp_path / f"out.{fmt}"
    assert formats.write_file(iter(dialogues), fmt, vocab, target) == len(dialogues)
    assert target.read_bytes() == expected
    # and with nothing to write
    assert formats.dumps([], fmt, vocab).encode("utf-8") == in_memory([], fmt, vocab)


def test_records_are_on_disk_before_the_last_one_is_read(esconv_result, esconv_vocab, tmp_path):
    target = tmp_path / "out.json"
    dialogues = [r.dialogue for r in esconv_result.records[:400]]
    seen: list[int] = []

    def source() -> Iterator[Dialogue]:
        for i, d in enumerate(dialogues):
            if i == len(dialogues) - 1:
                temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
                seen.extend(p.stat().st_size for p in temps)
            yield d

    formats.write_file(source(), "esconv", esconv_vocab, target)
    assert len(seen) == 1 and seen[0] > 0  # written as it went, to the temporary file
    assert target.read_bytes() == in_memory(dialogues, "esconv", esconv_vocab)


def _dialogues(vocab, count: int) -> list[Dialogue]:
    strategy = vocab.strategy_names[0]
    return [Dialogue(turns=[Turn(Role.SEEKER, f"hello {i}"),
                            Turn(Role.SUPPORTER, "hi", [strategy])], external_id=str(i))
            for i in range(count)]


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_record_refused_half_way_leaves_no_target_and_no_temp(esconv_vocab, tmp_path,
                                                                overwrite):
    dialogues = _dialogues(esconv_vocab, 3000)
    dialogues[2500].turns[1].strategies = ["Made Up"]
    target = tmp_path / "new" / "deeper" / "out.json"
    if overwrite:
        target.parent.mkdir(parents=True)
        target.write_text("the old export")
    with pytest.raises(ExportError, match=r"cannot export record 2500 \(external id 2500\) "
                                          r"as esconv: field dialog\[1\]\.annotation"):
        formats.write_file(iter(dialogues), "esconv", esconv_vocab, target,
                           overwrite=overwrite)
    if overwrite:
        assert os.listdir(target.parent) == ["out.json"]
        assert target.read_text() == "the old export"
    else:  # not even the folders made for it
        assert os.listdir(tmp_path) == []


def test_a_source_failing_half_way_leaves_nothing(esconv_vocab, tmp_path):
    """E.g. the database connection dropping while the dialogues stream."""
    def source() -> Iterator[Dialogue]:
        yield from _dialogues(esconv_vocab, 1500)
        raise ConnectionError("server closed the connection")

    target = tmp_path / "out.jsonl"
    with pytest.raises(ConnectionError):
        formats.write_file(source(), "jsonl", esconv_vocab, target)
    assert os.listdir(tmp_path) == []


def test_a_record_that_does_not_fit_is_named_before_one_json_cannot_hold(esconv_vocab,
                                                                         tmp_path):
    """As when the whole file was validated first and encoded after: NaN in record 3 and an
    unknown strategy in record 7 name record 7; NaN alone names record 3."""
    dialogues, only_nan = _dialogues(esconv_vocab, 10), _dialogues(esconv_vocab, 10)
    for d in (dialogues, only_nan):
        d[3].metadata = {"esconv": {"survey_score": float("nan")}}
    dialogues[7].turns[1].strategies = ["Made Up"]
    with pytest.raises(ExportError, match=r"record 7 \(external id 7\) as esconv: field"):
        formats.write_file(dialogues, "esconv", esconv_vocab, tmp_path / "a.json")
    with pytest.raises(ExportError, match="record 3 as esconv: it holds NaN or Infinity"):
        formats.write_file(only_nan, "esconv", esconv_vocab, tmp_path / "b.json")
    assert os.listdir(tmp_path) == []


def test_a_temp_of_a_dead_writer_is_removed_by_the_next_streamed_export(esconv_vocab,
                                                                         tmp_path):
    target = tmp_path / "out.json"
    dead = Path(str(temp_beside(target)).replace(f".{os.getpid()}-", ".999999999-"))
    dead.write_text("half an export")
    formats.write_file(_dialogues(esconv_vocab, 5), "esconv", esconv_vocab, target)
    assert sorted(os.listdir(tmp_path)) == ["out.json"]


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_pages_of_records_encoded_together_are_the_one_at_a_time_bytes(fmt, esconv_vocab):
    """Float-free records of an array file are encoded a page at a time; mixed with records
    encoded one by one (metadata) across several page boundaries, the bytes are unchanged."""
    dialogues = _dialogues(esconv_vocab, 1700)
    for i in (0, 499, 500, 501, 999, 1234, 1699):
        dialogues[i].metadata = {fmt: {"score": 1.5e-05, "n": i}}
    for i in range(1000, 1010):
        dialogues[i].turns[0].text = "汉字 \u2028 \"q\" 😀"
    assert formats.dumps(dialogues, fmt, esconv_vocab).encode("utf-8") == in_memory(
        dialogues, fmt, esconv_vocab)


@pytest.mark.parametrize("fmt", ["esconv", "jsonl"])
def test_the_first_record_json_cannot_hold_is_named_from_a_page(fmt, esconv_vocab, tmp_path):
    """A lone surrogate in a page's record (orjson refuses the page, so it is encoded one
    record at a time) before NaN in a later one: the surrogate's record is named."""
    dialogues = _dialogues(esconv_vocab, 1200)
    dialogues[620].turns[0].text = "lone \ud800"
    dialogues[700].metadata = {"esconv": {"survey_score": float("nan")}}
    with pytest.raises(ExportError, match=fr"record 620 as {fmt}: it holds a lone surrogate "
                                          r"\(\\ud800\)"):
        formats.write_file(dialogues, fmt, esconv_vocab, tmp_path / "a")
    dialogues[620].turns[0].text = "fine"
    with pytest.raises(ExportError, match=f"record 700 as {fmt}: it holds NaN or Infinity"):
        formats.write_file(dialogues, fmt, esconv_vocab, tmp_path / "b")
    assert os.listdir(tmp_path) == []
