"""Who may do what. Services call :func:`require`; the UI only mirrors these rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from curation_app.errors import PermissionDeniedError


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
    "privacy.dismiss": frozenset({UserRole.LEAD}),
}


@dataclass(frozen=True)
class Actor:
    """The user on whose behalf a service runs."""

    name: str
    role: UserRole


def require(actor: Actor, action: str) -> None:
    allowed = ALLOWED[action]
    if actor.role not in allowed:
        roles = ", ".join(sorted(allowed))
        raise PermissionDeniedError(
            f"{actor.name} ({actor.role}) may not {action.replace('.', ' ').replace('_', ' ')}; "
            f"it needs one of: {roles}"
        )
