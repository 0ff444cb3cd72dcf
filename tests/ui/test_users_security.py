"""Users page: a lead changes a role or removes an account (sessions end) and reads the audit
log, filtered."""

from __future__ import annotations

from curation_app.services import users
from curation_app.ui import state
from tests.ui.conftest import PASSWORD, open_page, texts


def _submit(at, label: str):
    at.button(key=f"FormSubmitter:users.role_form-{label}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_lead_changes_a_role_and_removes_an_account_and_reads_the_audit_log(make_app,
                                                                               app_ctx):
    before = users.authenticate(app_ctx, "ben", PASSWORD)  # ben's open session
    at = open_page(make_app("lea"), "users")
    at.selectbox(key="users.role_name").select("ben")
    at.selectbox(key="users.role_value").select("reviewer")
    _submit(at, "Change role")
    assert "ben is now reviewer; their sessions ended." in texts(at)
    assert not users.is_current(app_ctx, before)
    assert users.get_actor(app_ctx, "ben").role == "reviewer"

    at.selectbox(key="users.role_name").select("ann")
    _submit(at, "Remove account")
    assert "Removed ann; their sessions ended." in texts(at)
    assert "ann" not in [u.name for u in users.list_users(app_ctx, users.get_actor(app_ctx,
                                                                                 "lea"))]
    log = at.dataframe[-1].value
    assert list(log["action"][:3]) == ["user.delete", "user.role", "sign_in"]
    at.text_input(key="audit.action").input("user.role").run()
    log = at.dataframe[-1].value
    assert list(log["action"]) == ["user.role"] and list(log["target"]) == ["ben"]
    assert log["detail"][0] == "from=annotator, to=reviewer"


def test_an_open_session_ends_when_the_role_changes(make_app, app_ctx):
    at = make_app(None)
    at.run()
    at.text_input(key="sign_in.name").input("ann")
    at.text_input(key="sign_in.password").input(PASSWORD)
    at.button(key="FormSubmitter:sign_in.form-Sign in").click().run()
    assert at.title[0].value == "My queue"
    users.set_role(app_ctx, users.get_actor(app_ctx, "lea"), "ann", "reviewer")
    at.run()
    assert at.session_state[state.AUTH_ACTOR] is None
    assert at.text_input(key="sign_in.name") is not None  # back on the sign-in form
