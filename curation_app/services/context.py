"""The handle that the CLI and the UI hold: an engine and a way to open units of work."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from curation_app.store import UnitOfWork, database_url, make_engine, session_factory


@dataclass
class AppContext:
    engine: Engine
    factory: sessionmaker[Session]

    @classmethod
    def from_url(cls, url: str | None = None) -> AppContext:
        engine = make_engine(url or database_url())
        return cls(engine=engine, factory=session_factory(engine))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.factory)

    def close(self) -> None:
        self.engine.dispose()
