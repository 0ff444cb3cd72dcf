"""The app in a real browser: ``streamlit run`` on loopback, driven by Playwright in Debian's
headless Chromium (never a downloaded browser build).

Locally the browser tests skip, with the reason, when /usr/bin/chromium (or $CURATION_CHROMIUM)
or Playwright is missing; with CURATION_REQUIRE_BROWSER=1 (set by scripts/test.sh under CI) they
fail instead, so CI cannot pass by skipping them. Screenshots go to ``test-output/e2e/`` at the
repository root (or $CURATION_SCREENSHOT_DIR).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from curation_app.services import users
from curation_app.services.context import AppContext
from curation_app.services.setup import SYSTEM_ACTOR, initialise
from tests.conftest import REPO_ROOT
from tests.openai_stub_server import OpenAIStub

CHROMIUM = os.environ.get("CURATION_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("CURATION_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
APP = REPO_ROOT / "curation_app" / "ui" / "app.py"
SCREENSHOTS = Path(os.environ.get("CURATION_SCREENSHOT_DIR") or REPO_ROOT / "test-output" / "e2e")
PASSWORD = "correct horse battery"
PEOPLE = {"ann": "annotator", "rita": "reviewer", "lea": "lead"}


def missing(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason}, but CURATION_REQUIRE_BROWSER=1 requires the browser tests")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """One Chromium for the browser tests. Package-scoped: Playwright's sync API keeps an event
    loop running in this thread while it is open, which later tests' asyncio.run() refuses."""
    if not Path(CHROMIUM).exists():
        missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not answer on {url} within {timeout_s} s")


@dataclass
class RunningApp:
    url: str
    ctx: AppContext
    stub: OpenAIStub
    log: Path


def start_streamlit(tmp_path: Path, env: dict[str, str], *, cwd: Path | None = None,
                    port: int | None = None) -> tuple[str, subprocess.Popen[bytes], Path]:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / f"streamlit-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        env={**os.environ, **env}, cwd=cwd or tmp_path, stdout=log.open("wb"),
        stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, process)
    except Exception:
        process.kill()
        raise RuntimeError(log.read_text(errors="replace")[-3000:]) from None
    return url, process, log


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def app_env(tmp_path: Path) -> tuple[dict[str, str], AppContext]:
    """A fresh database with the demo projects and one user per role."""
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    ctx = AppContext.from_url(url)
    initialise(ctx, demo=True)
    for name, role in PEOPLE.items():
        users.add_user(ctx, SYSTEM_ACTOR, name, role, PASSWORD)
    env = {"CURATION_DATABASE_URL": url, "CURATION_DATA_DIR": str(tmp_path / "data"),
           "CURATION_SECRET_KEY": "e2e-secret", "OPENAI_API_KEY": "sk-test-e2e",
           "STREAMLIT_CLIENT_TOOLBAR_MODE": "minimal"}
    return env, ctx


@pytest.fixture
def running_app(browser: object, tmp_path: Path) -> Iterator[RunningApp]:
    env, ctx = app_env(tmp_path)
    with OpenAIStub(latency_s=0.05) as stub:
        env["OPENAI_BASE_URL"] = stub.url
        url, process, log = start_streamlit(tmp_path, env)
        try:
            yield RunningApp(url, ctx, stub, log)
        finally:
            stop(process)
            ctx.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
