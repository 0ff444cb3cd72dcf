"""SQL for releases and statistics: the project's dialogues streamed in batches, the machine
drafts (revision 0) beside them, and who annotated and reviewed them.

Used through ``ReleaseQueries(uow.repo.session)`` so the unit of work needs no new attribute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Text, cast, func, null, select, type_coerce
from sqlalchemy.orm import Session

from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.errors import NotFoundError
from curation_app.store.models import DialogueRow, RevisionRow, WorkflowEventRow
from curation_app.store.repository import ProjectRecord

BATCH = 1000
_COLUMNS = ("id", "external_id", "language", "topic", "emotion", "description", "status",
            "source", "provenance", "meta", "turns", "version", "assignee", "is_seed",
            "seed_round", "overlap_of", "created_at", "updated_at")
_ROLES = {str(r): r for r in Role}
_STATUSES = {str(s): s for s in Status}
_SOURCES = {str(s): s for s in Source}


def stored_turns(data: list[dict[str, Any]]) -> list[Turn]:
    """Turns as the ``turns`` column stores them, as domain turns. Their lists and dicts are
    the freshly decoded column's own, not copies (nothing else holds them; 2M turns at 100k
    dialogues)."""
    roles = _ROLES
    return [Turn(roles[t["role"]], t["text"], t.get("strategies") or [],
                 t.get("metadata") or {}) for t in data]


# orjson reads an integer past 64 bits as a float where json.loads keeps it exact; a value
# with 19 digits in a row anywhere (in a text too: the check is cheap and errs one way) is
# decoded by json.loads. Every integer of 18 digits or fewer fits 64 bits.
_ZEROED_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def _loads(text: str | None) -> Any:
    """A JSON column's text decoded as ``json.loads`` decodes it, mostly by orjson (about
    twice as fast)."""
    if text is None:
        return None
    data = text.encode("utf-8", "surrogatepass")
    if _LONG_NUMBER in data.translate(_ZEROED_DIGITS):
        return json.loads(text)
    try:
        return orjson.loads(data)
    except ValueError:  # orjson.JSONDecodeError is one: NaN, Infinity, a lone surrogate
        return json.loads(text)


def _owned_dict(value: Any) -> dict[str, Any]:
    """A freshly decoded JSON object as it is (nothing else holds it); anything else as
    ``dict(value or {})`` always made of it."""
    return value if type(value) is dict else dict(value or {})


def _dialogue(row: Any, project_name: str) -> Dialogue:
    """A row of the columns of ``ReleaseQueries._text_columns`` (``_COLUMNS``, in that order)
    as a dialogue; the JSON columns are decoded here. Unpacked by position: reading 18
    attributes by name costs ten times as much, at every row of an export."""
    (dialogue_id, external_id, language, topic, emotion, description, status, source,
     provenance, meta, turns, version, assignee, is_seed, seed_round, overlap_of, created_at,
     updated_at) = row
    return Dialogue(
        id=dialogue_id, project=project_name, turns=stored_turns(_loads(turns)),
        language=language, topic=topic, emotion=emotion, description=description,
        status=_STATUSES[status], source=_SOURCES[source], external_id=external_id,
        provenance=_owned_dict(_loads(provenance)), metadata=_owned_dict(_loads(meta)),
        version=version, assignee=assignee, is_seed=is_seed, seed_round=seed_round,
        overlap_of=overlap_of, created_at=created_at, updated_at=updated_at)


class SelectionRow(NamedTuple):
    """One dialogue of a release's selection as its counting pass reads it."""
    id: int
    topic: str | None
    emotion: str | None
    is_seed: bool
    source: Source
    provenance: dict[str, Any]
    turns: list[dict[str, Any]]  # as stored: role, text, strategies, metadata


_JSON_COLUMNS = frozenset({"provenance", "meta", "turns"})


