"""Quality evaluation: rating campaigns, their items, assignments and ratings; LLM-judge runs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def _campaign_fk() -> sa.Column:
    return sa.Column("campaign_id", sa.Integer,
                     sa.ForeignKey("rating_campaigns.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "rating_campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("protocol", JSONType, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("overlap", sa.Integer, nullable=False),
        sa.Column("raters", JSONType, nullable=False),
        sa.Column("sample", JSONType, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("project_id", "name", name="uq_rating_campaign_name"),
    )
    op.create_table(
        "rating_items",
        sa.Column("id", sa.Integer, primary_key=True),
        _campaign_fk(),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("grp", sa.String(200), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("ref", sa.String(200), nullable=True),
        sa.Column("dialogue_id", sa.Integer,
                  sa.ForeignKey("dialogues.id", ondelete="SET NULL"), nullable=True),
        sa.Column("content", JSONType, nullable=False),
        sa.UniqueConstraint("campaign_id", "seq", name="uq_rating_item_seq"),
    )
    op.create_table(
        "rating_assignments",
        sa.Column("id", sa.Integer, primary_key=True),
        _campaign_fk(),
        sa.Column("item_id", sa.Integer,
                  sa.ForeignKey("rating_items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rater", sa.String(200), nullable=False),
        sa.UniqueConstraint("item_id", "rater", name="uq_rating_assignment"),
    )
    op.create_index("ix_rating_assignments_campaign_rater", "rating_assignments",
                    ["campaign_id", "rater"])
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer, primary_key=True),
        _campaign_fk(),
        sa.Column("item_id", sa.Integer,
                  sa.ForeignKey("rating_items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rater", sa.String(200), nullable=False),
        sa.Column("scores", JSONType, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("item_id", "rater", name="uq_rating"),
    )
    op.create_index("ix_ratings_campaign", "ratings", ["campaign_id"])
    op.create_table(
        "judge_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        _campaign_fk(),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_version", sa.String(200), nullable=False),
        sa.Column("settings", JSONType, nullable=False),
        sa.Column("stop_reason", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "judge_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer,
                  sa.ForeignKey("judge_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("item_id", sa.Integer,
                  sa.ForeignKey("rating_items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("scores", JSONType, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("raw_text", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(200), nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("run_id", "item_id", name="uq_judge_item"),
    )
    op.create_index("ix_judge_items_run_status", "judge_items", ["run_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_judge_items_run_status", "judge_items")
    op.drop_table("judge_items")
    op.drop_table("judge_runs")
    op.drop_index("ix_ratings_campaign", "ratings")
    op.drop_table("ratings")
    op.drop_index("ix_rating_assignments_campaign_rater", "rating_assignments")
    op.drop_table("rating_assignments")
    op.drop_table("rating_items")
    op.drop_table("rating_campaigns")
