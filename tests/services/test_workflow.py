"""The review workflow on both databases: queues, assignment with overlap, review decisions."""

from __future__ import annotations

import pytest

from curation_app.domain import Dialogue, Role, Status, Turn
from curation_app.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
)
from curation_app.services import editing, users, workflow
from curation_app.services.permissions import Actor, UserRole
from curation_app.services.projects import create_project
from tests.conftest import LEAD

ANN = Actor("ann", UserRole.ANNOTATOR)
BEN = Actor("ben", UserRole.ANNOTATOR)
REV = Actor("rita", UserRole.REVIEWER)


@pytest.fixture
def project(ctx):
    create_project(ctx.uow(), LEAD, "p", "extes")
    for actor in (ANN, BEN, REV):
        users.add_user(ctx, LEAD, actor.name, actor.role, "correct horse")
    with ctx.uow() as uow:
        record = uow.repo.get_project("p")
        uow.repo.add_dialogues(record, [
            Dialogue(turns=[Turn(Role.SEEKER, f"problem {i}"),
                            Turn(Role.SUPPORTER, f"answer {i}", ["Others"])],
                     topic="Work-related Stress and Burnout")
            for i in range(4)
        ], author="model")
        uow.commit()
    return "p"


def test_take_next_hands_out_each_draft_once(ctx, project):
    first = workflow.take_next(ctx, ANN, project)
    second = workflow.take_next(ctx, BEN, project)
    assert first.assignee == "ann" and second.assignee == "ben" and first.id != second.id
    assert [d.id for d in workflow.my_queue(ctx, ANN)] == [first.id]
    workflow.take_next(ctx, ANN, project)
    workflow.take_next(ctx, ANN, project)
    assert workflow.take_next(ctx, BEN, project) is None


def test_the_full_loop_submit_return_resubmit_approve_with_events(ctx, project):
    mine = workflow.take_next(ctx, ANN, project)
    turns = [mine.turns[0], Turn(Role.SUPPORTER, "That sounds hard.", ["Empathetic Statements"])]
    saved = editing.save_revision(ctx.uow(), ANN, mine.id, mine.version, turns)
    workflow.submit(ctx, ANN, mine.id)
    assert [d.id for d in workflow.review_queue(ctx, REV, project)] == [mine.id]

    with pytest.raises(InvalidInputError, match="needs a comment"):
        workflow.return_(ctx, REV, mine.id, "  ")
    workflow.return_(ctx, REV, mine.id, "Add a question before the advice.")
    assert [d.id for d in workflow.my_queue(ctx, ANN)] == [mine.id]  # back with the annotator

    again = editing.get_dialogue(ctx.uow(), ANN, mine.id)
    editing.save_revision(ctx.uow(), ANN, mine.id, again.version,
                          [*turns, Turn(Role.SEEKER, "Thanks.")])
    workflow.submit(ctx, ANN, mine.id, "added the question")
    workflow.approve(ctx, REV, mine.id)

    final = editing.get_dialogue(ctx.uow(), REV, mine.id)
    assert final.status == Status.APPROVED and saved.revision == 1
    steps = [(e.actor, e.action, e.from_status, e.to_status)
             for e in workflow.events(ctx, REV, mine.id)]
    assert steps == [
        ("ann", "take", None, None),
        ("ann", "start", "draft", "in_progress"),
        ("ann", "submit", "in_progress", "submitted"),
        ("rita", "return", "submitted", "returned"),
        ("ann", "start", "returned", "in_progress"),
        ("ann", "submit", "in_progress", "submitted"),
        ("rita", "approve", "submitted", "approved"),
    ]
    assert workflow.events(ctx, REV, mine.id)[3].comment == "Add a question before the advice."
    with pytest.raises(PermissionDeniedError, match="approved"):
        editing.save_revision(ctx.uow(), LEAD, mine.id, final.version, [])


