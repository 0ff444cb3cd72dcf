"""Signed, expiring sign-in tokens."""

from __future__ import annotations

import os
import stat

from curation_app.services import auth


def test_a_token_names_its_account_and_session_until_it_expires(monkeypatch):
    monkeypatch.setenv("CURATION_SECRET_KEY", "k" * 32)
    token = auth.issue_token(7, 3, ttl_s=60, now=1000.0)
    assert auth.verify_token(token, now=1059.0) == (7, 3)
    assert auth.verify_token(token, now=1061.0) is None


def test_tampered_or_foreign_tokens_are_rejected(monkeypatch):
    monkeypatch.setenv("CURATION_SECRET_KEY", "k" * 32)
    token = auth.issue_token(5, 0)
    name, expires, signature = token.split(".")
    forged = f"{auth._b64(b'1:0')}.{expires}.{signature}"
    assert auth.verify_token(forged) is None
    assert auth.verify_token(f"{name}.{int(expires) + 10**6}.{signature}") is None
    for junk in (None, "", "a.b", "x.y.z", "....", "a.notanumber.c"):
        assert auth.verify_token(junk) is None
    monkeypatch.setenv("CURATION_SECRET_KEY", "another secret")
    assert auth.verify_token(token) is None


def test_the_embedded_default_keeps_a_private_key_file(tmp_path, monkeypatch):
    monkeypatch.delenv("CURATION_SECRET_KEY", raising=False)
    monkeypatch.setenv("CURATION_DATA_DIR", str(tmp_path))
    token = auth.issue_token(2, 0)
    key_file = tmp_path / "secret.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert auth.verify_token(token) == (2, 0)  # same key read back
