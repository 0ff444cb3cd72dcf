"""SQL of the security features: privacy false-alarm marks, account sessions, the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from curation_app.errors import NotFoundError
from curation_app.store.models import (
    AuditEventRow,
    CheckFindingRow,
    DialogueRow,
    GenerationJobRow,
    JudgeRunRow,
    PrivacyDismissalRow,
    ProjectRoleRow,
    ProjectRow,
    RatingCampaignRow,
    RatingItemRow,
    UserRow,
    utcnow,
)

if TYPE_CHECKING:
    # Only a type here: importing it loads the whole ``checks`` package (numpy, the screens)
    # at every command's start-up.
    from curation_app.checks.findings import Finding


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    session_version: int


@dataclass(frozen=True)
class ProjectRole:
    """A user's role in one project (where it differs from the account's role)."""

    user: str
    project: str
    role: str
    set_by: str
    set_at: datetime


@dataclass(frozen=True)
class AuditEvent:
    id: int
    created_at: datetime
    actor: str | None
    action: str
    target: str | None
    address: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class Dismissal:
    id: int
    project_id: int
    dialogue_id: int
    path: str
    rule: str
    digest: str
    masked: str
    reason: str
    dismissed_by: str
    created_at: datetime

    def key(self) -> tuple[int | None, str, str, str]:
        return (self.dialogue_id, self.path, self.rule, self.digest)


def _dismissal(row: PrivacyDismissalRow) -> Dismissal:
    return Dismissal(id=row.id, project_id=row.project_id, dialogue_id=row.dialogue_id,
                     path=row.path, rule=row.rule, digest=row.digest, masked=row.masked,
                     reason=row.reason, dismissed_by=row.dismissed_by,
                     created_at=row.created_at)


# The things that belong to one project, as services name them when they check a role.
OWNED = ("dialogue", "job", "campaign", "rating_item", "judge_run")


def _project_id_of(kind: str, thing_id: int) -> Any:
    """A scalar subquery: the project id of the thing."""
    campaign = RatingCampaignRow.project_id
    query = {
        "dialogue": select(DialogueRow.project_id).where(DialogueRow.id == thing_id),
        "job": select(GenerationJobRow.project_id).where(GenerationJobRow.id == thing_id),
        "campaign": select(campaign).where(RatingCampaignRow.id == thing_id),
        "rating_item": select(campaign).join(
            RatingItemRow, RatingItemRow.campaign_id == RatingCampaignRow.id).where(
            RatingItemRow.id == thing_id),
        "judge_run": select(campaign).join(
            JudgeRunRow, JudgeRunRow.campaign_id == RatingCampaignRow.id).where(
            JudgeRunRow.id == thing_id),
    }.get(kind)
    if query is None:
        raise ValueError(f"unknown kind of thing {kind!r}; one of {', '.join(OWNED)}")
    return query.scalar_subquery()


def _project_ref(project: str | int | None, of: tuple[str, int] | None) -> Any:
    """A project id, or a scalar subquery that finds it; None when neither is given."""
    if of is not None:
        return _project_id_of(*of)
    if isinstance(project, int):
        return project
    if project is not None:
        return select(ProjectRow.id).where(ProjectRow.name == project).scalar_subquery()
    return None


class SecurityRepository:
    def __init__(self, session: Session):
        self.session = session

    # ---- privacy ---------------------------------------------------------------------------
    def add_dismissal(self, project_id: int, dialogue_id: int, path: str, rule: str,
                      digest: str, masked: str, reason: str, by: str) -> Dismissal:
        existing = self.session.scalar(select(PrivacyDismissalRow).where(
            PrivacyDismissalRow.dialogue_id == dialogue_id, PrivacyDismissalRow.path == path,
            PrivacyDismissalRow.rule == rule, PrivacyDismissalRow.digest == digest))
        if existing is not None:
            return _dismissal(existing)
        row = PrivacyDismissalRow(project_id=project_id, dialogue_id=dialogue_id, path=path,
                                  rule=rule, digest=digest, masked=masked[:200], reason=reason,
                                  dismissed_by=by, created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return _dismissal(row)

    def dismissals(self, project_id: int, dialogue_id: int | None = None) -> list[Dismissal]:
        query = select(PrivacyDismissalRow).where(PrivacyDismissalRow.project_id == project_id)
        if dialogue_id is not None:
            query = query.where(PrivacyDismissalRow.dialogue_id == dialogue_id)
        return [_dismissal(r) for r in self.session.scalars(query.order_by(
            PrivacyDismissalRow.id))]

    def replace_dialogue_findings(self, project_id: int, dialogue_id: int, kind: str,
                                  findings: list[Finding]) -> None:
        """The stored findings of one kind for one dialogue, as a fresh look found them (after
        a redaction or a false-alarm mark), under the run that stored the old ones."""
        run_id = self.session.scalar(
            select(CheckFindingRow.run_id).where(CheckFindingRow.project_id == project_id,
                                                 CheckFindingRow.kind == kind)
            .order_by(CheckFindingRow.run_id.desc()).limit(1))
        self.session.execute(delete(CheckFindingRow).where(
            CheckFindingRow.dialogue_id == dialogue_id, CheckFindingRow.kind == kind)
            .execution_options(synchronize_session=False))
        if run_id is None or not findings:
            return
        self.session.execute(insert(CheckFindingRow), [
            {"run_id": run_id, "project_id": project_id, "dialogue_id": dialogue_id,
             "kind": kind, "rule": f.rule, "severity": f.severity, "turn": f.turn,
             "path": f.path[:300], "message": f.message, "category": f.category,
             "cluster": f.cluster, "score": f.score} for f in findings])

    # ---- accounts ---------------------------------------------------------------------------
    def account(self, name: str) -> Account:
        row = self.session.scalar(select(UserRow).where(UserRow.name == name))
        if row is None:
            raise NotFoundError(f"no user named {name!r}")
        return Account(row.id, row.name, row.role, row.session_version)

    def account_by_id(self, user_id: int) -> Account | None:
        row = self.session.get(UserRow, user_id)
        return None if row is None else Account(row.id, row.name, row.role, row.session_version)

    def bump_session(self, name: str) -> None:
        """End every sign-in of ``name``: tokens and actors of older versions are refused."""
        self.session.execute(update(UserRow).where(UserRow.name == name)
                             .values(session_version=UserRow.session_version + 1))

    def set_role(self, name: str, role: str) -> None:
        self.session.execute(update(UserRow).where(UserRow.name == name).values(role=role))

    def delete_user(self, name: str) -> None:
        # The project roles go first (foreign keys cascade too, but SQLite may hand the id to
        # a re-created account, which must not inherit them).
        user_id = self.session.scalar(select(UserRow.id).where(UserRow.name == name))
        self.session.execute(delete(ProjectRoleRow).where(ProjectRoleRow.user_id == user_id))
        self.session.execute(delete(UserRow).where(UserRow.name == name))

    # ---- roles per project ------------------------------------------------------------------
    def project_role(self, user_id: int, project: str | int | None = None, *,
                     of: tuple[str, int] | None = None) -> str | None:
        """The user's role in ``project`` (its name, or its id), or in the project that a
        thing belongs to (``of``: a kind of :data:`OWNED` and an id), if one is set there;
        None otherwise (no role set there, or no such project or thing)."""
        project_id = _project_ref(project, of)
        if project_id is None:
            return None
        return self.session.scalar(select(ProjectRoleRow.role).where(
            ProjectRoleRow.user_id == user_id, ProjectRoleRow.project_id == project_id))

    def session_state(self, user_id: int, project: str | int | None = None, *,
                      of: tuple[str, int] | None = None) -> tuple[str, str, int, str | None] | None:
        """(name, account role, session version, role in the project) of an account, in one
        query (every service call of a signed-in user asks it); None if there is no such id."""
        project_id = _project_ref(project, of)
        if project_id is None:
            query = select(UserRow.name, UserRow.role, UserRow.session_version,
                           literal(None, String()))
        else:
            query = select(UserRow.name, UserRow.role, UserRow.session_version,
                           ProjectRoleRow.role).outerjoin(
                ProjectRoleRow, (ProjectRoleRow.user_id == UserRow.id)
                & (ProjectRoleRow.project_id == project_id))
        row = self.session.execute(query.where(UserRow.id == user_id)).first()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def set_project_role(self, user_id: int, project_id: int, role: str, by: str) -> None:
        row = self.session.get(ProjectRoleRow, (project_id, user_id))
        if row is None:
            self.session.add(ProjectRoleRow(project_id=project_id, user_id=user_id, role=role,
                                            set_by=by, set_at=utcnow()))
        else:
            row.role, row.set_by, row.set_at = role, by, utcnow()
        self.session.flush()

    def clear_project_role(self, user_id: int, project_id: int) -> str | None:
        """Remove the user's role in the project; the role it had, None if there was none."""
        row = self.session.get(ProjectRoleRow, (project_id, user_id))
        if row is None:
            return None
        old = row.role
        self.session.delete(row)
        self.session.flush()
        return old

    def roles_in(self, project_id: int) -> list[tuple[str, str]]:
        """(user name, role in the project) for every user, by name: the role set for them
        there, else their account's."""
        here = (select(ProjectRoleRow.user_id, ProjectRoleRow.role)
                .where(ProjectRoleRow.project_id == project_id).subquery())
        rows = self.session.execute(
            select(UserRow.name, func.coalesce(here.c.role, UserRow.role))
            .outerjoin(here, here.c.user_id == UserRow.id).order_by(UserRow.name))
        return [(name, role) for name, role in rows]

    def project_roles(self, user: str | None = None) -> list[ProjectRole]:
        """Every role set per project (or one user's), by user name, then project name."""
        query = (select(UserRow.name, ProjectRow.name, ProjectRoleRow.role,
                        ProjectRoleRow.set_by, ProjectRoleRow.set_at)
                 .join(UserRow, UserRow.id == ProjectRoleRow.user_id)
                 .join(ProjectRow, ProjectRow.id == ProjectRoleRow.project_id)
                 .order_by(UserRow.name, ProjectRow.name))
        if user is not None:
            query = query.where(UserRow.name == user)
        return [ProjectRole(*row) for row in self.session.execute(query)]

    # ---- the audit log ----------------------------------------------------------------------
    def audit(self, action: str, actor: str | None, target: str | None = None, *,
              address: str | None = None, detail: dict[str, Any] | None = None,
              at: datetime | None = None) -> None:
        self.session.add(AuditEventRow(created_at=at or utcnow(), actor=actor, action=action,
                                       target=None if target is None else target[:300],
                                       address=None if address is None else address[:100],
                                       detail=detail or {}))

    def count_events(self, action: str, since: datetime, *, target: str | None = None,
                     address: str | None = None) -> int:
        query = select(func.count()).select_from(AuditEventRow).where(
            AuditEventRow.action == action, AuditEventRow.created_at > since)
        if target is not None:
            query = query.where(AuditEventRow.target == target)
        if address is not None:
            query = query.where(AuditEventRow.address == address)
        return int(self.session.scalar(query) or 0)

    def last_event(self, actions: list[str], target: str) -> datetime | None:
        return self.session.scalar(
            select(func.max(AuditEventRow.created_at)).where(
                AuditEventRow.action.in_(actions), AuditEventRow.target == target))

    def events(self, *, actor: str | None = None, action: str | None = None,
               since: datetime | None = None, limit: int = 500) -> list[AuditEvent]:
        query = select(AuditEventRow)
        if actor is not None:
            query = query.where(AuditEventRow.actor == actor)
        if action is not None:
            query = query.where(AuditEventRow.action.startswith(action))
        if since is not None:
            query = query.where(AuditEventRow.created_at >= since)
        rows = self.session.scalars(query.order_by(AuditEventRow.id.desc()).limit(limit))
        return [AuditEvent(r.id, r.created_at, r.actor, r.action, r.target, r.address,
                           dict(r.detail or {})) for r in rows]
