"""Model calls of generation jobs recorded before they are sent (their worst-case cost), so a
job killed mid-call still counts them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "generation_calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer,
                  sa.ForeignKey("generation_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("item_id", sa.Integer,
                  sa.ForeignKey("generation_items.id", ondelete="CASCADE"), nullable=True),
        sa.Column("runner", JSONType, nullable=False),
        sa.Column("reserved_usd", sa.Float, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_generation_calls_job", "generation_calls", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_generation_calls_job", table_name="generation_calls")
    op.drop_table("generation_calls")
