"""Indexes for the pages' paged and filtered reads at real dataset sizes.

A person's open work (project, assignee, status), the Checks page's filters (project with
severity or rule) and the duplicate clusters (project, kind, cluster).

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-03
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_dialogues_project_assignee_status", "dialogues", ["project_id", "assignee", "status"]),
    ("ix_check_findings_project_severity", "check_findings", ["project_id", "severity"]),
    ("ix_check_findings_project_rule", "check_findings", ["project_id", "rule"]),
    ("ix_check_findings_project_kind_cluster", "check_findings",
     ["project_id", "kind", "cluster"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
