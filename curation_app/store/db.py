"""Where the database is, how to connect to it, and how to bring its schema up to date."""

from __future__ import annotations

import os
import re
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

# Alembic (with Mako and Pygments, which it loads) is imported where a migration runs or a
# revision is asked of it, not at start-up: every command checks the schema, and that check
# reads the version table and the migration files without it (see ``is_up_to_date``).

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
    from alembic.config import Config  # noqa: PLC0415 (see the note at the top)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision. Returns (revision before, revision after)."""
    from alembic import command  # noqa: PLC0415 (see the note at the top)

    cfg = _alembic_config(engine)
    try:
        before = current_revision(engine)
        command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise StorageError(f"cannot reach the database {redact(str(engine.url))}: "
                           f"{exc.orig}") from exc
    return before, head_revision()


def head_revision() -> str:
    """The newest schema revision this code knows."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 (see the note at the top)

    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 (see the top)

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# `revision = "0013"` and `down_revision = "0012"` (or None) as our migration files spell them
_REVISION_LINE = re.compile(r"""^(down_)?revision(?:\s*:[^=]*)?\s*=\s*(?:"([^"\n]*)"|None)\s*$""",
                            re.MULTILINE)


def _head_from_files() -> str | None:
    """The head revision read from the migration files without Alembic: the one revision no
    other names as its parent. None for anything else (a merge, a file spelled otherwise),
    which then goes to Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = {bool(m.group(1)): m.group(2) for m in _REVISION_LINE.finditer(path.read_text())}
        if False not in found or True not in found or found[False] is None:
            return None
        revisions.add(found[False])
        if found[True] is not None:
            parents.add(found[True])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revisions(engine: Engine) -> list[str]:
    """The rows of Alembic's version table (none when there is no table yet)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return []
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def is_up_to_date(engine: Engine) -> bool:
    """Whether the schema is the newest. A database that cannot be read at all (unreachable,
    a full disk, a file that cannot be opened) raises StorageError with the true cause, rather
    than passing for "not initialised"."""
    try:
        head = _head_from_files()
        stored = _stored_revisions(engine)
        if head is None or len(stored) > 1:  # what only Alembic can say (or refuse)
            return current_revision(engine) == head_revision()
        return stored == [head]
    except OperationalError as exc:
        raise StorageError(f"cannot read the database {redact(str(engine.url))}: "
                           f"{exc.orig}") from exc
