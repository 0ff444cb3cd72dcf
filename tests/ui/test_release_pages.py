"""Releases and Statistics pages (leads): build a release with progress, read the cards; see the
tables and charts."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation_app.services.context import AppContext
from curation_app.ui.layout import pages_for
from tests.release.conftest import build_corpus
from tests.ui.conftest import actor, open_page, texts

PROJECT = "extes-demo"


@pytest.fixture
def exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "exports"
    monkeypatch.setenv("CURATION_EXPORTS_DIR", str(out))
    return out


def test_only_leads_see_the_pages():
    assert {"releases", "statistics"} <= {p.url_path for p in pages_for(actor("lea"))}
    for name in ("ann", "rita"):
        assert not {"releases", "statistics"} & {p.url_path for p in pages_for(actor(name))}


def test_a_lead_builds_a_release_and_reads_its_card(make_app, app_ctx: AppContext,
                                                    exports: Path):
    build_corpus(app_ctx, name=PROJECT)
    at = open_page(make_app("lea", project=PROJECT), "releases")
    assert "No release of this project yet." in texts(at)
    at.text_input(key="releases.version").input("1.0.0")
    at.button(key="releases.build_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert f"released {PROJECT} 1.0.0 to " in texts(at)
    assert (exports / PROJECT / "1.0.0" / "manifest.json").exists()
    assert "1.0.0 ·" in at.expander[0].label.replace("\\", "")  # the label is escaped Markdown
    # the card is shown as its Markdown source, not rendered (it quotes user text)
    assert "## How it was curated" in at.code[0].value
    # The same version again is refused on the page; a fresh visit suggests the next one.
    at.button(key="releases.build_go").click().run()
    assert "already exists" in "\n".join(e.value for e in at.error)
    fresh = open_page(make_app("lea", project=PROJECT), "releases")
    assert fresh.text_input(key="releases.version").value == "1.0.1"


def test_the_statistics_page_shows_the_tables(make_app, app_ctx: AppContext):
    build_corpus(app_ctx, name=PROJECT)
    at = open_page(make_app("lea", project=PROJECT), "statistics")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Dialogues"] == "59" and metrics["Dialogues changed"] == "1.69%"
    frames = [d.value for d in at.dataframe]
    strategies = next(f for f in frames if "strategy" in f.columns and "count" in f.columns)
    assert strategies["count"].sum() == 59 * 4
    assert "Strategy shares across four conversation phases (%)" in texts(at)
