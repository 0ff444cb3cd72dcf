"""SQL for releases and statistics: the project's dialogues streamed in batches, the machine
drafts (revision 0) beside them, and who annotated and reviewed them.

Used through ``ReleaseQueries(uow.repo.session)`` so the unit of work needs no new attribute.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from curation_app.domain import Dialogue, Status, Turn
from curation_app.store.models import DialogueRow, RevisionRow, WorkflowEventRow
from curation_app.store.repository import ProjectRecord, _dialogue_from_row

BATCH = 1000


class ReleaseQueries:
    def __init__(self, session: Session):
        self.session = session

    def stream_dialogues(self, project: ProjectRecord, statuses: Sequence[Status] | None = None,
                         *, originals_only: bool = False,
                         batch: int = BATCH) -> Iterator[Dialogue]:
        """The project's dialogues in id order, read ``batch`` rows at a time (keyset paging,
        so memory stays flat on both SQLite and PostgreSQL)."""
        last = 0
        while True:
            query = select(DialogueRow).where(DialogueRow.project_id == project.id,
                                              DialogueRow.id > last)
            if statuses:
                query = query.where(DialogueRow.status.in_([str(s) for s in statuses]))
            if originals_only:
                query = query.where(DialogueRow.overlap_of.is_(None))
            rows = list(self.session.scalars(query.order_by(DialogueRow.id).limit(batch)))
            if not rows:
                return
            for row in rows:
                yield _dialogue_from_row(row, project.name)
            last = rows[-1].id
            self.session.expunge_all()

    def drafts(self, dialogue_ids: Sequence[int], batch: int = BATCH) -> dict[int, list[Turn]]:
        """Revision 0 (the machine draft or the imported text) of each dialogue."""
        out: dict[int, list[Turn]] = {}
        ids = list(dialogue_ids)
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            rows = self.session.execute(
                select(RevisionRow.dialogue_id, RevisionRow.turns)
                .where(RevisionRow.dialogue_id.in_(chunk), RevisionRow.number == 0))
            for dialogue_id, turns in rows:
                out[int(dialogue_id)] = [Turn.from_dict(t) for t in turns]
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
