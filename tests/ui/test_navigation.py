"""Role gating: each role is offered the pages it may use; the services refuse the rest anyway."""

from __future__ import annotations

import pytest

from curation_app.errors import PermissionDeniedError
from curation_app.services import users, workflow
from curation_app.ui.layout import pages_for
from tests.ui.conftest import actor, open_page, texts

OFFERED = {
    "ann": ["queue", "editor", "generate", "progress", "ratings"],
    "rita": ["review", "queue", "editor", "generate", "progress", "ratings", "adjudication"],
    "lea": ["progress", "queue", "editor", "generate", "review", "checks", "users", "ratings",
            "adjudication", "releases", "statistics"],
}


@pytest.mark.parametrize("name", list(OFFERED))
def test_each_role_is_offered_its_pages_home_page_first(name):
    assert [p.url_path for p in pages_for(actor(name))] == OFFERED[name]


def test_signed_out_only_the_sign_in_page_exists(make_app):
    at = make_app(None).run()
    assert at.text_input(key="sign_in.name") is not None
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/editor.py")


@pytest.mark.parametrize("name, page", [("ann", "review"), ("ann", "users"),
                                        ("rita", "users")])
def test_a_page_the_role_may_not_use_cannot_be_opened(make_app, name, page):
    at = make_app(name).run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"views/{page}.py")


def test_the_services_refuse_what_the_pages_do_not_offer(app_ctx):
    with pytest.raises(PermissionDeniedError):
        workflow.approve(app_ctx, actor("ann"), 1)
    with pytest.raises(PermissionDeniedError):
        users.add_user(app_ctx, actor("rita"), "mallory", "lead", "long enough pw")
    with pytest.raises(PermissionDeniedError):
        workflow.assign(app_ctx, actor("rita"), "demo-peconv", annotators=["ann"], count=1)


def test_every_offered_page_draws_without_error_for_every_role(make_app):
    for name, pages in OFFERED.items():
        at = make_app(name)
        for page in pages:
            open_page(at, page)
            assert texts(at)


def test_an_annotator_sees_no_assign_form_and_a_lead_does(make_app):
    ann = open_page(make_app("ann"), "queue")
    assert "Assign work" not in texts(ann)
    lea = open_page(make_app("lea"), "queue")
    assert "Assign work" in texts(lea)
    generate = open_page(make_app("ann"), "generate")
    assert "Batch generation" not in texts(generate)
