"""The whole loop in a real browser: sign in (twice, side by side), generate, rewrite, tag,
save, submit, review, approve; a reload keeps the user signed in, signing out ends it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from curation_app.domain import Role
from curation_app.services import editing, generation, workflow
from curation_app.services.permissions import Actor, UserRole
from tests.e2e.conftest import PASSWORD, RunningApp
from tests.e2e.drive import TIMEOUT_MS, choose, go_to, sign_in, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REWRITE = "听起来你真的很难过。愿意跟妈妈说说发生了什么吗？"
ADDED = " (and I cried)"
VIEWPORT = {"width": 1400, "height": 1000}


def shoot(page, folder: Path, name: str) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main area, so the window is
    made as tall as that area's content for the picture."""
    wait_idle(page)
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0")
    page.set_viewport_size({"width": VIEWPORT["width"],
                            "height": min(max(VIEWPORT["height"], height), 4000)})
    wait_idle(page)
    page.screenshot(path=str(folder / f"{name}.png"))
    page.set_viewport_size(VIEWPORT)


def test_annotator_and_reviewer_take_a_draft_from_generation_to_approval(
        browser, running_app: RunningApp, screenshots: Path):
    annotator = browser.new_context(viewport=VIEWPORT)
    reviewer = browser.new_context(viewport=VIEWPORT)
    ann, rita = annotator.new_page(), reviewer.new_page()

    ann.goto(running_app.url)
    ann.get_by_role("button", name="Sign in").wait_for(timeout=TIMEOUT_MS)
    shoot(ann, screenshots, "sign-in")
    sign_in(ann, running_app.url, "ann", PASSWORD)
    sign_in(rita, running_app.url, "rita", PASSWORD)

    # A reload starts a new Streamlit session: the signed cookie keeps ann signed in.
    ann.reload()
    ann.get_by_role("button", name="Sign out").wait_for(timeout=TIMEOUT_MS)
    assert ann.get_by_role("textbox", name="User name").count() == 0
    # A page the role may not use is not there, even by its address.
    ann.goto(f"{running_app.url}/review")
    ann.get_by_text("Page not found").wait_for(timeout=TIMEOUT_MS)
    ann.get_by_role("heading", name="My queue").wait_for(timeout=TIMEOUT_MS)
    ann.keyboard.press("Escape")
    choose(ann, "Project", "demo-peconv")
    shoot(ann, screenshots, "queue")

    # Generate one draft, streamed from the local OpenAI-protocol server.
    go_to(ann, "Generate")
    ann.get_by_role("button", name="Generate one draft").click()
    ann.get_by_text("stored as revision 0").wait_for(timeout=TIMEOUT_MS)
    shoot(ann, screenshots, "generate")
    assert running_app.stub.chat_requests[-1].body.get("stream") is True
    ann.get_by_role("button", name="Open in the editor").click()
    ann.get_by_role("heading", name="Editor").wait_for(timeout=TIMEOUT_MS)
    wait_idle(ann)

    (did,) = [d.id for d in workflow.my_queue(running_app.ctx, Actor("ann", UserRole.ANNOTATOR),
                                               "demo-peconv")]
    draft = editing.get_dialogue(running_app.ctx.uow(), Actor("ann", UserRole.ANNOTATOR), did)
    uid = next(i for i, t in enumerate(draft.turns) if t.role == Role.SUPPORTER)

    # Rewrite a parent turn and tag it.
    turn = ann.locator(f".st-key-editor-turn-{did}-{uid}")
    box = turn.locator("textarea")
    box.fill(REWRITE)
    # Straight on into the first turn while the app is still rerunning for the one above:
    # the rerun must not overwrite what is being typed.
    first = ann.locator(f".st-key-editor-turn-{did}-0 textarea")
    first.click()
    first.press("End")
    first.press_sequentially(ADDED, delay=40)
    first.press("Control+Enter")
    wait_idle(ann)
    tags = turn.locator('[data-testid="stMultiSelect"]')
    tags.locator("input").click()
    ann.get_by_role("option", name="Empathy · EMP").click()
    ann.keyboard.press("Escape")
    ann.get_by_role("heading", name="Editor").click()  # leave the field
    wait_idle(ann)
    ann.get_by_text("Unsaved changes").wait_for(timeout=TIMEOUT_MS)
    shoot(ann, screenshots, "editor")

    ann.get_by_role("button", name="Save").click()
    ann.get_by_text(f"Saved revision 1 of dialogue #{did}.").wait_for(timeout=TIMEOUT_MS)
    ann.get_by_role("button", name="Submit for review").click()
    ann.get_by_text(f"Dialogue #{did} submitted for review.").wait_for(timeout=TIMEOUT_MS)

    # The reviewer, in a browser of their own, approves it.
    choose(rita, "Project", "demo-peconv")
    rita.get_by_text("2 of 6 turns differ from the draft.").wait_for(timeout=TIMEOUT_MS)
    shoot(rita, screenshots, "review")
    rita.get_by_role("button", name="Approve").click()
    rita.get_by_text(f"Dialogue #{did} approved.").wait_for(timeout=TIMEOUT_MS)

    # The database holds the machine draft, the rewrite and the decision.
    who = Actor("rita", UserRole.REVIEWER)
    history = editing.history(running_app.ctx.uow(), who, did)
    assert [(r.number, r.author) for r in history] == [(0, "model"), (1, "ann")]
    assert history[0].turns[uid].text == draft.turns[uid].text != REWRITE
    assert history[1].turns[uid].text == REWRITE
    assert history[1].turns[0].text == draft.turns[0].text + ADDED
    assert "empathy" in history[1].turns[uid].strategies
    actions = [(e.action, e.actor) for e in workflow.events(running_app.ctx, who, did)]
    assert ("submit", "ann") in actions and actions[-1] == ("approve", "rita")

    # Signing out deletes the cookie: a reload shows the sign-in form again.
    ann.get_by_role("button", name="Sign out").click()
    ann.get_by_role("textbox", name="User name").wait_for(timeout=TIMEOUT_MS)
    wait_idle(ann)
    ann.reload()
    ann.get_by_role("textbox", name="User name").wait_for(timeout=TIMEOUT_MS)
    annotator.close()
    reviewer.close()


