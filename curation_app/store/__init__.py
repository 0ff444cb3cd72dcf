"""Storage: SQLAlchemy models, the repository (all SQL), the unit of work, migrations.

The names below are loaded on first use, so that importing a light submodule such as
:mod:`curation_app.store.location` does not load SQLAlchemy and Alembic (`curation --help`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "data_dir": "curation_app.store.location", "database_url": "curation_app.store.location",
    "make_engine": "curation_app.store.db", "migrate": "curation_app.store.db",
    "session_factory": "curation_app.store.db",
    "ProjectCounts": "curation_app.store.repository",
    "ProjectRecord": "curation_app.store.repository",
    "Repository": "curation_app.store.repository", "UnitOfWork": "curation_app.store.uow",
}

if TYPE_CHECKING:
    from curation_app.store.db import make_engine, migrate, session_factory
    from curation_app.store.location import data_dir, database_url
    from curation_app.store.repository import ProjectCounts, ProjectRecord, Repository
    from curation_app.store.uow import UnitOfWork


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ProjectCounts", "ProjectRecord", "Repository", "UnitOfWork",
    "data_dir", "database_url", "make_engine", "migrate", "session_factory",
]
