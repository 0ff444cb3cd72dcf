"""Projects, users, dialogues and their revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("preset", sa.String(50), nullable=False),
        sa.Column("vocabulary", JSONType, nullable=False),
        sa.Column("settings", JSONType, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "dialogues",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("language", sa.String(10), nullable=False),
        sa.Column("topic", sa.String(500), nullable=True),
        sa.Column("emotion", sa.String(200), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("provenance", JSONType, nullable=False),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("turns", JSONType, nullable=False),
        sa.Column("turn_count", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dialogues_project_status", "dialogues", ["project_id", "status"])
    op.create_index("ix_dialogues_project_topic", "dialogues", ["project_id", "topic"])
    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dialogue_id", sa.Integer,
                  sa.ForeignKey("dialogues.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("turns", JSONType, nullable=False),
        sa.Column("topic", sa.String(500), nullable=True),
        sa.Column("emotion", sa.String(200), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dialogue_id", "number", name="uq_revision_number"),
    )


def downgrade() -> None:
    op.drop_table("revisions")
    op.drop_index("ix_dialogues_project_topic", "dialogues")
    op.drop_index("ix_dialogues_project_status", "dialogues")
    op.drop_table("dialogues")
    op.drop_table("users")
    op.drop_table("projects")
