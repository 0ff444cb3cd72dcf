"""An export reads the dialogues as text columns decoded with orjson: what it reads is what the
repository reads through the driver (``json.loads``), and the file it writes is the in-memory
rendering of those dialogues, byte for byte, for every format, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation_app import formats
from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.errors import ExportError
from curation_app.services import projects as project_services
from curation_app.services.context import AppContext
from curation_app.services.transfer import export_file
from curation_app.store.release_queries import ReleaseQueries
from tests.conftest import LEAD
from tests.formats.test_streamed_export import in_memory

ODD = {"cost": 3e-05, "huge": 1e16, "zero": -0.0, "plain": 1.5, "big": 2 ** 70,
       "neg": -(2 ** 63), "empty": [], "none": {}, "nested": {"a": [1, None, True, "x", 2.5e-7]},
       "text": "ctrl \x01\x1f\x7f \u2028 tab\t \"q\" \\ 汉字 😀", "dup": {"z": 1, "a": 2}}


def _dialogues(strategy: str, nan: bool) -> list[Dialogue]:
    """Dialogues whose metadata and provenance hold what json and orjson decode or encode
    differently, or refuse (NaN only where the database can store it)."""
    out = []
    for i in range(6):
        extra = dict(ODD) if i % 2 == 0 else {"only": "strings"}
        if nan and i == 4:
            extra["nan"] = float("nan")
        turns = [Turn(Role.SEEKER, f"text {i} é 😀 \u2028"),
                 Turn(Role.SUPPORTER, "reply", [strategy],
                      {fmt: dict(extra) for fmt in formats.FORMAT_NAMES} if i < 3 else {}),
                 Turn(Role.SEEKER, "more", [], {"other": {"x": 1}}),
                 Turn(Role.SUPPORTER, "again", [])]
        out.append(Dialogue(
            turns=turns, topic="Work-related Stress and Burnout", description=f"d {i}",
            external_id=f"ext {i}" if i != 1 else None, status=Status.APPROVED,
            source=Source.GENERATED,
            metadata={fmt: dict(extra) for fmt in formats.FORMAT_NAMES} if i != 5 else {},
            provenance={"model": "m", "cost_usd": 1e-05 * (i + 1), "prompt": [{"x": 2 ** 65}],
                        "temperature": 0.7} if i != 3 else {}))
    return out


@pytest.fixture
def stored(ctx: AppContext) -> tuple[list[Dialogue], object]:
    project_services.create_project(ctx.uow(), LEAD, "odd", "extes")
    with ctx.uow() as uow:
        record = uow.repo.get_project("odd")
        strategy = record.vocabulary.strategy_names[0]
        nan = uow.repo.session.get_bind().dialect.name == "sqlite"
        uow.repo.add_dialogues(record, _dialogues(strategy, nan), author="lead")
        uow.commit()
    with ctx.uow() as uow:
        # The repository's own reading: ORM rows, the driver's json.loads.
        return uow.repo.list_dialogues(record), record.vocabulary


def test_streamed_dialogues_are_those_the_repository_reads(ctx: AppContext, stored):
    expected, _ = stored
    with ctx.uow() as uow:
        record = uow.repo.get_project("odd")
        queries = ReleaseQueries(uow.repo.session)
        streamed = list(queries.stream_dialogues(record, prompt=True, batch=4))
        batched = [d for chunk in queries.dialogue_batches(record, batch=4) for d in chunk]
        slim = list(queries.stream_dialogues(record, batch=4))
    # repr: NaN is not equal to itself, and -0.0 equals 0.0 (the file would differ)
    assert repr(streamed) == repr(expected) == repr(batched)
    for d in expected:
        d.provenance.pop("prompt", None)
    assert repr(slim) == repr(expected)


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_an_export_writes_the_in_memory_rendering_of_what_is_stored(ctx: AppContext, stored,
                                                                    fmt: str, tmp_path: Path):
    dialogues, vocab = stored
    try:
        formats.dumps(dialogues, fmt, vocab)
        expected: bytes | str = in_memory(dialogues, fmt, vocab)
    except ExportError as exc:  # the NaN on SQLite: the same refusal, naming the record
        expected = str(exc)
    target = tmp_path / "out"
    try:
        export_file(ctx.uow(), LEAD, "odd", fmt, target)
        got: bytes | str = target.read_bytes()
    except ExportError as exc:
        got = str(exc)
    assert got == expected
