"""The Progress page's counts are answered from indexes, not by reading every dialogue row
(each row holds its turns: at 100k dialogues a scan of the table took about a second)."""

from __future__ import annotations

from sqlalchemy import text

from curation_app.services.context import AppContext
from curation_app.services.projects import create_project
from curation_app.services.setup import SYSTEM_ACTOR
from curation_app.store import migrate


def _plan(ctx: AppContext, sql: str) -> str:
    with ctx.engine.connect() as conn:
        return " ".join(str(row[-1]) for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))


def test_progress_counts_read_indexes_only(sqlite_url):
    ctx = AppContext.from_url(sqlite_url)
    try:
        migrate(ctx.engine)
        create_project(ctx.uow(), SYSTEM_ACTOR, "p", "extes")
        # what status_counts(by="topic") and project_counts() send
        by_topic = _plan(ctx, "SELECT topic, status, count(*) FROM dialogues WHERE project_id = 1"
                              " AND overlap_of IS NULL GROUP BY topic, status")
        per_project = _plan(ctx, "SELECT project_id, status, count(*), "
                                 "coalesce(sum(turn_count), 0) FROM dialogues "
                                 "GROUP BY project_id, status")
    finally:
        ctx.close()
    assert "COVERING INDEX ix_dialogues_project_overlap_topic_status" in by_topic
    assert "COVERING INDEX ix_dialogues_project_status_turns" in per_project
