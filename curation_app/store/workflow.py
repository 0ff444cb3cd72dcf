"""SQL of the review workflow: assignment, status transitions, events, progress figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from curation_app.domain import Status
from curation_app.errors import ConflictError, NotFoundError
from curation_app.store.models import DialogueRow, RevisionRow, WorkflowEventRow, utcnow
from curation_app.store.repository import ProjectRecord


@dataclass(frozen=True)
class WorkflowEvent:
    dialogue_id: int
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    comment: str | None
    created_at: datetime


class WorkflowRepository:
    def __init__(self, session: Session):
        self.session = session

    def _status_of(self, dialogue_id: int) -> tuple[str, int]:
        row = self.session.execute(
            select(DialogueRow.status, DialogueRow.version).where(DialogueRow.id == dialogue_id)
        ).first()
        if row is None:
            raise NotFoundError(f"no dialogue with id {dialogue_id}")
        return row[0], row[1]

    def transition(self, dialogue_id: int, allowed_from: Sequence[Status], to: Status,
                   actor: str, action: str, comment: str | None = None) -> str:
        """Move a dialogue to ``to`` if its status is one of ``allowed_from``; log the event.

        Compare-and-set on the status, so two reviewers acting at once cannot both succeed.
        Returns the status it came from.
        """
        current, version = self._status_of(dialogue_id)
        if current not in {str(s) for s in allowed_from}:
            raise ConflictError(dialogue_id, version, version, attempted=None,
                                reason=f"dialogue {dialogue_id} is {current}; "
                                       f"{action} needs it to be "
                                       f"{' or '.join(str(s) for s in allowed_from)}")
        result = self.session.execute(
            update(DialogueRow)
            .where(DialogueRow.id == dialogue_id, DialogueRow.status == current)
            .values(status=str(to), version=DialogueRow.version + 1, updated_at=utcnow(),
                    # a discarded or returned dialogue stops being a seed (ExTES kept only
                    # approved dialogues as in-context examples)
                    **({"is_seed": False} if to in (Status.DISCARDED, Status.RETURNED)
                       else {}))
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            now_status, now_version = self._status_of(dialogue_id)
            raise ConflictError(dialogue_id, version, now_version, attempted=None,
                                reason=f"dialogue {dialogue_id} changed to {now_status} "
                                       "while you were deciding")
        self.add_event(dialogue_id, actor, action, current, str(to), comment)
        return current

    def add_event(self, dialogue_id: int, actor: str, action: str, from_status: str | None,
                  to_status: str | None, comment: str | None = None) -> None:
        self.session.add(WorkflowEventRow(
            dialogue_id=dialogue_id, actor=actor, action=action, from_status=from_status,
            to_status=to_status, comment=comment, created_at=utcnow()))
        self.session.flush()

    def events(self, dialogue_id: int) -> list[WorkflowEvent]:
        rows = self.session.scalars(
            select(WorkflowEventRow).where(WorkflowEventRow.dialogue_id == dialogue_id)
            .order_by(WorkflowEventRow.id))
        return [WorkflowEvent(r.dialogue_id, r.actor, r.action, r.from_status, r.to_status,
                              r.comment, r.created_at) for r in rows]

    def set_assignee(self, dialogue_id: int, assignee: str | None) -> None:
        result = self.session.execute(
            update(DialogueRow).where(DialogueRow.id == dialogue_id)
            .values(assignee=assignee, updated_at=utcnow()))
        if result.rowcount != 1:
            raise NotFoundError(f"no dialogue with id {dialogue_id}")

    def claim_next(self, project: ProjectRecord, annotator: str) -> int | None:
        """Assign the oldest unassigned draft or returned dialogue to ``annotator``."""
        for _ in range(5):  # another annotator may claim the same row first; try the next
            candidate = self.session.scalar(
                select(DialogueRow.id)
                .where(DialogueRow.project_id == project.id, DialogueRow.assignee.is_(None),
                       DialogueRow.status.in_([str(Status.DRAFT), str(Status.RETURNED)]))
                .order_by(DialogueRow.id).limit(1))
            if candidate is None:
                return None
            result = self.session.execute(
                update(DialogueRow)
                .where(DialogueRow.id == candidate, DialogueRow.assignee.is_(None))
                .values(assignee=annotator, updated_at=utcnow())
                .execution_options(synchronize_session=False))
            if result.rowcount == 1:
                self.add_event(candidate, annotator, "take", None, None)
                return candidate
        return None

    def unassigned(self, project: ProjectRecord, limit: int | None) -> list[int]:
        query = (select(DialogueRow.id)
                 .where(DialogueRow.project_id == project.id, DialogueRow.assignee.is_(None),
                        DialogueRow.overlap_of.is_(None),
                        DialogueRow.status.in_([str(Status.DRAFT), str(Status.RETURNED)]))
                 .order_by(DialogueRow.id))
        if limit is not None:
            query = query.limit(limit)
        return list(self.session.scalars(query))

    def copy_for_overlap(self, dialogue_id: int, assignee: str) -> int:
        """A copy of the dialogue's machine draft for a second annotator (agreement)."""
        original = self.session.get(DialogueRow, dialogue_id)
        if original is None:
            raise NotFoundError(f"no dialogue with id {dialogue_id}")
        draft = self.session.scalar(
            select(RevisionRow).where(RevisionRow.dialogue_id == dialogue_id,
                                      RevisionRow.number == 0))
        assert draft is not None
        now = utcnow()
        copy = DialogueRow(
            project_id=original.project_id, external_id=original.external_id,
            language=original.language, topic=draft.topic, emotion=draft.emotion,
            description=draft.description, status=str(Status.DRAFT), source=original.source,
            provenance=dict(original.provenance or {}), meta=dict(original.meta or {}),
            turns=draft.turns, turn_count=len(draft.turns), version=0, assignee=assignee,
            is_seed=False, seed_round=original.seed_round, overlap_of=dialogue_id,
            created_at=now, updated_at=now)
        self.session.add(copy)
        self.session.flush()
        self.session.add(RevisionRow(
            dialogue_id=copy.id, number=0, turns=draft.turns, topic=draft.topic,
            emotion=draft.emotion, description=draft.description, author=draft.author,
            note=f"overlap copy of dialogue {dialogue_id}", created_at=now))
        self.session.flush()
        return copy.id

    # ---- progress ------------------------------------------------------------------------
    def status_counts(self, project: ProjectRecord,
                      by: str | None = None) -> list[tuple[str | None, str, int]]:
        """(group key, status, count); the key is the assignee or topic, or None if ungrouped.

        Overlap copies count towards their annotator's work, not towards the dataset's size.
        """
        where = DialogueRow.project_id == project.id
        if by != "assignee":
            where = where & DialogueRow.overlap_of.is_(None)
        if by is None:
            rows = self.session.execute(
                select(DialogueRow.status, func.count()).where(where)
                .group_by(DialogueRow.status))
            return [(None, status, int(n)) for status, n in rows]
        column = {"assignee": DialogueRow.assignee, "topic": DialogueRow.topic}[by]
        rows = self.session.execute(
            select(column, DialogueRow.status, func.count()).where(where)
            .group_by(column, DialogueRow.status))
        return [(k, status, int(n)) for k, status, n in rows]

    def revision_totals(self, project: ProjectRecord) -> list[tuple[str, int, int]]:
        """(author, revisions, seconds spent) over human revisions (number > 0)."""
        rows = self.session.execute(
            select(RevisionRow.author, func.count(),
                   func.coalesce(func.sum(RevisionRow.seconds_spent), 0))
            .join(DialogueRow, DialogueRow.id == RevisionRow.dialogue_id)
            .where(DialogueRow.project_id == project.id, RevisionRow.number > 0)
            .group_by(RevisionRow.author))
        return [(a, int(n), int(s)) for a, n, s in rows]

    def edited_share(self, project: ProjectRecord) -> tuple[int, int]:
        """(dialogues with at least one human revision, human revisions in all)."""
        # one pass over the join for both counts (each is a walk of the project's dialogues)
        edited, total = self.session.execute(
            select(func.count(func.distinct(RevisionRow.dialogue_id)), func.count())
            .select_from(RevisionRow)
            .join(DialogueRow, DialogueRow.id == RevisionRow.dialogue_id)
            .where(DialogueRow.project_id == project.id, RevisionRow.number > 0)).one()
        return int(edited or 0), int(total or 0)
