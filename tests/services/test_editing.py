"""Revisions and optimistic locking, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.errors import ConflictError, NotFoundError, PermissionDeniedError
from curation_app.services import editing
from curation_app.services.permissions import Actor, UserRole
from curation_app.services.projects import create_project
from tests.conftest import LEAD


def _seed_dialogue(ctx) -> int:
    create_project(ctx.uow(), LEAD, "p", "extes")
    with ctx.uow() as uow:
        project = uow.repo.get_project("p")
        (dialogue_id,) = uow.repo.add_dialogues(project, [Dialogue(
            turns=[Turn(Role.SEEKER, "I can't sleep."),
                   Turn(Role.SUPPORTER, "That sounds exhausting.", ["Empathetic Statements"])],
            topic="Sleep Problems", source=Source.GENERATED,
            assignee="alice",
        )], author="model")
        uow.commit()
    return dialogue_id


ALICE = Actor("alice", UserRole.ANNOTATOR)
BOB = Actor("bob", UserRole.REVIEWER)


def test_save_creates_numbered_revisions_with_author_and_keeps_the_draft(ctx):
    dialogue_id = _seed_dialogue(ctx)
    first = editing.get_dialogue(ctx.uow(), ALICE, dialogue_id)
    turns = list(first.turns)
    turns[1] = Turn(Role.SUPPORTER, "Sleepless nights wear anyone down.", ["Emotional Validation"])
    saved = editing.save_revision(ctx.uow(), ALICE, dialogue_id, first.version, turns,
                                  note="softer wording")
    assert (saved.version, saved.revision) == (1, 1)

    again = editing.save_revision(ctx.uow(), BOB, dialogue_id, saved.version, turns[:1],
                                  description="short")
    assert (again.version, again.revision) == (2, 2)

    history = editing.history(ctx.uow(), ALICE, dialogue_id)
    assert [(r.number, r.author) for r in history] == [(0, "model"), (1, "alice"), (2, "bob")]
    assert history[0].turns[1].text == "That sounds exhausting."
    assert history[1].turns[1].strategies == ["Emotional Validation"]
    assert history[1].note == "softer wording"
    assert history[2].description == "short" and len(history[2].turns) == 1
    current = editing.get_dialogue(ctx.uow(), ALICE, dialogue_id)
    assert current.version == 2 and current.turns == turns[:1] and current.topic == "Sleep Problems"


def test_stale_save_is_refused_and_the_losing_text_is_kept(ctx):
    dialogue_id = _seed_dialogue(ctx)
    # Both annotators open version 0.
    seen_by_alice = editing.get_dialogue(ctx.uow(), ALICE, dialogue_id)
    seen_by_bob = editing.get_dialogue(ctx.uow(), BOB, dialogue_id)

    alice_turns = [*seen_by_alice.turns, Turn(Role.SEEKER, "Alice's new turn")]
    bob_turns = [*seen_by_bob.turns, Turn(Role.SEEKER, "Bob's new turn")]
    editing.save_revision(ctx.uow(), ALICE, dialogue_id, seen_by_alice.version, alice_turns)
    with pytest.raises(ConflictError) as refused:
        editing.save_revision(ctx.uow(), BOB, dialogue_id, seen_by_bob.version, bob_turns)

    conflict = refused.value
    assert conflict.expected_version == 0 and conflict.current_version == 1
    assert conflict.attempted["turns"][-1]["text"] == "Bob's new turn"
    assert "changed by someone else" in str(conflict)
    current = editing.get_dialogue(ctx.uow(), BOB, dialogue_id)
    assert current.turns[-1].text == "Alice's new turn"
    assert [r.author for r in editing.history(ctx.uow(), BOB, dialogue_id)] == ["model", "alice"]

    # Bob reapplies on the new version and succeeds.
    reapplied = editing.save_revision(ctx.uow(), BOB, dialogue_id, current.version, bob_turns)
    assert reapplied.revision == 2


def test_two_sessions_saving_at_once_give_one_edit_and_one_conflict(ctx):
    dialogue_id = _seed_dialogue(ctx)
    base = editing.get_dialogue(ctx.uow(), ALICE, dialogue_id)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def edit(actor: Actor) -> None:
        turns = [*base.turns, Turn(Role.SEEKER, f"{actor.name} was here")]
        barrier.wait()
        try:
            outcomes[actor.name] = editing.save_revision(ctx.uow(), actor, dialogue_id,
                                                         base.version, turns)
        except ConflictError as exc:
            outcomes[actor.name] = exc

    threads = [threading.Thread(target=edit, args=(a,)) for a in (ALICE, BOB)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    conflicts = [o for o in outcomes.values() if isinstance(o, ConflictError)]
    saves = [o for o in outcomes.values() if not isinstance(o, ConflictError)]
    assert len(conflicts) == 1 and len(saves) == 1
    history = editing.history(ctx.uow(), ALICE, dialogue_id)
    assert len(history) == 2
    winner = history[1].author
    assert history[1].turns[-1].text == f"{winner} was here"
    loser_text = conflicts[0].attempted["turns"][-1]["text"]
    assert loser_text != history[1].turns[-1].text and loser_text.endswith("was here")


def test_saving_a_missing_dialogue_is_not_found(ctx):
    _seed_dialogue(ctx)
    with pytest.raises(NotFoundError):
        editing.save_revision(ctx.uow(), ALICE, 999_999, 0, [])


def test_a_role_outside_the_action_is_refused_by_the_service(ctx):
    with pytest.raises(PermissionDeniedError, match="may not project create"):
        create_project(ctx.uow(), ALICE, "not-allowed", "extes")


def test_annotators_edit_only_their_own_dialogues_and_not_after_submission(ctx):
    dialogue_id = _seed_dialogue(ctx)
    carol = Actor("carol", UserRole.ANNOTATOR)
    with pytest.raises(PermissionDeniedError, match="assigned to alice"):
        editing.save_revision(ctx.uow(), carol, dialogue_id, 0, [])
    first = editing.save_revision(ctx.uow(), ALICE, dialogue_id, 0,
                                  [Turn(Role.SEEKER, "edited")], seconds_spent=42)
    assert editing.get_dialogue(ctx.uow(), ALICE, dialogue_id).status == "in_progress"
    assert editing.history(ctx.uow(), ALICE, dialogue_id)[-1].seconds_spent == 42
    with ctx.uow() as uow:
        uow.repo.set_status(dialogue_id, Status.SUBMITTED)
        uow.commit()
    with pytest.raises(PermissionDeniedError, match="is submitted"):
        editing.save_revision(ctx.uow(), ALICE, dialogue_id, first.version + 1, [])
    # a reviewer may still correct a submitted dialogue
    editing.save_revision(ctx.uow(), BOB, dialogue_id, first.version + 1,
                          [Turn(Role.SEEKER, "fixed by reviewer")])
