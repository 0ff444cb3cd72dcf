"""``export_file`` (stored dialogues, most written straight from their stored turns) against the
general path it replaced (every dialogue built as a ``Dialogue``, written by ``write_record``
and checked against the schema): the same bytes, the same summary, the same error, for all
four formats, on SQLite and PostgreSQL, over a project with varied and odd dialogues."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from curation_app import formats
from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.errors import ExportError
from curation_app.services import projects as project_services
from curation_app.services.context import AppContext
from curation_app.services.transfer import _ExportTally, export_file
from curation_app.store.models import DialogueRow
from curation_app.store.release_queries import ReleaseQueries
from tests.conftest import LEAD

PROJECT = "varied"


def _general(ctx: AppContext, fmt: str, path: Path, **flags: bool) -> tuple[int, _ExportTally]:
    """The export as it was written before the direct path: Dialogue objects throughout."""
    tally = _ExportTally()
    with ctx.uow() as uow:
        record = uow.repo.get_project(PROJECT)
        stream = ReleaseQueries(uow.repo.session).stream_dialogues(record, None, prompt=True)
        count = formats.write_file(
            tally.written(stream, flags.get("include_discarded", False),
                          flags.get("include_overlap_copies", False)),
            fmt, record.vocabulary, path)
    return count, tally


def _dialogues(strategies: list[str]) -> list[Dialogue]:
    texts = ["I feel tired.", "ctrl \x01\x1f \u2028 \"q\" \\ 汉字 😀", "", "é" * 30]
    out = []
    for i in range(40):
        turns = []
        for j in range(2 + i % 5):
            if j % 2 == 0:
                turns.append(Turn(Role.SEEKER, texts[(i + j) % 4]))
            else:
                turns.append(Turn(Role.SUPPORTER, texts[(i + j) % 4],
                                  [strategies[(i + j) % len(strategies)]] if i % 3 else []))
        out.append(Dialogue(
            turns=turns, topic=None if i % 4 == 0 else "Überraschung",
            description=None if i % 5 == 0 else "説明", emotion=None if i % 2 else "anger",
            external_id=None if i % 3 == 0 else f"ext {i}",
            status=[Status.DRAFT, Status.APPROVED, Status.DISCARDED][i % 3],
            source=Source.GENERATED if i % 4 == 1 else Source.IMPORTED,
            provenance={"model": "m", "cost_usd": 3e-05, "prompt": [{"content": "x"}]}
            if i % 4 == 1 else {}))
    # Dialogues the direct path leaves to the general one: metadata of every format, turn
    # metadata, integers past 64 bits.
    for fmt in ("extes", "peconv", "esconv", "other"):
        out.append(Dialogue(turns=[Turn(Role.SEEKER, "a", [], {fmt: {"n": 2 ** 70}}),
                                   Turn(Role.SUPPORTER, "b", [], {})],
                            metadata={fmt: {"survey_score": {"x": 1.5}, "dialog_id": 7}},
                            provenance={"big": 2 ** 65}))
    return out


@pytest.fixture
def varied(ctx: AppContext) -> AppContext:
    project_services.create_project(ctx.uow(), LEAD, PROJECT, "extes")
    with ctx.uow() as uow:
        record = uow.repo.get_project(PROJECT)
        ids = uow.repo.add_dialogues(record, _dialogues(list(record.vocabulary.strategy_names)),
                                     author="import")
        copy = uow.workflow.copy_for_overlap(ids[1], "annotator2")
        uow.repo.set_status(copy, Status.APPROVED)
        # A stored turn with a key no writer reads holding a number orjson reads as a float.
        uow.repo.session.execute(update(DialogueRow).where(DialogueRow.id == ids[2]).values(
            turns=[{"role": "seeker", "text": "x", "strategies": [], "note": 2 ** 70},
                   {"role": "supporter", "text": "y", "strategies": None}]))
        uow.commit()
    return ctx


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
@pytest.mark.parametrize("flags", [{}, {"include_discarded": True,
                                        "include_overlap_copies": True}])
def test_export_equals_the_general_path(varied: AppContext, fmt: str, flags: dict[str, bool],
                                        tmp_path: Path):
    new, old = tmp_path / "new", tmp_path / "old"
    summary = export_file(varied.uow(), LEAD, PROJECT, fmt, new, **flags)
    count, tally = _general(varied, fmt, old, **flags)
    assert new.read_bytes() == old.read_bytes()
    assert (summary.dialogues, summary.turns, summary.by_status, summary.overlap_copies,
            summary.left_out_discarded, summary.left_out_copies) == (
        count, tally.turns, tally.by_status, tally.overlap_copies, tally.discarded,
        tally.copies)
    assert summary.dialogues > 25


def _set_turns(ctx: AppContext, turns: list[dict[str, Any]], position: int = 3) -> None:
    """Store ``turns`` (``S0`` standing for the project's first strategy) in one dialogue."""
    with ctx.uow() as uow:
        record = uow.repo.get_project(PROJECT)
        first = record.vocabulary.strategy_names[0]
        turns = json.loads(json.dumps(turns).replace('"S0"', json.dumps(first)))
        ids = sorted(d.id for d in uow.repo.list_dialogues(record))
        uow.repo.session.execute(update(DialogueRow).where(DialogueRow.id == ids[position])
                                 .values(turns=turns))
        uow.commit()


ODD_TURNS = {
    "unknown strategy": [{"role": "seeker", "text": "a", "strategies": []},
                         {"role": "supporter", "text": "b", "strategies": ["nope"]}],
    "strategy on a seeker": [{"role": "seeker", "text": "a", "strategies": ["S0"]}],
    "two strategies": [{"role": "supporter", "text": "b",
                        "strategies": ["S0", "S0"]}],
    "no turns": [],
    "empty strategy string": [{"role": "supporter", "text": "b", "strategies": [""]}],
    "text not a string": [{"role": "seeker", "text": 5, "strategies": []}],
}


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
@pytest.mark.parametrize("odd", sorted(ODD_TURNS))
def test_refusals_are_the_general_paths(varied: AppContext, fmt: str, odd: str,
                                        tmp_path: Path):
    _set_turns(varied, ODD_TURNS[odd])
    outcomes = []
    for run in (lambda p: export_file(varied.uow(), LEAD, PROJECT, fmt, p),
                lambda p: _general(varied, fmt, p)):
        path = tmp_path / f"out{len(outcomes)}"
        try:
            run(path)
            outcomes.append(("written", path.read_bytes()))
        except ExportError as exc:
            outcomes.append(("refused", str(exc)))
            assert not path.exists()
    assert outcomes[0] == outcomes[1]
    if odd in ("unknown strategy", "no turns", "text not a string"):
        assert outcomes[0][0] == "refused", outcomes[0]


def test_the_summary_counts_turns_as_stored(varied: AppContext, tmp_path: Path):
    summary = export_file(varied.uow(), LEAD, PROJECT, "jsonl", tmp_path / "out.jsonl")
    lines = (tmp_path / "out.jsonl").read_text("utf-8").split("\n")[:-1]
    assert summary.turns == sum(len(json.loads(line)["turns"]) for line in lines)
