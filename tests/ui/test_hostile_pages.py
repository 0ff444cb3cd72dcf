"""Hostile text (Markdown images and links, HTML, <script>) in user-supplied fields on the pages
added after issue 13 (Ratings, Adjudication, Releases, Statistics, the provenance panel): every
Markdown sink on the page renders it as text, and the words are all there to read.

Each element Streamlit renders as Markdown (text elements, alerts, expander, tab, button and radio
labels, radio options) is rendered here with CommonMark: no image, link, HTML or emphasis may come
from the user's text. The browser-level check (network requests) is tests/e2e/test_hostile_text.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.services import projects, quality, workflow
from curation_app.services import release as release_services
from curation_app.services.context import AppContext
from curation_app.services.setup import SYSTEM_ACTOR
from curation_app.ui import state
from tests.release.conftest import build_corpus
from tests.ui.conftest import actor, open_page, texts

PROJECT = "demo-extes"
HOST = "example.invalid"


def hostile(field: str) -> str:
    return (f"**{field}** ![x](http://{HOST}/{field}.png) <script>alert(1)</script>"
            f"<img src=http://{HOST}/{field}.gif> [link](http://{HOST}/{field}) :red[{field}]")


def markdown_sources(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit renders as Markdown."""
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success",
                 "warning", "error"):
        out += [str(el.value) for el in getattr(at, kind)]
    out += [str(el.label) for el in at.expander] + [str(el.label) for el in at.tabs]
    out += [str(el.label) for el in at.button]
    for radio in at.radio:
        out.append(str(radio.label))
        out += [str(o) for o in radio.options]
    return out


