"""A throwaway PostgreSQL cluster of a test's own (initdb into a temporary directory, pg_ctl on
a free port), so that a test can stop and start *its* server without touching the shared one
other tests use. PostgreSQL's programs refuse to run as root: as root they run as the
``postgres`` user (runuser)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """``Cluster.create()``, then ``start()`` / ``stop()`` as often as wanted; ``remove()``."""

    def __init__(self, bin_dir: Path, root: Path, port: int, as_user: list[str]):
        self.bin_dir, self.root, self.port, self._as = bin_dir, root, port, as_user
        self.data = root / "data"
        self.log = root / "server.log"

    @classmethod
    def create(cls) -> Cluster:
        """A new cluster (not started). Raises RuntimeError saying why one cannot be made."""
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server programs under /usr/lib/postgresql/*/bin")
        as_user: list[str] = []
        root = Path(tempfile.mkdtemp(prefix="curation-pg-restart-"))
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root and runuser is missing to run initdb as "
                                   "postgres")
            as_user = [runuser, "-u", "postgres", "--"]
            shutil.chown(root, "postgres", "postgres")
        cluster = cls(bin_dir, root, _free_port(), as_user)
        cluster._run("initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust",
                     "-E", "UTF8", "--no-sync")
        return cluster

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bin_dir / program), *args],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-2000:]}")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "start")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server: ``immediate`` is a crash as far as clients can tell."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
