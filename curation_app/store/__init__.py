"""Storage: SQLAlchemy models, the repository (all SQL), the unit of work, migrations."""

from curation_app.store.db import data_dir, database_url, make_engine, migrate, session_factory
from curation_app.store.repository import ProjectCounts, ProjectRecord, Repository
from curation_app.store.uow import UnitOfWork

__all__ = [
    "ProjectCounts", "ProjectRecord", "Repository", "UnitOfWork",
    "data_dir", "database_url", "make_engine", "migrate", "session_factory",
]
