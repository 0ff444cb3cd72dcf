"""Security and reliability: privacy false-alarm marks, audit log, sign-in throttling, session
versions of users.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer, nullable=False,
                                   server_default="0"))
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(300), nullable=True),
        sa.Column("address", sa.String(100), nullable=True),
        sa.Column("detail", JSONType, nullable=False),
    )
    op.create_index("ix_audit_events_action_time", "audit_events", ["action", "created_at"])
    op.create_index("ix_audit_events_actor", "audit_events", ["actor"])
    op.create_table(
        "privacy_dismissals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("dialogue_id", sa.Integer,
                  sa.ForeignKey("dialogues.id", ondelete="CASCADE"), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("rule", sa.String(60), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("masked", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("dismissed_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dialogue_id", "path", "rule", "digest",
                            name="uq_privacy_dismissal"),
    )
    op.create_index("ix_privacy_dismissals_project", "privacy_dismissals", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_actor", "audit_events")
    op.drop_index("ix_audit_events_action_time", "audit_events")
    op.drop_table("audit_events")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
    op.drop_index("ix_privacy_dismissals_project", "privacy_dismissals")
    op.drop_table("privacy_dismissals")
