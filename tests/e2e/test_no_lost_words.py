"""The editor never loses a word, in a real browser: type into a turn and at once switch page,
press Next, switch the language or reload (five times each), and every word is there; Save
works on the first click right after typing, and Ctrl+S saves the box that has focus; a save
that blanks the dialogue asks first; Submit and Approve refuse an empty turn, saying why."""

from __future__ import annotations

import re
from typing import Any

import pytest

from curation_app.domain import Role, Turn
from curation_app.services import editing, workflow
from curation_app.services.permissions import Actor, UserRole
from tests.e2e.conftest import PASSWORD, SCREENSHOTS, RunningApp
from tests.e2e.drive import TIMEOUT_MS, choose, go_to, sign_in, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANN = Actor("ann", UserRole.ANNOTATOR)
LEA = Actor("lea", UserRole.LEAD)
VIEWPORT = {"width": 1400, "height": 1000}
TIMES = 5
SAVE = re.compile(r"^Save")  # not "Put the saved text back"


def start(browser: Any, app: RunningApp, count: int = 3) -> tuple[Any, Any, list[int]]:
    """ann has ``count`` PECONV dialogues and the editor open on the first."""
    workflow.assign(app.ctx, LEA, "demo-peconv", annotators=["ann"], count=count)
    ids = [d.id for d in workflow.my_queue(app.ctx, ANN, "demo-peconv")]
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    sign_in(page, app.url, "ann", PASSWORD)
    choose(page, "Project", "demo-peconv")
    go_to(page, "Editor")
    return context, page, ids


def box(page: Any, did: int, uid: int) -> Any:
    """The turn's text box, once the page has settled (while Streamlit swaps a box for a fresh
    one, both can be in the page for a moment)."""
    selector = f".st-key-editor-turn-{did}-{uid} textarea"
    wait_idle(page)
    try:
        page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 1",
                               arg=selector, timeout=TIMEOUT_MS)
    except Exception:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "no-lost-words-failure.png"))
        raise AssertionError(f"{page.locator(selector).count()} boxes for turn {uid} of "
                             f"dialogue {did} at {page.url}") from None
    return page.locator(selector)


def type_into(page: Any, did: int, uid: int, words: str) -> None:
    """Click at the end of the turn's box and type, like a person (one key at a time)."""
    target = box(page, did, uid)
    target.wait_for(timeout=TIMEOUT_MS)
    target.click()
    target.press("Control+End")  # the end of the text, not of the wrapped line clicked
    page.keyboard.type(words, delay=5)


def shows(page: Any, did: int, uid: int, words: str) -> None:
    """The box shows ``words`` (waiting for the page to settle first)."""
    wait_idle(page)
    target = box(page, did, uid)
    target.wait_for(timeout=TIMEOUT_MS)
    try:
        page.wait_for_function(
            "([sel, w]) => { const b = document.querySelector(sel); "
            "return b && b.value.includes(w); }",
            arg=[f".st-key-editor-turn-{did}-{uid} textarea", words], timeout=TIMEOUT_MS)
    except Exception:
        raise AssertionError(f"turn box shows {target.input_value()!r}, "
                             f"expected it to hold {words!r}") from None


def stored_text(app: RunningApp, did: int, index: int) -> str:
    return editing.get_dialogue(app.ctx.uow(), ANN, did).turns[index].text


def test_words_survive_a_page_switch_next_a_language_switch_and_a_reload(
        browser, running_app: RunningApp):
    context, page, ids = start(browser, running_app)
    did = ids[0]
    typed: list[str] = []

    for n in range(TIMES):  # type, and at once go to another page and back
        words = f" page{n}"
        type_into(page, did, 1, words)
        page.locator('[data-testid="stSidebarNav"]').get_by_text("My queue", exact=True).click()
        page.get_by_role("heading", name="My queue").wait_for(timeout=TIMEOUT_MS)
        go_to(page, "Editor")
        typed.append(words)
        shows(page, did, 1, "".join(typed))

    for n in range(TIMES):  # type, and at once press Next; Previous comes back
        words = f" next{n}"
        type_into(page, did, 1, words)
        page.get_by_role("button", name="Next").click()
        wait_idle(page)
        box(page, ids[1], 0).wait_for(timeout=TIMEOUT_MS)
        page.get_by_role("button", name="Previous").click()
        typed.append(words)
        shows(page, did, 1, "".join(typed))

    for n in range(TIMES):  # type, and at once switch the interface language
        words = f" lang{n}"
        type_into(page, did, 1, words)
        page.get_by_text("中文" if n % 2 == 0 else "English", exact=True).click()
        page.get_by_role("heading", name="编辑" if n % 2 == 0 else "Editor").wait_for(
            timeout=TIMEOUT_MS)
        typed.append(words)
        shows(page, did, 1, "".join(typed))
    page.get_by_text("English", exact=True).click()
    page.get_by_role("heading", name="Editor").wait_for(timeout=TIMEOUT_MS)

    for n in range(TIMES):  # type, and at once reload the page (a new session)
        words = f" reload{n}"
        type_into(page, did, 1, words)
        page.reload()
        page.get_by_role("heading", name="Editor").wait_for(timeout=TIMEOUT_MS)
        typed.append(words)
        shows(page, did, 1, "".join(typed))

    # Every word reaches the database with one click on Save, straight after typing.
    last = " saved-at-once"
    type_into(page, did, 1, last)
    page.get_by_role("button", name=SAVE).click()
    page.get_by_text(f"Saved revision 1 of dialogue #{did}.").wait_for(timeout=TIMEOUT_MS)
    text = stored_text(running_app, did, 1)
    for words in [*typed, last]:
        assert words in text
    context.close()


