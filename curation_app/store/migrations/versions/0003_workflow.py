"""Review workflow: assignments (with overlap), workflow events, time spent per revision.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dialogues") as batch:
        # Overlap copies (for agreement) point at the dialogue they were copied from.
        batch.add_column(sa.Column("overlap_of", sa.Integer, nullable=True))
    with op.batch_alter_table("revisions") as batch:
        batch.add_column(sa.Column("seconds_spent", sa.Integer, nullable=True))
    op.create_index("ix_dialogues_assignee", "dialogues", ["assignee"])
    op.create_table(
        "workflow_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dialogue_id", sa.Integer,
                  sa.ForeignKey("dialogues.id", ondelete="CASCADE"), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_workflow_events_dialogue", "workflow_events", ["dialogue_id"])


def downgrade() -> None:
    op.drop_index("ix_workflow_events_dialogue", "workflow_events")
    op.drop_table("workflow_events")
    op.drop_index("ix_dialogues_assignee", "dialogues")
    with op.batch_alter_table("revisions") as batch:
        batch.drop_column("seconds_spent")
    with op.batch_alter_table("dialogues") as batch:
        batch.drop_column("overlap_of")
