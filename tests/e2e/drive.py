"""What a person does in the app, as Playwright steps (shared by the browser tests)."""

from __future__ import annotations

from typing import Any

TIMEOUT_MS = 20_000


def wait_idle(page: Any) -> None:
    """Until Streamlit has finished the current run (its status widget is gone)."""
    page.wait_for_timeout(150)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=TIMEOUT_MS)


def sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)


def go_to(page: Any, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)


def choose(page: Any, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label``."""
    box = page.get_by_label(label, exact=True)
    box.click()
    page.get_by_role("option", name=option).first.click()
    wait_idle(page)