def test_save_on_the_first_click_and_ctrl_s_each_time(browser, running_app: RunningApp):
    context, page, ids = start(browser, running_app, count=1)
    did = ids[0]
    for n in range(TIMES):
        words = f" click{n}"
        type_into(page, did, 3, words)
        page.get_by_role("button", name=SAVE).click()
        page.get_by_text(f"Saved revision {2 * n + 1} of dialogue #{did}.").wait_for(
            timeout=TIMEOUT_MS)
        assert stored_text(running_app, did, 3).endswith(words)
        words = f" ctrl-s{n}"
        type_into(page, did, 3, words)
        page.keyboard.press("Control+s")
        page.get_by_text(f"Saved revision {2 * n + 2} of dialogue #{did}.").wait_for(
            timeout=TIMEOUT_MS)
        assert stored_text(running_app, did, 3).endswith(words)
    context.close()


def test_a_blanked_dialogue_is_never_saved_without_confirmation_and_never_submitted(
        browser, running_app: RunningApp):
    context, page, ids = start(browser, running_app, count=1)
    did = ids[0]
    before = editing.get_dialogue(running_app.ctx.uow(), ANN, did)
    for uid in range(len(before.turns)):
        target = box(page, did, uid)
        target.click()
        target.press("Control+a")
        target.press("Delete")
    for _ in range(TIMES):
        page.get_by_role("button", name=SAVE).click()
        page.get_by_text("This save would remove text. Save anyway?").wait_for(
            timeout=TIMEOUT_MS)
        assert editing.get_dialogue(running_app.ctx.uow(), ANN, did).version == before.version
        page.get_by_role("button", name="No, keep editing").click()
        wait_idle(page)
    # The page says which turns lost their text and can put it back.
    page.get_by_role("button", name="Put the saved text back").click()
    shows(page, did, 0, before.turns[0].text)

    # Emptying one turn on purpose: confirmed, saved; Submit then refuses, naming the turn.
    target = box(page, did, 2)
    target.click()
    target.press("Control+a")
    target.press("Delete")
    page.get_by_role("button", name=SAVE).click()
    confirm = page.locator(".st-key-editor-confirm")
    confirm.wait_for(timeout=TIMEOUT_MS)
    assert "turn 3 (Child) would be emptied" in confirm.inner_text()
    page.get_by_role("button", name="Yes, save and remove it").click()
    page.get_by_text(f"Saved revision 1 of dialogue #{did}.").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_text("lint.empty_turn (turn 3)").wait_for(timeout=TIMEOUT_MS)
    assert editing.get_dialogue(running_app.ctx.uow(), ANN, did).status == "in_progress"
    context.close()


def test_approve_refuses_an_empty_turn_and_the_reviewer_sees_why(
        browser, running_app: RunningApp):
    ctx = running_app.ctx
    workflow.assign(ctx, LEA, "demo-peconv", annotators=["ann"], count=1)
    (did,) = [d.id for d in workflow.my_queue(ctx, ANN, "demo-peconv")]
    dialogue = editing.get_dialogue(ctx.uow(), ANN, did)
    saved = editing.save_revision(ctx.uow(), ANN, did, dialogue.version, dialogue.turns,
                                  note="ready")
    workflow.submit(ctx, ANN, did)
    # A lead's later edit (confirmed) empties a turn of the submitted dialogue.
    turns = list(dialogue.turns)
    turns[1] = Turn(Role.SUPPORTER, "", turns[1].strategies)
    editing.save_revision(ctx.uow(), LEA, did, saved.version + 1, turns, confirm_removal=True)

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    sign_in(page, running_app.url, "rita", PASSWORD)
    choose(page, "Project", "demo-peconv")
    page.get_by_text("lint.empty_turn").first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Approve").click()
    page.get_by_text(f"dialogue {did} cannot be approved").wait_for(timeout=TIMEOUT_MS)
    assert editing.get_dialogue(ctx.uow(), ANN, did).status == "submitted"
    context.close()


def test_a_page_address_opens_that_page_for_the_roles_that_may_see_it(
        browser, running_app: RunningApp):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    # Not signed in yet: the address shows the sign-in form, then the page itself.
    page.goto(f"{running_app.url}/progress")
    page.get_by_role("textbox", name="User name").fill("lea")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Progress").first.wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_text("Page not found").count() == 0
    # Signed in: straight there.
    for path, title in (("checks", "Checks"), ("review", "Review"), ("editor", "Editor")):
        page.goto(f"{running_app.url}/{path}")
        page.get_by_role("heading", name=title).first.wait_for(timeout=TIMEOUT_MS)
        wait_idle(page)
        assert page.get_by_text("Page not found").count() == 0
    context.close()
