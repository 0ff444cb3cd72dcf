"""Hostile text in every user-supplied field, in a real browser: shown as text, no script runs,
and the page asks no host but the app's own for anything (favicon and fonts included)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from curation_app.domain import Dialogue, Role, Source, Turn
from curation_app.services import users, workflow
from curation_app.services.projects import add_labels
from curation_app.services.setup import SYSTEM_ACTOR
from tests.e2e.conftest import PASSWORD, RunningApp
from tests.e2e.drive import TIMEOUT_MS, choose, go_to, sign_in, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IMAGE = "![x](http://example.invalid/{}.png)"
SCRIPT = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'>"


def hostile(field: str) -> str:
    return f"**{field}** {IMAGE.format(field)} {SCRIPT} [link](http://example.invalid/{field})"


def _seed(app: RunningApp) -> tuple[int, int]:
    ctx = app.ctx
    topic = hostile("topic")
    add_labels(ctx.uow(), SYSTEM_ACTOR, "demo-peconv", "topic", [topic])
    users.add_user(ctx, SYSTEM_ACTOR, hostile("user")[:150], "annotator", PASSWORD)
    made = []
    for assignee in ("ann", "ann"):
        with ctx.uow() as uow:
            (did,) = uow.repo.add_dialogues(uow.repo.get_project("demo-peconv"), [Dialogue(
                turns=[Turn(Role.SEEKER, hostile("turn1")),
                       Turn(Role.SUPPORTER, hostile("turn2"), ["validation"])],
                topic=topic, emotion="angry", description=hostile("description"),
                source=Source.GENERATED, assignee=assignee)], author="model")
            uow.commit()
        made.append(did)
    returned, submitted = made
    workflow.submit(ctx, SYSTEM_ACTOR, returned, hostile("note"))
    workflow.return_(ctx, SYSTEM_ACTOR, returned, hostile("comment"))
    workflow.submit(ctx, SYSTEM_ACTOR, submitted, hostile("submit_note"))
    return returned, submitted


def test_hostile_text_is_shown_as_text_and_nothing_leaves_the_app(
        browser, running_app: RunningApp):
    returned, _ = _seed(running_app)
    app_host = urlsplit(running_app.url).netloc
    requests: list[str] = []
    visited = []
    for name, pages in (("ann", ["My queue", "Editor"]), ("rita", ["Review"]),
                        ("lea", ["Progress", "Users", "Checks"])):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        sign_in(page, running_app.url, name, PASSWORD)
        choose(page, "Project", "demo-peconv")
        for title in pages:
            go_to(page, title)
            if title == "Checks":
                page.get_by_role("button", name="Run checks").click()
                page.get_by_text("Checks done").wait_for(timeout=TIMEOUT_MS)
                wait_idle(page)
            visited.append((title, page.inner_text("body")))
            assert page.evaluate("() => window.__pwned") is None, title
            # no <img> from user text: only the app's own images are on the page
            sources = page.evaluate("() => [...document.images].map(i => i.src)")
            assert not [s for s in sources if "example.invalid" in s], (title, sources)
        context.close()
    shown = "\n".join(text for _, text in visited)
    for field in ("description", "comment", "submit_note"):
        assert f"**{field}** {IMAGE.format(field)}" in shown, field
    outside = sorted({u for u in requests
                      if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                      and urlsplit(u).netloc != app_host})
    assert outside == []
    assert any(title == "Editor" for title, _ in visited) and returned
