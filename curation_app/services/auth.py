"""Signed, expiring sign-in tokens for the web app's cookie.

A token is ``account.expiry.signature``: the account's id and session version (URL-safe base64),
the expiry, and an HMAC-SHA256 over both. It names no user name: an account deleted and
re-created under the same name has a new id, and a sign-out, password change or role change
bumps the session version, so older tokens stop working at once (see services.users).
The secret is ``CURATION_SECRET_KEY`` or, for the embedded default, a random key kept in a
0600 file in the data directory, so tokens survive restarts of one machine's app. Several app
servers sharing a PostgreSQL database must share CURATION_SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from curation_app.store.db import data_dir

COOKIE_NAME = "curation_session"
DEFAULT_TTL_S = 12 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def secret_key() -> bytes:
    configured = os.environ.get("CURATION_SECRET_KEY")
    if configured:
        return configured.encode("utf-8")
    path = Path(data_dir()) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: if two app processes race, one creates the file and both then read it.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        except FileExistsError:
            pass
    return path.read_text().strip().encode("utf-8")


def _sign(payload: str, key: bytes) -> str:
    return _b64(hmac.new(key, payload.encode("utf-8"), hashlib.sha256).digest())


def issue_token(user_id: int, session_version: int, ttl_s: int = DEFAULT_TTL_S, *,
                now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + ttl_s)
    payload = f"{_b64(f'{user_id}:{session_version}'.encode('ascii'))}.{expires}"
    return f"{payload}.{_sign(payload, secret_key())}"


def verify_token(token: str | None, *, now: float | None = None) -> tuple[int, int] | None:
    """(account id, session version) of a valid, unexpired token; None for anything else."""
    if not token or token.count(".") != 2:
        return None
    account, expires, signature = token.split(".")
    payload = f"{account}.{expires}"
    if not hmac.compare_digest(signature, _sign(payload, secret_key())):
        return None
    try:
        if int(expires) < (now if now is not None else time.time()):
            return None
        user_id, version = _unb64(account).decode("ascii").split(":")
        return int(user_id), int(version)
    except (ValueError, UnicodeDecodeError):
        return None
