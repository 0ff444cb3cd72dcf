"""Progress page (per project, per topic against targets, per annotator) and Users page."""

from __future__ import annotations

from curation_app.errors import AuthenticationError
from curation_app.services import generation, users
from tests.ui.conftest import actor, open_page, texts
from tests.ui.test_review_page import submitted


def table(at, index: int):
    return at.dataframe[index].value


def test_progress_counts_by_status_topic_and_annotator(make_app, app_ctx):
    generation.configure_project(app_ctx, actor("lea"), "demo-peconv",
                                 targets={"好朋友转学": 5})
    submitted(app_ctx)
    at = open_page(make_app("lea"), "progress")
    projects = table(at, 0)
    assert set(projects["project"]) == {"demo-peconv", "demo-extes"}
    peconv = projects[projects["project"] == "demo-peconv"].iloc[0]
    assert (peconv["dialogues"], peconv["submitted"], peconv["draft"]) == (3, 1, 2)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Dialogues"] == "3" and metrics["Edited by people"] == "1"
    topics = table(at, 1)
    row = topics[topics["Topic"] == "好朋友转学"].iloc[0]
    assert (row["target"], row["dialogues"]) == ("5", 1)  # a topic without a target: ""
    annotators = table(at, 2)
    ann = annotators[annotators["annotator"] == "ann"].iloc[0]
    assert (ann["submitted"], ann["saves"]) == (1, 1)


def test_a_lead_adds_a_user_who_can_then_sign_in(make_app, app_ctx):
    at = open_page(make_app("lea"), "users")
    at.text_input(key="users.new_name").input("chen")
    at.selectbox(key="users.new_role").set_value("reviewer")
    at.text_input(key="users.new_password").input("a long password")
    at.button(key="FormSubmitter:users.add_form-Add").click().run()
    assert not at.exception
    assert "Added chen as reviewer." in texts(at)
    assert users.authenticate(app_ctx, "chen", "a long password").role == "reviewer"
    names = list(table(at, 0)["User name"])
    assert "chen" in names
    assert not any("argon2" in str(v) for v in table(at, 0).to_numpy().ravel())


def test_a_too_short_password_is_refused_with_the_rule(make_app, app_ctx):
    at = open_page(make_app("lea"), "users")
    at.text_input(key="users.new_name").input("dan")
    at.text_input(key="users.new_password").input("short")
    at.button(key="FormSubmitter:users.add_form-Add").click().run()
    assert "a password needs at least 8 characters" in texts(at)


def test_a_lead_sets_a_password(make_app, app_ctx):
    at = open_page(make_app("lea"), "users")
    at.selectbox(key="users.pw_name").set_value("ben")
    at.text_input(key="users.pw_value").input("brand new secret")
    at.button(key="FormSubmitter:users.password_form-Set password").click().run()
    assert "Password of ben changed." in texts(at)
    assert users.authenticate(app_ctx, "ben", "brand new secret").name == "ben"
    try:
        users.authenticate(app_ctx, "ben", "correct horse battery")
    except AuthenticationError:
        pass
    else:
        raise AssertionError("the old password still works")
