"""Signing in and out: password form, the signed cookie that survives a reload, OIDC mapping."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation_app.services import auth as tokens
from curation_app.services import users
from curation_app.services.context import AppContext
from curation_app.ui import state
from curation_app.ui.auth import actor_from_cookies, cookie_script
from tests.ui.conftest import APP, PASSWORD, TIMEOUT_S, texts


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.run()
    at.text_input(key="sign_in.name").input(name)
    at.text_input(key="sign_in.password").input(password)
    at.button(key="FormSubmitter:sign_in.form-Sign in").click()
    return at.run()


def test_a_good_password_signs_in_and_opens_the_roles_first_page(make_app):
    at = sign_in(make_app(None), "ann", PASSWORD)
    assert not at.exception
    signed_in = at.session_state[state.AUTH_ACTOR]
    assert (signed_in.name, signed_in.role) == ("ann", "annotator")
    assert at.title[0].value == "My queue"
    token = at.session_state[state.AUTH_TOKEN]
    assert tokens.verify_token(token) == (signed_in.user_id, signed_in.session_version)
    # The cookie is written by a script in the page, and holds the token, not the password.
    scripts = [h.value for h in at.html if tokens.COOKIE_NAME in h.value]
    assert scripts and token in scripts[0] and PASSWORD not in scripts[0]


def test_a_wrong_password_is_refused_in_plain_words(make_app):
    at = sign_in(make_app(None), "ann", "not the password")
    assert at.session_state[state.AUTH_ACTOR] is None
    assert "Sign-in failed: wrong user name or password" in texts(at)
    assert not at.exception


def test_the_reviewer_lands_on_review_and_the_lead_on_progress(make_app):
    assert sign_in(make_app(None), "rita", PASSWORD).title[0].value == "Review"
    assert sign_in(make_app(None), "lea", PASSWORD).title[0].value == "Progress"


def test_signing_out_forgets_the_user_and_deletes_the_cookie(make_app):
    at = sign_in(make_app(None), "ann", PASSWORD)
    at.button(key="sidebar.sign_out").click()
    at.run()
    assert at.session_state[state.AUTH_ACTOR] is None
    assert at.session_state[state.AUTH_SIGNED_OUT] is True
    assert at.text_input(key="sign_in.name") is not None
    deletion = [h.value for h in at.html if tokens.COOKIE_NAME in h.value]
    assert deletion and "max-age=0" in deletion[0]


def _token(ctx: AppContext, name: str, **kw) -> str:
    bound = users.get_actor(ctx, name)
    return tokens.issue_token(bound.user_id, bound.session_version, **kw)


def test_a_session_cookie_names_the_user_only_while_valid(app_ctx: AppContext):
    good = _token(app_ctx, "rita")
    found = actor_from_cookies(app_ctx, {tokens.COOKIE_NAME: good})
    assert (found.name, found.role) == ("rita", "reviewer")
    tampered = good.replace(good.split(".")[0], _token(app_ctx, "lea").split(".")[0])
    expired = _token(app_ctx, "rita", ttl_s=-1)
    unknown = tokens.issue_token(10_000, 0)
    for cookie in (tampered, expired, unknown, "", "junk"):
        assert actor_from_cookies(app_ctx, {tokens.COOKIE_NAME: cookie}) is None
    assert actor_from_cookies(app_ctx, {}) is None


def test_the_cookie_script_sets_deletes_or_leaves_the_session_cookie():
    set_script = cookie_script("abc.123.sig", "zh")
    assert "curation_session" in set_script and "abc.123.sig" in set_script
    assert "samesite=strict" in set_script and "curation_lang" in set_script
    assert "max-age=0" in cookie_script("", None)
    assert cookie_script(None, None) is None
    # Values are JavaScript string literals: a quote cannot break out of the script.
    assert "\\\"" in cookie_script('x"; alert(1); "', None)


OIDC_SECRETS = {"auth": {"redirect_uri": "http://127.0.0.1:8501/oauth2callback",
                         "cookie_secret": "s", "client_id": "curation",
                         "client_secret": "secret",
                         "server_metadata_url": "http://127.0.0.1:1/.well-known/openid"}}


def oidc_app(user: dict) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.secrets.update(OIDC_SECRETS)
    at.user = user
    at.session_state[state.PROJECT] = "demo-peconv"
    return at.run()


def test_with_oidc_configured_the_sign_in_page_offers_single_sign_on(app_ctx):
    at = oidc_app({"is_logged_in": False})
    assert at.button(key="sign_in.oidc.default").label == "Sign in with single sign-on"


def test_an_oidc_identity_maps_onto_the_account_with_that_name(app_ctx):
    at = oidc_app({"is_logged_in": True, "email": "rita@example.org", "name": "Rita R."})
    assert not at.exception
    signed_in = at.session_state[state.AUTH_ACTOR]
    expected = users.get_actor(app_ctx, "rita")
    assert (signed_in.name, signed_in.role, signed_in.user_id) == (
        expected.name, expected.role, expected.user_id)
    assert at.session_state[state.AUTH_VIA] == "oidc"
    assert at.title[0].value == "Review"


def test_an_unknown_oidc_identity_is_refused_unless_a_default_role_is_set(app_ctx, monkeypatch):
    at = oidc_app({"is_logged_in": True, "email": "zoe@example.org", "name": "Zoe"})
    assert at.session_state[state.AUTH_ACTOR] is None
    assert "zoe@example.org has no account here" in texts(at)
    monkeypatch.setenv("CURATION_OIDC_DEFAULT_ROLE", "annotator")
    at = oidc_app({"is_logged_in": True, "email": "zoe@example.org", "name": "Zoe"})
    assert at.session_state[state.AUTH_ACTOR].role == "annotator"


@pytest.mark.parametrize("name", ["ann", "rita", "lea"])
def test_the_password_is_never_shown_on_the_page(make_app, name):
    at = sign_in(make_app(None), name, PASSWORD)
    assert PASSWORD not in texts(at)
    assert all(PASSWORD not in h.value for h in at.html)
