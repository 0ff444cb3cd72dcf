"""Generation jobs run by workers: a queue mark, the claiming worker and its heartbeat; items
remember the OpenAI batch they were sent in.

Revision ID: 0010
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generation_jobs") as batch:
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_generation_jobs_queued_at", "generation_jobs", ["queued_at"])
    with op.batch_alter_table("generation_items") as batch:
        batch.add_column(sa.Column("batch_id", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_items") as batch:
        batch.drop_column("batch_id")
    op.drop_index("ix_generation_jobs_queued_at", table_name="generation_jobs")
    with op.batch_alter_table("generation_jobs") as batch:
        batch.drop_column("not_before")
        batch.drop_column("heartbeat_at")
        batch.drop_column("claimed_by")
        batch.drop_column("queued_at")
