"""Generation jobs and their items; seed flags on dialogues.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("dialogues") as batch:
        batch.add_column(sa.Column("is_seed", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("seed_round", sa.Integer, nullable=True))
    op.create_table(
        "generation_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("params", JSONType, nullable=False),
        sa.Column("stop_reason", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "generation_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer,
                  sa.ForeignKey("generation_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("topic", sa.String(500), nullable=True),
        sa.Column("emotion", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("dialogue_id", sa.Integer,
                  sa.ForeignKey("dialogues.id", ondelete="SET NULL"), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("template", sa.String(200), nullable=True),
        sa.Column("prompt", JSONType, nullable=True),
        sa.Column("seed_ids", JSONType, nullable=True),
        sa.Column("raw_text", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("request_id", sa.String(200), nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("job_id", "seq", name="uq_generation_item_seq"),
    )
    op.create_index("ix_generation_items_job_status", "generation_items", ["job_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_generation_items_job_status", "generation_items")
    op.drop_table("generation_items")
    op.drop_table("generation_jobs")
    with op.batch_alter_table("dialogues") as batch:
        batch.drop_column("seed_round")
        batch.drop_column("is_seed")
