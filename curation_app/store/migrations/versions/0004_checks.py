"""Check runs and their findings (format, lint, near-duplicates, safety).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "check_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("kinds", JSONType, nullable=False),
        sa.Column("summary", JSONType, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_check_runs_project", "check_runs", ["project_id", "id"])
    op.create_table(
        "check_findings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer,
                  sa.ForeignKey("check_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("dialogue_id", sa.Integer,
                  sa.ForeignKey("dialogues.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("rule", sa.String(60), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("turn", sa.Integer, nullable=True),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("category", sa.String(200), nullable=True),
        sa.Column("cluster", sa.Integer, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
    )
    op.create_index("ix_check_findings_project_kind", "check_findings", ["project_id", "kind"])
    op.create_index("ix_check_findings_dialogue", "check_findings", ["dialogue_id"])


def downgrade() -> None:
    op.drop_index("ix_check_findings_dialogue", "check_findings")
    op.drop_index("ix_check_findings_project_kind", "check_findings")
    op.drop_table("check_findings")
    op.drop_index("ix_check_runs_project", "check_runs")
    op.drop_table("check_runs")
