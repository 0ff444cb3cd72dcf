"""The streaming reader: records read in chunks give what a whole-file read gives, and a file that
cannot be read is named with the record it breaks in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation_app import formats
from curation_app.errors import InvalidInputError
from curation_app.formats import stream
from curation_app.presets import load_preset

EXTES = load_preset("extes")


def _record(i: int, text: str = "I feel low") -> dict:
    return {"scene": EXTES.topics[i % len(EXTES.topics)], "description": f"case {i}",
            "content": [{"User": f"{text} {i}"},
                        {"AI Strategy": EXTES.strategy_names[0], "AI": f"I hear you {i}"}]}


def _records(n: int) -> list[dict]:
    return [_record(i, "长文本 ünïcode 😀" if i % 3 == 0 else "plain") for i in range(n)]


def _summary(result: formats.ReadResult) -> tuple:
    return ([(p.index, p.dialogue, p.record_id) for p in result.records],
            [str(p) for p in result.refused], [str(p) for p in result.warnings], result.total)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
@pytest.mark.parametrize("indent", [None, 2])
def test_records_split_across_read_chunks_read_as_one_read(tmp_path: Path, monkeypatch,
                                                           chunk: int, indent: int | None):
    data = json.dumps(_records(12), ensure_ascii=False, indent=indent).encode("utf-8")
    path = tmp_path / "in.json"
    path.write_bytes(data)
    whole = formats.read_file(path, "extes", EXTES)
    monkeypatch.setattr(stream, "CHUNK", chunk)  # every record now spans many reads
    chunked = formats.read_file(path, "extes", EXTES)
    assert len(chunked.records) == 12
    assert _summary(chunked) == _summary(whole)
    assert chunked.records[3].dialogue.turns[0].text == "长文本 ünïcode 😀 3"


def test_batches_hand_on_the_records_in_order(tmp_path: Path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps(_records(7)), encoding="utf-8")
    records = formats.stream_file(path, "extes", EXTES, batch_size=3)
    sizes = [len(b.records) for b in records]
    assert sizes == [3, 3, 1] and records.total == 7


def test_bad_json_in_the_middle_names_its_record_and_line(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK", 50)
    text = json.dumps(_records(5), indent=2)
    broken = text.replace('"case 3"', '"case 3" "oops"')
    path = tmp_path / "in.json"
    path.write_text(broken, encoding="utf-8")
    line = broken[:broken.index('"oops"')].count("\n") + 1
    with pytest.raises(InvalidInputError) as caught:
        formats.read_file(path, "extes", EXTES)
    message = str(caught.value)
    assert message.startswith(f"{path} is not valid JSON: line {line} column ")
    assert message.endswith("Expecting ',' delimiter (in record 3)")


def test_a_bad_byte_in_a_later_chunk_is_named_by_its_file_offset(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK", 16)
    data = json.dumps(_records(4), ensure_ascii=False).encode("utf-8")
    at = data.index(b"case 2")
    path = tmp_path / "in.json"
    path.write_bytes(data[:at] + b"\xff" + data[at + 1:])
    with pytest.raises(InvalidInputError, match=rf"bad byte 0xff at offset {at}\)"):
        formats.read_file(path, "extes", EXTES)


@pytest.mark.parametrize("spacing", ['"User": "a", "User": "b"', '"User" : "a",\n "User":"b"',
                                     '"User":"a","Us\\u0065r":"b"'])
def test_a_key_repeated_in_one_object_is_warned_however_it_is_written(spacing: str):
    data = ('[{"content": [{' + spacing + '}, {"AI Strategy": "", "AI": "hi"}]}]').encode()
    result = formats.read_bytes(data, "extes", EXTES)
    assert result.records[0].dialogue.turns[0].text == "b"
    assert [w.field for w in result.warnings if "more than once" in w.message] == ["content[0]"]


def test_a_quote_and_colon_inside_a_text_is_not_taken_for_a_repeated_key():
    record = {"content": [{"User": 'she said "no": then left'},
                          {"AI Strategy": "", "AI": 'a \\": b'}]}
    result = formats.read_bytes(json.dumps([record]).encode(), "extes", EXTES)
    assert result.warnings == [] and len(result.records) == 1


def test_turn_texts_take_and_refuse_what_the_full_reader_does(tmp_path: Path):
    records: list = _records(6)
    records[1]["content"][0] = {"user": "lower-case key, normalised"}  # general path, taken
    records[2]["content"] = []  # refused
    records[4]["scene"] = "x" * 501  # refused: longer than the topic column
    records.insert(5, "not an object")  # refused
    path = tmp_path / "in.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    full = formats.read_file(path, "extes", EXTES)
    lean = formats.read_turn_texts(path, "extes", EXTES)
    assert lean.total == full.total == 7
    assert lean.refused == {p.index for p in full.refused} == {2, 4, 5}
    assert [(r.index, r.texts, r.supporter) for r in lean.records] == [
        (p.index, [t.text for t in p.dialogue.turns],
         [t.role == "supporter" for t in p.dialogue.turns]) for p in full.records]


@pytest.mark.parametrize("chunk", [1, 5, 64, 4096])
def test_escapes_are_found_in_their_own_record_whatever_the_chunks(monkeypatch, chunk: int):
    # The reader looks for "\u" once per buffer, not per record: a record without one must
    # not inherit the next record's, and one split across reads must still see its own.
    from io import BytesIO

    from curation_app.textsafety import may_hold_bad_text

    records = [_record(i, "plain") for i in range(9)]
    records[2]["content"][0]["User"] = "nul \x00 here"
    records[5]["description"] = "lone \ud800 surrogate"
    records[7]["content"][1]["AI"] = "é escaped, harmless"
    texts = [json.dumps(r) for r in records]  # ensure_ascii: é, NUL and U+D800 as \u escapes
    monkeypatch.setattr(stream, "CHUNK", chunk)
    raws = list(stream.array_records(BytesIO(("[" + ", ".join(texts) + "]").encode()), "f"))
    assert [r.suspect for r in raws] == [may_hold_bad_text(t) for t in texts]
    assert [i for i, r in enumerate(raws) if r.suspect] == [2, 5]
