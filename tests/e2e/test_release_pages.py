"""A lead cuts a release and reads the statistics in a real browser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORD, app_env, start_streamlit, stop
from tests.e2e.drive import TIMEOUT_MS, choose, go_to, sign_in, wait_idle
from tests.release.conftest import build_corpus

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_lead_releases_and_reads_the_statistics(browser, tmp_path: Path, screenshots: Path):
    env, ctx = app_env(tmp_path)
    build_corpus(ctx, name="extes-demo")
    env["CURATION_EXPORTS_DIR"] = str(tmp_path / "exports")
    url, process, _log = start_streamlit(tmp_path, env)
    try:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        sign_in(page, url, "lea", PASSWORD)
        choose(page, "Project", "extes-demo")
        go_to(page, "Releases")
        page.get_by_text("No release of this project yet.").wait_for(timeout=TIMEOUT_MS)
        page.get_by_role("button", name="Build release").click()
        page.get_by_text("released extes-demo 1.0.0 to").wait_for(timeout=60_000)
        wait_idle(page)
        manifest = tmp_path / "exports" / "extes-demo" / "1.0.0" / "manifest.json"
        assert json.loads(manifest.read_text())["splits"]["train"]["count"] > 0
        page.get_by_text("1.0.0 ·").first.click()
        # the card is shown as its Markdown source (it quotes user text), not rendered
        page.locator('[data-testid="stCode"]').filter(
            has_text="## How it was curated").first.wait_for(timeout=TIMEOUT_MS)
        page.screenshot(path=str(screenshots / "releases.png"))

        go_to(page, "Statistics")
        page.get_by_role("heading", name="Strategies").wait_for(timeout=TIMEOUT_MS)
        # The Altair charts are drawn (Vega renders them into canvas or svg elements).
        page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=TIMEOUT_MS)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() == 3
        page.screenshot(path=str(screenshots / "statistics.png"))
    finally:
        stop(process)
        ctx.close()