class StoredDialogue(NamedTuple):
    """A dialogue's columns as an export writes them, without domain objects: what each
    format's ``stored_writer`` turns straight into a record (see ``formats.write_file``).

    ``turns`` is the column as orjson reads it, which equals what ``json.loads`` reads
    wherever the value holds no number (a writer's fast path takes only such turns: strings,
    lists of strings, empty objects); :meth:`dialogue` decodes ``turns_text`` exactly."""

    id: int
    external_id: str | None
    language: str
    topic: str | None
    emotion: str | None
    description: str | None
    status: str
    source: str
    provenance: Any
    metadata: Any
    turns: Any
    overlap_of: int | None
    turns_text: str
    project: str

    def dialogue(self) -> Dialogue:
        """The dialogue as :meth:`ReleaseQueries.stream_dialogues` gives it, but for the
        columns no writer reads (version, assignee, seeds, timestamps), left at defaults."""
        return Dialogue(
            id=self.id, project=self.project, turns=stored_turns(_loads(self.turns_text)),
            language=self.language, topic=self.topic, emotion=self.emotion,
            description=self.description, status=_STATUSES[self.status],
            source=_SOURCES[self.source], external_id=self.external_id,
            provenance=_owned_dict(self.provenance), metadata=_owned_dict(self.metadata),
            overlap_of=self.overlap_of)


_STORED_COLUMNS = ("id", "external_id", "language", "topic", "emotion", "description",
                   "status", "source", "provenance", "meta", "turns", "overlap_of")


def _loads_object(text: str | None) -> Any:
    """:func:`_loads`, with the usual empty object read without decoding."""
    return {} if text == "{}" else _loads(text)


def _stored(row: Any, project_name: str) -> StoredDialogue:
    """A row of ``_STORED_COLUMNS`` (in that order) as a :class:`StoredDialogue`."""
    (dialogue_id, external_id, language, topic, emotion, description, status, source,
     provenance, meta, turns_text, overlap_of) = row
    try:
        turns = orjson.loads(turns_text)
    except (ValueError, TypeError):  # NaN, a lone surrogate, NULL: read as json.loads does
        turns = _loads(turns_text)
    return StoredDialogue(dialogue_id, external_id, language, topic, emotion, description,
                          status, source, _loads_object(provenance), _loads_object(meta),
                          turns, overlap_of, turns_text, project_name)


def _as_text(expression: Any, name: str) -> Any:
    """A JSON expression read as its text, for :func:`_dialogue` to decode with
    :func:`_loads` (the values are those the driver's json.loads gives)."""
    return type_coerce(cast(expression, Text), Text).label(name)


