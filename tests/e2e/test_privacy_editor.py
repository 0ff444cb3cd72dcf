"""The editor's one-click privacy replacement in a real browser: type into a turn that holds
personal data and click "Replace with placeholders" at once; the box shows the placeholders
with the typed words kept, and that text is the new revision."""

from __future__ import annotations

import pytest

from curation_app.domain import Turn
from curation_app.services import editing, workflow
from tests.e2e.conftest import PASSWORD, RunningApp
from tests.e2e.drive import TIMEOUT_MS, choose, go_to, sign_in, wait_idle
from tests.e2e.test_no_lost_words import ANN, LEA, VIEWPORT, shows, stored_text, type_into

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PERSONAL = "我儿子王小明在育才小学，电话13912345678。"
REPLACED = "我儿子[NAME]在[SCHOOL]，电话[PHONE]。"
TYPED = "他最近很难过。"


def test_replace_with_placeholders_acts_on_the_text_shown_and_saves_it(
        browser, running_app: RunningApp):
    app = running_app
    workflow.assign(app.ctx, LEA, "demo-peconv", annotators=["ann"], count=1)
    (did,) = [d.id for d in workflow.my_queue(app.ctx, ANN, "demo-peconv")]
    stored = editing.get_dialogue(app.ctx.uow(), LEA, did)
    turns = [Turn(stored.turns[0].role, PERSONAL), *stored.turns[1:]]
    editing.save_revision(app.ctx.uow(), LEA, did, stored.version, turns, note="seed")
    before = len(editing.history(app.ctx.uow(), LEA, did))
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        sign_in(page, app.url, "ann", PASSWORD)
        choose(page, "Project", "demo-peconv")
        go_to(page, "Editor")
        turn = page.locator(f".st-key-editor-turn-{did}-0")
        turn.get_by_text("privacy.phone").first.wait_for(timeout=TIMEOUT_MS)
        type_into(page, did, 0, TYPED)
        # no pause: the click itself must bring the typed words along
        turn.get_by_role("button", name="Replace with placeholders").click()
        wait_idle(page)
        shows(page, did, 0, REPLACED + TYPED)
        page.get_by_text("Turn 1: 3 replaced by placeholders").wait_for(timeout=TIMEOUT_MS)
        assert turn.get_by_text("privacy.phone").count() == 0
        assert stored_text(app, did, 0) == REPLACED + TYPED
        revisions = editing.history(app.ctx.uow(), LEA, did)
        assert len(revisions) == before + 1
        latest = max(revisions, key=lambda r: r.number)
        assert latest.author == "ann" and (latest.note or "").startswith("privacy: 3 item(s)")
        assert page.get_by_text("No unsaved changes.").count() == 1
        # a moment later (the keeper's next batch, the box's own late change) it still holds
        page.wait_for_timeout(1500)
        shows(page, did, 0, REPLACED + TYPED)
        assert stored_text(app, did, 0) == REPLACED + TYPED
    finally:
        context.close()
