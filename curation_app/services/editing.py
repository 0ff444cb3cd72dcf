"""Use cases of the editor: read a dialogue, save an edit as a revision, read its history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from curation_app.domain import Dialogue, Revision, Role, Status, Turn
from curation_app.errors import ConfirmationNeededError, InvalidInputError, PermissionDeniedError
from curation_app.services.permissions import Actor, UserRole, check_may_read, require
from curation_app.store import UnitOfWork
from curation_app.textsafety import bad_text_in, label_problem, text_problem

_UNCHANGED = object()
# Statuses in which the dialogue's text may still change, per role.
EDITABLE = {
    UserRole.ANNOTATOR: (Status.DRAFT, Status.IN_PROGRESS, Status.RETURNED),
    UserRole.REVIEWER: (Status.DRAFT, Status.IN_PROGRESS, Status.RETURNED, Status.SUBMITTED),
    UserRole.LEAD: (Status.DRAFT, Status.IN_PROGRESS, Status.RETURNED, Status.SUBMITTED),
}


@dataclass(frozen=True)
class SaveResult:
    dialogue_id: int
    version: int
    revision: int


def get_dialogue(uow: UnitOfWork, actor: Actor, dialogue_id: int) -> Dialogue:
    role = require(actor, "dialogue.read", of=("dialogue", dialogue_id))
    with uow:
        dialogue = uow.repo.get_dialogue(dialogue_id)
        check_may_read(actor, dialogue, project_allows(uow, dialogue), role)
    return dialogue


def project_allows(uow: UnitOfWork, dialogue: Dialogue) -> Callable[[], bool]:
    """Whether the dialogue's project lets annotators read all its dialogues (asked lazily)."""
    return lambda: bool(uow.repo.get_project(dialogue.project or "").settings.get(
        "annotators_read_all"))


def check_may_edit(actor: Actor, dialogue: Dialogue, role: UserRole | None = None) -> None:
    """Annotators edit only their own dialogues; nobody edits approved or discarded ones.
    ``role``: the actor's role in the dialogue's project (default: the account's)."""
    role = role or actor.role
    if dialogue.status not in EDITABLE[role]:
        raise PermissionDeniedError(
            f"dialogue {dialogue.id} is {dialogue.status}; {role}s cannot change it now")
    if role == UserRole.ANNOTATOR and dialogue.assignee != actor.name:
        owner = f"assigned to {dialogue.assignee}" if dialogue.assignee else "not assigned"
        raise PermissionDeniedError(
            f"dialogue {dialogue.id} is {owner}; take it from the queue before editing")


def check_content(turns: Sequence[Turn], fields: dict[str, object]) -> None:
    """Refuse, before anything is written, what either database could not store exactly: text
    with a NUL or a lone surrogate, a label longer than its column, a value of the wrong type.
    Turns are counted from 1, as in the editor."""
    if not isinstance(turns, (list, tuple)):
        raise InvalidInputError(f"turns must be a list, got {type(turns).__name__}")
    for number, turn in enumerate(turns, start=1):
        if not isinstance(turn, Turn):
            raise InvalidInputError(f"turn {number}: expected a turn, got {type(turn).__name__}")
        if turn.role not in tuple(Role):
            raise InvalidInputError(f"turn {number}: role must be one of "
                                    f"{', '.join(r.value for r in Role)}")
        if not isinstance(turn.text, str):
            raise InvalidInputError(f"turn {number}: text must be text, got "
                                    f"{type(turn.text).__name__}")
        problem = text_problem(turn.text)
        if problem:
            raise InvalidInputError(f"turn {number}: text {problem}")
        if not isinstance(turn.strategies, (list, tuple)) or not all(
                isinstance(s, str) for s in turn.strategies):
            raise InvalidInputError(f"turn {number}: strategies must be a list of names")
        for s in turn.strategies:
            problem = text_problem(s)
            if problem:
                raise InvalidInputError(f"turn {number}: a strategy {problem}")
        for parts, problem in bad_text_in(turn.metadata, ("metadata",)):
            raise InvalidInputError(f"turn {number}: {'.'.join(map(str, parts))} {problem}")
    for name, value in fields.items():
        if value is None or value is _UNCHANGED:
            continue
        if not isinstance(value, str):
            raise InvalidInputError(f"{name} must be text, got {type(value).__name__}")
        problem = text_problem(value) or label_problem(name, value)
        if problem:
            raise InvalidInputError(f"{name} {problem}")


