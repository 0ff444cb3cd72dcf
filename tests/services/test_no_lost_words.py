"""The services' guards against losing text: a save that would blank a dialogue needs a
confirmation; submit and approve refuse error-level findings (empty turns included), naming
them; annotation work goes to annotators and leads only. On both databases."""

from __future__ import annotations

import pytest

from curation_app.domain import Dialogue, Role, Status, Turn
from curation_app.errors import (
    BlockingFindingsError,
    ConfirmationNeededError,
    InvalidInputError,
)
from curation_app.services import editing, users, workflow
from curation_app.services.permissions import Actor, UserRole
from curation_app.services.projects import create_project
from tests.conftest import LEAD

ANN = Actor("ann", UserRole.ANNOTATOR)
REV = Actor("rita", UserRole.REVIEWER)
TEXTS = ["I lost my job today.", "That sounds really hard.", "I don't know what to do.",
         "Let's look at it together."]


@pytest.fixture
def mine(ctx) -> Dialogue:
    create_project(ctx.uow(), LEAD, "p", "extes")
    for actor in (ANN, REV):
        users.add_user(ctx, LEAD, actor.name, actor.role, "correct horse")
    with ctx.uow() as uow:
        record = uow.repo.get_project("p")
        uow.repo.add_dialogues(record, [Dialogue(
            turns=[Turn(Role.SEEKER if i % 2 == 0 else Role.SUPPORTER, text,
                        [] if i % 2 == 0 else ["Empathetic Statements"])
                   for i, text in enumerate(TEXTS)],
            topic="Job Loss or Career Setbacks")], author="model")
        uow.commit()
    taken = workflow.take_next(ctx, ANN, "p")
    assert taken is not None
    return taken


def blank(turns: list[Turn], *indexes: int) -> list[Turn]:
    return [Turn(t.role, "" if i in indexes else t.text, t.strategies)
            for i, t in enumerate(turns)]


def test_a_save_that_empties_turns_that_had_text_needs_confirmation(ctx, mine):
    with pytest.raises(ConfirmationNeededError, match=r"empty turns 2, 4 \(they had text\)") \
            as refused:
        editing.save_revision(ctx.uow(), ANN, mine.id, mine.version, blank(mine.turns, 1, 3))
    assert refused.value.emptied == [1, 3]
    # Nothing was stored.
    assert editing.get_dialogue(ctx.uow(), ANN, mine.id).turns == mine.turns
    saved = editing.save_revision(ctx.uow(), ANN, mine.id, mine.version,
                                  blank(mine.turns, 1, 3), confirm_removal=True)
    assert saved.revision == 1


def test_a_save_that_removes_most_of_a_dialogue_needs_confirmation(ctx, mine):
    with pytest.raises(ConfirmationNeededError,
                       match="keep only 1 of the 4 turns that had text") as refused:
        editing.save_revision(ctx.uow(), ANN, mine.id, mine.version, mine.turns[:1])
    assert refused.value.removed == [1, 2, 3] and refused.value.kept == 1
    # Deleting one turn of four is ordinary editing.
    editing.save_revision(ctx.uow(), ANN, mine.id, mine.version, mine.turns[:3])


def test_submit_and_approve_refuse_error_level_findings_naming_them(ctx, mine):
    editing.save_revision(ctx.uow(), ANN, mine.id, mine.version, blank(mine.turns, 2),
                          confirm_removal=True)
    with pytest.raises(BlockingFindingsError,
                       match=r"cannot be submitted: 1 error-level finding: "
                             r"lint.empty_turn \(turn 3\): is empty") as refused:
        workflow.submit(ctx, ANN, mine.id)
    assert [f.rule for f in refused.value.findings] == ["lint.empty_turn"]
    assert editing.get_dialogue(ctx.uow(), ANN, mine.id).status == Status.IN_PROGRESS

    # A dialogue that got into review another way (a lead's edit) is refused at approval too.
    current = editing.get_dialogue(ctx.uow(), ANN, mine.id)
    fixed = editing.save_revision(ctx.uow(), ANN, mine.id, current.version, mine.turns)
    workflow.submit(ctx, ANN, mine.id)
    editing.save_revision(ctx.uow(), LEAD, mine.id, fixed.version + 1, blank(mine.turns, 0),
                          confirm_removal=True)
    with pytest.raises(BlockingFindingsError, match=r"cannot be approved.*turn 1"):
        workflow.approve(ctx, REV, mine.id)
    assert editing.get_dialogue(ctx.uow(), REV, mine.id).status == Status.SUBMITTED


def test_annotation_work_goes_to_annotators_and_leads_only(ctx, mine):
    with pytest.raises(InvalidInputError, match="rita is a reviewer"):
        workflow.assign(ctx, LEAD, "p", annotators=["rita"], dialogue_ids=[mine.id])
    users.add_user(ctx, LEAD, "lea", "lead", "correct horse")
    assert workflow.assign(ctx, LEAD, "p", annotators=["lea"],
                           dialogue_ids=[mine.id]) == [(mine.id, "lea")]
