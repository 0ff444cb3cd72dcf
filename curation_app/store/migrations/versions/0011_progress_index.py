"""An index for the Progress page's counts at real dataset sizes.

The counts by topic and status leave out overlap copies (``overlap_of IS NULL``); with only
(project, status) or (project, topic) indexed, each count read every dialogue row, turns and
all (about 1 s on a 100k-dialogue SQLite project). With (project, overlap_of, topic, status)
the count is answered from the index alone.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NAME = "ix_dialogues_project_overlap_topic_status"


def upgrade() -> None:
    op.create_index(NAME, "dialogues", ["project_id", "overlap_of", "topic", "status"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="dialogues")
