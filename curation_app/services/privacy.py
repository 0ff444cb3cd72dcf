"""Use cases of the privacy scan: what a dialogue holds, replace it by placeholders (a new
revision, through the editing service), and mark a finding a false alarm (leads; who and why
are kept).

The scan itself runs with the other checks (``curation check``, the Checks page); findings are
errors by default, so a release waits until each is replaced or marked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

from curation_app.checks import CheckConfig, Finding
from curation_app.checks.privacy import Located, PrivacyScreen, redact, scan_dialogue
from curation_app.domain import Dialogue
from curation_app.errors import InvalidInputError, NotFoundError
from curation_app.services import editing
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, require
from curation_app.store.security_repository import Dismissal


@dataclass(frozen=True)
class RedactResult:
    dialogue_id: int
    replaced: int
    version: int | None  # None when nothing needed replacing (no revision was made)
    revision: int | None


def _open_hits(ctx: AppContext, dialogue: Dialogue) -> tuple[list[Located], list[Dismissal]]:
    with ctx.uow() as uow:
        project = uow.repo.get_project(dialogue.project or "")
        dismissed = uow.security.dismissals(project.id, dialogue.id)
    keys = {d.key() for d in dismissed}
    return [h for h in scan_dialogue(dialogue) if h.key(dialogue.id) not in keys], dismissed


def findings_for(ctx: AppContext, actor: Actor, dialogue_id: int) -> list[Finding]:
    """The open privacy findings of one dialogue as it is now (the editor shows them per
    turn)."""
    dialogue = editing.get_dialogue(ctx.uow(), actor, dialogue_id)
    return _findings(ctx, dialogue)


def _findings(ctx: AppContext, dialogue: Dialogue) -> list[Finding]:
    with ctx.uow() as uow:
        project = uow.repo.get_project(dialogue.project or "")
        dismissed = uow.security.dismissals(project.id, dialogue.id)
    config = CheckConfig.resolve(project.vocabulary.checks, project.settings)
    return PrivacyScreen({d.key() for d in dismissed}).check(dialogue, config)


def _refresh_stored(ctx: AppContext, dialogue_id: int) -> None:
    """Bring the Checks page's stored privacy findings of this dialogue up to date."""
    with ctx.uow() as uow:
        dialogue = uow.repo.get_dialogue(dialogue_id)
        project = uow.repo.get_project(dialogue.project or "")
    found = _findings(ctx, dialogue)
    with ctx.uow() as uow:
        uow.security.replace_dialogue_findings(project.id, dialogue_id, "privacy", found)
        uow.commit()


def redact_dialogue(ctx: AppContext, actor: Actor, dialogue_id: int, expected_version: int,
                    *, kinds: Iterable[str] | None = None) -> RedactResult:
    """Replace every open privacy finding (or those of ``kinds``) by its placeholder, saved as
    a new revision by ``actor`` through the editing service: the same permissions, optimistic
    locking (a ConflictError when someone saved meanwhile) and history as a hand edit."""
    dialogue = editing.get_dialogue(ctx.uow(), actor, dialogue_id)
    return _redact_and_save(ctx, actor, dialogue, expected_version, kinds=kinds)


def redact_edit(ctx: AppContext, actor: Actor, dialogue_id: int, expected_version: int,
                edited: Dialogue, *, paths: Collection[str] | None = None,
                note: str | None = None, seconds_spent: int | None = None) -> RedactResult:
    """The editor's one-click replacement: the open privacy findings in ``edited`` (the text
    the editor shows, unsaved edits included), in ``paths`` only when given (``turns[2].text``,
    ``description``), replaced by placeholders, and ``edited`` so changed saved as one revision
    made on ``expected_version``. False alarms a lead marked stay as they are. Raises what
    :func:`editing.save_revision` raises (ConflictError, ConfirmationNeededError …), having
    saved nothing."""
    stored = editing.get_dialogue(ctx.uow(), actor, dialogue_id)
    edited = replace(edited, id=dialogue_id, project=stored.project)
    return _redact_and_save(ctx, actor, edited, expected_version, paths=paths, note=note,
                            seconds_spent=seconds_spent, save_unchanged=True)


def _redact_and_save(ctx: AppContext, actor: Actor, dialogue: Dialogue, expected_version: int,
                     *, kinds: Iterable[str] | None = None,
                     paths: Collection[str] | None = None, note: str | None = None,
                     seconds_spent: int | None = None,
                     save_unchanged: bool = False) -> RedactResult:
    assert dialogue.id is not None
    dialogue_id = dialogue.id
    wanted = set(kinds) if kinds is not None else None
    hits, _ = _open_hits(ctx, dialogue)
    hits = [h for h in hits if (wanted is None or h.hit.kind in wanted)
            and (paths is None or h.path in paths)]
    if not hits:  # nothing saved, not even the editor's other changes
        return RedactResult(dialogue_id, 0, None, None)
    by_path: dict[str, list] = {}
    for located in hits:
        by_path.setdefault(located.path, []).append(located.hit)
    turns = [replace(turn, text=redact(turn.text, by_path.get(f"turns[{i}].text", [])))
             for i, turn in enumerate(dialogue.turns)]
    fields = {name: redact(getattr(dialogue, name), by_path[name])
              for name in ("topic", "description") if name in by_path}
    if save_unchanged:  # the editor's content is saved whole, as it shows it
        fields = {"topic": dialogue.topic, "emotion": dialogue.emotion,
                  "description": dialogue.description, **fields}
    kinds_done = sorted({h.hit.kind for h in hits})
    said = f"privacy: {len(hits)} item(s) replaced by placeholders ({', '.join(kinds_done)})"
    saved = editing.save_revision(
        ctx.uow(), actor, dialogue_id, expected_version, turns, **fields,
        note=f"{said}; {note}" if note else said, seconds_spent=seconds_spent)
    _refresh_stored(ctx, dialogue_id)
    return RedactResult(dialogue_id, len(hits), saved.version, saved.revision)


def dismiss(ctx: AppContext, actor: Actor, dialogue_id: int, path: str, rule: str,
            message: str, reason: str) -> Dismissal:
    """Mark the privacy finding (``path``, ``rule``, ``message``) of a dialogue a false alarm.
    Only leads may; a reason is required. The mark holds the value's digest, so it matches
    that value in that field only: the same text elsewhere is still found."""
    require(actor, "privacy.dismiss", of=("dialogue", dialogue_id))
    reason = reason.strip()
    if not reason:
        raise InvalidInputError("say why this is a false alarm (the reason is recorded)")
    dialogue = editing.get_dialogue(ctx.uow(), actor, dialogue_id)
    hits, _ = _open_hits(ctx, dialogue)
    match = next((h for h in hits if h.path == path and h.rule == rule
                  and h.message() == message), None)
    if match is None:
        raise NotFoundError(f"dialogue {dialogue_id} has no open {rule} finding at {path} "
                            "(it may have been edited, replaced or marked already)")
    with ctx.uow() as uow:
        project = uow.repo.get_project(dialogue.project or "")
        record = uow.security.add_dismissal(project.id, dialogue_id, path, rule,
                                            match.hit.digest, match.hit.masked, reason,
                                            actor.name)
        uow.commit()
    _refresh_stored(ctx, dialogue_id)
    return record


def dismissals(ctx: AppContext, actor: Actor, project: str) -> list[Dismissal]:
    """The project's false-alarm marks, oldest first, with who and why."""
    require(actor, "checks.run", project=project)
    with ctx.uow() as uow:
        return uow.security.dismissals(uow.repo.get_project(project).id)
