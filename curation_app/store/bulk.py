"""Bulk insertion of dialogues with their revision 0, outside the ORM.

An import of 100k dialogues through ``session.add_all`` spent most of its time in the unit of
work's bookkeeping. Here each batch goes to the database's bulk path: on SQLite one
``executemany`` per table, on PostgreSQL ``COPY ... FROM STDIN``. The values are those the ORM
would have written: every column is bound through its SQLAlchemy type's own processor (JSON
text, timestamps, booleans), byte for byte but for plain turns' JSON, which orjson writes (the
same value, in fewer bytes), and ids are the ones the database would have given
(SQLite: the next rowid, which the first row of a batch asks for and the rest continue while
this transaction holds the write lock; PostgreSQL: the table's own sequence). A dialogue's turns
are serialised once and stored in the dialogue and its revision alike; on PostgreSQL revision 0
is copied by the server from the dialogue row just written, so it parses and compresses each
turns value once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column, Table, text
from sqlalchemy.orm import Session

from curation_app.domain import Dialogue
from curation_app.errors import StorageError
from curation_app.store.models import DialogueRow, RevisionRow, utcnow

_DIALOGUES: Table = DialogueRow.__table__  # type: ignore[assignment]
_REVISIONS: Table = RevisionRow.__table__  # type: ignore[assignment]


class DialogueWriter:
    """Writes batches of new dialogues (each with revision 0) into the session's transaction.

    ``now`` is shared by every row, as one ``add_all`` gave them before."""

    def __init__(self, session: Session, project_id: int, author: str,
                 note: str | None = None, now: datetime | None = None):
        self.session = session
        self.project_id = project_id
        self.author = author
        self.note = note
        self.now = now or utcnow()
        self.dialect = session.get_bind().dialect
        self.postgres = self.dialect.name == "postgresql"
        self._compression_set = False
        processors = {c.name: _processor(c, self.dialect) for c in (*_DIALOGUES.columns,
                                                                     *_REVISIONS.columns)}
        if not self.postgres and processors["turns"] is not None:
            processors["turns"] = _sqlite_turns(processors["turns"])
        self._processors = [(name, p) for name, p in processors.items() if p is not None]
        stamp = processors["created_at"]
        self._now_bound = stamp(self.now) if stamp is not None else self.now
        known = {"id", *self._dialogue_row_names()}
        self._defaults = {c.name: c.default for c in _DIALOGUES.columns
                          if c.name not in known and _default(c.default) is not _NO_DEFAULT}

    @staticmethod
    def _dialogue_row_names() -> tuple[str, ...]:
        return ("project_id", "external_id", "language", "topic", "emotion", "description",
                "status", "source", "provenance", "metadata", "turns", "turn_count", "version",
                "assignee", "is_seed", "seed_round", "created_at", "updated_at")

    def add(self, dialogues: Sequence[Dialogue]) -> list[int]:
        """Insert ``dialogues``; returns their new ids, in order."""
        if not dialogues:
            return []
        # Pending ORM objects (an audit row, a vocabulary change) go first, in their order.
        self.session.flush()
        rows = [self._dialogue_row(d) for d in dialogues]
        if self.postgres:
            return self._copy(rows)
        return self._executemany(rows)

    # ---- values --------------------------------------------------------------------------
    def _dialogue_row(self, d: Dialogue) -> dict[str, Any]:
        row: dict[str, Any] = {
            "project_id": self.project_id, "external_id": d.external_id,
            "language": d.language, "topic": d.topic, "emotion": d.emotion,
            "description": d.description, "status": str(d.status), "source": str(d.source),
            "provenance": dict(d.provenance), "metadata": dict(d.metadata),
            "turns": _turns(d), "turn_count": len(d.turns), "version": 0,
            "assignee": d.assignee, "is_seed": d.is_seed, "seed_round": d.seed_round,
            "created_at": self.now, "updated_at": self.now,
        }
        if self._defaults:  # a column added later keeps its Python default
            for name, default in self._defaults.items():
                row[name] = _default(default)
        return row

    def _revision_row(self, dialogue_id: int, row: dict[str, Any]) -> dict[str, Any]:
        return {"dialogue_id": dialogue_id, "number": 0, "turns": row["turns"],
                "topic": row["topic"], "emotion": row["emotion"],
                "description": row["description"], "author": self.author, "note": self.note,
                "created_at": self.now}

    def _bound(self, row: dict[str, Any], done: dict[str, Any] | None = None) -> dict[str, Any]:
        """``row`` as the driver takes it; ``done`` holds values bound already. The shared
        timestamp is bound once."""
        out = dict(row)
        for name, bind in self._processors:
            if name in out and (done is None or name not in done):
                value = out[name]
                out[name] = self._now_bound if value is self.now else bind(value)
        if done:
            out.update(done)
        return out

    # ---- SQLite: executemany -------------------------------------------------------------
    def _executemany(self, rows: list[dict[str, Any]]) -> list[int]:
        conn = self.session.connection()
        bound = [self._bound(r) for r in rows]
        names = list(bound[0])
        columns = ", ".join(f'"{n}"' for n in names)
        marks = ", ".join("?" for _ in names)
        first = conn.exec_driver_sql(f"INSERT INTO dialogues ({columns}) VALUES ({marks})",
                                     tuple(bound[0][n] for n in names))
        start = first.lastrowid
        if start is None:
            raise StorageError("the database did not report the id of a new dialogue")
        ids = list(range(start, start + len(rows)))
        if len(rows) > 1:
            # This transaction holds SQLite's write lock since the row above, so the next
            # rowids are these (what the database would give rows without an id).
            conn.exec_driver_sql(
                f'INSERT INTO dialogues ("id", {columns}) VALUES (?, {marks})',
                [(i, *(b[n] for n in names)) for i, b in zip(ids[1:], bound[1:], strict=True)])
        # Turns are serialised once: the revision takes the dialogue's text as bound.
        revisions = [self._bound(self._revision_row(i, r), {"turns": b["turns"]})
                     for i, r, b in zip(ids, rows, bound, strict=True)]
        names = list(revisions[0])
        conn.exec_driver_sql(
            f"INSERT INTO revisions ({', '.join(names)}) VALUES "
            f"({', '.join('?' for _ in names)})",
            [tuple(r[n] for n in names) for r in revisions])
        return ids

    # ---- PostgreSQL: COPY ----------------------------------------------------------------
    def _copy(self, rows: list[dict[str, Any]]) -> list[int]:
        from psycopg import Error as PsycopgError  # noqa: PLC0415
        from psycopg.types.json import Jsonb  # noqa: PLC0415

        conn = self.session.connection()
        if not self._compression_set:
            _fast_compression(conn)
            self._compression_set = True
        ids = [int(i) for i in conn.execute(
            text("SELECT nextval(pg_get_serial_sequence('dialogues', 'id')) "
                 "FROM generate_series(1, :n) ORDER BY 1"), {"n": len(rows)}).scalars()]
        json_columns = {c.name for c in _DIALOGUES.columns if _is_json(c)}
        dumps = self._json_dumps()
        names = list(rows[0])
        raw = conn.connection.driver_connection
        try:
            cursor = raw.cursor()
            quoted = ", ".join(f'"{n}"' for n in names)
            with cursor.copy(f'COPY dialogues ("id", {quoted}) FROM STDIN') as copy:
                for i, row in zip(ids, rows, strict=True):
                    copy.write_row((i, *(Jsonb(_jsonb_text(n, row[n], dumps), dumps=_as_is)
                                         if n in json_columns and row[n] is not None
                                         else row[n] for n in names)))
            self._copy_revisions(cursor, ids, list(self._revision_row(0, rows[0])))
        except PsycopgError as exc:
            raise StorageError(f"database error: {exc}") from exc
        return ids

    def _copy_revisions(self, cursor: Any, ids: list[int], rev_names: list[str]) -> None:
        """Revision 0 of each new dialogue, taken from the rows just written: the server
        copies the stored turns (already parsed and compressed) instead of parsing and
        compressing the same JSON a second time, which was half of its work. Rows go in id
        order, so revision ids follow the dialogues' as they did."""
        taken = {"dialogue_id": "d.id", "number": "0", "author": "%(author)s",
                 "note": "%(note)s", "created_at": "%(now)s"}
        columns = ", ".join(rev_names)
        values = ", ".join(taken.get(n, f"d.{n}") for n in rev_names)
        cursor.execute(
            f"INSERT INTO revisions ({columns}) SELECT {values} FROM dialogues AS d "
            "WHERE d.id = ANY(%(ids)s) ORDER BY d.id",
            {"ids": ids, "author": self.author, "note": self.note, "now": self.now})

    def _json_dumps(self) -> Callable[[Any], str]:
        import json  # noqa: PLC0415

        return getattr(self.dialect, "_json_serializer", None) or json.dumps


