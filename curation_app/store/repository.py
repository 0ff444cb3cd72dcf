"""The repository: every SQL statement of the application lives here.

It speaks canonical records (``domain``) and plain summaries in, and out; sessions and
transactions belong to the unit of work (``store.uow``), permissions to the services.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from curation_app.domain import Dialogue, Revision, Source, Status, Turn
from curation_app.errors import AlreadyExistsError, ConflictError, NotFoundError
from curation_app.presets import Vocabulary
from curation_app.store.bulk import DialogueWriter
from curation_app.store.models import DialogueRow, ProjectRow, RevisionRow, UserRow, utcnow


@dataclass(frozen=True)
class ProjectRecord:
    id: int
    name: str
    preset: str
    vocabulary: Vocabulary
    settings: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class ProjectCounts:
    name: str
    preset: str
    language: str
    dialogues: int
    turns: int
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    role: str
    password_hash: str | None


def _turns_json(turns: Iterable[Turn]) -> list[dict[str, Any]]:
    return [t.to_dict() for t in turns]


def _turns_from_json(data: list[dict[str, Any]]) -> list[Turn]:
    return [Turn.from_dict(t) for t in data]


def _dialogue_from_row(row: DialogueRow, project_name: str | None = None) -> Dialogue:
    return Dialogue(
        id=row.id,
        project=project_name,
        turns=_turns_from_json(row.turns),
        language=row.language,
        topic=row.topic,
        emotion=row.emotion,
        description=row.description,
        status=Status(row.status),
        source=Source(row.source),
        external_id=row.external_id,
        provenance=dict(row.provenance or {}),
        metadata=dict(row.meta or {}),
        version=row.version,
        assignee=row.assignee,
        is_seed=row.is_seed,
        seed_round=row.seed_round,
        overlap_of=row.overlap_of,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _revision_from_row(row: RevisionRow) -> Revision:
    return Revision(
        dialogue_id=row.dialogue_id,
        number=row.number,
        turns=_turns_from_json(row.turns),
        topic=row.topic,
        emotion=row.emotion,
        description=row.description,
        author=row.author,
        created_at=row.created_at,
        note=row.note,
        seconds_spent=row.seconds_spent,
    )


class Repository:
    def __init__(self, session: Session):
        self.session = session

    # ---- projects ------------------------------------------------------------------------
    def _project_row(self, name: str) -> ProjectRow:
        row = self.session.scalar(select(ProjectRow).where(ProjectRow.name == name))
        if row is None:
            raise NotFoundError(f"no project named {name!r} (see `curation projects list`)")
        return row

    @staticmethod
    def _project_record(row: ProjectRow) -> ProjectRecord:
        return ProjectRecord(
            id=row.id, name=row.name, preset=row.preset,
            vocabulary=Vocabulary.from_dict(row.vocabulary),
            settings=dict(row.settings or {}), created_at=row.created_at,
        )

    def add_project(self, name: str, preset: str, vocabulary: Vocabulary,
                    settings: dict[str, Any] | None = None) -> ProjectRecord:
        if self.session.scalar(select(ProjectRow.id).where(ProjectRow.name == name)) is not None:
            raise AlreadyExistsError(f"a project named {name!r} already exists")
        row = ProjectRow(name=name, preset=preset, vocabulary=vocabulary.to_dict(),
                         settings=settings or {}, created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return self._project_record(row)

    def get_project(self, name: str) -> ProjectRecord:
        return self._project_record(self._project_row(name))

    def project_names(self) -> list[str]:
        return list(self.session.scalars(select(ProjectRow.name).order_by(ProjectRow.name)))

    def set_vocabulary(self, project_id: int, vocabulary: Vocabulary) -> None:
        self.session.execute(
            update(ProjectRow).where(ProjectRow.id == project_id)
            .values(vocabulary=vocabulary.to_dict())
        )

    def project_counts(self) -> list[ProjectCounts]:
        projects = self.session.execute(
            select(ProjectRow.id, ProjectRow.name, ProjectRow.preset, ProjectRow.vocabulary)
            .order_by(ProjectRow.name)
        ).all()
        per_status = self.session.execute(
            select(DialogueRow.project_id, DialogueRow.status, func.count(),
                   func.coalesce(func.sum(DialogueRow.turn_count), 0))
            .group_by(DialogueRow.project_id, DialogueRow.status)
        ).all()
        grouped: dict[int, dict[str, tuple[int, int]]] = {}
        for project_id, status, n, turns in per_status:
            grouped.setdefault(project_id, {})[status] = (int(n), int(turns))
        out = []
        for pid, name, preset, vocab in projects:
            statuses = grouped.get(pid, {})
            out.append(ProjectCounts(
                name=name, preset=preset, language=vocab.get("language", ""),
                dialogues=sum(n for n, _ in statuses.values()),
                turns=sum(t for _, t in statuses.values()),
                by_status={s: n for s, (n, _) in sorted(statuses.items())},
            ))
        return out

    # ---- users ---------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password_hash: str | None) -> UserRecord:
        if self.session.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
            raise AlreadyExistsError(f"a user named {name!r} already exists")
        row = UserRow(name=name, role=role, password_hash=password_hash, created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return UserRecord(row.id, row.name, row.role, row.password_hash)

    def get_user(self, name: str) -> UserRecord:
        row = self.session.scalar(select(UserRow).where(UserRow.name == name))
        if row is None:
            raise NotFoundError(f"no user named {name!r}")
        return UserRecord(row.id, row.name, row.role, row.password_hash)

    def list_users(self) -> list[UserRecord]:
        return [UserRecord(r.id, r.name, r.role, r.password_hash)
                for r in self.session.scalars(select(UserRow).order_by(UserRow.name))]

    def set_password_hash(self, name: str, password_hash: str) -> None:
        self.session.execute(
            update(UserRow).where(UserRow.name == name).values(password_hash=password_hash))

    # ---- dialogues -----------------------------------------------------------------------
    def add_dialogues(self, project: ProjectRecord, dialogues: Sequence[Dialogue],
                      author: str, note: str | None = None) -> list[int]:
        """Insert dialogues, each with its content as revision 0. Returns the new ids.

        Through the database's bulk path (:mod:`curation_app.store.bulk`); a large import
        calls :meth:`dialogue_writer` once and hands it batches."""
        return self.dialogue_writer(project, author, note).add(dialogues)

    def dialogue_writer(self, project: ProjectRecord, author: str,
                        note: str | None = None) -> DialogueWriter:
        """A writer of new dialogues into this transaction, batch after batch."""
        return DialogueWriter(self.session, project.id, author, note)

    def refresh_planner_statistics(self) -> None:
        """After a bulk write on PostgreSQL: until autovacuum gets to it, the planner believes
        the tables hold what they held before, and picked a whole-project sort for the checks'
        keyset reads after a 100k import (3.5 s a batch instead of 0.1 s). SQLite plans these
        reads from the indexes alone."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("ANALYZE dialogues, revisions"))

    def get_dialogue(self, dialogue_id: int) -> Dialogue:
        found = self.session.execute(
            select(DialogueRow, ProjectRow.name)
            .join(ProjectRow, ProjectRow.id == DialogueRow.project_id)
            .where(DialogueRow.id == dialogue_id)
        ).first()
        if found is None:
            raise NotFoundError(f"no dialogue with id {dialogue_id}")
        row, project_name = found
        return _dialogue_from_row(row, project_name)

    def list_dialogues(self, project: ProjectRecord,
                       statuses: Sequence[Status] | None = None, *,
                       assignee: str | None = None, topic: str | None = None) -> list[Dialogue]:
        query = select(DialogueRow).where(DialogueRow.project_id == project.id)
        if statuses:
            query = query.where(DialogueRow.status.in_([str(s) for s in statuses]))
        if assignee is not None:
            query = query.where(DialogueRow.assignee == assignee)
        if topic is not None:
            query = query.where(DialogueRow.topic == topic)
        rows = self.session.scalars(query.order_by(DialogueRow.id))
        return [_dialogue_from_row(r, project.name) for r in rows]

    def save_content(self, dialogue_id: int, expected_version: int, turns: Sequence[Turn], *,
                     topic: str | None, emotion: str | None, description: str | None,
                     author: str, note: str | None = None, status: Status | None = None,
                     seconds_spent: int | None = None) -> tuple[int, int]:
        """Apply an edit if ``expected_version`` is still current; record it as a revision.

        Returns (new version, revision number). The compare-and-set UPDATE is the lock: on
        PostgreSQL a concurrent writer waits on the row and then sees the bumped version.
        """
        now = utcnow()
        turns_json = _turns_json(turns)
        result = self.session.execute(
            update(DialogueRow)
            .where(DialogueRow.id == dialogue_id, DialogueRow.version == expected_version)
            .values(turns=turns_json, turn_count=len(turns_json), topic=topic, emotion=emotion,
                    description=description, version=DialogueRow.version + 1, updated_at=now,
                    **({"status": str(status)} if status is not None else {}))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            current = self.session.scalar(
                select(DialogueRow.version).where(DialogueRow.id == dialogue_id))
            if current is None:
                raise NotFoundError(f"no dialogue with id {dialogue_id}")
            raise ConflictError(dialogue_id, expected_version, current,
                                attempted={"turns": turns_json, "topic": topic,
                                           "emotion": emotion, "description": description})
        number = (self.session.scalar(
            select(func.max(RevisionRow.number)).where(RevisionRow.dialogue_id == dialogue_id)
        ) or 0) + 1
        self.session.add(RevisionRow(
            dialogue_id=dialogue_id, number=number, turns=turns_json, topic=topic,
            emotion=emotion, description=description, author=author, note=note, created_at=now,
            seconds_spent=seconds_spent,
        ))
        self.session.flush()
        return expected_version + 1, number

    def set_status(self, dialogue_id: int, status: Status) -> None:
        result = self.session.execute(
            update(DialogueRow).where(DialogueRow.id == dialogue_id)
            .values(status=str(status), version=DialogueRow.version + 1, updated_at=utcnow()))
        if result.rowcount != 1:
            raise NotFoundError(f"no dialogue with id {dialogue_id}")

    def revisions(self, dialogue_id: int) -> list[Revision]:
        rows = self.session.scalars(
            select(RevisionRow).where(RevisionRow.dialogue_id == dialogue_id)
            .order_by(RevisionRow.number)
        )
        return [_revision_from_row(r) for r in rows]

    # ---- seeds ---------------------------------------------------------------------------
    def seeds(self, project: ProjectRecord, topic: str | None = None) -> list[Dialogue]:
        # A discarded or returned dialogue is never a seed, whatever its flag says (seeds
        # promoted before that rule, or flagged by an older version).
        query = select(DialogueRow).where(
            DialogueRow.project_id == project.id, DialogueRow.is_seed.is_(True),
            DialogueRow.status.not_in([str(Status.DISCARDED), str(Status.RETURNED)]))
        if topic is not None:
            query = query.where(DialogueRow.topic == topic)
        return [_dialogue_from_row(r, project.name)
                for r in self.session.scalars(query.order_by(DialogueRow.id))]

    def mark_seeds(self, project: ProjectRecord, dialogue_ids: Sequence[int]) -> list[int]:
        """Flag dialogues as seeds (keeping their round, round 0 if they had none)."""
        rows = list(self.session.scalars(
            select(DialogueRow).where(DialogueRow.project_id == project.id,
                                      DialogueRow.id.in_(list(dialogue_ids)))
            .order_by(DialogueRow.id)))  # without it PostgreSQL returns rows as stored
        found = {r.id for r in rows}
        missing = [i for i in dialogue_ids if i not in found]
        if missing:
            raise NotFoundError(f"project {project.name} has no dialogues with ids "
                                f"{', '.join(map(str, missing))}")
        changed = []
        for row in rows:
            if not row.is_seed:
                row.is_seed = True
                row.seed_round = row.seed_round if row.seed_round is not None else 0
                changed.append(row.id)
        self.session.flush()
        return changed

    def demote_seeds(self, project: ProjectRecord, dialogue_ids: Sequence[int]) -> list[int]:
        """Clear the seed flag of the given dialogues; returns those that were seeds."""
        rows = list(self.session.scalars(
            select(DialogueRow).where(DialogueRow.project_id == project.id,
                                      DialogueRow.id.in_(list(dialogue_ids)))))
        missing = sorted(set(dialogue_ids) - {r.id for r in rows})
        if missing:
            raise NotFoundError(f"project {project.name} has no dialogues with ids "
                                f"{', '.join(map(str, missing))}")
        changed = [r.id for r in rows if r.is_seed]
        for row in rows:
            row.is_seed = False
        self.session.flush()
        return sorted(changed)

    def dialogue_ids(self, project: ProjectRecord, statuses: Sequence[Status]) -> list[int]:
        return list(self.session.scalars(
            select(DialogueRow.id).where(DialogueRow.project_id == project.id,
                                         DialogueRow.status.in_([str(s) for s in statuses]))
            .order_by(DialogueRow.id)))

    def topic_counts(self, project: ProjectRecord,
                     exclude: Sequence[Status] = (Status.DISCARDED,)) -> dict[str | None, int]:
        rows = self.session.execute(
            select(DialogueRow.topic, func.count())
            .where(DialogueRow.project_id == project.id, DialogueRow.overlap_of.is_(None),
                   DialogueRow.status.not_in([str(s) for s in exclude]))
            .group_by(DialogueRow.topic)
        ).all()
        return {topic: int(n) for topic, n in rows}

    def set_settings(self, project_id: int, settings: dict[str, Any]) -> None:
        self.session.execute(
            update(ProjectRow).where(ProjectRow.id == project_id).values(settings=settings))

    # ---- light reads for the pages (no turns loaded) -----------------------------------------
    def _summary_query(self, project: ProjectRecord, statuses: Sequence[Status] | None,
                       assignee: str | None, topic: str | None = None) -> Any:
        query = select(*_SUMMARY_COLUMNS).where(DialogueRow.project_id == project.id)
        if statuses:
            query = query.where(DialogueRow.status.in_([str(s) for s in statuses]))
        if assignee is not None:
            query = query.where(DialogueRow.assignee == assignee)
        if topic is not None:
            query = query.where(DialogueRow.topic == topic)
        return query

    def dialogue_summaries(self, project: ProjectRecord,
                           statuses: Sequence[Status] | None = None, *,
                           assignee: str | None = None, topic: str | None = None,
                           limit: int | None = None, offset: int = 0,
                           ids: Sequence[int] | None = None) -> list[DialogueSummary]:
        """One page of the project's dialogues (by id) as summaries: no turns are read."""
        query = self._summary_query(project, statuses, assignee, topic)
        if ids is not None:
            query = query.where(DialogueRow.id.in_(list(ids)))
        query = query.order_by(DialogueRow.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [DialogueSummary(*row[:-1], project=project.name, language=row[-1])
                for row in self.session.execute(query)]

    def count_dialogues(self, project: ProjectRecord, statuses: Sequence[Status] | None = None,
                        *, assignee: str | None = None, topic: str | None = None) -> int:
        query = self._summary_query(project, statuses, assignee, topic)
        return int(self.session.scalar(
            select(func.count()).select_from(query.subquery())) or 0)

    def neighbour_id(self, project: ProjectRecord, statuses: Sequence[Status] | None,
                     assignee: str | None, dialogue_id: int, step: int) -> int | None:
        """The id of the next (step > 0) or previous dialogue of the same list, wrapping
        around at either end; None if the list is empty."""
        base = self._summary_query(project, statuses, assignee).with_only_columns(
            DialogueRow.id)
        if step > 0:
            found = self.session.scalar(base.where(DialogueRow.id > dialogue_id)
                                        .order_by(DialogueRow.id).limit(1))
            return found if found is not None else self.session.scalar(
                base.order_by(DialogueRow.id).limit(1))
        found = self.session.scalar(base.where(DialogueRow.id < dialogue_id)
                                    .order_by(DialogueRow.id.desc()).limit(1))
        return found if found is not None else self.session.scalar(
            base.order_by(DialogueRow.id.desc()).limit(1))


@dataclass(frozen=True)
class DialogueSummary:
    """What a list of dialogues shows about each: enough to pick one, without its turns."""

    id: int
    topic: str | None
    emotion: str | None
    status: Status
    assignee: str | None
    version: int
    turn_count: int
    updated_at: datetime | None
    project: str | None = None
    language: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))


_SUMMARY_COLUMNS = (DialogueRow.id, DialogueRow.topic, DialogueRow.emotion, DialogueRow.status,
                    DialogueRow.assignee, DialogueRow.version, DialogueRow.turn_count,
                    DialogueRow.updated_at, DialogueRow.language)
