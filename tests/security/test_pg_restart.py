"""PostgreSQL restarted under a running app (a throwaway cluster of the test's own, never the
shared server): while it is down every service call raises StorageError with a plain message
(no traceback, not "not initialised"); the first call after it is back works (the pool's
pre-ping replaces the dead connections); in the editor a Save during the outage says the change
was NOT saved and keeps the text, and Save after the restart stores it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import streamlit as st
from sqlalchemy import create_engine, text
from streamlit.testing.v1 import AppTest

from curation_app.domain import Dialogue, Role, Source, Turn
from curation_app.errors import StorageError
from curation_app.services import editing, users
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole
from curation_app.services.projects import create_project
from curation_app.services.setup import SYSTEM_ACTOR
from curation_app.store import migrate
from curation_app.ui import state
from tests.security.pg_cluster import Cluster
from tests.ui.conftest import APP, PASSWORD, box_named, open_page, texts

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REQUIRE_PG = os.environ.get("CURATION_REQUIRE_POSTGRES") == "1"
LEA = Actor("lea", UserRole.LEAD)
PROJECT = "restart"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    try:
        made = Cluster.create()
        made.start()
    except (RuntimeError, OSError) as exc:
        if REQUIRE_PG:
            pytest.fail(f"cannot run a throwaway PostgreSQL cluster: {exc}")
        pytest.skip(f"cannot run a throwaway PostgreSQL cluster: {exc}")
    yield made
    made.remove()


@pytest.fixture
def seeded(cluster: Cluster) -> Iterator[tuple[str, int]]:
    """A fresh database in the cluster with one project, one dialogue and the lead lea."""
    admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    name = f"restart_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = cluster.url.rsplit("/", 1)[0] + f"/{name}"
    ctx = AppContext.from_url(url)
    migrate(ctx.engine)
    users.add_user(ctx, SYSTEM_ACTOR, "lea", "lead", PASSWORD)
    create_project(ctx.uow(), LEA, PROJECT, "peconv")
    with ctx.uow() as uow:
        (did,) = uow.repo.add_dialogues(uow.repo.get_project(PROJECT), [Dialogue(
            turns=[Turn(Role.SEEKER, "我最近睡不好。"),
                   Turn(Role.SUPPORTER, "能说说吗？", ["提问"])],
            topic="睡眠", source=Source.GENERATED)], author="lea")
        uow.commit()
    ctx.close()
    yield url, did
    if not _running(cluster):
        cluster.start()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _running(cluster: Cluster) -> bool:
    return (cluster.data / "postmaster.pid").exists()


def _plain(message: str) -> None:
    assert "Traceback" not in message and "not initialised" not in message, message
    assert "\n" not in message, message


def test_service_calls_fail_plainly_while_down_and_work_on_the_next_call_after(
        cluster: Cluster, seeded: tuple[str, int]):
    url, did = seeded
    ctx = AppContext.from_url(url)
    try:
        d = editing.get_dialogue(ctx.uow(), LEA, did)  # the pool now holds a live connection
        cluster.stop("immediate")
        edited = [Turn(Role.SEEKER, "我最近睡不好，总是醒。"), d.turns[1]]
        with pytest.raises(StorageError) as refused:
            editing.save_revision(ctx.uow(), LEA, did, d.version, edited)
        _plain(str(refused.value))
        assert "this change was NOT saved (your text is kept)" in str(refused.value)
        assert "Connection refused" in str(refused.value)
        with pytest.raises(StorageError) as unread:
            editing.get_dialogue(ctx.uow(), LEA, did)
        _plain(str(unread.value))
        cluster.start()
        # the very next call works: no error left over from the dead connections
        saved = editing.save_revision(ctx.uow(), LEA, did, d.version, edited)
        assert editing.get_dialogue(ctx.uow(), LEA, did).turns[0].text == "我最近睡不好，总是醒。"
        assert saved.version == d.version + 1
    finally:
        if not _running(cluster):
            cluster.start()
        ctx.close()


def test_the_editor_keeps_the_text_through_a_restart_and_saves_it_after(
        cluster: Cluster, seeded: tuple[str, int], tmp_path, monkeypatch):
    url, did = seeded
    monkeypatch.setenv("CURATION_DATABASE_URL", url)
    monkeypatch.setenv("CURATION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CURATION_SECRET_KEY", "restart-secret")
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state[state.AUTH_ACTOR] = LEA
    at.session_state[state.AUTH_VIA] = "password"
    at.session_state[state.PROJECT] = PROJECT
    at.session_state[state.LANGUAGE] = "en"
    at.session_state[state.EDITOR_DIALOGUE] = did
    open_page(at, "editor")
    typed = "我最近睡不好，半夜总是醒，白天也没精神。"
    try:
        box_named(at, f"w:editor.{did}.0.text").input(typed).run()
        cluster.stop("immediate")
        at.button(key="editor.save").click().run()
        assert not at.exception, [e.value for e in at.exception]
        shown = texts(at)
        assert "this change was NOT saved (your text is kept)" in shown, shown
        assert "Saved revision" not in shown and "not initialised" not in shown
        assert "Traceback" not in shown
        cluster.start()
        at.run()  # the next action: the page comes back with the text as it was typed
        assert not at.exception, [e.value for e in at.exception]
        assert box_named(at, f"w:editor.{did}.0.text").value == typed
        assert "Unsaved changes" in texts(at)
        at.button(key="editor.save").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert f"Saved revision 1 of dialogue #{did}." in texts(at)
    finally:
        if not _running(cluster):
            cluster.start()
    ctx = AppContext.from_url(url)
    try:
        assert editing.get_dialogue(ctx.uow(), LEA, did).turns[0].text == typed
    finally:
        ctx.close()
