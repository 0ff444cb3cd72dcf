"""kill -9 in the middle of an import and of a backup: nothing partial, nothing left behind that
the next run does not clean up, and the rerun gives the whole result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from curation_app.services.context import AppContext
from curation_app.services.projects import create_project
from tests.conftest import LEAD
from tests.security.hostile import encode, record

pytestmark = pytest.mark.slow
N = 3000


def _cli(url: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CURATION_DATABASE_URL": url, "CURATION_USER": "lead"}
    return subprocess.Popen([sys.executable, "-m", "curation_app", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _count(ctx: AppContext) -> int:
    with ctx.uow() as uow:
        return len(uow.repo.list_dialogues(uow.repo.get_project("k"), None))


def test_kill_during_import_and_backup(db_url, tmp_path):
    ctx = AppContext.from_url(db_url)
    create_project(ctx.uow(), LEAD, "k", "esconv")
    big = tmp_path / "big.jsonl"
    big.write_bytes(encode([record("jsonl", f"turn {i}") for i in range(N)], "jsonl"))
    try:
        for delay in (0.5, 1.5):
            proc = _cli(db_url, "import", big, "--format", "jsonl", "--project", "k")
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            assert _count(ctx) in (0, N)  # all or nothing, whenever the kill came
        if _count(ctx) == 0:
            done = _cli(db_url, "import", big, "--format", "jsonl", "--project", "k")
            assert done.wait(timeout=300) == 0, done.stderr.read()
        assert _count(ctx) == N

        out = tmp_path / "backup.jsonl"
        proc = _cli(db_url, "backup", out)
        time.sleep(0.8)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if not out.exists():  # killed in time: no file under the target's name
            done = _cli(db_url, "backup", out)
            assert done.wait(timeout=300) == 0, done.stderr.read()
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
        assert out.read_text(encoding="utf-8").count("\n") > N
    finally:
        ctx.close()
