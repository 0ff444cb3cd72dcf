"""Which process runs a job, and whether it still does.

A job marked ``running`` whose process was killed (kill -9, a crash, a reboot) never gets to
say so. The runner records itself (host, pid, the process's start time) when it starts; readers
compare that with the living processes of this host: a pid that is gone, or reused by a newer
process, means the job was interrupted. A runner on another host cannot be checked from here
and is taken as running.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def current_runner() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": _start_time(pid)}


def runner_alive(runner: Any) -> bool:
    """False only when ``runner`` certainly no longer runs (same host, process gone or its
    pid reused); True when it runs or cannot be checked."""
    if not isinstance(runner, dict) or runner.get("host") != socket.gethostname():
        return True
    pid = runner.get("pid")
    if not isinstance(pid, int):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    started = runner.get("started")
    return started is None or _start_time(pid) in (None, started)
