"""SQL for the generation queue: which jobs wait for a worker, and which worker holds each.

A claim is one ``UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING id`` statement. On
PostgreSQL the inner select takes ``FOR UPDATE SKIP LOCKED``, so workers racing for the queue
each get a different job without waiting on each other; the outer ``WHERE`` repeats the
eligibility test, which PostgreSQL re-evaluates on the locked row, so a job is never claimed
twice. On SQLite the statement takes the write lock before it reads, so it is atomic too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from curation_app.store.jobs import PENDING
from curation_app.store.models import GenerationItemRow, GenerationJobRow, utcnow

QUEUED = "queued"


@dataclass(frozen=True)
class Claim:
    job_id: int
    params: dict[str, Any]
    created_by: str
    status: str


class QueueRepository:
    def __init__(self, session: Session):
        self.session = session

    def enqueue(self, job_id: int) -> None:
        """Put a job in the queue (again): any worker may claim it from now on."""
        self.session.execute(
            update(GenerationJobRow).where(GenerationJobRow.id == job_id)
            .values(queued_at=utcnow(), status=QUEUED, stop_reason=None, claimed_by=None,
                    heartbeat_at=None, not_before=None, updated_at=utcnow())
            .execution_options(synchronize_session=False))

    @staticmethod
    def _claimable(now: datetime, stale_before: datetime) -> ColumnElement[bool]:
        job = GenerationJobRow
        return and_(job.queued_at.is_not(None),
                    or_(job.claimed_by.is_(None), job.heartbeat_at < stale_before),
                    or_(job.not_before.is_(None), job.not_before <= now))

    def claim(self, worker: str, stale_before: datetime) -> Claim | None:
        """Claim the oldest queued job that no live worker holds; None when there is none."""
        now = utcnow()
        eligible = self._claimable(now, stale_before)
        inner = (select(GenerationJobRow.id).where(eligible)
                 .order_by(GenerationJobRow.queued_at, GenerationJobRow.id).limit(1))
        if self.session.get_bind().dialect.name == "postgresql":
            inner = inner.with_for_update(skip_locked=True)
        row = self.session.execute(
            update(GenerationJobRow)
            .where(GenerationJobRow.id == inner.scalar_subquery(), eligible)
            .values(claimed_by=worker, heartbeat_at=now)
            .returning(GenerationJobRow.id, GenerationJobRow.params,
                       GenerationJobRow.created_by, GenerationJobRow.status)
            .execution_options(synchronize_session=False)).first()
        if row is None:
            return None
        return Claim(job_id=int(row[0]), params=dict(row[1]), created_by=row[2], status=row[3])

    def heartbeat(self, job_id: int, worker: str) -> bool:
        """Refresh the claim; False when the worker no longer holds it (it was taken over)."""
        result = self.session.execute(
            update(GenerationJobRow)
            .where(GenerationJobRow.id == job_id, GenerationJobRow.claimed_by == worker)
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False))
        return result.rowcount == 1

    def release(self, job_id: int, worker: str, *, keep_queued: bool,
                not_before: datetime | None = None) -> None:
        """Let go of a claim; the job stays queued (to be picked up again) or leaves the queue."""
        values: dict[str, Any] = {"claimed_by": None, "heartbeat_at": None,
                                  "not_before": not_before}
        if not keep_queued:
            values["queued_at"] = None
        self.session.execute(
            update(GenerationJobRow)
            .where(GenerationJobRow.id == job_id, GenerationJobRow.claimed_by == worker)
            .values(**values).execution_options(synchronize_session=False))

    def holder(self, job_id: int) -> tuple[str | None, datetime | None, datetime | None]:
        """(worker, heartbeat, queued at) of a job."""
        row = self.session.execute(
            select(GenerationJobRow.claimed_by, GenerationJobRow.heartbeat_at,
                   GenerationJobRow.queued_at).where(GenerationJobRow.id == job_id)).one()
        return row[0], row[1], row[2]

    # ---- items sent through the OpenAI Batch API -------------------------------------------
    def unsent_items(self, job_id: int) -> list[int]:
        """Ids of pending items not yet sent in a batch."""
        return list(self.session.scalars(
            select(GenerationItemRow.id)
            .where(GenerationItemRow.job_id == job_id, GenerationItemRow.status == PENDING,
                   GenerationItemRow.batch_id.is_(None))
            .order_by(GenerationItemRow.seq)))

    def mark_sent(self, item_ids: Sequence[int], batch_id: str,
                  prompts: dict[int, tuple[list[dict[str, Any]], list[int]]], *,
                  templates: dict[int, str] | None = None) -> None:
        """Record the batch each item went out in, with the prompt and seeds it was sent with
        and the template (``name@version``) that made the prompt."""
        for item_id in item_ids:
            prompt, seed_ids = prompts[item_id]
            values: dict[str, Any] = {"batch_id": batch_id, "prompt": prompt,
                                      "seed_ids": seed_ids}
            if templates and item_id in templates:
                values["template"] = templates[item_id]
            self.session.execute(
                update(GenerationItemRow).where(GenerationItemRow.id == item_id)
                .values(**values).execution_options(synchronize_session=False))

    def open_batches(self, job_id: int) -> list[str]:
        """Batches that still owe results for some pending item of the job."""
        return sorted(set(self.session.scalars(
            select(GenerationItemRow.batch_id)
            .where(GenerationItemRow.job_id == job_id, GenerationItemRow.status == PENDING,
                   GenerationItemRow.batch_id.is_not(None)))))

    def batch_items(self, job_id: int, batch_id: str) -> list[GenerationItemRow]:
        return list(self.session.scalars(
            select(GenerationItemRow)
            .where(GenerationItemRow.job_id == job_id, GenerationItemRow.batch_id == batch_id,
                   GenerationItemRow.status == PENDING)
            .order_by(GenerationItemRow.seq)))

    def clear_batch(self, item_ids: Sequence[int]) -> None:
        """Items whose batch gave no answer for them become unsent again."""
        if item_ids:
            self.session.execute(
                update(GenerationItemRow).where(GenerationItemRow.id.in_(list(item_ids)))
                .values(batch_id=None).execution_options(synchronize_session=False))
