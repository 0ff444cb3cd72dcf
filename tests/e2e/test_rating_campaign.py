"""A rating campaign in a real browser: two raters, side by side, rate the same three dialogues
on the ExTES protocol; the lead then sees Fleiss' kappa per aspect."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation_app.services import quality
from curation_app.services.permissions import Actor, UserRole
from tests.e2e.conftest import PASSWORD, RunningApp
from tests.e2e.drive import TIMEOUT_MS, choose, go_to, sign_in, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 1400, "height": 1000}
ASPECTS = ("informativeness", "understanding", "helpfulness", "consistency", "coherence")
LEAD = Actor("lea", UserRole.LEAD)


def shoot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main area, so the window is made as tall
    as that area's content for the picture."""
    wait_idle(page)
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0")
    page.set_viewport_size({"width": VIEWPORT["width"],
                            "height": min(max(VIEWPORT["height"], height), 4000)})
    wait_idle(page)
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)


def pick(page, widget, score: int) -> None:
    """Choose ``score`` in a radio group of the rating form (ExTES's scale starts at 0, so the
    option's index is the score). Inside a form a choice does not rerun the page."""
    from playwright.sync_api import expect

    group = widget.get_by_role("radiogroup")
    expect(group).to_have_count(1, timeout=TIMEOUT_MS)
    group.get_by_text(str(score), exact=True).click()
    expect(group.locator(f'input[type="radio"][value="{score}"]')).to_be_checked(
        timeout=TIMEOUT_MS)


def rate(page, url: str, name: str, tasks: list[quality.RaterTask], plan: list[int]) -> None:
    sign_in(page, url, name, PASSWORD)
    choose(page, "Project", "demo-extes")
    go_to(page, "Ratings")
    page.get_by_text("You have rated 0 of 3 items.").wait_for(timeout=TIMEOUT_MS)
    for task, score in zip(tasks, plan, strict=True):
        # The item's text and the aspects' definitions are on the page.
        page.get_by_text(task.content["turns"][0]["text"][:40]).first.wait_for(
            timeout=TIMEOUT_MS)
        for aspect in ASPECTS:
            pick(page, page.locator(f".st-key-ratings-{task.item_id}-{aspect}"), score)
        page.get_by_role("button", name="Save rating").click()
        page.get_by_text(f"Rating of item {task.number} saved.").wait_for(timeout=TIMEOUT_MS)
        wait_idle(page)
    page.get_by_text("You have rated 3 of 3 items.").wait_for(timeout=TIMEOUT_MS)


def test_two_raters_rate_the_same_three_dialogues_and_the_lead_sees_the_kappa(
        browser, running_app: RunningApp, screenshots: Path):
    campaign = quality.create_campaign(running_app.ctx, LEAD, "demo-extes", "pilot", "extes",
                                       ["ann", "rita"], [quality.SampleSpec("random", n=3)],
                                       overlap=2)
    tasks = {name: quality.my_items(running_app.ctx, Actor(name, role), campaign.id)
             for name, role in (("ann", UserRole.ANNOTATOR), ("rita", UserRole.REVIEWER))}
    assert [t.item_id for t in tasks["ann"]] == [t.item_id for t in tasks["rita"]]

    ann = browser.new_context(viewport=VIEWPORT).new_page()
    rita = browser.new_context(viewport=VIEWPORT).new_page()
    rate(ann, running_app.url, "ann", tasks["ann"], [3, 1, 2])
    rate(rita, running_app.url, "rita", tasks["rita"], [3, 1, 0])
    ann.get_by_label("Item").first.wait_for(timeout=TIMEOUT_MS)
    shoot(ann, screenshots / "ratings.png")

    # Per aspect: units [3,3], [1,1], [2,0]; P = 2/3, p_e = 10/36, kappa = 14/26 = 0.538.
    lea = browser.new_context(viewport=VIEWPORT).new_page()
    sign_in(lea, running_app.url, "lea", PASSWORD)
    choose(lea, "Project", "demo-extes")
    go_to(lea, "Ratings")
    lea.get_by_role("tab", name="Agreement and comparisons").click()
    wait_idle(lea)
    lea.get_by_text("Informativeness: Fleiss' kappa 0.538").wait_for(timeout=TIMEOUT_MS)
    lea.get_by_text("3 of 3 items rated").first.wait_for(timeout=TIMEOUT_MS)
    shoot(lea, screenshots / "ratings-agreement.png")
    result = quality.campaign_agreement(running_app.ctx, LEAD, campaign.id)
    assert all(a.fleiss.kappa == 0.538 for a in result.aspects)
