"""SQL for generation jobs: plan items up front, record each outcome atomically.

A succeeded item and its dialogue are written in the same transaction, so a job killed at any
moment never holds a dialogue without its item marked done, nor an item marked done without
its dialogue: resuming runs exactly the items still pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from curation_app.domain import Dialogue
from curation_app.errors import NotFoundError
from curation_app.processes import runner_alive
from curation_app.store.models import (
    GenerationCallRow,
    GenerationItemRow,
    GenerationJobRow,
    ProjectRow,
    utcnow,
)
from curation_app.store.repository import ProjectRecord, Repository

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


@dataclass(frozen=True)
class PlannedItem:
    topic: str | None
    emotion: str | None


@dataclass(frozen=True)
class ItemRecord:
    id: int
    seq: int
    topic: str | None
    emotion: str | None
    status: str
    attempts: int
    dialogue_id: int | None = None
    error: str | None = None
    raw_text: str | None = None
    prompt: list[dict[str, Any]] | None = None
    seed_ids: list[int] | None = None
    cost_usd: float | None = None


@dataclass(frozen=True)
class JobRecord:
    id: int
    project: str
    status: str
    params: dict[str, Any]
    stop_reason: str | None
    created_by: str
    created_at: datetime
    requested: int
    succeeded: int
    failed: int
    pending: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    by_topic: dict[str, dict[str, int]] = field(default_factory=dict)
    # Calls sent by a run that died before their replies came: counted in ``cost_usd`` at
    # their worst case (an estimate, at most ``in_flight_usd``).
    calls_in_flight: int = 0
    in_flight_usd: float = 0.0

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    @property
    def cost_note(self) -> str:
        """What of the cost is an estimate, or ""."""
        if not self.calls_in_flight:
            return ""
        calls = "call" if self.calls_in_flight == 1 else "calls"
        return (f"including {self.calls_in_flight} {calls} in flight at the interruption, at "
                f"most ${self.in_flight_usd:.4f}")


@dataclass(frozen=True)
class Outcome:
    """What one model call produced, whether or not it gave a usable draft."""

    attempts: int
    model: str | None
    template: str | None
    prompt: list[dict[str, Any]]
    seed_ids: list[int]
    raw_text: str | None
    error: str | None
    request_id: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


@dataclass
class LostCalls:
    settled_usd: float = 0.0
    in_flight: int = 0
    in_flight_usd: float = 0.0


class JobRepository:
    def __init__(self, session: Session, dialogues: Repository):
        self.session = session
        self.dialogues = dialogues

    def create(self, project: ProjectRecord, params: dict[str, Any],
               items: Sequence[PlannedItem], created_by: str) -> int:
        now = utcnow()
        job = GenerationJobRow(project_id=project.id, status="pending", params=params,
                               created_by=created_by, created_at=now, updated_at=now)
        self.session.add(job)
        self.session.flush()
        self.session.add_all([
            GenerationItemRow(job_id=job.id, seq=i, topic=it.topic, emotion=it.emotion,
                              status=PENDING, attempts=0, prompt_tokens=0,
                              completion_tokens=0)
            for i, it in enumerate(items)
        ])
        self.session.flush()
        return job.id

    def get(self, job_id: int) -> JobRecord:
        found = self.session.execute(
            select(GenerationJobRow, ProjectRow.name)
            .join(ProjectRow, ProjectRow.id == GenerationJobRow.project_id)
            .where(GenerationJobRow.id == job_id)
        ).first()
        if found is None:
            raise NotFoundError(f"no generation job with id {job_id}")
        job, project_name = found
        rows = self.session.execute(
            select(GenerationItemRow.status, GenerationItemRow.topic, func.count(),
                   func.coalesce(func.sum(GenerationItemRow.prompt_tokens), 0),
                   func.coalesce(func.sum(GenerationItemRow.completion_tokens), 0),
                   func.coalesce(func.sum(GenerationItemRow.cost_usd), 0.0))
            .where(GenerationItemRow.job_id == job_id)
            .group_by(GenerationItemRow.status, GenerationItemRow.topic)
        ).all()
        counts = {PENDING: 0, SUCCEEDED: 0, FAILED: 0}
        by_topic: dict[str, dict[str, int]] = {}
        tokens_in = tokens_out = 0
        cost = 0.0
        for status, topic, n, p_tok, c_tok, c_usd in rows:
            counts[status] = counts.get(status, 0) + int(n)
            by_topic.setdefault(topic or "", {})[status] = int(n)
            tokens_in += int(p_tok)
            tokens_out += int(c_tok)
            cost += float(c_usd)
        lost = self.lost_calls(job_id)
        cost += lost.settled_usd + lost.in_flight_usd
        status, reason = job.status, job.stop_reason
        if status == "running" and not runner_alive((job.params or {}).get("runner")):
            # its process was killed or crashed before it could say so
            status, reason = "interrupted", ("the process running it stopped (killed or "
                                             "crashed); resume it")
        return JobRecord(
            id=job.id, project=project_name, status=status, params=dict(job.params),
            stop_reason=reason, created_by=job.created_by, created_at=job.created_at,
            requested=sum(counts.values()), succeeded=counts[SUCCEEDED], failed=counts[FAILED],
            pending=counts[PENDING], prompt_tokens=tokens_in, completion_tokens=tokens_out,
            cost_usd=round(cost, 8), by_topic=by_topic, calls_in_flight=lost.in_flight,
            in_flight_usd=round(lost.in_flight_usd, 8),
        )

    def list(self, project: ProjectRecord | None = None) -> list[JobRecord]:
        query = select(GenerationJobRow.id).order_by(GenerationJobRow.id)
        if project is not None:
            query = query.where(GenerationJobRow.project_id == project.id)
        return [self.get(job_id) for job_id in self.session.scalars(query)]

    def items(self, job_id: int, status: str | None = None) -> list[ItemRecord]:
        query = select(GenerationItemRow).where(GenerationItemRow.job_id == job_id)
        if status is not None:
            query = query.where(GenerationItemRow.status == status)
        return [
            ItemRecord(id=r.id, seq=r.seq, topic=r.topic, emotion=r.emotion, status=r.status,
                       attempts=r.attempts, dialogue_id=r.dialogue_id, error=r.error,
                       raw_text=r.raw_text, prompt=r.prompt, seed_ids=r.seed_ids,
                       cost_usd=r.cost_usd)
            for r in self.session.scalars(query.order_by(GenerationItemRow.seq))
        ]

    def set_status(self, job_id: int, status: str, reason: str | None = None) -> None:
        self.session.execute(
            update(GenerationJobRow).where(GenerationJobRow.id == job_id)
            .values(status=status, stop_reason=reason, updated_at=utcnow()))

    def update_params(self, job_id: int, changes: dict[str, Any]) -> None:
        job = self.session.get(GenerationJobRow, job_id)
        if job is None:
            raise NotFoundError(f"no generation job with id {job_id}")
        job.params = {**job.params, **changes}
        job.updated_at = utcnow()
        self.session.flush()

    def reset_failed(self, job_id: int) -> int:
        result = self.session.execute(
            update(GenerationItemRow)
            .where(GenerationItemRow.job_id == job_id, GenerationItemRow.status == FAILED)
            .values(status=PENDING))
        return int(result.rowcount or 0)

    def _finish(self, item_id: int, status: str, outcome: Outcome,
                dialogue_id: int | None) -> None:
        result = self.session.execute(
            update(GenerationItemRow)
            .where(GenerationItemRow.id == item_id, GenerationItemRow.status == PENDING)
            .values(status=status, dialogue_id=dialogue_id, finished_at=utcnow(),
                    attempts=GenerationItemRow.attempts + outcome.attempts,
                    model=outcome.model, template=outcome.template, prompt=outcome.prompt,
                    seed_ids=outcome.seed_ids, raw_text=outcome.raw_text, error=outcome.error,
                    request_id=outcome.request_id,
                    prompt_tokens=GenerationItemRow.prompt_tokens + outcome.prompt_tokens,
                    completion_tokens=(GenerationItemRow.completion_tokens
                                       + outcome.completion_tokens),
                    cost_usd=func.coalesce(GenerationItemRow.cost_usd, 0.0)
                    + (outcome.cost_usd or 0.0))
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            # Another runner finished this item first; refuse to double-record it.
            raise NotFoundError(f"generation item {item_id} is no longer pending")

    def record_success(self, project: ProjectRecord, item_id: int, dialogue: Dialogue,
                       outcome: Outcome) -> int:
        (dialogue_id,) = self.dialogues.add_dialogues(project, [dialogue], author="model",
                                                      note="machine draft")
        self._finish(item_id, SUCCEEDED, outcome, dialogue_id)
        return dialogue_id

    def record_failure(self, item_id: int, outcome: Outcome) -> None:
        self._finish(item_id, FAILED, outcome, None)

    # ---- calls in flight (see GenerationCallRow) ------------------------------------------
    def open_call(self, job_id: int, item_id: int | None, runner: dict[str, Any],
                  reserved_usd: float) -> int:
        row = GenerationCallRow(job_id=job_id, item_id=item_id, runner=runner,
                                reserved_usd=reserved_usd, started_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return row.id

    def settle_call(self, call_id: int, cost_usd: float) -> None:
        self.session.execute(update(GenerationCallRow).where(GenerationCallRow.id == call_id)
                             .values(cost_usd=cost_usd))

    def close_calls(self, call_ids: Sequence[int]) -> None:
        """The calls' item was stored with their cost: they are no longer the job's loose
        ends."""
        if call_ids:
            self.session.execute(delete(GenerationCallRow)
                                 .where(GenerationCallRow.id.in_(list(call_ids))))

    def lost_calls(self, job_id: int) -> LostCalls:
        """The calls of runs that died before storing their items: settled ones at their
        reported cost, the others (in flight at the kill) at their reserved worst case."""
        rows = self.session.execute(
            select(GenerationCallRow.runner, GenerationCallRow.reserved_usd,
                   GenerationCallRow.cost_usd).where(GenerationCallRow.job_id == job_id)
        ).all()
        alive: dict[str, bool] = {}
        lost = LostCalls()
        for runner, reserved, cost in rows:
            key = repr(sorted((runner or {}).items()))
            if key not in alive:
                alive[key] = runner_alive(runner)
            if alive[key]:
                continue  # still running: its item will hold the cost
            if cost is not None:
                lost.settled_usd += float(cost)
            else:
                lost.in_flight += 1
                lost.in_flight_usd += float(reserved)
        return lost

    def project_spend(self, project: ProjectRecord) -> tuple[int, int, float]:
        row = self.session.execute(
            select(func.coalesce(func.sum(GenerationItemRow.prompt_tokens), 0),
                   func.coalesce(func.sum(GenerationItemRow.completion_tokens), 0),
                   func.coalesce(func.sum(GenerationItemRow.cost_usd), 0.0))
            .join(GenerationJobRow, GenerationJobRow.id == GenerationItemRow.job_id)
            .where(GenerationJobRow.project_id == project.id)
        ).one()
        return int(row[0]), int(row[1]), float(row[2])
