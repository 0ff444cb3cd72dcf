"""Editor page: edit and tag turns, restructure them, save revisions, survive page switches,
refuse a stale save while keeping the text, reapply it, submit."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation_app.domain import Role, Status, Turn
from curation_app.services import editing, workflow
from curation_app.services.context import AppContext
from curation_app.ui import state
from tests.ui.conftest import actor, box_named, open_page, texts

NEW_TEXT = "朋友要转学，你一定很舍不得吧？We can write to her too."


def taken(make_app, name: str = "ann", project: str = "demo-peconv") -> tuple[AppTest, int]:
    """``name`` takes the next dialogue from the queue and lands in the editor with it."""
    at = open_page(make_app(name, project=project), "queue")
    at.button(key="queue.take").click().run()
    assert not at.exception
    assert at.title[0].value == "Editor"
    assert "is yours now" in texts(at)
    # A browser follows st.switch_page in its URL; AppTest has to be told.
    at.switch_page("views/editor.py")
    return at, at.session_state[state.EDITOR_DIALOGUE]


def text_box(at: AppTest, did: int, uid: int):
    return box_named(at, f"w:editor.{did}.{uid}.text")


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_rewriting_and_tagging_a_turn_then_saving_makes_revision_1(make_app, app_ctx):
    at, did = taken(make_app)
    text_box(at, did, 1).input(NEW_TEXT).run()
    at.multiselect(key=f"w:editor.{did}.1.strategies").set_value(["empathy", "support"]).run()
    assert "Unsaved changes" in texts(at)
    click(at, "editor.save")
    assert f"Saved revision 1 of dialogue #{did}." in texts(at)
    revisions = editing.history(app_ctx.uow(), actor("ann"), did)
    assert [r.number for r in revisions] == [0, 1]
    assert revisions[1].author == "ann"
    assert revisions[1].turns[1] == Turn(Role.SUPPORTER, NEW_TEXT, ["empathy", "support"])
    assert revisions[1].seconds_spent is not None
    current = editing.get_dialogue(app_ctx.uow(), actor("ann"), did)
    assert current.status == Status.IN_PROGRESS and current.turns[1].text == NEW_TEXT
    assert text_box(at, did, 1).value == NEW_TEXT  # the page shows the saved text


def test_a_single_strategy_project_offers_one_strategy_per_supporter_turn(make_app, app_ctx):
    at, did = taken(make_app, project="demo-extes")
    supporter = next(i for i, t in enumerate(
        editing.get_dialogue(app_ctx.uow(), actor("ann"), did).turns)
        if t.role == Role.SUPPORTER)
    box = at.selectbox(key=f"w:editor.{did}.{supporter}.strategies")
    assert "Reflective Statements" in box.options[1]
    assert "Emotional Validation" in box.help
    box.set_value("Clarification").run()
    click(at, "editor.save")
    saved = editing.get_dialogue(app_ctx.uow(), actor("ann"), did)
    assert saved.turns[supporter].strategies == ["Clarification"]


def test_turns_can_be_split_merged_moved_added_and_deleted(make_app, app_ctx):
    at, did = taken(make_app)
    original = editing.get_dialogue(app_ctx.uow(), actor("ann"), did).turns
    text_box(at, did, 0).input("第一句。\n第二句。").run()
    click(at, f"editor.{did}.0.split")  # new turn uid 8 after turn 0
    click(at, f"editor.{did}.2.delete")
    click(at, f"editor.{did}.1.up")
    click(at, f"editor.{did}.1.up")  # the parent's reply is first now
    click(at, f"editor.{did}.7.add")
    last_uid = 9
    text_box(at, did, last_uid).input("谢谢妈妈。").run()
    click(at, f"editor.{did}.6.merge")  # turn 6 absorbs turn 7
    click(at, "editor.save")
    turns = editing.get_dialogue(app_ctx.uow(), actor("ann"), did).turns
    assert [t.text for t in turns[:3]] == [original[1].text, "第一句。", "第二句。"]
    assert turns[-2].text == original[6].text + original[7].text
    assert turns[-2].role == Role.SEEKER and turns[-2].strategies == []
    assert turns[-1] == Turn(Role.SEEKER, "谢谢妈妈。")
    assert len(turns) == len(original)  # +1 split, -1 delete, +1 add, -1 merge


def test_speaker_topic_emotion_and_description_can_be_changed(make_app, app_ctx):
    at, did = taken(make_app)
    at.selectbox(key=f"w:editor.{did}.2.role").set_value("supporter").run()
    at.selectbox(key=f"w:editor.{did}.emotion").set_value("fear").run()
    box_named(at, f"w:editor.{did}.description").input("孩子的好朋友要转学。").run()
    click(at, "editor.save")
    saved = editing.get_dialogue(app_ctx.uow(), actor("ann"), did)
    assert saved.turns[2].role == Role.SUPPORTER
    assert (saved.emotion, saved.description) == ("fear", "孩子的好朋友要转学。")


def test_unsaved_edits_survive_a_rerun_and_a_page_switch(make_app):
    at, did = taken(make_app)
    text_box(at, did, 3).input(NEW_TEXT).run()
    open_page(at, "progress")
    open_page(at, "editor")
    assert text_box(at, did, 3).value == NEW_TEXT
    assert "Unsaved changes" in texts(at)
    at.run()
    assert text_box(at, did, 3).value == NEW_TEXT


def test_a_stale_save_is_refused_and_the_text_kept_and_reapplied(make_app, app_ctx: AppContext):
    at, did = taken(make_app)
    text_box(at, did, 1).input(NEW_TEXT).run()
    # Meanwhile the lead saves the same dialogue from another session.
    before = editing.get_dialogue(app_ctx.uow(), actor("lea"), did)
    lead_turns = list(before.turns)
    lead_turns[5] = Turn(Role.SUPPORTER, "我们一起给她做卡片吧。", ["support"])
    editing.save_revision(app_ctx.uow(), actor("lea"), did, before.version, lead_turns)

    click(at, "editor.save")
    shown = texts(at)
    assert "Someone else got there first:" in shown
    assert "Your save was refused" in shown
    assert text_box(at, did, 1).value == NEW_TEXT  # nothing typed is lost
    assert [r.author for r in editing.history(app_ctx.uow(), actor("ann"), did)] == \
        ["setup", "lea"]

    click(at, "editor.reapply")
    assert "Your text now sits on version" in texts(at)
    click(at, "editor.save")
    history = editing.history(app_ctx.uow(), actor("ann"), did)
    assert [(r.number, r.author) for r in history] == [(0, "setup"), (1, "lea"), (2, "ann")]
    assert history[2].turns[1].text == NEW_TEXT
    # Reapplying puts the annotator's whole text on top: the lead's edit is visible in the
    # history and in the conflict diff, and the annotator decided to keep their version.
    assert history[1].turns[5].text == "我们一起给她做卡片吧。"


def test_submitting_saves_first_and_moves_on(make_app, app_ctx):
    at, did = taken(make_app)
    text_box(at, did, 1).input(NEW_TEXT).run()
    click(at, "editor.submit")
    assert f"Dialogue #{did} submitted for review." in texts(at)
    saved = editing.get_dialogue(app_ctx.uow(), actor("ann"), did)
    assert saved.status == Status.SUBMITTED and saved.turns[1].text == NEW_TEXT
    assert [e.action for e in workflow.events(app_ctx, actor("ann"), did)][-1] == "submit"
    assert did not in [d.id for d in workflow.my_queue(app_ctx, actor("ann"), "demo-peconv")]


def test_an_annotator_cannot_edit_a_dialogue_that_is_not_theirs(make_app, app_ctx):
    workflow.take_next(app_ctx, actor("ben"), "demo-peconv")  # ben takes dialogue 1
    at = make_app("ann")
    at.session_state[state.EDITOR_DIALOGUE] = 1
    open_page(at, "editor")
    # annotators do not even read another annotator's dialogue (issue 13): the editor falls
    # back to the annotator's own list (empty here) and shows none of dialogue 1's text
    shown = texts(at)
    assert "Nothing to edit here" in shown
    theirs = editing.get_dialogue(app_ctx.uow(), actor("ben"), 1)
    assert not any(turn.text[:20] in shown for turn in theirs.turns)
    assert not [b for b in at.button if b.key == "editor.save"]


def test_previous_and_next_move_through_the_queue(make_app, app_ctx):
    for _ in range(2):
        workflow.take_next(app_ctx, actor("ann"), "demo-peconv")
    at = open_page(make_app("ann"), "editor")
    first = at.session_state[state.EDITOR_DIALOGUE]
    click(at, "editor.next")
    second = at.session_state[state.EDITOR_DIALOGUE]
    assert second != first
    click(at, "editor.prev")
    assert at.session_state[state.EDITOR_DIALOGUE] == first


def test_the_checks_findings_show_under_the_turn_as_it_is_edited(make_app):
    pytest.importorskip("curation_app.services.checks", reason="the checks service is absent")
    at, did = taken(make_app)
    assert "lint.strategy_missing" not in texts(at)
    # a parent turn mid-dialogue (the greeting and closing may go unlabelled): a warning
    at.multiselect(key=f"w:editor.{did}.3.strategies").set_value([]).run()
    turn = at.get_by_key(f"editor-turn-{did}-3")  # the container of turn 4
    flagged = [e.value for e in (*turn.error, *turn.warning)]
    assert any("lint.strategy_missing" in v for v in flagged), flagged


def test_switching_project_leaves_the_other_projects_dialogue(make_app, app_ctx):
    at, did = taken(make_app)
    at.selectbox(key="w:ui.project").set_value("demo-extes").run()
    assert at.session_state[state.EDITOR_DIALOGUE] != did
    assert "Nothing to edit here" in texts(at)  # ann has nothing in demo-extes yet
