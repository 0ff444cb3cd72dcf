"""Who may do what. Services call :func:`require`; the UI only mirrors these rules.

An :class:`Actor` made by a sign-in (:mod:`curation_app.services.users`) is *bound*: it carries
the account's id and session version and where the account lives. For a bound actor,
:func:`require` reads the account again on every call and refuses unless it still exists under
that id, with that role and that session version (bumped on sign-out, password change, role
change; a deleted and re-created name has a new id). So a copied cookie, a session kept open
across a demotion, or an old actor object held by any service is refused, and the role checked
is always the current one. Unbound actors (the CLI, whose user has shell access to the data
anyway, and setup) are taken as given.

Roles per project: a user has an account-wide role, which holds in every project unless a lead
set another role for them in one project (a lead of one project may annotate another). Actions
about a project are checked with the role the user has *in that project*: services pass it as
``require(actor, action, project=...)``, and :func:`require` returns that role for the rules
that follow (what an annotator may open or edit). The actions in :data:`ACCOUNT_WIDE` (accounts,
backups, the audit log, creating projects) are not about one project and always use the
account's role. Setting or clearing a project role bumps the user's session version, like an
account role change, so an actor made before it is refused.
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

# Actions not about one project: checked with the account's role, never a project's.
ACCOUNT_WIDE = frozenset({"project.create", "user.manage", "backup.run", "backup.restore",
                          "audit.read"})

# A project named (str) or by id (int).
ProjectRef = str | int


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


def current_state(actor: Actor, project: ProjectRef | None = None,
                  of: tuple[str, int] | None = None) -> tuple[str, int, str | None] | None:
    """(account role, session version, role in ``project``, or in the project of the thing
    ``of`` names, if one is set there) of a bound actor's account as stored now; None if the
    account is gone."""
    factory = _SOURCES.get(actor.source or "")
    if factory is None:
        return None
    # Imported here: the CLI imports this module at start-up, and `curation --help` must not
    # pay for SQLAlchemy (a bound actor only exists once a database is open anyway).
    from sqlalchemy.exc import SQLAlchemyError

    from curation_app.store.security_repository import SecurityRepository

    try:
        with factory() as session:
            found = SecurityRepository(session).session_state(actor.user_id or 0, project,
                                                              of=of)
            if found is None or found[0] != actor.name:
                return None
            return found[1], found[2], found[3]
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot check who is signed in: the database refused: "
                           f"{getattr(exc, 'orig', exc)}") from exc


def role_in(actor: Actor, project: ProjectRef | None = None, *,
            of: tuple[str, int] | None = None) -> UserRole:
    """The role the actor acts with in ``project``, or in the project of the thing ``of``
    names (("dialogue", 7); the kinds are ``security_repository.OWNED``); with neither, the
    account's role. Bound actors: the project's role if one is set, else the account's current
    role; a stale actor (deleted, signed out, role or session changed) is refused. Unbound
    actors: the role they carry."""
    if actor.source is None:
        return actor.role
    found = current_state(actor, project, of)
    if found is None or found[:2] != (str(actor.role), actor.session_version):
        raise AuthenticationError(STALE)
    return UserRole(found[2]) if found[2] else actor.role


def check_current(actor: Actor) -> None:
    """Refuse a bound actor whose account was deleted, or whose role or session changed."""
    role_in(actor)


def require(actor: Actor, action: str, project: ProjectRef | None = None, *,
            of: tuple[str, int] | None = None) -> UserRole:
    """Refuse unless the actor may do ``action``; returns the role it was checked with.

    Pass ``project`` (or, for an action on one thing of a project, ``of``: ("dialogue", 7),
    ("job", 3), ("campaign", 2), ("rating_item", 9), ("judge_run", 1)) for every action about a
    project: the actor's role there is the one checked, and returned. Actions in
    :data:`ACCOUNT_WIDE` ignore both. The thing's project is found in the same read as the
    account, so a service checks before it opens its own unit of work.
    """
    allowed = ALLOWED[action]
    scoped = action not in ACCOUNT_WIDE
    role = role_in(actor, project if scoped else None, of=of if scoped else None)
    if role not in allowed:
        roles = ", ".join(sorted(allowed))
        where = ""  # said only where a project's role, not the account's, refused
        if role != actor.role:
            where = (f" in {project}" if isinstance(project, str) else
                     f" in the project of {of[0].replace('_', ' ')} {of[1]}" if of else
                     " in this project")
        raise PermissionDeniedError(
            f"{actor.name} ({role}{where}) may not "
            f"{action.replace('.', ' ').replace('_', ' ')}; it needs one of: {roles}"
        )
    return role


def check_may_read(actor: Actor, dialogue: Any,
                   project_allows: Callable[[], bool] | None = None,
                   role: UserRole | None = None) -> None:
    """Annotators read the dialogues assigned to them and the unassigned drafts of the queue,
    or every dialogue where the project allows it (``project_allows``, asked only when it
    matters); reviewers and leads read everything. ``dialogue`` is a domain Dialogue; ``role``
    is the actor's role in its project (what :func:`require` returned), else the account's."""
    if (role or actor.role) != UserRole.ANNOTATOR or dialogue.assignee == actor.name:
        return
    if project_allows is not None and project_allows():
        return
    if dialogue.assignee is None and str(dialogue.status) == "draft":
        return
    raise PermissionDeniedError(
        f"dialogue {dialogue.id} is not assigned to you; annotators open their own dialogues "
        "and unassigned drafts only")