def assert_shown_as_text(at: AppTest, *fields: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    parser = MarkdownIt("commonmark")
    for source in markdown_sources(at):
        html = parser.render(source)
        # no image, link or tag from the user's text survives (the app's own markup is bold,
        # italics and line breaks only)
        assert "<img" not in html and f'href="http://{HOST}' not in html, source
        assert "<script" not in html and "<a " not in html, source
        assert ":red[" not in source, source  # a Streamlit directive would colour the text
    shown = texts(at)
    for field in fields:  # the words, as typed (texts() unescapes what md() escaped)
        assert hostile(field) in shown, field


def _hostile_dialogue(topic: str, **fields: object) -> Dialogue:
    return Dialogue(turns=[Turn(Role.SEEKER, hostile("turn1")),
                           Turn(Role.SUPPORTER, hostile("turn2"), ["Reflective Statements"])],
                    language="en", topic=topic, description=hostile("description"),
                    **fields)  # type: ignore[arg-type]


def _hostile_project(ctx: AppContext, name: str = "hostile") -> str:
    projects.create_project(ctx.uow(), SYSTEM_ACTOR, name, "extes")
    projects.add_labels(ctx.uow(), SYSTEM_ACTOR, name, "topic", [hostile("topic")])
    return name


def test_ratings_page_shows_campaign_names_turns_and_comments_as_text(make_app, app_ctx):
    project = _hostile_project(app_ctx)
    with app_ctx.uow() as uow:
        uow.repo.add_dialogues(uow.repo.get_project(project),
                               [_hostile_dialogue(hostile("topic"))], author="import")
        uow.commit()
    campaign = quality.create_campaign(app_ctx, actor("lea"), project, hostile("campaign"),
                                       "extes", ["ann"], [quality.SampleSpec("random", n=1)],
                                       overlap=1)
    (task,) = quality.my_items(app_ctx, actor("ann"), campaign.id)
    quality.rate(app_ctx, actor("ann"), task.item_id,
                 dict.fromkeys(("informativeness", "understanding", "helpfulness",
                                "consistency", "coherence"), 2), hostile("comment"))
    ann = open_page(make_app("ann", project=project), "ratings")
    assert_shown_as_text(ann, "turn1", "turn2", "description")
    assert ann.text_input(key=f"ratings.{task.item_id}.comment").value == hostile("comment")
    # the campaign's name is in the selectbox (options are plain text there) exactly as typed
    assert any(hostile("campaign") in o
               for o in ann.selectbox(key=f"w:{state.RATINGS_CAMPAIGN}").options)
    lea = open_page(make_app("lea", project=project), "ratings")
    assert_shown_as_text(lea)  # manage and results tabs (the lead rates nothing here)
    lea.button(key="ratings.close").click().run()
    assert_shown_as_text(lea)  # the flash quotes the campaign's name
    assert f"Campaign {hostile('campaign')} closed." in texts(lea)


def test_adjudication_page_shows_annotator_names_and_turns_as_text(make_app, app_ctx):
    from curation_app.services import editing, users

    project = _hostile_project(app_ctx)
    name = "x*y_[a](http://example.invalid/u)"
    users.add_user(app_ctx, SYSTEM_ACTOR, name, "annotator", "correct horse battery")
    with app_ctx.uow() as uow:
        uow.repo.add_dialogues(uow.repo.get_project(project),
                               [_hostile_dialogue(hostile("topic"))], author="import")
        uow.commit()
    (original, _), (copy, owner) = workflow.assign(app_ctx, actor("lea"), project,
                                                   annotators=["ann", name], overlap=2,
                                                   count=1)
    assert owner == name
    d = editing.get_dialogue(app_ctx.uow(), actor("lea"), copy)
    turns = list(d.turns)
    turns[1] = Turn(Role.SUPPORTER, hostile("changed"), ["Reflective Statements"])
    editing.save_revision(app_ctx.uow(), actor("lea"), copy, d.version, turns)
    at = open_page(make_app("rita", project=project), "adjudication")
    assert_shown_as_text(at)
    shown = texts(at)
    assert name in shown  # the copy's title names its annotator, escaped
    radio = at.radio(key=f"adjudication.{original}.turn.1")
    assert any(name in texts_of(o) for o in radio.options)
    # the turns are escaped HTML in st.html: the tags are text, not elements
    page_html = "".join(str(h.proto.body) for h in at.get("html"))
    assert "&lt;script&gt;alert(1)" in page_html and "<script>alert" not in page_html
    assert f"<img src=http://{HOST}" not in page_html


@pytest.fixture
def exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "exports"
    monkeypatch.setenv("CURATION_EXPORTS_DIR", str(out))
    return out


def test_release_cards_and_statistics_show_user_text_as_text(make_app, app_ctx, exports):
    corpus = build_corpus(app_ctx, name="extes-demo")
    projects.add_labels(app_ctx.uow(), SYSTEM_ACTOR, "extes-demo", "topic", [hostile("topic")])
    with app_ctx.uow() as uow:
        uow.repo.add_dialogues(uow.repo.get_project("extes-demo"), [_hostile_dialogue(
            hostile("topic"), status=Status.APPROVED)], author="import")
        uow.commit()
    release_services.build_release(app_ctx, actor("lea"), "extes-demo", "1.0.0", out=exports)
    card = exports / "extes-demo" / "1.0.0" / "README.md"
    # a card whose limitations quote a hostile sentence (cards quote descriptions and names)
    card.write_text(card.read_text(encoding="utf-8") + f"\n- {hostile('limitations')}\n",
                    encoding="utf-8")
    at = open_page(make_app("lea", project="extes-demo"), "releases")
    assert_shown_as_text(at)
    (code,) = at.code
    assert hostile("limitations") in code.value  # shown as source, never rendered
    stats = open_page(make_app("lea", project="extes-demo"), "statistics")
    assert_shown_as_text(stats)
    topics = next(d.value for d in stats.dataframe if "topic" in d.value.columns)
    assert hostile("topic") in set(topics["topic"])
    assert corpus.approved


def test_provenance_panel_shows_model_template_and_seed_topic_as_text(make_app, app_ctx):
    project = _hostile_project(app_ctx)
    with app_ctx.uow() as uow:
        record = uow.repo.get_project(project)
        (seed,) = uow.repo.add_dialogues(record, [_hostile_dialogue(
            hostile("topic"), is_seed=True, seed_round=0)], author="import")
        (draft,) = uow.repo.add_dialogues(record, [_hostile_dialogue(
            hostile("topic"), source=Source.GENERATED, seed_round=1, provenance={
                "model": hostile("model"), "template": "tpl@1",
                "template_name": hostile("template"), "template_version": 1,
                "seed_ids": [seed],
                "prompt": [{"role": hostile("role"), "content": hostile("prompt")}]})],
            author="generator")
        uow.commit()
    at = make_app("lea", project=project)
    at.session_state[state.EDITOR_DIALOGUE] = draft
    at = open_page(at, "editor")
    assert_shown_as_text(at, "model", "template")
    labels = [b.label for b in at.button if b.key and b.key.startswith("provenance.seed.")]
    assert labels and all(hostile("topic") in texts_of(label) for label in labels)
    assert all("<img" not in MarkdownIt("commonmark").render(label) for label in labels)
    assert any(hostile("prompt") in c.value for c in at.code)


def texts_of(markdown: str) -> str:
    """What a person reads of one escaped Markdown string."""
    import re

    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")