_NO_DEFAULT = object()


def _fast_compression(conn: Any) -> None:
    """Compress the values this transaction stores out of line with LZ4 where the server has
    it (PostgreSQL 14+ built with lz4), instead of pglz: pglz was a quarter of the server's
    work in a bulk import (every dialogue's turns exceed the 2 kB TOAST threshold). Only how
    the bytes are packed changes; the values read back are the same. ``SET LOCAL``: it ends
    with the transaction, and a server without LZ4 keeps its own setting."""
    conn.execute(text(
        "SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings "
        "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"))


def _as_is(value: str | bytes) -> str | bytes:
    return value


def _plain_turns_json(turns: list[dict[str, Any]]) -> bytes | None:
    """orjson's text of turns holding only strings (roles, texts, strategies: the common
    case), several times faster than ``json``; None for a turn with metadata (any JSON, NaN
    included, which orjson would write as null) or anything orjson refuses (a lone
    surrogate), which keep the dialect's ``dumps``."""
    if any("metadata" in t for t in turns):
        return None
    try:
        return orjson.dumps(turns)
    except orjson.JSONEncodeError:
        return None


def _jsonb_text(name: str, value: Any, dumps: Callable[[Any], str]) -> str | bytes:
    """JSON text of ``value`` for a JSONB column. The server parses it into the same value
    whatever the spacing and escaping, so plain turns go through :func:`_plain_turns_json`."""
    if name == "turns":
        fast = _plain_turns_json(value)
        if fast is not None:
            return fast
    return dumps(value)


