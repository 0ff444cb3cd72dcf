"""Roles per project in the app: the pages follow the user's role in the project selected in the
sidebar, and a lead sets and clears such roles on the Users page."""

from __future__ import annotations

import pytest

from curation_app.services import users
from curation_app.services.setup import SYSTEM_ACTOR
from curation_app.ui import state
from tests.ui.conftest import open_page, texts


def _offered(at) -> set[str]:
    """The pages the navigation holds for this run (those that can be switched to)."""
    found = set()
    for page in ("queue", "editor", "review", "checks", "users", "releases", "statistics"):
        try:
            at.switch_page(f"views/{page}.py")
        except ValueError:
            continue
        found.add(page)
    return found


def _choose_project(at, name: str):
    (picker,) = [box for box in at.sidebar.selectbox if name in box.options]
    picker.select(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_pages_follow_the_role_in_the_selected_project(make_app, app_ctx):
    # ann annotates (account-wide) and leads demo-extes
    users.set_project_role(app_ctx, SYSTEM_ACTOR, "ann", "demo-extes", "lead")
    at = make_app(None, project="demo-extes")
    at.session_state[state.AUTH_ACTOR] = users.get_actor(app_ctx, "ann")  # a signed-in actor
    at.session_state[state.AUTH_VIA] = "password"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "ann · lead" in texts(at)
    lead_pages = _offered(at)
    assert {"checks", "review", "releases", "statistics"} <= lead_pages
    assert "users" not in lead_pages  # accounts are managed by account-wide leads only
    at.run()
    _choose_project(at, "demo-peconv")
    assert "ann · annotator" in texts(at)
    assert _offered(at) == {"queue", "editor"}
    _choose_project(at, "demo-extes")
    assert "checks" in _offered(at)


def test_a_project_lead_hands_out_work_in_that_project_only(make_app, app_ctx):
    users.set_project_role(app_ctx, SYSTEM_ACTOR, "ann", "demo-extes", "lead")
    at = make_app(None, project="demo-extes")
    at.session_state[state.AUTH_ACTOR] = users.get_actor(app_ctx, "ann")
    at.session_state[state.AUTH_VIA] = "password"
    open_page(at, "queue")
    assert "Assign work" in texts(at)
    assert "ben" in at.multiselect(key="queue.annotators").options
    _choose_project(at, "demo-peconv")
    open_page(at, "queue")
    assert "Assign work" not in texts(at)


def _submit(at, label: str):
    at.button(key=f"FormSubmitter:users.project_role_form-{label}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_lead_sets_and_clears_a_role_in_one_project_on_the_users_page(make_app, app_ctx,
                                                                          language):
    before = users.authenticate(app_ctx, "ben", "correct horse battery")
    at = open_page(make_app("lea", language=language), "users")
    at.selectbox(key="users.pr_name").select("ben")
    at.selectbox(key="users.pr_project").select("demo-extes")
    at.selectbox(key="users.pr_role").select("reviewer")
    _submit(at, "Set for this project" if language == "en" else "为该项目设置")
    shown = texts(at)
    assert ("ben is now reviewer in demo-extes; their sessions ended." in shown
            if language == "en" else "ben 在 demo-extes 中现在是审核员" in shown), shown
    assert [(r.user, r.project, r.role) for r in users.project_roles(app_ctx, SYSTEM_ACTOR)] \
        == [("ben", "demo-extes", "reviewer")]
    assert not users.is_current(app_ctx, before)
    table = at.dataframe[0].value
    column = "Roles in projects" if language == "en" else "项目中的角色"
    row = list(table[table.columns[0]]).index("ben")
    assert table[column][row] == ("reviewer in demo-extes" if language == "en"
                                  else "在 demo-extes 中为审核员")

    _submit(at, "Clear (the account's role applies)" if language == "en"
            else "清除（沿用账户角色）")
    assert users.project_roles(app_ctx, SYSTEM_ACTOR) == []
    assert (at.dataframe[0].value[column][row]) == ""
