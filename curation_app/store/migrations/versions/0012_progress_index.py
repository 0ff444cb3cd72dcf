"""Indexes for the Progress page's counts at real dataset sizes.

The counts by topic and status leave out overlap copies (``overlap_of IS NULL``), and the
project list sums ``turn_count`` per status; with only (project, status) or (project, topic)
indexed, each read every dialogue row, turns and all (about 1 s each on a 100k-dialogue SQLite
project). With (project, overlap_of, topic, status) and (project, status, turn_count) both are
answered from an index alone.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_dialogues_project_overlap_topic_status", ["project_id", "overlap_of", "topic", "status"]),
    ("ix_dialogues_project_status_turns", ["project_id", "status", "turn_count"]),
)


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "dialogues", columns)


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="dialogues")
