"""My queue: take the next dialogue, open assigned ones; a lead assigns work with overlap."""

from __future__ import annotations

from curation_app.services import workflow
from curation_app.ui import state
from tests.ui.conftest import actor, open_page, texts


def test_taking_the_next_dialogue_assigns_it_and_opens_the_editor(make_app, app_ctx):
    at = open_page(make_app("ann"), "queue")
    assert "Assigned to me (0)" in texts(at)
    at.button(key="queue.take").click().run()
    did = at.session_state[state.EDITOR_DIALOGUE]
    assert at.title[0].value == "Editor"
    assert [d.id for d in workflow.my_queue(app_ctx, actor("ann"), "demo-peconv")] == [did]


def test_when_nothing_is_left_the_queue_says_so(make_app, app_ctx):
    for _ in range(3):
        workflow.take_next(app_ctx, actor("ben"), "demo-peconv")
    at = open_page(make_app("ann"), "queue")
    at.button(key="queue.take").click().run()
    assert "No unassigned dialogues are left in this project." in texts(at)


def test_assigned_dialogues_are_listed_and_open_in_the_editor(make_app, app_ctx):
    workflow.assign(app_ctx, actor("lea"), "demo-peconv", annotators=["ann"], count=2)
    at = open_page(make_app("ann"), "queue")
    assert "Assigned to me (2)" in texts(at)
    mine = workflow.my_queue(app_ctx, actor("ann"), "demo-peconv")
    at.button(key=f"queue.open.{mine[1].id}").click().run()
    assert at.session_state[state.EDITOR_DIALOGUE] == mine[1].id


def test_a_lead_assigns_work_with_overlap(make_app, app_ctx):
    at = open_page(make_app("lea"), "queue")
    at.multiselect(key="queue.annotators").set_value(["ann", "ben"])
    at.number_input(key="queue.count").set_value(2)
    at.number_input(key="queue.overlap").set_value(2)
    at.button(key="FormSubmitter:queue.assign_form-Assign").click().run()
    assert not at.exception
    assert "4 assignments made to 2 annotators." in texts(at)
    ann = workflow.my_queue(app_ctx, actor("ann"), "demo-peconv")
    ben = workflow.my_queue(app_ctx, actor("ben"), "demo-peconv")
    assert len(ann) == len(ben) == 2
    assert {d.overlap_of for d in ann + ben} - {None}  # the second copies point at originals
