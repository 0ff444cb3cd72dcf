"""Whole files: encodings, broken JSON, wrong shapes; and writing safely."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from curation_app import formats
from curation_app.domain import Dialogue, Role, Turn
from curation_app.errors import ExportError, InvalidInputError
from tests.formats.conftest import ESCONV, EXTES, PECONV, sample, sample_head

SAMPLES = {"esconv": ESCONV, "peconv": PECONV, "extes": EXTES}


@pytest.mark.parametrize("fmt", ["esconv", "peconv", "extes"])
def test_bom_and_crlf_line_endings_read_like_the_original(fmt, request):
    vocab = request.getfixturevalue(f"{fmt}_vocab")
    raw = json.dumps(sample_head(SAMPLES[fmt], 5), ensure_ascii=False, indent=2)
    plain = formats.read_bytes(raw.encode("utf-8"), fmt, vocab)
    variant = b"\xef\xbb\xbf" + raw.replace("\n", "\r\n").encode("utf-8")
    result = formats.read_bytes(variant, fmt, vocab)
    assert result.refused == []
    assert [r.dialogue for r in result.records] == [r.dialogue for r in plain.records]


def test_jsonl_with_bom_and_crlf_is_read(esconv_vocab):
    lines = [json.dumps(Dialogue(turns=[Turn(Role.SEEKER, str(i))]).to_record())
             for i in range(3)]
    data = b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n"
    result = formats.read_bytes(data, "jsonl", esconv_vocab)
    assert [r.dialogue.turns[0].text for r in result.records] == ["0", "1", "2"]


def error_of(data: bytes, fmt: str, vocab) -> str:
    with pytest.raises(InvalidInputError) as caught:
        formats.read_bytes(data, fmt, vocab, source="data.json")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_unreadable_files_raise_one_clear_line(esconv_vocab):
    valid = sample(ESCONV).read_bytes()[:4000]
    assert error_of(b"[{\"a\": \"caf\xe9\"}]", "esconv", esconv_vocab) == \
        "data.json is not UTF-8 text (bad byte 0xe9 at offset 11)"
    assert error_of(valid, "esconv", esconv_vocab).startswith(
        "data.json ends early: the JSON is truncated (line ")
    assert error_of(b'[{"a": 1}\n{"b": 2}]', "esconv", esconv_vocab) == \
        "data.json is not valid JSON: line 2 column 1: Expecting ',' delimiter"
    assert error_of(b"speaker,text\nseeker,hi\n", "esconv", esconv_vocab) == \
        "data.json is not valid JSON: line 1 column 1: Expecting value"
    assert error_of(b"", "esconv", esconv_vocab) == "data.json is empty"
    assert error_of(b" \r\n\t", "peconv", esconv_vocab) == "data.json is empty"
    assert error_of(b"\xef\xbb\xbf", "extes", esconv_vocab) == "data.json is empty"
    assert error_of(b"\n\n", "jsonl", esconv_vocab) == "data.json is empty"
    assert error_of(b'{"dialog": []}', "esconv", esconv_vocab) == \
        "data.json: top level must be a list of dialogues, got object"
    assert error_of(b'"text"', "peconv", esconv_vocab) == \
        "data.json: top level must be a list of dialogues, got string"
    assert error_of("[]".encode("utf-16"), "extes", esconv_vocab) == \
        "data.json is UTF-16 text, not UTF-8; save it as UTF-8"
    assert "is it JSON Lines? use format jsonl" in error_of(b'{"a": 1}\n{"a": 2}\n', "esconv",
                                                          esconv_vocab)
    assert error_of(b"[" * 100_000 + b"]" * 100_000, "esconv", esconv_vocab) == \
        "data.json is nested too deeply to read"


def test_an_empty_array_is_a_file_with_no_records(esconv_vocab):
    result = formats.read_bytes(b"[]", "esconv", esconv_vocab)
    assert (result.records, result.refused, result.total) == ([], [], 0)


def test_unknown_format_lists_the_formats(esconv_vocab, tmp_path):
    expected = "unknown format 'csv'; choose one of peconv, extes, esconv, jsonl"
    with pytest.raises(InvalidInputError, match=expected):
        formats.read_bytes(b"[]", "csv", esconv_vocab)
    with pytest.raises(InvalidInputError, match=expected):
        formats.write_file([], "csv", esconv_vocab, tmp_path / "x.csv")
    with pytest.raises(InvalidInputError, match=expected):
        formats.schema_for("csv", esconv_vocab)


def test_missing_file_and_folder_are_refused_clearly(esconv_vocab, tmp_path):
    with pytest.raises(InvalidInputError, match=r"nothing\.json does not exist"):
        formats.read_file(tmp_path / "nothing.json", "esconv", esconv_vocab)
    with pytest.raises(InvalidInputError, match="is a folder, not a file"):
        formats.read_file(tmp_path, "esconv", esconv_vocab)


def a_dialogue(text: str = "hello") -> Dialogue:
    return Dialogue(turns=[Turn(Role.SEEKER, text), Turn(Role.SUPPORTER, "hi", ["Question"])],
                    topic="job crisis", emotion="anxiety")


def test_write_refuses_to_overwrite_unless_asked(esconv_vocab, tmp_path):
    target = tmp_path / "out.json"
    target.write_text("precious", encoding="utf-8")
    with pytest.raises(ExportError, match=r"out\.json exists; pass --overwrite to replace it"):
        formats.write_file([a_dialogue()], "esconv", esconv_vocab, target)
    assert target.read_text(encoding="utf-8") == "precious"
    assert formats.write_file([a_dialogue()], "esconv", esconv_vocab, target,
                              overwrite=True) == 1
    assert json.loads(target.read_text(encoding="utf-8"))[0]["dialog"][0]["content"] == "hello"


def test_atomic_write_leaves_no_temporary_file(esconv_vocab, tmp_path):
    target = tmp_path / "nested" / "out.jsonl"
    count = formats.write_file((a_dialogue(str(i)) for i in range(3)), "jsonl", esconv_vocab,
                               target)
    assert count == 3
    assert os.listdir(target.parent) == ["out.jsonl"]
    assert len(target.read_text(encoding="utf-8").splitlines()) == 3


def test_refused_export_writes_nothing(esconv_vocab, tmp_path):
    bad = Dialogue(turns=[Turn(Role.SUPPORTER, "x", ["Made Up"])])
    target = tmp_path / "out.json"
    with pytest.raises(ExportError, match="cannot export record 1 as esconv: field "
                                          r"dialog\[0\].annotation.strategy: 'Made Up' is not"):
        formats.write_file([a_dialogue(), bad], "esconv", esconv_vocab, target)
    assert os.listdir(tmp_path) == []


def test_export_refuses_nan_in_metadata(esconv_vocab):
    dialogue = a_dialogue()
    dialogue.metadata = {"esconv": {"survey_score": float("nan")}}
    with pytest.raises(ExportError, match="record 0 as esconv: it holds NaN or Infinity"):
        formats.dumps([dialogue], "esconv", esconv_vocab)


def test_output_is_utf8_indented_json_and_compact_lines(peconv_vocab, tmp_path):
    dialogue = Dialogue(turns=[Turn(Role.SEEKER, "我很开心")], external_id="1")
    array = formats.dumps([dialogue], "peconv", peconv_vocab)
    assert array.startswith('[\n  {\n    "dialog_id": "1",') and "我很开心" in array
    lines = formats.dumps([dialogue, dialogue], "jsonl", peconv_vocab)
    assert lines.count("\n") == 2 and '"text":"我很开心"' in lines
    target = tmp_path / "p.json"
    formats.write_file([dialogue], "peconv", peconv_vocab, target)
    assert target.read_bytes() == array.encode("utf-8")


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_writer_output_validates_against_schema_for(fmt, request):
    source = "esconv" if fmt == "jsonl" else fmt
    result = request.getfixturevalue(f"{source}_result")
    vocab = request.getfixturevalue(f"{source}_vocab")
    dialogues = [r.dialogue for r in result.records[:50]]
    text = formats.dumps(dialogues, fmt, vocab)
    records = ([json.loads(x) for x in text.splitlines()] if fmt == "jsonl"
               else json.loads(text))
    validator = Draft202012Validator(formats.schema_for(fmt, vocab))
    assert all(validator.is_valid(r) for r in records)


def test_paths_may_be_strings(esconv_vocab, tmp_path):
    target = str(tmp_path / "s.json")
    formats.write_file([a_dialogue()], "esconv", esconv_vocab, target)
    assert len(formats.read_file(target, "esconv", esconv_vocab).records) == 1


def test_writing_into_a_folder_path_is_refused(esconv_vocab, tmp_path):
    with pytest.raises(ExportError, match="is a folder"):
        formats.write_file([a_dialogue()], "esconv", esconv_vocab, Path(tmp_path))
