"""Nothing acknowledged is lost: a SQLite file deleted or replaced under the running app makes
saves fail loudly (the text is kept by the caller) instead of being acknowledged and lost."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from curation_app.domain import Dialogue, Role, Source, Turn
from curation_app.errors import AuthenticationError, StorageError
from curation_app.services import editing
from curation_app.services.context import AppContext
from curation_app.services.projects import create_project
from curation_app.store import migrate
from tests.conftest import LEAD, make_pg_url


@pytest.fixture
def sqlite_ctx(tmp_path):
    path = tmp_path / "live.db"
    ctx = AppContext.from_url(f"sqlite:///{path}")
    migrate(ctx.engine)
    create_project(ctx.uow(), LEAD, "p", "extes")
    with ctx.uow() as uow:
        (did,) = uow.repo.add_dialogues(uow.repo.get_project("p"), [Dialogue(
            turns=[Turn(Role.SEEKER, "hi"), Turn(Role.SUPPORTER, "hello")],
            topic="Depression and Low Mood", source=Source.GENERATED)], author="model")
        uow.commit()
    yield ctx, path, did
    ctx.close()


def _save(ctx, did: int, version: int, text: str):
    turns = [Turn(Role.SEEKER, text), Turn(Role.SUPPORTER, "hello")]
    return editing.save_revision(ctx.uow(), LEAD, did, version, turns)


def _reopened_texts(path, did):
    fresh = AppContext.from_url(f"sqlite:///{path}")
    try:
        return [r.turns[0].text for r in editing.history(fresh.uow(), LEAD, did)]
    finally:
        fresh.close()


@pytest.mark.parametrize("how", ["deleted", "moved", "replaced"])
def test_a_save_after_the_file_went_away_is_refused_not_acknowledged(sqlite_ctx, tmp_path, how):
    ctx, path, did = sqlite_ctx
    assert _save(ctx, did, 0, "saved while all is well").revision == 1
    keep = tmp_path / "kept.db"
    shutil.copyfile(path, keep)  # what an operator would restore
    if how == "deleted":
        os.unlink(path)
    elif how == "moved":
        os.rename(path, tmp_path / "elsewhere.db")
    else:
        os.replace(keep, path)  # a different file (another inode) at the same path
        keep = path
    acknowledged, refused = [], []
    for attempt in range(3):
        try:
            acknowledged.append(_save(ctx, did, 1 + len(acknowledged), f"attempt {attempt}"))
        except StorageError as exc:
            refused.append(str(exc))
    assert acknowledged == [] and len(refused) == 3
    assert all("this change was NOT saved (your text is kept)" in m and str(path) in m
               for m in refused)
    if how != "replaced":
        shutil.copyfile(keep, path)
    # after a restart on the restored file, what was acknowledged is there, nothing else
    assert _reopened_texts(path, did) == ["hi", "saved while all is well"]


def test_an_unchanged_file_saves_normally(sqlite_ctx):
    ctx, path, did = sqlite_ctx
    for version in range(3):
        _save(ctx, did, version, f"text {version}")
    assert _reopened_texts(path, did)[-1] == "text 2"


# ---- backup and restore ------------------------------------------------------------------------
def _busy_database(ctx: AppContext, tmp_path) -> None:
    """Something of every kind: users, projects, dialogues with revisions and events, a job,
    a check run with findings, a privacy mark, audit events."""
    from curation_app.services import checks, generation, privacy, users, workflow
    from curation_app.services.generation import JobRequest
    from curation_app.services.setup import SYSTEM_ACTOR

    users.add_user(ctx, SYSTEM_ACTOR, "lea", "lead", "a long password")
    users.add_user(ctx, SYSTEM_ACTOR, "ann", "annotator", "a long password")
    with pytest.raises(AuthenticationError):
        users.authenticate(ctx, "ann", "wrong password!")
    lea = users.authenticate(ctx, "lea", "a long password")
    create_project(ctx.uow(), lea, "p", "extes")
    with ctx.uow() as uow:
        ids = uow.repo.add_dialogues(uow.repo.get_project("p"), [Dialogue(
            turns=[Turn(Role.SEEKER, f"My daughter Emma {i} 长 \U0001F600"),
                   Turn(Role.SUPPORTER, "hello", ["Reflective Statements"])],
            topic="Depression and Low Mood", source=Source.GENERATED, provenance={"cost": 0.25},
            metadata={"k": [1, 2.5, None]}) for i in range(3)], author="model")
        uow.commit()
    workflow.assign(ctx, lea, "p", annotators=["ann"], dialogue_ids=ids[:2])
    ann = users.get_actor(ctx, "ann")
    editing.save_revision(ctx.uow(), ann, ids[0], 0,
                          [Turn(Role.SEEKER, "edited"), Turn(Role.SUPPORTER, "ok")])
    workflow.submit(ctx, ann, ids[0], "done")
    generation.plan_job(ctx, lea, JobRequest(project="p", topics=["Depression and Low Mood"], n=2,
                                             model="gpt-4o-mini"))
    checks.run_checks(ctx, lea, "p")
    found = privacy.findings_for(ctx, lea, ids[2])
    privacy.dismiss(ctx, lea, ids[2], found[0].path, found[0].rule, found[0].message, "fake")


def _without(dump, action):
    dump["audit_events"] = [e for e in dump["audit_events"] if e["action"] != action]
    return dump


def _file_rows(path):
    import json
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    out: dict[str, list] = {}
    for line in lines:
        item = json.loads(line)
        out.setdefault(item["table"], []).append(item["row"])
    return out


@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_backup_then_restore_gives_an_identical_database(ctx, tmp_path, target, request):
    from curation_app.services import backup
    from curation_app.services.setup import SYSTEM_ACTOR

    _busy_database(ctx, tmp_path)
    out = tmp_path / "backup.jsonl"
    summary = backup.backup(ctx, SYSTEM_ACTOR, out)
    assert summary.rows["dialogues"] == 3 and summary.rows["revisions"] >= 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp
    before = _without(backup.logical_dump(ctx), "backup")
    assert {k: v for k, v in _file_rows(out).items() if v} == {
        k: v for k, v in before.items() if v}

    if target == "sqlite":
        url = f"sqlite:///{tmp_path / 'restored.db'}"
    else:  # a second, empty PostgreSQL database
        fresh = make_pg_url(request.getfixturevalue("pg_template"))
        url = next(fresh)
        request.addfinalizer(lambda: next(fresh, None))
    other = AppContext.from_url(url)
    try:
        restored = backup.restore(other, SYSTEM_ACTOR, out)
        assert restored.rows == summary.rows
        after = _without(backup.logical_dump(other), "restore")
        assert after == before
        # the restored database works: new rows get fresh ids, sign-in works
        from curation_app.services import users
        assert users.authenticate(other, "lea", "a long password").name == "lea"
        with pytest.raises(Exception, match="restore needs an empty database"):
            backup.restore(other, SYSTEM_ACTOR, out)
    finally:
        other.close()


def test_backup_refuses_to_overwrite_and_restore_refuses_junk(ctx, tmp_path):
    from curation_app.errors import InvalidInputError, PermissionDeniedError
    from curation_app.services import backup
    from curation_app.services.setup import SYSTEM_ACTOR
    from tests.conftest import ANNOTATOR

    out = tmp_path / "b.jsonl"
    out.write_text("precious")
    with pytest.raises(InvalidInputError, match="exists"):
        backup.backup(ctx, SYSTEM_ACTOR, out)
    assert out.read_text() == "precious"
    with pytest.raises(InvalidInputError, match="not a curation backup"):
        backup.restore(ctx, SYSTEM_ACTOR, out)
    with pytest.raises(PermissionDeniedError):
        backup.backup(ctx, ANNOTATOR, tmp_path / "c.jsonl")


def test_a_killed_writer_leaves_no_temp_file_behind_for_long(tmp_path):
    import signal
    import subprocess
    import sys

    from curation_app.formats.base import remove_stale_temps, temp_beside, write_atomic

    target = tmp_path / "export.jsonl"
    # a real writer killed with SIGKILL half-way through writing its temporary file
    script = ("import sys, time; from pathlib import Path; "
              "from curation_app.formats.base import temp_beside; "
              f"p = temp_beside(Path({str(target)!r})); f = open(p, 'w'); "
              "f.write('half'); f.flush(); print(p, flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    left = Path(child.stdout.readline().strip())
    live = temp_beside(target)
    live.write_text("a live writer's file")
    assert remove_stale_temps(target) == []  # its writer still runs: kept
    child.send_signal(signal.SIGKILL)
    child.wait()
    write_atomic(target, "the next export\n", overwrite=False)
    assert not left.exists() and live.exists()  # only the dead writer's file went
    assert target.read_text() == "the next export\n"


# ---- PostgreSQL dropping its connections (what a restart does to a running app) ---------------
@pytest.mark.postgres
def test_postgres_dropping_connections_mid_session(pg_url):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    ctx = AppContext.from_url(pg_url)
    create_project(ctx.uow(), LEAD, "p", "extes")
    with ctx.uow() as uow:
        (did,) = uow.repo.add_dialogues(uow.repo.get_project("p"), [Dialogue(
            turns=[Turn(Role.SEEKER, "hi"), Turn(Role.SUPPORTER, "hello")],
            topic="Depression and Low Mood", source=Source.GENERATED)], author="model")
        uow.commit()
    admin = create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    database = make_url(pg_url).database

    def drop_connections() -> None:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": database})

    try:
        editing.get_dialogue(ctx.uow(), LEAD, did)  # the pool now holds a connection
        drop_connections()
        # the next action recovers on its own (the pool checks connections before use)
        assert _save(ctx, did, 0, "after the restart").revision == 1
        # a save whose connection dies half-way: a clear error, nothing half-written
        with pytest.raises(StorageError, match="was NOT saved"), ctx.uow() as uow:
            uow.repo.get_dialogue(did)
            drop_connections()
            uow.repo.save_content(did, 1, [Turn(Role.SEEKER, "lost?")], topic=None,
                                  emotion=None, description=None, author="lead", note=None,
                                  seconds_spent=None, status=None)
            uow.commit()
        # and the one after works, on the version the failed one did not change
        assert _save(ctx, did, 1, "kept text, saved again").revision == 2
        texts = [r.turns[0].text for r in editing.history(ctx.uow(), LEAD, did)]
        assert texts == ["hi", "after the restart", "kept text, saved again"]
    finally:
        admin.dispose()
        ctx.close()
