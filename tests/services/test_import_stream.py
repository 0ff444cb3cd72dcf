"""A streamed import, on SQLite and PostgreSQL: written batch by batch through the bulk writer,
still all or nothing, and the rows are the ones the ORM wrote before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation_app import formats
from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.errors import ImportRefusedError
from curation_app.presets import load_preset
from curation_app.services import transfer
from curation_app.services.projects import create_project
from curation_app.store import bulk
from tests.conftest import LEAD

EXTES = load_preset("extes")


def _record(i: int) -> dict:
    return {"scene": EXTES.topics[i % len(EXTES.topics)], "description": f"case {i}",
            "content": [{"User": f"I feel low {i}"},
                        {"AI Strategy": EXTES.strategy_names[i % 3], "AI": f"I hear you {i}"}]}


def _file(tmp_path: Path, records: list) -> Path:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 2 records, and a count of the batches the bulk writer wrote."""
    monkeypatch.setattr(formats, "BATCH", 2)
    written: list[int] = []
    add = bulk.DialogueWriter.add

    def counting(self, dialogues):
        ids = add(self, dialogues)
        written.append(len(ids))
        return ids

    monkeypatch.setattr(bulk.DialogueWriter, "add", counting)
    return written


def test_a_record_refused_after_a_batch_was_written_leaves_nothing(ctx, tmp_path,
                                                                    small_batches):
    create_project(ctx.uow(), LEAD, "p", "extes")
    records = [_record(i) for i in range(7)]
    records[4]["content"] = "not a list"
    records[6]["content"][1]["AI Strategy"] = "no such strategy"
    with pytest.raises(ImportRefusedError) as caught:
        transfer.import_file(ctx.uow(), LEAD, _file(tmp_path, records), "extes", "p")
    assert small_batches == [2, 2]  # the first two batches were written, then writing stopped
    # every refused record is listed, the one after the first refusal included
    assert [(p.index, p.field) for p in caught.value.problems] == [
        (4, "content"), (6, 'content[1]["AI Strategy"]')]
    assert caught.value.total == 7
    with ctx.uow() as uow:
        project = uow.repo.get_project("p")
        assert uow.repo.count_dialogues(project) == 0


def test_skip_invalid_writes_every_batch_but_the_refused(ctx, tmp_path, small_batches):
    create_project(ctx.uow(), LEAD, "p", "extes")
    records = [_record(i) for i in range(7)]
    records[4]["content"] = []
    summary = transfer.import_file(ctx.uow(), LEAD, _file(tmp_path, records), "extes", "p",
                                   skip_invalid=True)
    assert (summary.imported, summary.turns, summary.total) == (6, 12, 7)
    assert sum(small_batches) == 6
    with ctx.uow() as uow:
        project = uow.repo.get_project("p")
        stored = uow.repo.list_dialogues(project)
        assert [d.description for d in stored] == [f"case {i}" for i in range(7) if i != 4]
        revision = uow.repo.revisions(stored[-1].id)
        assert [(r.number, r.turns, r.author, r.note) for r in revision] == [
            (0, stored[-1].turns, LEAD.name, "imported from in.json")]


def test_bulk_writer_stores_what_the_dialogue_holds(ctx):
    created = create_project(ctx.uow(), LEAD, "p", "extes")
    dialogue = Dialogue(
        turns=[Turn(Role.SEEKER, "caf\u00e9 \u2028 \"q\"", [], {"extes": {"k": [1, None]}}),
               Turn(Role.SUPPORTER, "ok", ["Reflective Statements"])],
        language="en", topic="Job Crisis", emotion=None, description=None,
        status=Status.APPROVED, source=Source.IMPORTED, external_id="x-1",
        provenance={"model": "m", "cost": 0.5}, metadata={"extes": {"extra": True}},
        is_seed=True, seed_round=0)
    with ctx.uow() as uow:
        ids = uow.repo.add_dialogues(created, [dialogue, dialogue], author="lead", note="n")
        uow.commit()
    assert ids[1] == ids[0] + 1
    with ctx.uow() as uow:
        for got in (uow.repo.get_dialogue(i) for i in ids):
            assert (got.turns, got.provenance, got.metadata, got.status, got.is_seed,
                    got.seed_round, got.external_id, got.version) == (
                dialogue.turns, dialogue.provenance, dialogue.metadata, Status.APPROVED, True,
                0, "x-1", 0)
            assert got.created_at is not None and got.created_at == got.updated_at
        assert [r.turns for r in uow.repo.revisions(ids[0])] == [dialogue.turns]