def test_decisions_need_the_right_role_and_status(ctx, project):
    mine = workflow.take_next(ctx, ANN, project)
    with pytest.raises(PermissionDeniedError):
        workflow.approve(ctx, ANN, mine.id)
    with pytest.raises(ConflictError, match="approve needs it to be submitted"):
        workflow.approve(ctx, REV, mine.id)
    with pytest.raises(PermissionDeniedError, match="not assigned to you"):
        workflow.submit(ctx, BEN, mine.id)
    with pytest.raises(InvalidInputError, match="needs a reason"):
        workflow.discard(ctx, REV, mine.id, "")
    workflow.discard(ctx, REV, mine.id, "the model wrote a poem instead")
    assert editing.get_dialogue(ctx.uow(), REV, mine.id).status == Status.DISCARDED
    with pytest.raises(PermissionDeniedError, match="annotators see their own"):
        workflow.list_dialogues(ctx, ANN, project)


def test_assign_with_overlap_gives_independent_copies(ctx, project):
    pairs = workflow.assign(ctx, LEAD, project, annotators=["ann", "ben"], count=2, overlap=2)
    assert len(pairs) == 4
    originals = [d for d, _ in pairs[::2]]
    copies = [d for d, _ in pairs[1::2]]
    for original, copy in zip(originals, copies, strict=True):
        o = editing.get_dialogue(ctx.uow(), LEAD, original)
        c = editing.get_dialogue(ctx.uow(), LEAD, copy)
        assert c.overlap_of == o.id and c.turns == o.turns and {o.assignee, c.assignee} == {
            "ann", "ben"}
    with pytest.raises(InvalidInputError, match="overlap must be between"):
        workflow.assign(ctx, LEAD, project, annotators=["ann"], count=1, overlap=2)
    with pytest.raises(PermissionDeniedError):
        workflow.assign(ctx, ANN, project, annotators=["ann"], count=1)


def test_progress_counts_status_topics_annotators_and_edits(ctx, project):
    from curation_app.services.generation import configure_project

    configure_project(ctx, LEAD, project, targets={"Work-related Stress and Burnout": 10})
    mine = workflow.take_next(ctx, ANN, project)
    editing.save_revision(ctx.uow(), ANN, mine.id, 0, mine.turns, seconds_spent=30)
    editing.save_revision(ctx.uow(), ANN, mine.id, 1, mine.turns, seconds_spent=15)
    workflow.submit(ctx, ANN, mine.id)
    workflow.approve(ctx, REV, mine.id)
    report = workflow.progress(ctx, ANN, project)
    assert report.by_status == {"draft": 3, "approved": 1} and report.total == 4
    (topic,) = report.by_topic
    assert (topic.topic, topic.target, topic.dialogues, topic.approved) == (
        "Work-related Stress and Burnout", 10, 4, 1)
    (ann,) = report.by_annotator
    assert (ann.name, ann.by_status, ann.revisions, ann.seconds) == (
        "ann", {"approved": 1}, 2, 45)
    assert (report.edited_dialogues, report.human_revisions, report.edits_per_dialogue) == (
        1, 2, 2.0)


def _plain(actor: Actor) -> tuple[str, str]:
    """Name and role: actors from sign-in also carry their account id and session."""
    return actor.name, actor.role


def test_passwords_are_hashed_and_checked(ctx, project):
    assert _plain(users.authenticate(ctx, "ann", "correct horse")) == _plain(ANN)
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        users.authenticate(ctx, "ann", "wrong horse")
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        users.authenticate(ctx, "nobody", "correct horse")
    stored = {u.name: u.password_hash for u in users.list_users(ctx, LEAD)}
    assert stored["ann"].startswith("$argon2id$") and "correct horse" not in stored["ann"]
    with pytest.raises(InvalidInputError, match="at least 8"):
        users.add_user(ctx, LEAD, "short", "annotator", "1234")
    with pytest.raises(PermissionDeniedError):
        users.add_user(ctx, ANN, "eve", "lead", "long enough")
    users.set_password(ctx, ANN, "ann", "a new password")
    assert _plain(users.authenticate(ctx, "ann", "a new password")) == _plain(ANN)


def test_identity_provider_sign_ins_map_onto_users(ctx, project, monkeypatch):
    assert _plain(users.actor_for_identity(ctx, "rita@example.org", "Rita R.")) == _plain(REV)
    with pytest.raises(PermissionDeniedError, match="has no account here"):
        users.actor_for_identity(ctx, "zoe@example.org", "Zoe")
    monkeypatch.setenv("CURATION_OIDC_DEFAULT_ROLE", "annotator")
    created = users.actor_for_identity(ctx, "zoe@example.org", "Zoe")
    assert _plain(created) == ("zoe@example.org", UserRole.ANNOTATOR)
