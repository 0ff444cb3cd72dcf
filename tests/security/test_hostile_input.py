"""Hostile text at the door, on SQLite and PostgreSQL alike: refused with the record and field
named, or stored and read back exactly (and exportable afterwards).

Hypothesis drives every importer and the editor's save path with arbitrary code points,
surrogates and NULs included, and labels around their column length.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation_app import formats
from curation_app.domain import Dialogue, Role, Source, Turn
from curation_app.errors import ImportRefusedError, InvalidInputError
from curation_app.presets import load_preset
from curation_app.services import editing, transfer
from curation_app.services.projects import create_project
from curation_app.store.models import DialogueRow
from curation_app.textsafety import LABEL_LIMITS
from tests.conftest import LEAD
from tests.security.hostile import (
    PRESET,
    TEXT_FIELD,
    TOPIC_FIELD,
    encode,
    hostile_text,
    long_label,
    record,
)

FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
_names = itertools.count()


def _project(ctx, fmt: str) -> str:
    name = f"p{next(_names)}"
    create_project(ctx.uow(), LEAD, name, PRESET[fmt])
    return name


def _only_dialogue(ctx, project: str):
    with ctx.uow() as uow:
        (dialogue,) = uow.repo.list_dialogues(uow.repo.get_project(project), None)
    return dialogue


def _bad(text: str) -> bool:
    return any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in text)


def _import(ctx, tmp_path, fmt, records, **kw):
    project = _project(ctx, fmt)
    path = tmp_path / f"{project}.json"
    path.write_bytes(encode(records, fmt))
    return project, transfer.import_file(ctx.uow(), LEAD, path, fmt, project, **kw)


def _exports(ctx, tmp_path, project: str, fmt: str) -> None:
    out = tmp_path / f"{project}.out"
    transfer.export_file(ctx.uow(), LEAD, project, fmt, out, overwrite=True)
    out.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_turn_text_is_refused_with_its_field_or_kept_exactly(ctx, tmp_path, fmt):
    @FUZZ
    @given(text=hostile_text)
    def check(text: str) -> None:
        text = json.loads(json.dumps(text))  # what the file says: escaped pairs join up
        try:
            project, summary = _import(ctx, tmp_path, fmt, [record(fmt, text)])
        except ImportRefusedError as exc:
            assert _bad(text), f"{text!r} refused: {exc}"
            (problem,) = exc.problems
            assert (problem.index, problem.field) == (0, TEXT_FIELD[fmt])
            str(exc).encode("utf-8")  # the message itself is printable
            return
        assert not _bad(text)
        assert summary.imported == 1
        assert _only_dialogue(ctx, project).turns[0].text == text
        _exports(ctx, tmp_path, project, fmt)

    check()


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_labels_are_length_checked_or_kept_exactly(ctx, tmp_path, fmt):
    vocab = load_preset(PRESET[fmt])

    @FUZZ
    @given(topic=st.one_of(hostile_text, long_label))
    def check(topic: str) -> None:
        topic = json.loads(json.dumps(topic))
        try:
            project, _ = _import(ctx, tmp_path, fmt, [record(fmt, topic=topic)], add_labels=True)
        except ImportRefusedError as exc:
            assert _bad(topic) or len(topic) > LABEL_LIMITS["topic"], f"{topic!r}: {exc}"
            (problem,) = exc.problems
            assert problem.index == 0
            assert problem.field == TOPIC_FIELD[fmt] or _bad(topic)
            if not _bad(topic):
                assert f"at most {LABEL_LIMITS['topic']}" in problem.message
            return
        stored = _only_dialogue(ctx, project).topic
        expected = None if not topic.strip() else (vocab.match("topic", topic).label or topic)
        assert stored == expected
        _exports(ctx, tmp_path, project, fmt)

    check()


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_skip_invalid_skips_hostile_records_and_keeps_the_rest(ctx, tmp_path, fmt):
    records = [record(fmt, "fine"), record(fmt, "nul\x00here"), record(fmt, "lone\udc00"),
               record(fmt, topic="x" * 501), record(fmt, "also fine")]
    with pytest.raises(ImportRefusedError) as refused:
        _import(ctx, tmp_path, fmt, records, add_labels=True)
    assert [(p.index, p.field) for p in refused.value.problems] == [
        (1, TEXT_FIELD[fmt]), (2, TEXT_FIELD[fmt]), (3, TOPIC_FIELD[fmt])]
    assert "NUL" in refused.value.problems[0].message
    assert "U+DC00" in refused.value.problems[1].message
    assert "501 characters" in refused.value.problems[2].message
    project, summary = _import(ctx, tmp_path, fmt, records, add_labels=True, skip_invalid=True)
    assert summary.imported == 2
    with ctx.uow() as uow:
        texts = [d.turns[0].text for d in uow.repo.list_dialogues(uow.repo.get_project(project),
                                                                   None)]
    assert sorted(texts) == ["also fine", "fine"]
    _exports(ctx, tmp_path, project, fmt)


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_duplicate_keys_are_a_warning_naming_the_record(ctx, tmp_path, fmt):
    text = json.dumps([record(fmt, "first")]) if fmt != "jsonl" else json.dumps(record(fmt))
    key = TOPIC_FIELD[fmt]
    # the same key again at the start of the record's object: the last value wins
    doubled = text.replace("{", '{"' + key + '": "earlier value", ', 1)
    project = _project(ctx, fmt)
    path = tmp_path / "dup.json"
    path.write_text(doubled + ("\n" if fmt == "jsonl" else ""), encoding="utf-8")
    summary = transfer.import_file(ctx.uow(), LEAD, path, fmt, project)
    assert summary.imported == 1
    dup = [w for w in summary.warnings if "more than once" in w.message]
    assert len(dup) == 1 and dup[0].index == 0 and repr(key) in dup[0].message
    assert _only_dialogue(ctx, project).topic != "earlier value"


def test_input_over_the_size_limit_is_refused_before_reading(ctx, tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    path.write_bytes(encode([record("extes")] * 50, "extes"))
    monkeypatch.setenv("CURATION_MAX_IMPORT_BYTES", "1000")
    project = _project(ctx, "extes")

    def no_read(*_a, **_k):  # the refusal must come from the size, not from reading
        raise AssertionError("the file was read")

    monkeypatch.setattr(type(path), "read_bytes", no_read)
    with pytest.raises(InvalidInputError, match="over 1000 bytes are refused before reading"):
        transfer.import_file(ctx.uow(), LEAD, path, "extes", project)


def test_huge_turn_and_deep_nesting(ctx, tmp_path):
    big = "长" * (10 * 1024 * 1024 // 3)  # 10 MB of UTF-8
    project, _ = _import(ctx, tmp_path, "jsonl", [record("jsonl", big)])
    assert _only_dialogue(ctx, project).turns[0].text == big
    line = json.dumps(record("jsonl"))[:-1] + ', "metadata": {"k": ' + "[" * 100_000 + \
        "]" * 100_000 + "}}"
    path = tmp_path / "deep.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ImportRefusedError, match="nested too deeply"):
        transfer.import_file(ctx.uow(), LEAD, path, "jsonl", _project(ctx, "jsonl"))


def test_label_limits_are_the_column_lengths():
    columns = DialogueRow.__table__.c
    for name, limit in LABEL_LIMITS.items():
        assert columns[name].type.length == limit, name


# ---- the editor's save path --------------------------------------------------------------
def _seed(ctx) -> int:
    project = _project(ctx, "extes")
    with ctx.uow() as uow:
        (dialogue_id,) = uow.repo.add_dialogues(uow.repo.get_project(project), [Dialogue(
            turns=[Turn(Role.SEEKER, "hi"), Turn(Role.SUPPORTER, "hello")],
            topic="Sleep Problems", source=Source.GENERATED)], author="model")
        uow.commit()
    return dialogue_id


def test_save_path_refuses_with_the_turn_or_keeps_exactly(ctx):
    dialogue_id = _seed(ctx)

    @FUZZ
    @given(text=hostile_text, topic=st.one_of(st.none(), hostile_text, long_label),
           where=st.integers(min_value=0, max_value=1))
    def check(text: str, topic: str | None, where: int) -> None:
        current = editing.get_dialogue(ctx.uow(), LEAD, dialogue_id)
        turns = list(current.turns)
        turns[where] = Turn(turns[where].role, text)
        try:
            # confirm_removal: a blank-looking text (a lone U+2028) would otherwise ask first
            editing.save_revision(ctx.uow(), LEAD, dialogue_id, current.version, turns,
                                  topic=topic, confirm_removal=True)
        except InvalidInputError as exc:
            assert (_bad(text) and f"turn {where + 1}: text" in str(exc)) or (
                topic is not None and (_bad(topic) or len(topic) > 500)
                and str(exc).startswith("topic"))
            str(exc).encode("utf-8")
            assert editing.get_dialogue(ctx.uow(), LEAD, dialogue_id).version == current.version
            return
        saved = editing.get_dialogue(ctx.uow(), LEAD, dialogue_id)
        assert saved.turns[where].text == text
        assert saved.topic == topic
        assert editing.history(ctx.uow(), LEAD, dialogue_id)[-1].turns[where].text == text

    check()


@pytest.mark.parametrize("bad", [
    {"turns": "not a list"},
    {"turns": [Turn(Role.SEEKER, 5)]},
    {"turns": [Turn("boss", "x")]},
    {"turns": [Turn(Role.SEEKER, "x", ["a\x00"])]},
    {"turns": [Turn(Role.SEEKER, "x", metadata={"k": "\ud800"})]},
    {"emotion": "e" * 201},
    {"description": 7},
    {"note": "n\x00"},
])
def test_save_path_refuses_wrong_types_and_bad_fields(ctx, bad):
    dialogue_id = _seed(ctx)
    current = editing.get_dialogue(ctx.uow(), LEAD, dialogue_id)
    kwargs = {k: v for k, v in bad.items() if k != "turns"}
    with pytest.raises(InvalidInputError):
        editing.save_revision(ctx.uow(), LEAD, dialogue_id, current.version,
                              bad.get("turns", current.turns), **kwargs)
    assert editing.get_dialogue(ctx.uow(), LEAD, dialogue_id).version == current.version


# ---- any JSON value in any place of a record -----------------------------------------------
_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
              st.floats(allow_nan=False, allow_infinity=False), hostile_text),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(hostile_text, inner, max_size=3)),
    max_leaves=8)


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_any_value_anywhere_is_refused_with_its_record_or_imported(ctx, tmp_path, fmt):
    base = json.loads(json.dumps(record(fmt)))
    paths = [p for p in _paths(base) if p]

    @FUZZ
    @given(where=st.sampled_from(paths), value=_json_values)
    def check(where, value) -> None:
        changed = json.loads(json.dumps(base))
        parent = changed
        for part in where[:-1]:
            parent = parent[part]
        parent[where[-1]] = value
        try:
            project, summary = _import(ctx, tmp_path, fmt, [changed], add_labels=True)
        except ImportRefusedError as exc:
            assert {p.index for p in exc.problems} == {0}
            str(exc).encode("utf-8")  # printable, whatever the input held
            return
        assert summary.imported == 1
        _exports(ctx, tmp_path, project, fmt)  # what was taken can be written again

    check()