def test_a_large_import_leaves_postgresql_planner_statistics_current(ctx, tmp_path):
    """Without ANALYZE the planner took a 100k table for empty and sorted the whole project
    for each keyset batch of `check`; SQLite has nothing to refresh."""
    from sqlalchemy import text

    create_project(ctx.uow(), LEAD, "p", "extes")
    transfer.import_file(ctx.uow(), LEAD, _file(tmp_path, [_record(i) for i in range(1200)]),
                         "extes", "p")
    if ctx.engine.dialect.name != "postgresql":
        return
    with ctx.engine.connect() as conn:
        rows = conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'dialogues'"))
        assert rows.scalar_one() == 1200  # -1 (never analysed) without the refresh


def test_revision_zero_holds_each_dialogues_draft_in_id_order(ctx):
    """PostgreSQL writes revision 0 from the dialogue rows just copied (INSERT ... SELECT),
    SQLite from the values in hand: on both, each revision is its dialogue's draft, stamped
    with the dialogue's time, and revision ids follow dialogue ids."""
    from sqlalchemy import text

    created = create_project(ctx.uow(), LEAD, "p", "extes")
    dialogues = [
        # turns with metadata take json.dumps, plain ones orjson: both must read back the same
        Dialogue(turns=[Turn(Role.SEEKER, f"text {i} \u00e9\u2028 \"q\" \U0001f600", [],
                             {"extes": {"n": i}} if i == 0 else {}),
                        Turn(Role.SUPPORTER, "ok", [EXTES.strategy_names[i]])],
                 language="en", topic=EXTES.topics[i], emotion=None if i else "sad",
                 description=None if i == 1 else f"case {i}", status=Status.DRAFT,
                 source=Source.IMPORTED)
        for i in range(3)]
    with ctx.uow() as uow:
        ids = uow.repo.add_dialogues(created, dialogues, author="lead", note=None)
        uow.commit()
    with ctx.uow() as uow:
        for i, dialogue in zip(ids, dialogues, strict=True):
            got = uow.repo.get_dialogue(i)
            (rev,) = uow.repo.revisions(i)
            assert (rev.number, rev.turns, rev.topic, rev.emotion, rev.description,
                    rev.author, rev.note, rev.seconds_spent) == (
                0, dialogue.turns, dialogue.topic, dialogue.emotion, dialogue.description,
                "lead", None, None)
            assert rev.created_at == got.created_at
    with ctx.engine.connect() as conn:
        pairs = conn.execute(text("SELECT dialogue_id FROM revisions ORDER BY id")).scalars()
        assert list(pairs) == ids


def test_lz4_packing_stays_inside_the_import_transaction(ctx, tmp_path):
    """On PostgreSQL the bulk writer packs the turns it stores with LZ4 (when the server has
    it) for that transaction only: the rows read back the same, and the connection goes back
    to the pool with the server's own setting."""
    from sqlalchemy import text

    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("TOAST compression is PostgreSQL's")
    with ctx.engine.connect() as conn:
        before = conn.execute(text("SHOW default_toast_compression")).scalar_one()
    create_project(ctx.uow(), LEAD, "p", "extes")
    records = [_record(i) for i in range(3)]
    records[0]["content"][0]["User"] = "long words " * 400  # past the 2 kB TOAST threshold
    transfer.import_file(ctx.uow(), LEAD, _file(tmp_path, records), "extes", "p")
    with ctx.engine.connect() as conn:
        assert conn.execute(text("SHOW default_toast_compression")).scalar_one() == before
        lz4 = conn.execute(text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                "WHERE name = 'default_toast_compression'")).scalar_one()
        packed = conn.execute(text(
            "SELECT pg_column_compression(d.turns), pg_column_compression(r.turns) "
            "FROM dialogues d JOIN revisions r ON r.dialogue_id = d.id "
            "WHERE d.description = 'case 0'")).all()
    if lz4:
        assert packed == [("lz4", "lz4")]
    with ctx.uow() as uow:
        (first, *_) = uow.repo.list_dialogues(uow.repo.get_project("p"))
        assert first.turns[0].text == "long words " * 400
