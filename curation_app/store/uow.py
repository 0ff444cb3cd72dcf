"""Unit of work: one transaction, committed explicitly, rolled back otherwise."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from curation_app.errors import StorageError
from curation_app.store.checks_repository import CheckRepository
from curation_app.store.db import file_problem, redact
from curation_app.store.jobs import JobRepository
from curation_app.store.quality_repository import QualityRepository
from curation_app.store.queue import QueueRepository
from curation_app.store.repository import Repository
from curation_app.store.security_repository import SecurityRepository
from curation_app.store.workflow import WorkflowRepository


class UnitOfWork:
    """``with UnitOfWork(factory) as uow: ...; uow.commit()`` — forgetting commit rolls back."""

    repo: Repository
    jobs: JobRepository
    checks: CheckRepository
    workflow: WorkflowRepository
    queue: QueueRepository
    quality: QualityRepository
    security: SecurityRepository

    def __init__(self, factory: sessionmaker[Session]):
        self._factory = factory
        self._session: Session | None = None
        self._committing = False

    def __enter__(self) -> UnitOfWork:
        self._session = self._factory()
        self._committing = False
        self.repo = Repository(self._session)
        self.jobs = JobRepository(self._session, self.repo)
        self.checks = CheckRepository(self._session)
        self.workflow = WorkflowRepository(self._session)
        self.queue = QueueRepository(self._session)
        self.quality = QualityRepository(self._session)
        self.security = SecurityRepository(self._session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._session is not None
        try:
            self._session.rollback()
        except DBAPIError:
            if exc is None:
                raise
            # the connection is gone (a server restarted under us): the pool drops it, and
            # the error being raised says what happened
        finally:
            self._session.close()
            self._session = None
        # Database errors leave this boundary as our own error with a readable message.
        if isinstance(exc, OperationalError):
            where = redact(str(self._factory.kw["bind"].url))
            reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else exc
            if self._committing:
                raise StorageError(
                    f"the connection to the database {where} was lost while saving ({reason}); "
                    "this change may not have been saved (your text is kept): reload to see "
                    "what the database holds, then save again") from exc
            if exc.connection_invalidated or "connect" in str(exc.orig).lower():
                raise StorageError(
                    f"cannot reach the database {where} ({reason}); nothing was saved by this "
                    "action, so this change was NOT saved (your text is kept). Try again when "
                    "the database is back") from exc
            raise StorageError(f"the database {where} refused: {reason}") from exc
        if isinstance(exc, DBAPIError):
            raise StorageError(f"database error: {exc.orig}") from exc

    def commit(self) -> None:
        """Commit, and make sure the commit reached the database file the app is configured
        with: on SQLite, a file deleted or replaced under the running app would otherwise
        take saves that vanish at the next restart. Checked before (nothing is written) and
        after (the write went to a file that is no longer there): either way the caller gets
        a StorageError instead of an acknowledgement, and keeps its text."""
        assert self._session is not None
        info = self._session.connection().connection.info
        problem = file_problem(info)
        if problem is None:
            try:
                self._session.commit()
            except DBAPIError:
                self._committing = True  # failed in the commit itself: the outcome is unknown
                raise
            problem = file_problem(info)
        if problem is not None:
            self._session.rollback()
            raise StorageError(f"{problem}; this change was NOT saved (your text is kept). "
                               "Put the database file back or restore a backup, then restart "
                               "the app")
