"""A long dialogue in the editor: its turns are shown a page at a time (a 120-turn dialogue
would otherwise draw about a thousand widgets on every run), and an edit on a later page is
saved like any other; the dialogue list is read as summaries, a page at a time."""

from __future__ import annotations

from curation_app.domain import Dialogue, Role, Turn
from curation_app.services import editing, workflow
from curation_app.ui import state
from curation_app.ui.turn_editor import TURNS_PER_PAGE
from tests.conftest import LEAD
from tests.ui.conftest import actor, box_named, open_page, texts


def long_dialogue(app_ctx, turns: int = 45) -> int:
    with app_ctx.uow() as uow:
        record = uow.repo.get_project("demo-extes")
        (did,) = uow.repo.add_dialogues(record, [Dialogue(
            turns=[Turn(Role.SEEKER, f"Seeker line {i}.") if i % 2 == 0 else
                   Turn(Role.SUPPORTER, f"Supporter line {i}.", ["Affirmation"])
                   for i in range(turns)], language="en", topic="Job Loss")], "model")
        uow.commit()
    workflow.assign(app_ctx, LEAD, "demo-extes", annotators=["ann"], dialogue_ids=[did])
    return did


def test_a_long_dialogue_shows_its_turns_a_page_at_a_time_and_saves_an_edit(make_app, app_ctx):
    did = long_dialogue(app_ctx)
    at = make_app("ann", project="demo-extes")
    at.session_state[state.EDITOR_DIALOGUE] = did
    at = open_page(at, "editor")
    boxes = [b for b in at.text_area if b.key and b.key.startswith(f"w:editor.{did}.")
             and ".text@" in b.key]
    assert len(boxes) == TURNS_PER_PAGE
    pages = at.get("button_group")[0] if at.get("button_group") else None
    assert pages is not None, "a long dialogue offers pages of turns"
    at.session_state[state.widget_key(f"editor.{did}.turn_page")] = 2  # turns 41-45
    at.session_state[f"editor.{did}.turn_page"] = 2
    at.run()
    box_named(at, f"w:editor.{did}.42.text").input("A rewritten line on the last page.").run()
    at.button(key="editor.save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"Saved revision 1 of dialogue #{did}." in texts(at)
    saved = editing.get_dialogue(app_ctx.uow(), actor("ann"), did)
    assert saved.turns[42].text == "A rewritten line on the last page."
    assert [t.text for t in saved.turns[:42]] == [
        f"Seeker line {i}." if i % 2 == 0 else f"Supporter line {i}." for i in range(42)]
