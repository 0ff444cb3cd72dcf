"""A job's runner: alive while its process lives, gone once it was killed (pid reuse too)."""

from __future__ import annotations

import subprocess
import sys

from curation_app.processes import current_runner, runner_alive


def test_the_current_process_is_alive_and_a_killed_one_is_not():
    assert runner_alive(current_runner())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    runner = {**current_runner(), "pid": child.pid}
    runner["started"] = None
    assert runner_alive(runner)
    child.kill()
    child.wait()
    assert not runner_alive(runner)


def test_a_reused_pid_or_another_host():
    me = current_runner()
    assert not runner_alive({**me, "started": "1"})  # same pid, another start: reused
    assert runner_alive({**me, "host": "elsewhere", "pid": 999_999_999})  # cannot tell
    assert runner_alive(None) and runner_alive({"host": me["host"], "pid": "x"})