class ReleaseQueries:
    def __init__(self, session: Session):
        self.session = session

    def stream_dialogues(self, project: ProjectRecord, statuses: Sequence[Status] | None = None,
                         *, originals_only: bool = False, provenance: bool = True,
                         prompt: bool = False, batch: int = BATCH) -> Iterator[Dialogue]:
        """The project's dialogues in id order, read ``batch`` rows at a time (keyset paging,
        so memory stays flat on both SQLite and PostgreSQL). Plain column rows, not ORM
        objects: at 200k turns the mapping and enum lookups are most of the cost; the JSON
        columns come as text, decoded with orjson (see :func:`_as_text`).
        ``provenance=False`` leaves out the provenance (a generated draft's holds its whole
        prompt, seed dialogues included), for readers that only count; ``prompt=True`` keeps
        the provenance whole, for readers that must see the dialogue exactly as stored."""
        columns = self._text_columns(provenance=provenance, prompt=prompt)
        for rows in self._pages(project, columns, statuses, batch,
                                originals_only=originals_only):
            for row in rows:
                yield _dialogue(row, project.name)

    def stream_stored(self, project: ProjectRecord, statuses: Sequence[Status] | None = None,
                      *, provenance: bool = True,
                      batch: int = BATCH) -> Iterator[StoredDialogue]:
        """The dialogues of ``stream_dialogues(project, statuses, prompt=True)`` (keyset
        pages, id order) as :class:`StoredDialogue`: only the columns a writer reads, the
        turns as stored. ``provenance=False`` reads none (an empty object): only the jsonl
        writer writes it."""
        columns = []
        for name in _STORED_COLUMNS:
            if name == "provenance" and not provenance:
                columns.append(null().label(name))
            elif name in _JSON_COLUMNS:
                columns.append(_as_text(getattr(DialogueRow, name), name))
            else:
                columns.append(getattr(DialogueRow, name))
        for rows in self._pages(project, columns, statuses, batch):
            for row in rows:
                yield _stored(row, project.name)

    def _text_columns(self, *, provenance: bool, prompt: bool) -> list[Any]:
        """The columns :func:`_dialogue` reads (all of ``_COLUMNS``, in order; a NULL for a
        provenance left out), the JSON ones as text."""
        columns = []
        for name in _COLUMNS:
            if name == "provenance":
                columns.append(_as_text(DialogueRow.provenance if prompt
                                        else self._provenance_cut(), name)
                               if provenance else null().label(name))
            elif name in _JSON_COLUMNS:
                columns.append(_as_text(getattr(DialogueRow, name), name))
            else:
                columns.append(getattr(DialogueRow, name))
        return columns

    def _pages(self, project: ProjectRecord, columns: Sequence[Any],
               statuses: Sequence[Status] | None, batch: int, *,
               originals_only: bool = False) -> Iterator[Sequence[Any]]:
        """Rows of ``columns`` (the id among them), ``batch`` at a time, by keyset on the id."""
        last = 0
        in_project = self._in_project(project)
        while True:
            query = select(*columns).where(in_project, DialogueRow.id > last)
            if statuses:
                query = query.where(DialogueRow.status.in_([str(s) for s in statuses]))
            if originals_only:
                query = query.where(DialogueRow.overlap_of.is_(None))
            rows = self.session.execute(query.order_by(DialogueRow.id).limit(batch)).all()
            if not rows:
                return
            yield rows
            last = rows[-1].id

    def _in_project(self, project: ProjectRecord) -> Any:
        """The condition "in ``project``" of a keyset page. On SQLite it is written so that no
        index can serve it (``project_id + 0``): its indexes that lead with the project hold
        the ids out of order, so a page read through one of them read and sorted every row
        after the page, turns and all (quadratic: some 5 s of CPU of an export at 100k), where
        the primary key reads the page's rows in order and stops. The price: rows of other
        projects after the page's are passed over (their turns unread), at most a whole
        table per export. PostgreSQL reads the pages by primary key already."""
        if self.session.get_bind().dialect.name == "sqlite":
            return DialogueRow.project_id + 0 == project.id
        return DialogueRow.project_id == project.id

    def dialogue_batches(self, project: ProjectRecord,
                         statuses: Sequence[Status] | None = None, *,
                         provenance: bool = True,
                         batch: int = BATCH) -> Iterator[list[Dialogue]]:
        """The dialogues of ``stream_dialogues(project, statuses, prompt=True)``, the same,
        ``batch`` at a time. ``provenance=False`` leaves the provenance out (empty), for
        readers that never look at it (a generated draft's holds its whole prompt)."""
        columns = self._text_columns(provenance=provenance, prompt=True)
        for rows in self._pages(project, columns, statuses, batch):
            yield [_dialogue(row, project.name) for row in rows]

    def candidates(self, project: ProjectRecord,
                   statuses: Sequence[Status] | None = None) -> list[tuple[int, int | None]]:
        """(id, overlap_of) of the project's dialogues in ``statuses``, in id order: what a
        release needs to order its selection before it reads a single turn."""
        query = select(DialogueRow.id, DialogueRow.overlap_of).where(
            DialogueRow.project_id == project.id)
        if statuses:
            query = query.where(DialogueRow.status.in_([str(s) for s in statuses]))
        return [(int(i), o) for i, o in self.session.execute(query.order_by(DialogueRow.id))]

    def dialogues_by_id(self, project: ProjectRecord, dialogue_ids: Sequence[int], *,
                        batch: int = BATCH) -> Iterator[list[Dialogue]]:
        """The project's dialogues of ``dialogue_ids``, in that order, ``batch`` at a time, as
        ``stream_dialogues(project)`` reads them (the provenance without its prompt): for a
        reader that follows an order of its own (a release's selection, its splits) without
        holding the whole corpus. An id that is not there (deleted since it was picked)
        raises NotFoundError."""
        columns = self._text_columns(provenance=True, prompt=False)
        for rows in self._rows_by_id(project, columns, dialogue_ids, batch):
            yield [_dialogue(row, project.name) for row in rows]

    def _rows_by_id(self, project: ProjectRecord, columns: Sequence[Any],
                    dialogue_ids: Sequence[int], batch: int) -> Iterator[list[Any]]:
        """Rows of ``columns`` (the id first) of ``dialogue_ids``, in that order, ``batch`` at
        a time; an id that is not there raises NotFoundError."""
        ids = list(dialogue_ids)
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            rows = {row[0]: row for row in self.session.execute(
                select(*columns).where(DialogueRow.project_id == project.id,
                                       DialogueRow.id.in_(chunk)))}
            missing = [i for i in chunk if i not in rows]
            if missing:
                raise NotFoundError(f"dialogue {missing[0]} of project {project.name} is gone; "
                                    "it was deleted while the release was built")
            yield [rows[i] for i in chunk]

    def selection_rows(self, project: ProjectRecord, dialogue_ids: Sequence[int], *,
                       batch: int = BATCH) -> Iterator[list[SelectionRow]]:
        """What a release counts of each of ``dialogue_ids``, in that order, ``batch`` at a
        time: (id, topic, emotion, is_seed, source, provenance without its prompt, turns as
        stored), the JSON decoded as :meth:`stream_dialogues` decodes it but no domain
        objects (a turn object each is most of the cost of a pass that only counts). An id
        that is not there raises NotFoundError, as in :meth:`dialogues_by_id`."""
        columns = [DialogueRow.id, DialogueRow.topic, DialogueRow.emotion, DialogueRow.is_seed,
                   DialogueRow.source, _as_text(self._provenance_cut(), "provenance"),
                   _as_text(DialogueRow.turns, "turns")]
        for rows in self._rows_by_id(project, columns, dialogue_ids, batch):
            out = []
            for i, topic, emotion, is_seed, source, provenance, turns in rows:
                out.append(SelectionRow(i, topic, emotion, is_seed, _SOURCES[source],
                                        _owned_dict(_loads(provenance)), _loads(turns)))
            yield out

    def turn_texts(self, dialogue_ids: Sequence[int], batch: int = BATCH) -> dict[int, list[str]]:
        """The turn texts of the given dialogues, by id (the near-duplicate search reads back
        only the candidates it must confirm)."""
        out: dict[int, list[str]] = {}
        ids = list(dialogue_ids)
        for start in range(0, len(ids), batch):
            rows = self.session.execute(select(DialogueRow.id, DialogueRow.turns)
                                        .where(DialogueRow.id.in_(ids[start:start + batch])))
            for dialogue_id, turns in rows:
                out[int(dialogue_id)] = [t["text"] for t in turns]
        return out

    def overlap_members(self, project: ProjectRecord,
                        statuses: Sequence[Status] | None = None) -> list[Dialogue]:
        """The candidates that belong to an overlap group (a copy, or an original that has
        copies), without their turns: enough for ``selection.pick_members`` to decide which
        member of each group ships. Every other candidate is a group of one."""
        copies = select(DialogueRow.overlap_of).where(DialogueRow.project_id == project.id,
                                                      DialogueRow.overlap_of.is_not(None))
        query = select(DialogueRow.id, DialogueRow.overlap_of, DialogueRow.meta).where(
            DialogueRow.project_id == project.id,
            DialogueRow.overlap_of.is_not(None) | DialogueRow.id.in_(copies))
        if statuses:
            query = query.where(DialogueRow.status.in_([str(s) for s in statuses]))
        return [Dialogue(turns=[], id=row.id, overlap_of=row.overlap_of,
                         metadata=dict(row.meta or {}))
                for row in self.session.execute(query.order_by(DialogueRow.id))]

    def stream_turn_batches(self, project: ProjectRecord,
                            statuses: Sequence[Status] | None = None, *,
                            skip: frozenset[int] | set[int] = frozenset(),
                            batch: int = BATCH,
                            ) -> Iterator[list[tuple[int, str | None, str | None,
                                                     list[dict[str, Any]]]]]:
        """(id, topic, emotion, stored turns) of the project's dialogues in id order, a batch
        at a time (keyset paging), leaving out the ids in ``skip``. Only the columns the
        statistics read, and the turns as stored (no domain objects): at 200k utterances
        building those is most of the cost of a count."""
        last = 0
        while True:
            query = select(DialogueRow.id, DialogueRow.topic, DialogueRow.emotion,
                           DialogueRow.turns).where(self._in_project(project),
                                                    DialogueRow.id > last)
            if statuses:
                query = query.where(DialogueRow.status.in_([str(s) for s in statuses]))
            rows = self.session.execute(query.order_by(DialogueRow.id).limit(batch)).all()
            if not rows:
                return
            last = rows[-1].id
            yield [(row.id, row.topic, row.emotion, row.turns) for row in rows
                   if row.id not in skip]

    def _provenance_cut(self) -> Any:
        """The provenance without its ``prompt`` (the rendered messages, seed dialogues and
        all: most of its bytes), cut in the database so it is never sent nor decoded."""
        dialect = self.session.get_bind().dialect.name
        if dialect == "sqlite":
            return func.json_remove(DialogueRow.provenance, "$.prompt")
        if dialect == "postgresql":
            return DialogueRow.provenance.op("-")("prompt")
        return DialogueRow.provenance

    def last_change(self, project: ProjectRecord) -> datetime | None:
        """When a dialogue of the project last changed (content, status or labels)."""
        return self.session.scalar(select(func.max(DialogueRow.updated_at))
                                   .where(DialogueRow.project_id == project.id))

    def last_change_of(self, dialogue_ids: Sequence[int], batch: int = BATCH
                       ) -> datetime | None:
        """When any of the given dialogues last changed (content, status or labels)."""
        ids = list(dialogue_ids)
        stamps = [self.session.scalar(select(func.max(DialogueRow.updated_at))
                                      .where(DialogueRow.id.in_(ids[start:start + batch])))
                  for start in range(0, len(ids), batch)]
        return max((s for s in stamps if s is not None), default=None)

    def changed_since(self, dialogue_ids: Sequence[int], when: datetime | None,
                      batch: int = BATCH) -> list[int]:
        """Those of the given dialogues changed after ``when`` (all, when it is None), or
        no longer there, in the order given."""
        ids = list(dialogue_ids)
        kept: set[int] = set()
        for start in range(0, len(ids), batch):
            query = select(DialogueRow.id).where(DialogueRow.id.in_(ids[start:start + batch]))
            if when is not None:
                query = query.where(DialogueRow.updated_at <= when)
            kept.update(self.session.scalars(query))
        return [i for i in ids if i not in kept]

    def drafts(self, dialogue_ids: Sequence[int], batch: int = BATCH) -> dict[int, list[Turn]]:
        """Revision 0 (the machine draft or the imported text) of each of the dialogues that
        people revised; a dialogue missing here is unchanged since its draft."""
        out: dict[int, list[Turn]] = {}
        ids = list(dialogue_ids)
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            revised = (select(RevisionRow.dialogue_id)
                       .where(RevisionRow.dialogue_id.in_(chunk), RevisionRow.number > 0))
            rows = self.session.execute(
                select(RevisionRow.dialogue_id, RevisionRow.turns)
                .where(RevisionRow.dialogue_id.in_(revised), RevisionRow.number == 0))
            for dialogue_id, turns in rows:
                out[int(dialogue_id)] = stored_turns(turns)
        return out

    def people(self, dialogue_ids: Sequence[int], batch: int = BATCH) -> tuple[int, int, int]:
        """(annotators who saved a revision, reviewers who approved or returned, human
        revisions) over the given dialogues."""
        annotators: set[str] = set()
        reviewers: set[str] = set()
        revisions = 0
        ids = list(dialogue_ids)
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            for author, n in self.session.execute(
                    select(RevisionRow.author, func.count())
                    .where(RevisionRow.dialogue_id.in_(chunk), RevisionRow.number > 0)
                    .group_by(RevisionRow.author)):
                annotators.add(author)
                revisions += int(n)
            reviewers.update(self.session.scalars(
                select(WorkflowEventRow.actor).distinct()
                .where(WorkflowEventRow.dialogue_id.in_(chunk),
                       WorkflowEventRow.action.in_(["approve", "return"]))))
        return len(annotators), len(reviewers), revisions