def _sqlite_turns(bind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The turns column's bind for SQLite: plain turns as orjson's text (compact, UTF-8 in
    place of ``\\u`` escapes: the same value to every reader, json.loads and SQLite's JSON
    functions alike; at 100k dialogues json.dumps of the turns was a tenth of an import),
    anything else through the column's own ``bind``. A str, never bytes: SQLite would store
    bytes as a BLOB."""
    def bound(turns: Any) -> Any:
        fast = _plain_turns_json(turns) if type(turns) is list else None
        return fast.decode("utf-8") if fast is not None else bind(turns)
    return bound


def _default(default: Any) -> Any:
    """The value a column's Python-side ``default`` gives a new row, or ``_NO_DEFAULT``."""
    if default is None:
        return _NO_DEFAULT
    if getattr(default, "is_scalar", False):
        return default.arg
    if getattr(default, "is_callable", False):
        return default.arg(None)
    return _NO_DEFAULT


_ROLE_TEXT: dict[Any, str] = {}


def _turns(d: Dialogue) -> list[dict[str, Any]]:
    """``[t.to_dict() for t in d.turns]``, built inline (a 100k import has 1.8M turns)."""
    out = []
    for t in d.turns:
        role = _ROLE_TEXT.get(t.role)
        if role is None:
            role = _ROLE_TEXT[t.role] = str(t.role)
        item = {"role": role, "text": t.text, "strategies": list(t.strategies)}
        if t.metadata:
            item["metadata"] = dict(t.metadata)
        out.append(item)
    return out


def _is_json(column: Column[Any]) -> bool:
    from sqlalchemy import JSON  # noqa: PLC0415

    return isinstance(column.type, JSON) or isinstance(
        getattr(column.type, "impl", None), JSON) or "JSON" in type(column.type).__name__


def _processor(column: Column[Any], dialect: Any) -> Callable[[Any], Any] | None:
    return column.type.dialect_impl(dialect).bind_processor(dialect)
