"""Use cases of the editor: read a dialogue, save an edit as a revision, read its history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from curation_app.domain import Dialogue, Revision, Turn
from curation_app.services.permissions import Actor, require
from curation_app.store import UnitOfWork

_UNCHANGED = object()


@dataclass(frozen=True)
class SaveResult:
    dialogue_id: int
    version: int
    revision: int


def get_dialogue(uow: UnitOfWork, actor: Actor, dialogue_id: int) -> Dialogue:
    require(actor, "dialogue.read")
    with uow:
        return uow.repo.get_dialogue(dialogue_id)


def save_revision(uow: UnitOfWork, actor: Actor, dialogue_id: int, expected_version: int,
                  turns: Sequence[Turn], *, topic: object = _UNCHANGED,
                  emotion: object = _UNCHANGED, description: object = _UNCHANGED,
                  note: str | None = None) -> SaveResult:
    """Save an edit made on ``expected_version``.

    Raises ConflictError (carrying the attempted content) if someone saved in between; the
    caller keeps its text and can reapply it on the newer version.
    """
    require(actor, "dialogue.edit")
    with uow:
        current = uow.repo.get_dialogue(dialogue_id)
        version, number = uow.repo.save_content(
            dialogue_id, expected_version, list(turns),
            topic=current.topic if topic is _UNCHANGED else topic,  # type: ignore[arg-type]
            emotion=current.emotion if emotion is _UNCHANGED else emotion,  # type: ignore[arg-type]
            description=(current.description if description is _UNCHANGED
                         else description),  # type: ignore[arg-type]
            author=actor.name, note=note,
        )
        uow.commit()
    return SaveResult(dialogue_id, version, number)


def history(uow: UnitOfWork, actor: Actor, dialogue_id: int) -> list[Revision]:
    require(actor, "dialogue.read")
    with uow:
        uow.repo.get_dialogue(dialogue_id)
        return uow.repo.revisions(dialogue_id)
