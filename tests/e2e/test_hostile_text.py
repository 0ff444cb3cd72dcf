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
# bare addresses, which GFM would turn into links on its own (see curation_app/ui/plain.py)
BARE = "https://evil.example/x www.evil.example a@evil.example"


def hostile(field: str, *, bare: bool = True) -> str:
    return (f"**{field}** {IMAGE.format(field)} {SCRIPT} [link](http://example.invalid/{field})"
            + (f" {BARE}" if bare else ""))


def body_text(page) -> str:
    """What a person reads: the word joiners that keep bare addresses unlinked are invisible."""
    return page.inner_text("body").replace("\u2060", "")


def links_to_user_hosts(page) -> list[list[str]]:
    """Every <a> on the page that points at a host named in the hostile text."""
    anchors = page.evaluate("() => [...document.links].map(a => [a.textContent, a.href])")
    return [a for a in anchors if "example.invalid" in a[1] or "evil.example" in a[1]]


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
            visited.append((title, body_text(page)))
            assert page.evaluate("() => window.__pwned") is None, title
            assert links_to_user_hosts(page) == [], title
            # no <img> from user text: only the app's own images are on the page
            sources = page.evaluate("() => [...document.images].map(i => i.src)")
            assert not [s for s in sources if "example.invalid" in s], (title, sources)
        context.close()
    shown = "\n".join(text for _, text in visited)
    for field in ("description", "comment", "submit_note"):
        assert f"**{field}** {IMAGE.format(field)}" in shown, field
    # the bare addresses are there, as text, in a turn, the topic and the reviewer's comment
    for field in ("turn1", "topic", "comment"):
        assert f"[link](http://example.invalid/{field}) {BARE}" in shown, field
    outside = sorted({u for u in requests
                      if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                      and urlsplit(u).netloc != app_host})
    assert outside == []
    assert any(title == "Editor" for title, _ in visited) and returned


def hostile_nb(field: str) -> str:
    """Without the e-mail address, which the privacy check would hold the release back for."""
    return hostile(field, bare=False)


def _seed_new_pages(ctx, exports) -> int:
    """Hostile text where the pages merged after issue 13 show it: a campaign's name, a
    rater's comment, a topic, dialogue turns, an annotator's name (Adjudication), a release
    card's limitations."""
    from curation_app.domain import Status
    from curation_app.services import editing, quality
    from curation_app.services import release as release_services
    from curation_app.services.permissions import Actor, UserRole
    from tests.release.conftest import build_corpus

    lea = Actor("lea", UserRole.LEAD)
    build_corpus(ctx, name="extes-demo")
    topic = hostile_nb("topic")
    add_labels(ctx.uow(), SYSTEM_ACTOR, "extes-demo", "topic", [topic])
    owner = "x*y_[a](http://example.invalid/owner)"
    users.add_user(ctx, SYSTEM_ACTOR, owner, "annotator", PASSWORD)
    with ctx.uow() as uow:
        record = uow.repo.get_project("extes-demo")
        turns = [Turn(Role.SEEKER, hostile_nb("turn1")),
                 Turn(Role.SUPPORTER, hostile_nb("turn2"), ["Reflective Statements"])]
        (approved,) = uow.repo.add_dialogues(record, [Dialogue(
            turns=turns, topic=topic, description=hostile_nb("description"), language="en",
            status=Status.APPROVED)], author="import")
        (draft,) = uow.repo.add_dialogues(record, [Dialogue(
            turns=turns, topic=topic, language="en", status=Status.DRAFT)], author="import")
        uow.commit()
    (_, _), (copy, _) = workflow.assign(ctx, lea, "extes-demo", annotators=["ann", owner],
                                        dialogue_ids=[draft], overlap=2)
    d = editing.get_dialogue(ctx.uow(), lea, copy)
    editing.save_revision(ctx.uow(), lea, copy, d.version,
                          [d.turns[0], Turn(Role.SUPPORTER, hostile_nb("changed"), [])])
    campaign = quality.create_campaign(
        ctx, lea, "extes-demo", hostile_nb("campaign"), "extes", ["ann"],
        [quality.SampleSpec("ids", ids=(approved,))], overlap=1)
    (task,) = quality.my_items(ctx, Actor("ann", UserRole.ANNOTATOR), campaign.id)
    quality.rate(ctx, Actor("ann", UserRole.ANNOTATOR), task.item_id,
                 dict.fromkeys(("informativeness", "understanding", "helpfulness",
                                "consistency", "coherence"), 2), hostile_nb("comment"))
    release_services.build_release(ctx, lea, "extes-demo", "1.0.0", out=exports)
    card = exports / "extes-demo" / "1.0.0" / "README.md"
    card.write_text(card.read_text(encoding="utf-8") + f"\n- {hostile_nb('limitations')}\n",
                    encoding="utf-8")
    return draft
    assert approved


def test_new_pages_show_hostile_text_as_text_and_ask_no_outside_host(browser, tmp_path):
    from tests.e2e.conftest import app_env, start_streamlit, stop

    env, ctx = app_env(tmp_path)
    exports = tmp_path / "exports"
    env["CURATION_EXPORTS_DIR"] = str(exports)
    group = _seed_new_pages(ctx, exports)
    url, process, _log = start_streamlit(tmp_path, env)
    app_host = urlsplit(url).netloc
    requests: list[str] = []
    visited = []
    try:
        for name, pages in (("ann", ["Ratings"]), ("rita", ["Adjudication"]),
                            ("lea", ["Ratings", "Releases", "Statistics"])):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            sign_in(page, url, name, PASSWORD)
            choose(page, "Project", "extes-demo")
            for title in pages:
                go_to(page, title)
                wait_idle(page)
                if title == "Adjudication":  # the group with the hostile annotator's copy
                    choose(page, "Overlap group", f"#{group} ·")
                    page.get_by_text("x*y_[a](http:").first.wait_for(timeout=TIMEOUT_MS)
                if title == "Releases":
                    page.get_by_text("1.0.0 ·").first.click()
                    wait_idle(page)
                visited.append((f"{name}:{title}", body_text(page)))
                assert page.evaluate("() => window.__pwned") is None, title
                sources = page.evaluate("() => [...document.images].map(i => i.src)")
                assert not [s for s in sources if "example.invalid" in s], (title, sources)
                # no link from user text: neither ``[link](…)`` nor a bare address
                assert links_to_user_hosts(page) == [], title
            context.close()
    finally:
        stop(process)
        ctx.close()
    shown = dict(visited)
    assert f"**turn1** {IMAGE.format('turn1')}" in shown["ann:Ratings"]
    assert f"**limitations** {IMAGE.format('limitations')}" in shown["lea:Releases"]
    assert "x*y_[a](http://example.invalid/owner)" in shown["rita:Adjudication"]
    outside = sorted({u for u in requests
                      if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                      and urlsplit(u).netloc != app_host})
    assert outside == []
