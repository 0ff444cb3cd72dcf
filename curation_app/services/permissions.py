"""Who may do what. Services call :func:`require`; the UI only mirrors these rules.

An :class:`Actor` made by a sign-in (:mod:`curation_app.services.users`) is *bound*: it carries
the account's id and session version and where the account lives. For a bound actor,
:func:`require` reads the account again on every call and refuses unless it still exists under
that id, with that role and that session version (bumped on sign-out, password change, role
change; a deleted and re-created name has a new id). So a copied cookie, a session kept open
across a demotion, or an old actor object held by any service is refused, and the role checked
is always the current one. Unbound actors (the CLI, whose user has shell access to the data
anyway, and setup) are taken as given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from curation_app.errors import AuthenticationError, PermissionDeniedError, StorageError


class UserRole(StrEnum):
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    LEAD = "lead"


# Each action lists the roles allowed to perform it.
ALLOWED: dict[str, frozenset[UserRole]] = {
    "project.create": frozenset({UserRole.LEAD}),
    "project.edit_vocabulary": frozenset({UserRole.LEAD}),
    "dialogue.import": frozenset({UserRole.LEAD}),
    "dialogue.export": frozenset({UserRole.LEAD, UserRole.REVIEWER}),
    "dialogue.read": frozenset(UserRole),
    "dialogue.edit": frozenset(UserRole),
    "user.manage": frozenset({UserRole.LEAD}),
    "generation.run": frozenset({UserRole.LEAD}),
    "workflow.take": frozenset(UserRole),
    "workflow.submit": frozenset(UserRole),
    "workflow.assign": frozenset({UserRole.LEAD}),
    "workflow.review": frozenset({UserRole.REVIEWER, UserRole.LEAD}),
    "progress.read": frozenset(UserRole),
    "generation.single": frozenset(UserRole),
    "checks.run": frozenset({UserRole.LEAD}),
    "checks.configure": frozenset({UserRole.LEAD}),
    # Quality evaluation: leads run campaigns and judges; anyone assigned rates; reviewers also
    # read the figures and adjudicate overlap copies.
    "quality.manage": frozenset({UserRole.LEAD}),
    "quality.rate": frozenset(UserRole),
    "quality.read": frozenset({UserRole.REVIEWER, UserRole.LEAD}),
    "quality.adjudicate": frozenset({UserRole.REVIEWER, UserRole.LEAD}),
    "release.build": frozenset({UserRole.LEAD}),
    "stats.read": frozenset({UserRole.LEAD}),
    "privacy.dismiss": frozenset({UserRole.LEAD}),
    "backup.run": frozenset({UserRole.LEAD}),
    "backup.restore": frozenset({UserRole.LEAD}),
    "audit.read": frozenset({UserRole.LEAD}),
}


@dataclass(frozen=True)
class Actor:
    """The user on whose behalf a service runs."""

    name: str
    role: UserRole
    # Bound actors (see the module's docstring): account id, session version, and the key of
    # the database they were read from (a plain string, so the actor stays hashable and
    # picklable for the UI's caches).
    user_id: int | None = None
    session_version: int | None = None
    source: str | None = None


# source key -> a factory of database sessions; filled by bind_source.
_SOURCES: dict[str, Callable[[], Any]] = {}


def bind_source(factory: Callable[[], Any]) -> str:
    """The key under which bound actors find their database again."""
    key = f"db{id(factory):x}"
    _SOURCES[key] = factory
    return key


STALE = ("your sign-in is no longer valid (signed out elsewhere, password or role changed, or "
         "the account was removed); sign in again")


def current_state(actor: Actor) -> tuple[str, int] | None:
    """(role, session version) of a bound actor's account as stored now; None if gone."""
    factory = _SOURCES.get(actor.source or "")
    if factory is None:
        return None
    # Imported here: the CLI imports this module at start-up, and `curation --help` must not
    # pay for SQLAlchemy (a bound actor only exists once a database is open anyway).
    from sqlalchemy.exc import SQLAlchemyError

    from curation_app.store.models import UserRow

    try:
        with factory() as session:
            row = session.get(UserRow, actor.user_id)
            if row is None or row.name != actor.name:
                return None
            return row.role, row.session_version
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot check who is signed in: the database refused: "
                           f"{getattr(exc, 'orig', exc)}") from exc


def check_current(actor: Actor) -> None:
    """Refuse a bound actor whose account was deleted, or whose role or session changed."""
    if actor.source is None:
        return
    found = current_state(actor)
    if found is None or found != (str(actor.role), actor.session_version):
        raise AuthenticationError(STALE)


def require(actor: Actor, action: str) -> None:
    check_current(actor)
    allowed = ALLOWED[action]
    if actor.role not in allowed:
        roles = ", ".join(sorted(allowed))
        raise PermissionDeniedError(
            f"{actor.name} ({actor.role}) may not {action.replace('.', ' ').replace('_', ' ')}; "
            f"it needs one of: {roles}"
        )


def check_may_read(actor: Actor, dialogue: Any,
                   project_allows: Callable[[], bool] | None = None) -> None:
    """Annotators read the dialogues assigned to them and the unassigned drafts of the queue,
    or every dialogue where the project allows it (``project_allows``, asked only when it
    matters); reviewers and leads read everything. ``dialogue`` is a domain Dialogue."""
    if actor.role != UserRole.ANNOTATOR or dialogue.assignee == actor.name:
        return
    if project_allows is not None and project_allows():
        return
    if dialogue.assignee is None and str(dialogue.status) == "draft":
        return
    raise PermissionDeniedError(
        f"dialogue {dialogue.id} is not assigned to you; annotators open their own dialogues "
        "and unassigned drafts only")
