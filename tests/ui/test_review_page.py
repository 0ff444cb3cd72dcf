"""Review page: submitted dialogues with the diff to the draft; approve, return with a comment,
discard with a reason."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from curation_app.domain import Role, Status, Turn
from curation_app.services import editing, workflow
from curation_app.services.context import AppContext
from curation_app.ui import state
from tests.ui.conftest import actor, box_named, open_page, texts

REWRITE = "最好的朋友要走了，你一定很舍不得。"


def submitted(ctx: AppContext) -> int:
    """ann takes a dialogue, rewrites turn 1, submits it with a note."""
    dialogue = workflow.take_next(ctx, actor("ann"), "demo-peconv")
    assert dialogue is not None and dialogue.id is not None
    turns = list(dialogue.turns)
    turns[1] = Turn(Role.SUPPORTER, REWRITE, ["empathy"])
    editing.save_revision(ctx.uow(), actor("ann"), dialogue.id, dialogue.version, turns)
    workflow.submit(ctx, actor("ann"), dialogue.id, "第二轮改得更简短了")
    return dialogue.id


def review(make_app, name: str = "rita") -> AppTest:
    return open_page(make_app(name), "review")


def test_the_reviewer_sees_the_submission_its_note_and_the_diff(make_app, app_ctx):
    did = submitted(app_ctx)
    at = review(make_app)
    assert at.session_state[state.REVIEW_DIALOGUE] == did
    shown = texts(at)
    assert "ann wrote: 第二轮改得更简短了" in shown
    assert "1 of 8 turns differ from the draft." in shown
    diff = "".join(h.value for h in at.html)
    assert "<ins" in diff and "<del" in diff and "舍不得" in diff


def test_approving_records_the_event_and_empties_the_queue(make_app, app_ctx):
    did = submitted(app_ctx)
    at = review(make_app)
    at.button(key="review.approve").click().run()
    assert f"Dialogue #{did} approved." in texts(at)
    assert editing.get_dialogue(app_ctx.uow(), actor("rita"), did).status == Status.APPROVED
    events = workflow.events(app_ctx, actor("rita"), did)
    assert (events[-1].action, events[-1].actor) == ("approve", "rita")
    assert "Nothing is waiting for review" in texts(at)


def test_returning_needs_a_comment_which_the_annotator_then_sees(make_app, app_ctx):
    did = submitted(app_ctx)
    at = review(make_app)
    at.button(key="review.return").click().run()
    assert "Please check the input: returning a dialogue needs a comment" in texts(at)
    assert editing.get_dialogue(app_ctx.uow(), actor("rita"), did).status == Status.SUBMITTED
    at.text_area(key=f"review.comment.{did}").input("第 4 轮还缺少共情。").run()
    at.button(key="review.return").click().run()
    assert f"Dialogue #{did} returned to its annotator." in texts(at)
    assert editing.get_dialogue(app_ctx.uow(), actor("rita"), did).status == Status.RETURNED
    # The annotator finds it back in their queue, with the comment on the editor page.
    ann = make_app("ann")
    ann.session_state[state.EDITOR_DIALOGUE] = did
    open_page(ann, "editor")
    assert "Returned by rita: 第 4 轮还缺少共情。" in texts(ann)
    assert not box_named(ann, f"w:editor.{did}.1.text").disabled


def test_discarding_needs_a_reason(make_app, app_ctx):
    did = submitted(app_ctx)
    at = review(make_app)
    at.button(key="review.discard").click().run()
    assert "discarding a dialogue needs a reason" in texts(at)
    at.text_area(key=f"review.comment.{did}").input("draft is off-topic").run()
    at.button(key="review.discard").click().run()
    assert editing.get_dialogue(app_ctx.uow(), actor("rita"), did).status == Status.DISCARDED
    assert workflow.events(app_ctx, actor("rita"), did)[-1].comment == "draft is off-topic"


def test_two_reviewers_cannot_both_decide_the_same_dialogue(make_app, app_ctx):
    did = submitted(app_ctx)
    at = review(make_app)  # rita has the page open
    workflow.approve(app_ctx, actor("lea"), did)  # the lead approves first
    at.text_area(key=f"review.comment.{did}").input("not good enough").run()
    at.button(key="review.return").click().run()
    assert "Someone else got there first:" in texts(at)
    assert editing.get_dialogue(app_ctx.uow(), actor("rita"), did).status == Status.APPROVED