def seed_work(ctx) -> None:
    """Some history for the lead's pages: targets, two submissions, one approval."""
    ann, rita, lea = (Actor("ann", UserRole.ANNOTATOR), Actor("rita", UserRole.REVIEWER),
                      Actor("lea", UserRole.LEAD))
    generation.configure_project(ctx, lea, "demo-peconv",
                                 targets={"好朋友转学": 4, "演讲比赛紧张": 3})
    for n in range(2):
        dialogue = workflow.take_next(ctx, ann, "demo-peconv")
        assert dialogue is not None and dialogue.id is not None
        turns = list(dialogue.turns)
        turns[1] = replace(turns[1], text=turns[1].text + "（改写）")
        editing.save_revision(ctx.uow(), ann, dialogue.id, dialogue.version, turns,
                              seconds_spent=240 + 60 * n)
        workflow.submit(ctx, ann, dialogue.id)
        if n == 0:
            workflow.approve(ctx, rita, dialogue.id)


def test_a_lead_follows_progress_and_users_in_either_language(
        browser, running_app: RunningApp, screenshots: Path):
    seed_work(running_app.ctx)
    context = browser.new_context(viewport=VIEWPORT)
    lea = context.new_page()
    sign_in(lea, running_app.url, "lea", PASSWORD)
    choose(lea, "Project", "demo-peconv")
    lea.get_by_role("heading", name="Project demo-peconv").wait_for(timeout=TIMEOUT_MS)
    shoot(lea, screenshots, "progress")
    go_to(lea, "Users")
    shoot(lea, screenshots, "users")
    go_to(lea, "Editor")
    lea.get_by_text("中文", exact=True).click()
    lea.get_by_role("heading", name="编辑").wait_for(timeout=TIMEOUT_MS)
    shoot(lea, screenshots, "editor-zh")
    # The language is remembered by the browser, too.
    lea.reload()
    lea.get_by_role("heading", name="编辑").wait_for(timeout=TIMEOUT_MS)
    context.close()
