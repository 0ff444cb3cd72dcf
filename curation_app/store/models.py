"""SQLAlchemy 2 table mappings. The repository is the only module that queries them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    preset: Mapped[str] = mapped_column(String(50))
    vocabulary: Mapped[dict[str, Any]] = mapped_column(JSONType)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Bumped on sign-out, password change and role change: older sign-in tokens stop working.
    # A new account starts at a random version: SQLite may give a re-created account the id
    # of a deleted one, and its old tokens must not fit the new account.
    session_version: Mapped[int] = mapped_column(
        Integer, default=lambda: secrets.randbelow(2**31 - 2**16), server_default="0")


class ProjectRoleRow(Base):
    """A user's role in one project, where it differs from their account-wide role (a lead of
    one project may annotate another); who set it and when."""

    __tablename__ = "project_roles"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DialogueRow(Base):
    __tablename__ = "dialogues"
    __table_args__ = (
        Index("ix_dialogues_project_status", "project_id", "status"),
        Index("ix_dialogues_project_topic", "project_id", "topic"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    language: Mapped[str] = mapped_column(String(10))
    topic: Mapped[str | None] = mapped_column(String(500), nullable=True)
    emotion: Mapped[str | None] = mapped_column(String(200), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    # The current content; every state of it is also a row in revisions.
    turns: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    turn_count: Mapped[int] = mapped_column(Integer, default=0)
    # Optimistic locking: a save names the version it edited; a mismatch is a conflict.
    version: Mapped[int] = mapped_column(Integer, default=0)
    assignee: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Seeds are the in-context examples of iterative expansion (ExTES). seed_round says which
    # round a dialogue belongs to: imported seeds are round 0, a draft made from round-k seeds
    # is round k+1.
    is_seed: Mapped[bool] = mapped_column(Boolean, default=False)
    seed_round: Mapped[int | None] = mapped_column(Integer, nullable=True)
    overlap_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    revisions: Mapped[list[RevisionRow]] = relationship(
        back_populates="dialogue", order_by="RevisionRow.number", passive_deletes=True
    )


class RevisionRow(Base):
    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("dialogue_id", "number", name="uq_revision_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    turns: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    topic: Mapped[str | None] = mapped_column(String(500), nullable=True)
    emotion: Mapped[str | None] = mapped_column(String(200), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    author: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds_spent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    dialogue: Mapped[DialogueRow] = relationship(back_populates="revisions")


class GenerationJobRow(Base):
    """A batch of drafts requested at once; its items are planned up front so it can resume."""

    __tablename__ = "generation_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # pending|running|finished|stopped
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    stop_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set while the job waits for (or is run by) a worker; the worker that claimed it writes
    # its name and a heartbeat, and a stale heartbeat means the worker died (migration 0010).
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True,
                                                       index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                          nullable=True)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class GenerationItemRow(Base):
    """One requested draft of a job: pending until it is stored as a dialogue or fails."""

    __tablename__ = "generation_items"
    __table_args__ = (
        UniqueConstraint("job_id", "seq", name="uq_generation_item_seq"),
        Index("ix_generation_items_job_status", "job_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("generation_jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str | None] = mapped_column(String(500), nullable=True)
    emotion: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # pending|succeeded|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    dialogue_id: Mapped[int | None] = mapped_column(
        ForeignKey("dialogues.id", ondelete="SET NULL"), nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    template: Mapped[str | None] = mapped_column(String(200), nullable=True)
    prompt: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, nullable=True)
    seed_ids: Mapped[list[int] | None] = mapped_column(JSONType, nullable=True)
    raw_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The OpenAI Batch API batch this item was sent in, while its result is awaited.
    batch_id: Mapped[str | None] = mapped_column(String(200), nullable=True)


class GenerationCallRow(Base):
    """One model call of a job, written before it is sent with its worst-case cost and
    removed when its item is stored (the item then holds the cost). ``cost_usd`` is the
    reported cost once the reply came. A row left by a runner that died is a call whose
    cost the job must still count: exactly when settled, else at most ``reserved_usd``."""

    __tablename__ = "generation_calls"
    __table_args__ = (Index("ix_generation_calls_job", "job_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("generation_jobs.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("generation_items.id", ondelete="CASCADE"), nullable=True)
    runner: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reserved_usd: Mapped[float] = mapped_column(Float)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkflowEventRow(Base):
    """One step of a dialogue's review history: who did what, from which status to which."""

    __tablename__ = "workflow_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CheckRunRow(Base):
    """One run of the checks over a project; kept for history after newer runs replace its
    findings. ``summary`` holds the counts (per kind, per rule, errors, warnings)."""

    __tablename__ = "check_runs"
    __table_args__ = (Index("ix_check_runs_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    started_by: Mapped[str] = mapped_column(String(200))
    kinds: Mapped[list[str]] = mapped_column(JSONType)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CheckFindingRow(Base):
    """One finding of a check run about one dialogue (and turn). Only the newest run of each
    kind of check keeps its findings; ``cluster`` and ``score`` group near-duplicates."""

    __tablename__ = "check_findings"
    __table_args__ = (
        Index("ix_check_findings_project_kind", "project_id", "kind"),
        Index("ix_check_findings_dialogue", "dialogue_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("check_runs.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    turn: Mapped[int | None] = mapped_column(Integer, nullable=True)
    path: Mapped[str] = mapped_column(String(300), default="")
    message: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cluster: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)


# ---- quality evaluation (rating campaigns, judge runs) -------------------------------------
class RatingCampaignRow(Base):
    """A rating campaign: a sample of items, a protocol (copied in), raters and an overlap."""

    __tablename__ = "rating_campaigns"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_rating_campaign_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    protocol: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20))  # open|closed
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    raters: Mapped[list[str]] = mapped_column(JSONType)
    sample: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RatingItemRow(Base):
    """One thing to rate: a snapshot of the dialogue as raters see it, blinded to its source
    (``source`` and ``group`` are for the lead's analysis only)."""

    __tablename__ = "rating_items"
    __table_args__ = (UniqueConstraint("campaign_id", "seq", name="uq_rating_item_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("rating_campaigns.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    group: Mapped[str] = mapped_column("grp", String(200), default="")
    source: Mapped[str] = mapped_column(String(500))
    ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    dialogue_id: Mapped[int | None] = mapped_column(
        ForeignKey("dialogues.id", ondelete="SET NULL"), nullable=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)


class RatingAssignmentRow(Base):
    __tablename__ = "rating_assignments"
    __table_args__ = (
        UniqueConstraint("item_id", "rater", name="uq_rating_assignment"),
        Index("ix_rating_assignments_campaign_rater", "campaign_id", "rater"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("rating_campaigns.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("rating_items.id", ondelete="CASCADE"))
    rater: Mapped[str] = mapped_column(String(200))


class RatingRow(Base):
    """One rater's scores for one item ({aspect: score}); changed in place until closing."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("item_id", "rater", name="uq_rating"),
        Index("ix_ratings_campaign", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("rating_campaigns.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("rating_items.id", ondelete="CASCADE"))
    rater: Mapped[str] = mapped_column(String(200))
    scores: Mapped[dict[str, Any]] = mapped_column(JSONType)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JudgeRunRow(Base):
    """An LLM-judge job over a campaign's items: model, prompt version and settings kept."""

    __tablename__ = "judge_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("rating_campaigns.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # pending|running|finished|stopped
    model: Mapped[str] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    stop_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JudgeItemRow(Base):
    """One item of a judge run: pending until scored or failed (never a score out of range)."""

    __tablename__ = "judge_items"
    __table_args__ = (
        UniqueConstraint("run_id", "item_id", name="uq_judge_item"),
        Index("ix_judge_items_run_status", "run_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("judge_runs.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("rating_items.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # pending|succeeded|failed
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    raw_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
class PrivacyDismissalRow(Base):
    """A privacy finding a lead marked as a false alarm: which value (by digest, never the value
    itself) in which field of which dialogue, who decided and why."""

    __tablename__ = "privacy_dismissals"
    __table_args__ = (
        UniqueConstraint("dialogue_id", "path", "rule", "digest", name="uq_privacy_dismissal"),
        Index("ix_privacy_dismissals_project", "project_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(300))
    rule: Mapped[str] = mapped_column(String(60))
    digest: Mapped[str] = mapped_column(String(64))
    masked: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    dismissed_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEventRow(Base):
    """Who did what and when: sign-ins (failed ones too), role and account changes, status
    changes, discards, exports, releases, backups and restores. Append-only."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_action_time", "action", "created_at"),
        Index("ix_audit_events_actor", "actor"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(300), nullable=True)
    address: Mapped[str | None] = mapped_column(String(100), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
# Indexes of migration 0008: the pages' paged and filtered reads (declared here, after the
# classes, so that the tables above stay as they were).
Index("ix_dialogues_project_assignee_status", DialogueRow.project_id, DialogueRow.assignee,
      DialogueRow.status)
Index("ix_check_findings_project_severity", CheckFindingRow.project_id, CheckFindingRow.severity)
Index("ix_check_findings_project_rule", CheckFindingRow.project_id, CheckFindingRow.rule)
Index("ix_check_findings_project_kind_cluster", CheckFindingRow.project_id,
      CheckFindingRow.kind, CheckFindingRow.cluster)
# Indexes of migration 0011: the Progress page's counts by topic and status (overlap copies left
# out) and the project list's turns per status, each answered from an index alone.
Index("ix_dialogues_project_overlap_topic_status", DialogueRow.project_id, DialogueRow.overlap_of,
      DialogueRow.topic, DialogueRow.status)
Index("ix_dialogues_project_status_turns", DialogueRow.project_id, DialogueRow.status,
      DialogueRow.turn_count)
