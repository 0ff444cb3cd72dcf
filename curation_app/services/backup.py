"""Backup and restore: a consistent, logical dump of the whole database (every table: projects,
users, dialogues, revisions, events, jobs, checks, audit log), the same format for SQLite and
PostgreSQL, and its restore into an empty database of either kind.

The dump is JSON Lines: a header line ``{"format": "curation-backup", "version": 1, "schema":
<revision>, "tables": {name: row count}}``, then one line per row ``{"table": name, "row":
{column: value}}`` in the order the tables depend on each other. Times are UTC ISO 8601 strings.

Consistency: on SQLite the file is first copied with SQLite's online backup API (readers and
writers carry on), and the dump is read from that copy; on PostgreSQL the dump is read in one
REPEATABLE READ transaction. Either way the dump is one moment of the database. The output is
written to a temporary file beside the target and renamed into place, so a killed backup leaves
no partial file under the target's name.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from curation_app.errors import InvalidInputError, StorageError
from curation_app.formats.base import remove_stale_temps, temp_beside
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, require
from curation_app.store.db import current_revision, head_revision, migrate
from curation_app.store.models import Base

FORMAT = "curation-backup"
VERSION = 1
TABLES = Base.metadata.sorted_tables  # parents before children


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    rows: dict[str, int]
    schema: str

    def line(self) -> str:
        return (f"backed up {sum(self.rows.values())} rows of {len(self.rows)} tables "
                f"(schema {self.schema}) to {self.path}")


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    return value


def _rows(conn: Connection) -> Iterator[tuple[str, dict[str, Any]]]:
    for table in TABLES:
        for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
            yield table.name, {k: _value(v) for k, v in row._mapping.items()}


def _counts(conn: Connection) -> dict[str, int]:
    return {t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES}


def _write_dump(conn: Connection, schema: str, out: Path, *, overwrite: bool) -> dict[str, int]:
    counts = _counts(conn)
    header = {"format": FORMAT, "version": VERSION, "schema": schema,
              "created_at": datetime.now(UTC).isoformat(), "tables": counts}
    folder = out.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(out)
    remove_stale_temps(out)  # what a killed backup left behind
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(json.dumps(header) + "\n")
            for name, row in _rows(conn):
                # ensure_ascii: any text the database holds is written, even a stray surrogate
                handle.write(json.dumps({"table": name, "row": row}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, out)
        else:
            os.link(tmp, out)  # refuses an existing target, unlike a rename
    except FileExistsError:
        raise InvalidInputError(f"{out} exists; pass --overwrite to replace it") from None
    except OSError as exc:
        raise StorageError(f"could not write the backup {out}: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return counts


def backup(ctx: AppContext, actor: Actor, out: str | Path, *,
           overwrite: bool = False) -> BackupSummary:
    """Write a consistent logical dump of the whole database to ``out`` (leads)."""
    require(actor, "backup.run")
    out = Path(out)
    if out.exists() and not overwrite:
        raise InvalidInputError(f"{out} exists; pass --overwrite to replace it")
    engine = ctx.engine
    schema = current_revision(engine) or ""
    try:
        if engine.dialect.name == "sqlite":
            counts = _sqlite_dump(engine, schema, out, overwrite=overwrite)
        else:
            snapshot = engine.connect().execution_options(isolation_level="REPEATABLE READ")
            with snapshot as conn, conn.begin():
                counts = _write_dump(conn, schema, out, overwrite=overwrite)
    except SQLAlchemyError as exc:
        raise StorageError(f"the database refused the backup: {getattr(exc, 'orig', exc)}") \
            from exc
    with ctx.uow() as uow:
        uow.security.audit("backup", actor.name, str(out), detail={"rows": sum(counts.values())})
        uow.commit()
    return BackupSummary(out, counts, schema)


def _sqlite_dump(engine: Engine, schema: str, out: Path, *, overwrite: bool) -> dict[str, int]:
    source = make_url(str(engine.url)).database or ""
    with tempfile.TemporaryDirectory(prefix="curation-backup-") as folder:
        snapshot = Path(folder) / "snapshot.db"
        src = sqlite3.connect(source)
        dst = sqlite3.connect(snapshot)
        try:
            src.backup(dst)  # SQLite's online backup: one consistent state of the file
        except sqlite3.Error as exc:
            raise StorageError(f"the SQLite backup of {source} failed: {exc}") from exc
        finally:
            dst.close()
            src.close()
        copy = create_engine(f"sqlite:///{snapshot}")
        try:
            with copy.connect() as conn:
                return _write_dump(conn, schema, out, overwrite=overwrite)
        finally:
            copy.dispose()


# ---- restore -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RestoreSummary:
    path: Path
    rows: dict[str, int]

    def line(self) -> str:
        return (f"restored {sum(self.rows.values())} rows of {len(self.rows)} tables "
                f"from {self.path}")


def _read_header(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
        header = json.loads(first)
    except FileNotFoundError:
        raise InvalidInputError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path} is not a curation backup: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInputError(f"{path} is not a curation backup (no backup header)")
    if header.get("version") != VERSION:
        raise InvalidInputError(f"{path} is backup format {header.get('version')}; this version "
                                f"reads format {VERSION}")
    return header


def restore(ctx: AppContext, actor: Actor, path: str | Path) -> RestoreSummary:
    """Bring a backup back into an empty database (its schema is created first). Refuses a
    database that holds any data, and a backup of another schema revision; all or nothing."""
    require(actor, "backup.restore")
    path = Path(path)
    header = _read_header(path)
    if header.get("schema") != head_revision():
        raise InvalidInputError(
            f"{path} holds schema {header.get('schema')}, this version of the app writes "
            f"{head_revision()}; restore it with the version that made it, then upgrade")
    migrate(ctx.engine)
    columns = {t.name: {c.name: c for c in t.columns} for t in TABLES}
    counts = {t.name: 0 for t in TABLES}
    try:
        with ctx.engine.begin() as conn:
            held = {name: n for name, n in _counts(conn).items() if n}
            if held:
                raise InvalidInputError(
                    "restore needs an empty database; this one holds "
                    + ", ".join(f"{n} {name}" for name, n in held.items()))
            batch: list[dict[str, Any]] = []
            current: str | None = None
            with open(path, encoding="utf-8") as handle:
                handle.readline()
                for number, line in enumerate(handle, start=2):
                    try:
                        item = json.loads(line)
                        name, row = item["table"], item["row"]
                        types = columns[name]
                        row = {k: (datetime.fromisoformat(v)
                                   if v is not None and isinstance(types[k].type, DateTime)
                                   else v) for k, v in row.items()}
                    except (ValueError, KeyError, TypeError) as exc:
                        raise InvalidInputError(f"{path} line {number} is not a backup row: "
                                                f"{exc}") from exc
                    if name != current and batch:
                        conn.execute(insert(Base.metadata.tables[current]), batch)
                        batch = []
                    current = name
                    batch.append(row)
                    counts[name] += 1
                    if len(batch) >= 1000:
                        conn.execute(insert(Base.metadata.tables[name]), batch)
                        batch = []
            if batch and current is not None:
                conn.execute(insert(Base.metadata.tables[current]), batch)
            expected = header.get("tables") or {}
            if {k: v for k, v in counts.items() if v or expected.get(k)} != {
                    k: v for k, v in expected.items() if v}:
                raise InvalidInputError(f"{path} is incomplete: it announces {expected} rows "
                                        f"but holds {counts}")
            if conn.dialect.name == "postgresql":
                # new rows must not collide with restored ids
                for table in TABLES:
                    if "id" in table.c and counts[table.name]:
                        conn.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"))
    except SQLAlchemyError as exc:
        raise StorageError(f"the database refused the restore: {getattr(exc, 'orig', exc)}") \
            from exc
    with ctx.uow() as uow:
        uow.security.audit("restore", actor.name, str(path),
                           detail={"rows": sum(counts.values())})
        uow.commit()
    return RestoreSummary(path, counts)


def logical_dump(ctx: AppContext) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, normalised as a backup writes it (for comparisons)."""
    with ctx.engine.connect() as conn:
        out: dict[str, list[dict[str, Any]]] = {t.name: [] for t in TABLES}
        for name, row in _rows(conn):
            out[name].append(row)
    return out
