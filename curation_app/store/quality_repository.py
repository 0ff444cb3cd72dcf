"""SQL for quality evaluation: campaigns, items, assignments, ratings, judge runs, and the
adjudication mark on overlap copies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from curation_app.errors import AlreadyExistsError, NotFoundError
from curation_app.quality.samples import NewItem
from curation_app.store.models import (
    DialogueRow,
    JudgeItemRow,
    JudgeRunRow,
    ProjectRow,
    RatingAssignmentRow,
    RatingCampaignRow,
    RatingItemRow,
    RatingRow,
    utcnow,
)
from curation_app.store.repository import ProjectRecord

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


@dataclass(frozen=True)
class CampaignRecord:
    id: int
    project: str
    name: str
    protocol: dict[str, Any]
    status: str
    overlap: int
    raters: list[str]
    sample: dict[str, Any]
    created_by: str
    created_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class RatingItem:
    id: int
    campaign_id: int
    seq: int
    group: str
    source: str
    ref: str | None
    dialogue_id: int | None
    content: dict[str, Any]


@dataclass(frozen=True)
class RatingRecord:
    item_id: int
    rater: str
    scores: dict[str, int]
    comment: str | None
    updated_at: datetime


@dataclass(frozen=True)
class JudgeRunRecord:
    id: int
    campaign_id: int
    status: str
    model: str
    prompt_version: str
    settings: dict[str, Any]
    stop_reason: str | None
    created_by: str
    created_at: datetime
    counts: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def requested(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class JudgeItemRecord:
    id: int
    run_id: int
    item_id: int
    status: str
    scores: dict[str, int] | None
    reason: str | None
    raw_text: str | None
    error: str | None
    attempts: int
    cost_usd: float | None


@dataclass(frozen=True)
class JudgeOutcome:
    scores: dict[str, int] | None
    reason: str | None
    raw_text: str | None
    error: str | None
    attempts: int
    request_id: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


def _campaign(row: RatingCampaignRow, project: str) -> CampaignRecord:
    return CampaignRecord(id=row.id, project=project, name=row.name,
                          protocol=dict(row.protocol), status=row.status, overlap=row.overlap,
                          raters=list(row.raters or []), sample=dict(row.sample or {}),
                          created_by=row.created_by, created_at=row.created_at,
                          closed_at=row.closed_at)


def _item(row: RatingItemRow) -> RatingItem:
    return RatingItem(id=row.id, campaign_id=row.campaign_id, seq=row.seq, group=row.group,
                      source=row.source, ref=row.ref, dialogue_id=row.dialogue_id,
                      content=dict(row.content))


def _judge_item(row: JudgeItemRow) -> JudgeItemRecord:
    return JudgeItemRecord(id=row.id, run_id=row.run_id, item_id=row.item_id,
                           status=row.status, scores=row.scores, reason=row.reason,
                           raw_text=row.raw_text, error=row.error, attempts=row.attempts,
                           cost_usd=row.cost_usd)


class QualityRepository:
    def __init__(self, session: Session):
        self.session = session

    # ---- campaigns -------------------------------------------------------------------------
    def create_campaign(self, project: ProjectRecord, name: str, protocol: dict[str, Any],
                        overlap: int, raters: Sequence[str], sample: dict[str, Any],
                        created_by: str, items: Sequence[NewItem],
                        assignments: Sequence[tuple[int, str]]) -> int:
        """Store a campaign, its items (numbered from 1) and (item seq, rater) assignments."""
        taken = self.session.scalar(select(RatingCampaignRow.id).where(
            RatingCampaignRow.project_id == project.id, RatingCampaignRow.name == name))
        if taken is not None:
            raise AlreadyExistsError(f"project {project.name} already has a campaign {name!r}")
        row = RatingCampaignRow(project_id=project.id, name=name, protocol=protocol,
                                status="open", overlap=overlap, raters=list(raters),
                                sample=sample, created_by=created_by, created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        item_rows = [RatingItemRow(campaign_id=row.id, seq=i, group=it.group,
                                   source=it.source[:500], ref=it.ref,
                                   dialogue_id=it.dialogue_id, content=it.content)
                     for i, it in enumerate(items, start=1)]
        self.session.add_all(item_rows)
        self.session.flush()
        by_seq = {r.seq: r.id for r in item_rows}
        self.session.add_all([RatingAssignmentRow(campaign_id=row.id, item_id=by_seq[seq],
                                                  rater=rater) for seq, rater in assignments])
        self.session.flush()
        return row.id

    def get_campaign(self, campaign_id: int, *, for_update: bool = False) -> CampaignRecord:
        query = (select(RatingCampaignRow, ProjectRow.name)
                 .join(ProjectRow, ProjectRow.id == RatingCampaignRow.project_id)
                 .where(RatingCampaignRow.id == campaign_id))
        if for_update:
            query = query.with_for_update(of=RatingCampaignRow)
        found = self.session.execute(query).first()
        if found is None:
            raise NotFoundError(f"no rating campaign {campaign_id} "
                                "(see `curation eval campaign list`)")
        return _campaign(found[0], found[1])

    def campaigns(self, project: ProjectRecord) -> list[CampaignRecord]:
        rows = self.session.scalars(select(RatingCampaignRow)
                                    .where(RatingCampaignRow.project_id == project.id)
                                    .order_by(RatingCampaignRow.id.desc()))
        return [_campaign(r, project.name) for r in rows]

    def campaigns_of_rater(self, project: ProjectRecord, rater: str) -> list[CampaignRecord]:
        ids = select(RatingAssignmentRow.campaign_id).where(RatingAssignmentRow.rater == rater)
        rows = self.session.scalars(select(RatingCampaignRow).where(
            RatingCampaignRow.project_id == project.id, RatingCampaignRow.id.in_(ids))
            .order_by(RatingCampaignRow.id.desc()))
        return [_campaign(r, project.name) for r in rows]

    def set_campaign_status(self, campaign_id: int, status: str) -> None:
        self.session.execute(update(RatingCampaignRow)
                             .where(RatingCampaignRow.id == campaign_id)
                             .values(status=status,
                                     closed_at=utcnow() if status == "closed" else None))

    # ---- items, assignments, ratings -------------------------------------------------------
    def items(self, campaign_id: int, rater: str | None = None) -> list[RatingItem]:
        query = select(RatingItemRow).where(RatingItemRow.campaign_id == campaign_id)
        if rater is not None:
            query = query.join(RatingAssignmentRow,
                               RatingAssignmentRow.item_id == RatingItemRow.id).where(
                RatingAssignmentRow.rater == rater)
        return [_item(r) for r in self.session.scalars(query.order_by(RatingItemRow.seq))]

    def get_item(self, item_id: int) -> RatingItem:
        row = self.session.get(RatingItemRow, item_id)
        if row is None:
            raise NotFoundError(f"no rating item {item_id}")
        return _item(row)

    def assignments(self, campaign_id: int) -> list[tuple[int, str]]:
        rows = self.session.execute(
            select(RatingAssignmentRow.item_id, RatingAssignmentRow.rater)
            .where(RatingAssignmentRow.campaign_id == campaign_id)
            .order_by(RatingAssignmentRow.item_id, RatingAssignmentRow.rater))
        return [(i, r) for i, r in rows]

    def is_assigned(self, item_id: int, rater: str) -> bool:
        return self.session.scalar(select(RatingAssignmentRow.id).where(
            RatingAssignmentRow.item_id == item_id, RatingAssignmentRow.rater == rater)) \
            is not None

    def save_rating(self, campaign_id: int, item_id: int, rater: str, scores: dict[str, int],
                    comment: str | None) -> None:
        row = self.session.scalar(select(RatingRow).where(
            RatingRow.item_id == item_id, RatingRow.rater == rater).with_for_update())
        if row is None:
            self.session.add(RatingRow(campaign_id=campaign_id, item_id=item_id, rater=rater,
                                       scores=scores, comment=comment, updated_at=utcnow()))
        else:
            row.scores = scores
            row.comment = comment
            row.updated_at = utcnow()
        self.session.flush()

    def ratings(self, campaign_id: int, rater: str | None = None) -> list[RatingRecord]:
        # Plain columns, not ORM objects: a campaign's agreement reads every rating at once.
        query = select(RatingRow.item_id, RatingRow.rater, RatingRow.scores, RatingRow.comment,
                       RatingRow.updated_at).where(RatingRow.campaign_id == campaign_id)
        if rater is not None:
            query = query.where(RatingRow.rater == rater)
        return [RatingRecord(i, r, dict(s), c, u) for i, r, s, c, u in
                self.session.execute(query.order_by(RatingRow.item_id, RatingRow.rater))]

    # ---- judge runs ------------------------------------------------------------------------
    def create_judge_run(self, campaign_id: int, model: str, prompt_version: str,
                         settings: dict[str, Any], created_by: str,
                         item_ids: Sequence[int]) -> int:
        now = utcnow()
        row = JudgeRunRow(campaign_id=campaign_id, status="pending", model=model,
                          prompt_version=prompt_version, settings=settings,
                          created_by=created_by, created_at=now, updated_at=now)
        self.session.add(row)
        self.session.flush()
        self.session.add_all([JudgeItemRow(run_id=row.id, item_id=i, status=PENDING,
                                           attempts=0, prompt_tokens=0, completion_tokens=0)
                              for i in item_ids])
        self.session.flush()
        return row.id

    def _run_record(self, row: JudgeRunRow) -> JudgeRunRecord:
        counts = {s: 0 for s in (PENDING, SUCCEEDED, FAILED)}
        sums = self.session.execute(
            select(JudgeItemRow.status, func.count(), func.coalesce(func.sum(
                JudgeItemRow.cost_usd), 0.0), func.coalesce(func.sum(
                    JudgeItemRow.prompt_tokens), 0), func.coalesce(func.sum(
                        JudgeItemRow.completion_tokens), 0))
            .where(JudgeItemRow.run_id == row.id).group_by(JudgeItemRow.status)).all()
        cost = prompt = completion = 0
        for status, n, c, p, q in sums:
            counts[status] = int(n)
            cost += float(c)
            prompt += int(p)
            completion += int(q)
        return JudgeRunRecord(id=row.id, campaign_id=row.campaign_id, status=row.status,
                              model=row.model, prompt_version=row.prompt_version,
                              settings=dict(row.settings or {}), stop_reason=row.stop_reason,
                              created_by=row.created_by, created_at=row.created_at,
                              counts=counts, cost_usd=round(float(cost), 8),
                              prompt_tokens=prompt, completion_tokens=completion)

    def get_judge_run(self, run_id: int) -> JudgeRunRecord:
        row = self.session.get(JudgeRunRow, run_id)
        if row is None:
            raise NotFoundError(f"no judge run {run_id} (see `curation eval judge-runs`)")
        return self._run_record(row)

    def judge_runs(self, campaign_id: int) -> list[JudgeRunRecord]:
        rows = self.session.scalars(select(JudgeRunRow).where(
            JudgeRunRow.campaign_id == campaign_id).order_by(JudgeRunRow.id.desc()))
        return [self._run_record(r) for r in rows]

    def judge_items(self, run_id: int, status: str | None = None) -> list[JudgeItemRecord]:
        query = select(JudgeItemRow).where(JudgeItemRow.run_id == run_id)
        if status is not None:
            query = query.where(JudgeItemRow.status == status)
        return [_judge_item(r) for r in self.session.scalars(query.order_by(JudgeItemRow.id))]

    def record_judgement(self, judge_item_id: int, outcome: JudgeOutcome) -> None:
        self.session.execute(update(JudgeItemRow).where(JudgeItemRow.id == judge_item_id).values(
            status=SUCCEEDED if outcome.scores is not None else FAILED,
            scores=outcome.scores, reason=outcome.reason, raw_text=outcome.raw_text,
            error=outcome.error, attempts=JudgeItemRow.attempts + outcome.attempts,
            request_id=outcome.request_id,
            prompt_tokens=JudgeItemRow.prompt_tokens + outcome.prompt_tokens,
            completion_tokens=JudgeItemRow.completion_tokens + outcome.completion_tokens,
            cost_usd=func.coalesce(JudgeItemRow.cost_usd, 0.0) + (outcome.cost_usd or 0.0),
            finished_at=utcnow()))

    def charge_pending_judgement(self, judge_item_id: int, outcome: JudgeOutcome) -> None:
        """Calls made for an item that stays pending (its repair was refused by the budget):
        their tokens and cost count, the item is asked again on resume."""
        self.session.execute(update(JudgeItemRow).where(JudgeItemRow.id == judge_item_id).values(
            attempts=JudgeItemRow.attempts + outcome.attempts,
            raw_text=outcome.raw_text, error=outcome.error,
            prompt_tokens=JudgeItemRow.prompt_tokens + outcome.prompt_tokens,
            completion_tokens=JudgeItemRow.completion_tokens + outcome.completion_tokens,
            cost_usd=func.coalesce(JudgeItemRow.cost_usd, 0.0) + (outcome.cost_usd or 0.0)))

    def reset_failed_judgements(self, run_id: int) -> None:
        self.session.execute(update(JudgeItemRow).where(
            JudgeItemRow.run_id == run_id, JudgeItemRow.status == FAILED).values(
            status=PENDING))

    def set_judge_status(self, run_id: int, status: str, reason: str | None = None) -> None:
        self.session.execute(update(JudgeRunRow).where(JudgeRunRow.id == run_id).values(
            status=status, stop_reason=reason, updated_at=utcnow()))

    def update_judge_settings(self, run_id: int, changes: dict[str, Any]) -> None:
        row = self.session.get(JudgeRunRow, run_id)
        if row is None:
            raise NotFoundError(f"no judge run {run_id}")
        row.settings = {**(row.settings or {}), **changes}

    # ---- overlap groups and adjudication ---------------------------------------------------
    def overlap_group_ids(self, project: ProjectRecord) -> list[list[int]]:
        """[original id, copy ids...] for every dialogue of the project that has copies."""
        rows = self.session.execute(
            select(DialogueRow.id, DialogueRow.overlap_of)
            .where(DialogueRow.project_id == project.id, DialogueRow.overlap_of.is_not(None))
            .order_by(DialogueRow.overlap_of, DialogueRow.id)).all()
        groups: dict[int, list[int]] = {}
        for copy_id, original in rows:
            groups.setdefault(original, [original]).append(copy_id)
        return list(groups.values())

    def group_of(self, dialogue_id: int) -> list[int]:
        row = self.session.get(DialogueRow, dialogue_id)
        if row is None:
            raise NotFoundError(f"no dialogue {dialogue_id}")
        original = row.overlap_of or row.id
        copies = self.session.scalars(select(DialogueRow.id).where(
            DialogueRow.overlap_of == original).order_by(DialogueRow.id)).all()
        return [original, *copies]

    def set_adjudicated(self, group: Sequence[int], chosen: int) -> None:
        """Mark ``chosen`` as the group's adjudicated member and clear the mark on the rest.
        The metadata JSON is rewritten whole (portable between SQLite and PostgreSQL)."""
        rows = self.session.scalars(select(DialogueRow).where(
            DialogueRow.id.in_(list(group))).with_for_update()).all()
        for row in rows:
            meta = dict(row.meta or {})
            if row.id == chosen:
                meta["adjudicated"] = True
            else:
                meta.pop("adjudicated", None)
            row.meta = meta
        self.session.flush()
