"""The embedded SQLite defaults and migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from curation_app.errors import StorageError
from curation_app.store import make_engine, migrate
from curation_app.store.db import (
    _head_from_files,
    current_revision,
    database_url,
    head_revision,
    is_up_to_date,
    redact,
)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'c.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    engine.dispose()


def test_migrate_creates_then_is_idempotent(db_url: str):
    engine = make_engine(db_url)
    before, after = migrate(engine)
    assert before == after == head_revision()  # the fixture already migrated
    assert is_up_to_date(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"projects", "users", "dialogues", "revisions", "alembic_version"} <= tables
    engine.dispose()


def test_a_fresh_database_starts_unversioned(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert current_revision(engine) is None and not is_up_to_date(engine)
    assert migrate(engine) == (None, head_revision())
    engine.dispose()


def test_the_schema_check_reads_what_alembic_reads(db_url: str):
    """Every command checks the schema without loading Alembic: the head read from the
    migration files is Alembic's, and an older or doubled version row is told apart."""
    assert _head_from_files() == head_revision()
    engine = make_engine(db_url)
    try:
        assert is_up_to_date(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0012'"))
        assert not is_up_to_date(engine) and current_revision(engine) == "0012"
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO alembic_version VALUES ('{head_revision()}')"))
        with pytest.raises(Exception, match="more than one head"):  # as Alembic refuses it
            is_up_to_date(engine)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version"))
            conn.execute(text(f"INSERT INTO alembic_version VALUES ('{head_revision()}')"))
        engine.dispose()


def test_default_url_lives_in_the_data_directory(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("CURATION_DATABASE_URL", raising=False)
    monkeypatch.setenv("CURATION_DATA_DIR", str(tmp_path))
    assert database_url() == f"sqlite:///{tmp_path / 'curation.db'}"


def test_passwords_are_hidden_in_messages():
    assert "s3cret" not in redact("postgresql+psycopg://u:s3cret@db.example/x")


def test_an_unreachable_server_is_a_storage_error_without_the_password():
    engine = make_engine("postgresql+psycopg://u:s3cret@127.0.0.1:1/nothing")
    with pytest.raises(StorageError) as caught:
        migrate(engine)
    assert "s3cret" not in str(caught.value) and "cannot reach the database" in str(caught.value)


def test_a_bad_url_is_a_storage_error():
    with pytest.raises(StorageError, match="not a database URL"):
        make_engine("this is not a url")


def test_upgrading_from_the_first_schema_keeps_the_data(db_url: str):
    from alembic import command

    from curation_app.store.db import _alembic_config

    engine = make_engine(db_url)
    command.downgrade(_alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO projects (name, preset, vocabulary, settings, created_at) "
            "VALUES ('old', 'extes', '{}', '{}', CURRENT_TIMESTAMP)"))
    assert migrate(engine) == ("0001", head_revision())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM projects")).scalar() == "old"
    engine.dispose()


def test_a_command_that_only_reads_does_not_load_alembic(tmp_path):
    import subprocess
    import sys

    code = ("import sys\nfrom curation_app.store.db import make_engine, is_up_to_date, migrate\n"
            f"engine = make_engine('sqlite:///{tmp_path / 'x.db'}')\n"
            "assert not is_up_to_date(engine)\n"
            "assert 'alembic' not in sys.modules\n"
            "migrate(engine)\n"
            "assert is_up_to_date(engine) and 'alembic' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
