"""Shared fixtures: real databases (SQLite file and PostgreSQL), the shared sample data.

PostgreSQL tests run against $CURATION_TEST_PG_URL (default the local server on 127.0.0.1).
Locally they skip with the reason when the server is down; with CURATION_REQUIRE_POSTGRES=1
(set by .ci/run) they fail instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole
from curation_app.store import migrate

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
PG_URL = os.environ.get("CURATION_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("CURATION_REQUIRE_POSTGRES") == "1"

LEAD = Actor("lead", UserRole.LEAD)
ANNOTATOR = Actor("annotator", UserRole.ANNOTATOR)


def shared_file(*parts: str) -> Path:
    """A file of ../shared/data, or a skip naming what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"sample data {path} is absent (tests read ../shared/data beside the repo)")
    return path


def _admin_engine():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test clones it (CREATE DATABASE … TEMPLATE)."""
    try:
        admin = _admin_engine()
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server"
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {make_url(PG_URL).render_as_string(True)} is required "
                        f"(CURATION_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc}")
    name = f"curation_tmpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name)
    engine = create_engine(url)
    migrate(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_pg_url(template: str) -> Iterator[str]:
    name = f"curation_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'curation.db'}"


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    yield from make_pg_url(pg_template)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh, migrated database of each kind."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
        ctx = AppContext.from_url(url)
        migrate(ctx.engine)
        ctx.close()
        return url
    return request.getfixturevalue("pg_url")


@pytest.fixture
def ctx(db_url: str) -> Iterator[AppContext]:
    context = AppContext.from_url(db_url)
    yield context
    context.close()

