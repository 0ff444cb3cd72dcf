"""The quality tables as migrated (0005) match the models, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from curation_app.store.models import Base

TABLES = {"rating_campaigns", "rating_items", "rating_assignments", "ratings", "judge_runs",
          "judge_items"}


def _table_of(diff) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return table.name
        if name in TABLES:
            return name
    if isinstance(item, tuple) and len(item) > 2 and isinstance(item[2], str):
        return item[2]
    return None


def test_the_migration_creates_what_the_models_describe(db_url: str):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    ours = [d for d in diffs if _table_of(d) in TABLES]
    assert ours == []
    with create_engine(db_url).connect() as conn:
        names = set(MigrationContext.configure(conn).impl.dialect.get_table_names(conn))
    assert names >= TABLES
