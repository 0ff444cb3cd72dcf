"""Where the database is, how to connect to it, and how to bring its schema up to date."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from curation_app.errors import StorageError
from curation_app.store.location import data_dir, database_url, redact

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["data_dir", "database_url", "head_revision", "is_up_to_date", "make_engine",
           "migrate", "redact", "session_factory"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the app) work while a writer (an import) runs; foreign keys are off by
    # default in SQLite; the busy timeout turns brief lock contention into a wait, not an error.
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL still survives an application crash intact; it only skips the fsync
    # per commit, which a batch job storing one draft per transaction would otherwise pay.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _remember_file(path: Path):  # type: ignore[no-untyped-def]
    """A connect listener noting which file (device, inode) a connection opened, so that a
    save can tell whether the file at ``path`` is still that file (see :func:`file_problem`)."""

    def listener(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        try:
            st = os.stat(path)
        except OSError:
            return
        record.info["sqlite_file"] = (str(path), st.st_dev, st.st_ino)

    return listener


def file_problem(info: dict) -> str | None:  # type: ignore[type-arg]
    """Why the SQLite file a connection opened is no longer the file at its path (deleted,
    moved, replaced, unmounted); None when it still is, or for other databases."""
    opened = info.get("sqlite_file")
    if opened is None:
        return None
    path, dev, ino = opened
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"the database file {path} was deleted or moved while the app was running"
    except OSError as exc:
        return f"the database file {path} cannot be reached ({exc.strerror or exc})"
    if (st.st_dev, st.st_ino) != (dev, ino):
        return f"the database file {path} was replaced by another file while the app was running"
    return None


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"CURATION_DATABASE_URL is not a database URL: {redact(url)}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        if parsed.database and parsed.database != ":memory:":
            event.listen(engine, "connect",
                         _remember_file(Path(parsed.database).expanduser().absolute()))
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision. Returns (revision before, revision after)."""
    from alembic import command

    cfg = _alembic_config(engine)
    try:
        before = current_revision(engine)
        command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise StorageError(f"cannot reach the database {redact(str(engine.url))}: "
                           f"{exc.orig}") from exc
    return before, head_revision()


# Every command asks whether the schema is current; alembic's script directory imports each
# migration (and alembic itself, about half a second) to say so. The revision ids are read
# from the migration files' text instead; alembic is loaded only to migrate.
_REVISION_LINE = re.compile(r"""^(revision|down_revision)\s*=\s*["']([^"']+)["']""",
                            re.MULTILINE)


@cache
def head_revision() -> str:
    """The newest schema revision this code knows."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if name == "revision" else parents).add(value)
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    from alembic.script import ScriptDirectory  # an unusual chain: let alembic decide

    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def is_up_to_date(engine: Engine) -> bool:
    """Whether the schema is the newest. A database that cannot be read at all (unreachable,
    a full disk, a file that cannot be opened) raises StorageError with the true cause, rather
    than passing for "not initialised"."""
    try:
        return current_revision(engine) == head_revision()
    except OperationalError as exc:
        raise StorageError(f"cannot read the database {redact(str(engine.url))}: "
                           f"{exc.orig}") from exc
