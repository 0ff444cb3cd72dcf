"""Single sign-on against a local OpenID Connect provider (oidc-provider-mock, on loopback):
Streamlit's own ``st.login`` flow, mapped onto an existing account and its role."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import app_env, free_port, missing, start_streamlit, stop
from tests.e2e.drive import TIMEOUT_MS, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def oidc_provider_mock():
    try:
        import oidc_provider_mock
    except ImportError:
        missing("oidc-provider-mock is not installed (pip install -e '.[dev]')")
    return oidc_provider_mock


def loopback_only(context):
    """Requests anywhere but this machine are refused (the provider's page links a CDN)."""
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])"),
                  lambda route: route.abort())
    return context


def test_single_sign_on_signs_in_the_matching_account_and_refuses_strangers(
        browser, oidc_provider_mock, tmp_path: Path):
    env, ctx = app_env(tmp_path)
    people = [oidc_provider_mock.User(sub="rita-sub", claims={"email": "rita@example.org",
                                                               "name": "Rita"}),
              oidc_provider_mock.User(sub="zoe-sub", claims={"email": "zoe@example.org",
                                                              "name": "Zoe"})]
    with oidc_provider_mock.run_server_in_thread(port=0, user_claims=people) as provider:
        port = free_port()
        secrets = tmp_path / ".streamlit" / "secrets.toml"
        secrets.parent.mkdir()
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            'cookie_secret = "e2e-cookie-secret"\n'
            'client_id = "curation-app"\n'
            'client_secret = "curation-secret"\n'
            f'server_metadata_url = "http://localhost:{provider.server_port}'
            '/.well-known/openid-configuration"\n', encoding="utf-8")
        url, process, log = start_streamlit(tmp_path, env, cwd=tmp_path, port=port)
        try:
            context = loopback_only(browser.new_context())
            page = context.new_page()
            page.goto(url)
            page.get_by_role("button", name="Sign in with single sign-on").click()
            # The provider's own page: pick the predefined user.
            page.get_by_role("button", name="rita-sub").click()
            page.get_by_role("heading", name="Review").wait_for(timeout=TIMEOUT_MS)
            wait_idle(page)
            assert page.get_by_text("rita · reviewer").count() == 1
            # Signing out ends Streamlit's identity cookie and the provider's session (the
            # provider asks to confirm), then comes back to the sign-in page.
            page.get_by_role("button", name="Sign out").click()
            page.get_by_role("button", name="End session").click()
            page.get_by_role("button", name="Sign in with single sign-on").wait_for(
                timeout=TIMEOUT_MS)
            page.reload()
            page.get_by_role("button", name="Sign in with single sign-on").wait_for(
                timeout=TIMEOUT_MS)
            context.close()

            # An identity without an account here is refused in plain words.
            context = loopback_only(browser.new_context())
            page = context.new_page()
            page.goto(url)
            page.get_by_role("button", name="Sign in with single sign-on").click()
            page.get_by_role("button", name="zoe-sub").click()
            # user text is shown with a word joiner before '@', so no mailto link is made of it
            page.get_by_text(re.compile("zoe\u2060?@example\\.org has no account here")).wait_for(
                timeout=TIMEOUT_MS)
            assert page.get_by_role("button", name="Sign out", exact=True).count() == 0
            page.get_by_role("button", name="Sign out of the identity provider").wait_for()
            context.close()
        finally:
            stop(process)
            ctx.close()