def save_revision(uow: UnitOfWork, actor: Actor, dialogue_id: int, expected_version: int,
                  turns: Sequence[Turn], *, topic: object = _UNCHANGED,
                  emotion: object = _UNCHANGED, description: object = _UNCHANGED,
                  note: str | None = None, seconds_spent: int | None = None,
                  confirm_removal: bool = False) -> SaveResult:
    """Save an edit made on ``expected_version``.

    A save that would empty turns that had text, or keep fewer than half of the turns that
    had text, raises ConfirmationNeededError naming them unless ``confirm_removal`` is set: a
    blanked editor must never overwrite a dialogue by accident.

    Raises ConflictError (carrying the attempted content) if someone saved in between; the
    caller keeps its text and can reapply it on the newer version. The first save of a draft
    or returned dialogue moves it to ``in_progress``.
    """
    role = require(actor, "dialogue.edit", of=("dialogue", dialogue_id))
    check_content(turns, {"topic": topic, "emotion": emotion, "description": description,
                          "note": note})
    with uow:
        current = uow.repo.get_dialogue(dialogue_id)
        check_may_edit(actor, current, role)
        if not confirm_removal:
            check_removal(current.turns, turns)
        starts_work = current.status in (Status.DRAFT, Status.RETURNED)
        version, number = uow.repo.save_content(
            dialogue_id, expected_version, list(turns),
            topic=current.topic if topic is _UNCHANGED else topic,  # type: ignore[arg-type]
            emotion=current.emotion if emotion is _UNCHANGED else emotion,  # type: ignore[arg-type]
            description=(current.description if description is _UNCHANGED
                         else description),  # type: ignore[arg-type]
            author=actor.name, note=note, seconds_spent=seconds_spent,
            status=Status.IN_PROGRESS if starts_work else None,
        )
        if starts_work:
            uow.workflow.add_event(dialogue_id, actor.name, "start", str(current.status),
                                   str(Status.IN_PROGRESS))
        uow.commit()
    return SaveResult(dialogue_id, version, number)


def check_removal(stored: Sequence[Turn], new: Sequence[Turn]) -> None:
    """Raise ConfirmationNeededError if ``new`` would throw away text of ``stored``.

    Emptied: a position whose stored turn had text and whose new turn has none. Removed: the
    save keeps fewer than half of the stored turns that had text (deleted or emptied).
    """
    had = [i for i, t in enumerate(stored) if t.text.strip()]
    emptied = [i for i in had if i < len(new) and not new[i].text.strip()]
    kept = sum(1 for t in new if t.text.strip())
    most_gone = len(had) >= 2 and kept * 2 < len(had)
    if not emptied and not most_gone:
        return
    removed = [i for i in had if i >= len(new)] if most_gone else []
    parts = []
    if emptied:
        parts.append("empty turn" + ("s " if len(emptied) > 1 else " ")
                     + ", ".join(str(i + 1) for i in emptied) + " (they had text)")
    if most_gone:
        parts.append(f"keep only {kept} of the {len(had)} turns that had text")
    raise ConfirmationNeededError(
        "this save would " + " and ".join(parts) + "; confirm to save anyway",
        emptied=emptied, removed=removed, kept=kept, total=len(had))


def history(uow: UnitOfWork, actor: Actor, dialogue_id: int) -> list[Revision]:
    role = require(actor, "dialogue.read", of=("dialogue", dialogue_id))
    with uow:
        dialogue = uow.repo.get_dialogue(dialogue_id)
        check_may_read(actor, dialogue, project_allows(uow, dialogue), role)
        return uow.repo.revisions(dialogue_id)
