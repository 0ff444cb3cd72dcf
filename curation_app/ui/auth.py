"""Who is using the app: password sign-in kept across reloads by a signed cookie, or OIDC.

Streamlit's session state is lost on a reload, so a password sign-in also writes a cookie that
holds a signed, expiring token (:mod:`curation_app.services.auth`): the account's id and session
version, the expiry, HMAC-SHA256 with the server's secret. The browser sends it with the next
page load, where ``st.context.cookies`` reads it and :func:`actor_from_cookies` checks the
signature and expiry and that the account's session is still the token's (signing out, a new
password, a new role or removing the account ends it at once, everywhere).

Streamlit has no API to set a cookie, so the cookie is written by a two-line script rendered
with ``st.html(..., unsafe_allow_javascript=True)`` (not iframed: it runs in the app's own
document). Such a cookie cannot be ``HttpOnly``; it is ``SameSite=Strict``, ``Secure`` under
HTTPS, carries no password, and expires with the token. Signing out deletes it the same way and
marks the session so the request's now-stale cookie is not read again.

When the Streamlit secrets have an ``[auth]`` section, the sign-in page also offers
``st.login()``; the identity provider's e-mail / name (``st.user``) is mapped onto an existing
account by :func:`curation_app.services.users.actor_for_identity`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import streamlit as st

from curation_app.errors import CurationError, NotFoundError
from curation_app.services import auth as tokens
from curation_app.services import users
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor
from curation_app.ui import readers, state
from curation_app.ui.i18n import LANGUAGE_COOKIE

LANGUAGE_MAX_AGE_S = 365 * 24 * 3600


# ---- reading who is signed in ----------------------------------------------------------------
def actor_from_cookies(ctx: AppContext, cookies: Mapping[str, str]) -> Actor | None:
    """The account of a valid, unexpired session cookie, if that account still exists and has
    not signed out, changed its password or its role since the cookie was issued."""
    session = tokens.verify_token(cookies.get(tokens.COOKIE_NAME))
    if session is None:
        return None
    try:
        return users.actor_for_session(ctx, *session)
    except NotFoundError:
        return None


def oidc_providers() -> list[str | None]:
    """The OIDC providers configured in ``[auth]`` of the Streamlit secrets ([None] = default)."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # noqa: BLE001 - no secrets file at all: no OIDC
        return []
    if not isinstance(section, Mapping):
        return []
    if section.get("client_id"):
        return [None]
    return [name for name, value in section.items() if isinstance(value, Mapping)]


def _oidc_identity() -> tuple[str | None, str | None] | None:
    if not oidc_providers() or not st.user.get("is_logged_in"):
        return None
    email, name = st.user.get("email"), st.user.get("name")
    return (str(email) if email else None, str(name) if name else None)


def current_actor() -> tuple[Actor | None, CurationError | None]:
    """The signed-in user for this run, and an error to show if an identity was refused."""
    actor = state.get(state.AUTH_ACTOR)
    if actor is not None:
        if users.is_current(readers.context(), actor):
            return actor, None
        # signed out elsewhere, demoted, password changed, account removed: sign in again
        state.put(state.AUTH_ACTOR, None)
        state.put(state.AUTH_TOKEN, "")
        return None, None
    if state.get(state.AUTH_SIGNED_OUT):
        return None, None
    identity = _oidc_identity()
    if identity is not None:
        try:
            actor = users.actor_for_identity(readers.context(), *identity)
        except CurationError as exc:
            return None, exc
        _signed_in(actor, "oidc", token=None)
        return actor, None
    actor = actor_from_cookies(readers.context(), st.context.cookies)
    if actor is not None:
        _signed_in(actor, "cookie", token=None)
    return actor, None


# ---- signing in and out ----------------------------------------------------------------------
def _signed_in(actor: Actor, via: str, token: str | None) -> None:
    state.put(state.AUTH_ACTOR, actor)
    state.put(state.AUTH_VIA, via)
    state.put(state.AUTH_TOKEN, token)
    state.put(state.AUTH_SIGNED_OUT, False)


def sign_in(name: str, password: str) -> Actor:
    """Check the password (raises AuthenticationError) and start a session with a cookie."""
    address = st.context.ip_address  # the client's address, for per-address throttling
    actor = users.authenticate(readers.context(), name, password,
                               address=address if isinstance(address, str) else None)
    assert actor.user_id is not None and actor.session_version is not None
    _signed_in(actor, "password", tokens.issue_token(actor.user_id, actor.session_version))
    return actor


def sign_out() -> None:
    """Forget the user in this session and in the browser, then start the next run.

    An OIDC session goes through ``st.logout()``, which sends the browser to the provider's
    end-session page and back; rerunning here would drop that redirect.
    """
    via = state.get(state.AUTH_VIA)
    actor = state.get(state.AUTH_ACTOR)
    if actor is not None:
        # ends the account's sessions everywhere, so a copied cookie stops working too
        users.sign_out(readers.context(), actor)
    state.put(state.AUTH_ACTOR, None)
    state.put(state.AUTH_VIA, None)
    state.put(state.AUTH_TOKEN, "")  # "" asks the cookie writer to delete the cookie
    state.put(state.AUTH_SIGNED_OUT, True)
    for key in (state.EDITOR_DIALOGUE, state.REVIEW_DIALOGUE, state.GENERATE_RESULT):
        state.put(key, state.DEFAULTS[key]())
    state.put(state.EDITOR_WORK, {})
    if via == "oidc":
        st.logout()
    else:
        st.rerun()


def start_oidc(provider: str | None) -> None:
    state.put(state.AUTH_SIGNED_OUT, False)
    if provider is None:
        st.login()
    else:
        st.login(provider)


# ---- the cookie writer -----------------------------------------------------------------------
def _cookie(name: str, value: str, max_age: int, same_site: str) -> str:
    return (f"document.cookie = {json.dumps(name)} + '=' + {json.dumps(value)} + "
            f"'; path=/; max-age={max_age}; samesite={same_site}' + secure;")


def cookie_script(token: str | None, language: str | None) -> str | None:
    """The script that sets (token), deletes ("") or leaves (None) the session cookie, and
    remembers the interface language."""
    lines = []
    if token is not None:
        max_age = tokens.DEFAULT_TTL_S if token else 0
        lines.append(_cookie(tokens.COOKIE_NAME, token, max_age, "strict"))
    if language:
        lines.append(_cookie(LANGUAGE_COOKIE, language, LANGUAGE_MAX_AGE_S, "lax"))
    if not lines:
        return None
    body = "\n".join(lines)
    return ("<script>(function(){var secure = location.protocol === 'https:' ? '; secure' : '';"
            f"\n{body}\n}})();</script>")


def write_cookies(language: str | None) -> None:
    """Render the cookie script for this run (drawn in the sidebar, takes no room)."""
    script = cookie_script(state.get(state.AUTH_TOKEN), language)
    if script:
        st.html(script, unsafe_allow_javascript=True)
