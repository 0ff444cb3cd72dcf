"""Where the database is: the URL and data folder from the environment, and the URL with its
password hidden. Pure standard library, so that `curation info` and `curation --help` answer
without loading SQLAlchemy (see :mod:`curation_app.store.db` for connecting)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote, unquote

# dialect[+driver]://… as SQLAlchemy's make_url accepts it
_URL = re.compile(r"^(?P<scheme>[\w+\-.]+)://(?P<rest>.*)$", re.S)


def data_dir() -> Path:
    """The embedded database folder: ``$CURATION_DATA_DIR`` or ~/.local/share/curation-app."""
    configured = os.environ.get("CURATION_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "curation-app"


def database_url() -> str:
    """``$CURATION_DATABASE_URL`` if set, else the SQLite file in :func:`data_dir`."""
    url = os.environ.get("CURATION_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'curation.db'}"


def redact(url: str) -> str:
    """The URL with any password hidden (``***``, as SQLAlchemy renders it), for messages."""
    match = _URL.match(url)
    if match is None:
        return "<unparseable database URL>"
    rest = match.group("rest")
    netloc, slash, tail = rest.partition("/")
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{quote(unquote(user), safe='')}:***@{host}"
    return f"{match.group('scheme')}://{netloc}{slash}{tail}"
