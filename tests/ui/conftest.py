"""The app under Streamlit's AppTest, on a fresh migrated SQLite database with the demo projects.

Each test gets its own database (CURATION_DATABASE_URL), data directory and secret key. The app's
cached readers are keyed by the database URL, so one test's data never answers another's.
AppTest runs the page scripts in this process; the page is chosen the way a browser would,
through ``st.navigation`` (``AppTest.switch_page`` with the page's file).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from curation_app.services import users
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole
from curation_app.services.setup import SYSTEM_ACTOR, initialise
from curation_app.ui import state

APP = Path(__file__).resolve().parents[2] / "curation_app" / "ui" / "app.py"
PASSWORD = "correct horse battery"
PEOPLE = {"ann": UserRole.ANNOTATOR, "ben": UserRole.ANNOTATOR, "rita": UserRole.REVIEWER,
          "lea": UserRole.LEAD}
TIMEOUT_S = 30


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once: the demo projects and four users (password PASSWORD); tests copy the file."""
    path = tmp_path_factory.mktemp("ui-template") / "app.db"
    ctx = AppContext.from_url(f"sqlite:///{path}")
    initialise(ctx, demo=True)
    for name, role in PEOPLE.items():
        users.add_user(ctx, SYSTEM_ACTOR, name, str(role), PASSWORD)
    ctx.close()
    return path


@pytest.fixture
def app_ctx(template_db: Path, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[AppContext]:
    """A fresh copy of the template database, which the app is pointed at."""
    path = tmp_path / "app.db"
    shutil.copyfile(template_db, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("CURATION_DATABASE_URL", url)
    monkeypatch.setenv("CURATION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CURATION_SECRET_KEY", "ui-test-secret")
    monkeypatch.delenv("CURATION_OIDC_DEFAULT_ROLE", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    ctx = AppContext.from_url(url)
    st.cache_data.clear()
    yield ctx
    ctx.close()


def actor(name: str) -> Actor:
    return Actor(name, PEOPLE[name])


@pytest.fixture
def make_app(app_ctx: AppContext) -> Callable[..., AppTest]:
    """``make_app(user=None, project=None)``: an AppTest, signed in as ``user`` if given
    (straight into session state; the sign-in form has its own tests)."""

    def make(user: str | None = None, project: str | None = "demo-peconv",
             language: str = "en") -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
        if user is not None:
            at.session_state[state.AUTH_ACTOR] = actor(user)
            at.session_state[state.AUTH_VIA] = "password"
        if project is not None:
            at.session_state[state.PROJECT] = project
        at.session_state[state.LANGUAGE] = language
        return at

    return make


def open_page(at: AppTest, page: str) -> AppTest:
    """Run once (to register the pages), switch to ``views/<page>.py`` and run it."""
    if not at._tree.children:  # noqa: SLF001 - not run yet
        at.run()
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Every piece of text on the page, for assertions about what a person reads."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success",
                 "warning", "error", "text"):
        parts += [str(el.value) for el in getattr(at, kind)]
    # what a person reads: no bold markers, no backslash escapes (user text is escaped so that
    # it never renders as Markdown, and a word joiner keeps bare addresses from being linked;
    # see curation_app/ui/plain.py)
    joined = "\n".join(parts).replace("**", "").replace("\u2060", "")
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", joined)


def box_named(at: AppTest, key: str):
    """The editor's text box whose widget key starts with ``key``: the editor draws a box
    afresh (under a new key ``key@generation.stamp``) whenever its text changes other than by
    typing or the page is entered again."""
    found = [box for box in at.text_area if box.key and box.key.startswith(key + "@")]
    assert len(found) == 1, (key, [box.key for box in at.text_area])
    return found[0]
