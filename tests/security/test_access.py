"""Access and sessions: every service action with every role and with stale actors, on SQLite
and PostgreSQL; annotators read only their own dialogues; sign-in throttling; token revocation
on sign-out, password change, role change and re-created names."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from curation_app.domain import Dialogue, Role, Source, Turn
from curation_app.errors import (
    AuthenticationError,
    CurationError,
    NotFoundError,
    PermissionDeniedError,
)
from curation_app.generation.client import DraftClient, LLMConfig
from curation_app.generation.prompts import RenderedPrompt
from curation_app.services import (
    adjudication,
    audit,
    checks,
    editing,
    generation,
    judging,
    privacy,
    projects,
    quality,
    stats,
    transfer,
    users,
    worker,
    workflow,
)
from curation_app.services import auth as tokens
from curation_app.services.context import AppContext
from curation_app.services.generation import JobRequest
from curation_app.services.permissions import Actor
from curation_app.services.setup import SYSTEM_ACTOR
from tests.security.hostile import encode, record

PASSWORD = "correct horse battery"
ROLES = ("annotator", "reviewer", "lead")
ALL = set(ROLES)
REVIEW = {"reviewer", "lead"}
LEAD = {"lead"}
_fresh = itertools.count()


class World:
    """A project with dialogues in every state the actions need, and one account per role."""

    def __init__(self, ctx: AppContext, tmp_path):
        self.ctx, self.tmp = ctx, tmp_path
        self.p = "p"  # the project the actions act on
        for role in ROLES:
            users.add_user(ctx, SYSTEM_ACTOR, role, role, PASSWORD)
        # "q" is another project, where roles set for "p" do not hold
        for name in ("p", "q"):
            projects.create_project(ctx.uow(), SYSTEM_ACTOR, name, "esconv")
        self.file = tmp_path / "in.jsonl"
        self.file.write_bytes(encode([record("jsonl")], "jsonl"))

    def dialogue(self, *, assignee: str | None = None, status: str = "draft") -> int:
        with self.ctx.uow() as uow:
            (did,) = uow.repo.add_dialogues(uow.repo.get_project(self.p), [Dialogue(
                turns=[Turn(Role.SEEKER, "My daughter Emma is sad."),
                       Turn(Role.SUPPORTER, "Why?", ["Question"])],
                topic="job crisis", source=Source.GENERATED, assignee=assignee)],
                author="model")
            uow.commit()
        if status == "submitted":
            workflow.submit(self.ctx, SYSTEM_ACTOR, did)
        return did

    def campaign(self, rater: str = "annotator") -> int:
        self.dialogue()
        return quality.create_campaign(
            self.ctx, SYSTEM_ACTOR, self.p, f"c{next(_fresh)}", "extes", [rater],
            [quality.SampleSpec("random", n=1)], overlap=1).id

    def item(self, rater: str) -> int:
        # an item assigned to the rater, so that allowed roles get past the assignment check;
        # a deleted rater (a stale actor) gets someone else's
        try:
            campaign = self.campaign(rater)
        except NotFoundError:
            campaign = self.campaign()
        return quality.campaign_items(self.ctx, SYSTEM_ACTOR, campaign)[0].id

    def judge_run(self) -> int:
        return judging.plan_judge(self.ctx, SYSTEM_ACTOR, self.campaign(), model="gpt-4o-mini")

    def job(self) -> int:
        return generation.plan_job(self.ctx, SYSTEM_ACTOR, JobRequest(
            project=self.p, topics=["job crisis"], n=1, model="gpt-4o-mini"))

    def user(self) -> str:
        name = f"u{next(_fresh)}"
        users.add_user(self.ctx, SYSTEM_ACTOR, name, "annotator", PASSWORD)
        return name


# A real client aimed at a port nothing listens on: allowed roles get past the permission
# check and fail on the call (a GenerationError), denied ones never reach it.
_NOWHERE = DraftClient(LLMConfig(model="gpt-4o-mini", api_key="sk-test",
                                 base_url="http://127.0.0.1:9/v1", max_retries=0, timeout_s=2))


def _rendered() -> RenderedPrompt:
    return RenderedPrompt(template_name="t", template_version="1",
                          messages=[{"role": "user", "content": "x"}], topic="job crisis")


# action name -> (roles allowed, call(world, actor)); each call sets up what it needs itself
ACTIONS: dict[str, tuple[set[str], Callable[[World, Actor], object]]] = {
    "projects.create": (LEAD, lambda w, a: projects.create_project(
        w.ctx.uow(), a, f"q{next(_fresh)}", "extes")),
    "projects.add_labels": (LEAD, lambda w, a: projects.add_labels(
        w.ctx.uow(), a, w.p, "topic", [f"t{next(_fresh)}"])),
    "transfer.import": (LEAD, lambda w, a: transfer.import_file(
        w.ctx.uow(), a, w.file, "jsonl", w.p)),
    "transfer.export": (REVIEW, lambda w, a: transfer.export_file(
        w.ctx.uow(), a, w.p, "jsonl", w.tmp / f"o{next(_fresh)}.jsonl")),
    "editing.get_own": (ALL, lambda w, a: editing.get_dialogue(
        w.ctx.uow(), a, w.dialogue(assignee=a.name))),
    "editing.get_unassigned_draft": (ALL, lambda w, a: editing.get_dialogue(
        w.ctx.uow(), a, w.dialogue())),
    "editing.get_others": (REVIEW, lambda w, a: editing.get_dialogue(
        w.ctx.uow(), a, w.dialogue(assignee="someone else"))),
    "editing.history_others": (REVIEW, lambda w, a: editing.history(
        w.ctx.uow(), a, w.dialogue(assignee="someone else"))),
    "editing.save_own": (ALL, lambda w, a: editing.save_revision(
        w.ctx.uow(), a, (d := w.dialogue(assignee=a.name)), 0,
        editing.get_dialogue(w.ctx.uow(), SYSTEM_ACTOR, d).turns)),
    "editing.save_others": (REVIEW, lambda w, a: editing.save_revision(
        w.ctx.uow(), a, (d := w.dialogue(assignee="someone else")), 0,
        editing.get_dialogue(w.ctx.uow(), SYSTEM_ACTOR, d).turns)),
    "users.add": (LEAD, lambda w, a: users.add_user(
        w.ctx, a, f"n{next(_fresh)}", "annotator", PASSWORD)),
    "users.list": (LEAD, lambda w, a: users.list_users(w.ctx, a)),
    "users.set_own_password": (ALL, lambda w, a: users.set_password(
        w.ctx, a, a.name, PASSWORD)),
    "users.set_others_password": (LEAD, lambda w, a: users.set_password(
        w.ctx, a, w.user(), "another password")),
    "users.set_role": (LEAD, lambda w, a: users.set_role(w.ctx, a, w.user(), "reviewer")),
    "users.set_project_role": (LEAD, lambda w, a: users.set_project_role(
        w.ctx, a, w.user(), w.p, "lead")),
    "users.delete": (LEAD, lambda w, a: users.delete_user(w.ctx, a, w.user())),
    "generation.plan_job": (LEAD, lambda w, a: generation.plan_job(
        w.ctx, a, JobRequest(project=w.p, topics=["job crisis"], n=1, model="gpt-4o-mini"))),
    "generation.set_budget": (LEAD, lambda w, a: generation.set_job_budget(
        w.ctx, a, w.job(), None)),
    "worker.enqueue": (LEAD, lambda w, a: worker.enqueue(w.ctx, a, w.job())),
    "generation.promote_seeds": (LEAD, lambda w, a: generation.promote_seeds(
        w.ctx, a, w.p, ids=[w.dialogue()])),
    "generation.configure": (LEAD, lambda w, a: generation.configure_project(
        w.ctx, a, w.p, targets={"job crisis": 3})),
    "workflow.take_next": (ALL, lambda w, a: workflow.take_next(w.ctx, a, w.p)),
    "workflow.assign": (LEAD, lambda w, a: workflow.assign(
        w.ctx, a, w.p, annotators=["annotator"], dialogue_ids=[w.dialogue()])),
    "workflow.my_queue": (ALL, lambda w, a: workflow.my_queue(w.ctx, a, w.p)),
    "workflow.list_all": (REVIEW, lambda w, a: workflow.list_dialogues(w.ctx, a, w.p)),
    "workflow.submit_own": (ALL, lambda w, a: workflow.submit(
        w.ctx, a, w.dialogue(assignee=a.name))),
    "workflow.submit_others": (REVIEW, lambda w, a: workflow.submit(
        w.ctx, a, w.dialogue(assignee="someone else"))),
    "workflow.approve": (REVIEW, lambda w, a: workflow.approve(
        w.ctx, a, w.dialogue(status="submitted"))),
    "workflow.return": (REVIEW, lambda w, a: workflow.return_(
        w.ctx, a, w.dialogue(status="submitted"), "fix turn 2")),
    "workflow.discard": (REVIEW, lambda w, a: workflow.discard(
        w.ctx, a, w.dialogue(), "broken")),
    "workflow.review_queue": (REVIEW, lambda w, a: workflow.review_queue(w.ctx, a, w.p)),
    "workflow.events_own": (ALL, lambda w, a: workflow.events(
        w.ctx, a, w.dialogue(assignee=a.name))),
    "workflow.events_others": (REVIEW, lambda w, a: workflow.events(
        w.ctx, a, w.dialogue(assignee="someone else"))),
    "workflow.progress": (ALL, lambda w, a: workflow.progress(w.ctx, a, w.p)),
    "checks.run": (LEAD, lambda w, a: checks.run_checks(w.ctx, a, w.p, "lint")),
    "checks.configure": (LEAD, lambda w, a: checks.configure_checks(
        w.ctx, a, w.p, dedup_threshold=0.9)),
    "privacy.redact_own": (ALL, lambda w, a: privacy.redact_dialogue(
        w.ctx, a, w.dialogue(assignee=a.name), 0)),
    "privacy.redact_others": (REVIEW, lambda w, a: privacy.redact_dialogue(
        w.ctx, a, w.dialogue(assignee="someone else"), 0)),
    "privacy.dismiss": (LEAD, lambda w, a: privacy.dismiss(
        w.ctx, a, (d := w.dialogue()), "turns[0].text", "privacy.name",
        privacy.findings_for(w.ctx, SYSTEM_ACTOR, d)[0].message, "a made-up name")),
    "privacy.dismissals": (LEAD, lambda w, a: privacy.dismissals(w.ctx, a, w.p)),
    "generation.single": (ALL, lambda w, a: generation.generate_one(
        w.ctx, a, w.p, _rendered(), _NOWHERE)),
    "stats.project": (LEAD, lambda w, a: stats.project_stats(w.ctx, a, w.p)),
    "quality.create_campaign": (LEAD, lambda w, a: quality.create_campaign(
        w.ctx, a, w.p, f"c{next(_fresh)}", "extes", ["annotator"],
        [quality.SampleSpec("random", n=1)], overlap=1)),
    "quality.list_campaigns": (ALL, lambda w, a: quality.list_campaigns(w.ctx, a, w.p)),
    "quality.get_campaign": (ALL, lambda w, a: quality.get_campaign(w.ctx, a, w.campaign())),
    "quality.rate": (ALL, lambda w, a: quality.rate(w.ctx, a, w.item(a.name), {})),
    "quality.progress": (REVIEW, lambda w, a: quality.campaign_progress(
        w.ctx, a, w.campaign())),
    "quality.close": (LEAD, lambda w, a: quality.close_campaign(w.ctx, a, w.campaign())),
    "judging.runs": (REVIEW, lambda w, a: judging.judge_runs(w.ctx, a, w.campaign())),
    "judging.run": (REVIEW, lambda w, a: judging.judge_run(w.ctx, a, w.judge_run())),
    "adjudication.agreement": (REVIEW, lambda w, a: adjudication.tag_agreement(
        w.ctx, a, w.p)),
}
# Actions not about one project: the account's role decides, whatever the project's.
ACCOUNT_WIDE = {"projects.create", "users.add", "users.set_own_password", "users.list",
                "users.set_others_password", "users.set_role", "users.delete",
                "users.set_project_role"}


@pytest.fixture
def world(ctx, tmp_path, monkeypatch) -> World:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    return World(ctx, tmp_path)


def _outcome(world: World, action: str, actor: Actor) -> str:
    try:
        ACTIONS[action][1](world, actor)
    except PermissionDeniedError:
        return "denied"
    except AuthenticationError:
        return "stale"
    except CurationError:
        return "allowed"  # got past the permission check and failed on the work itself
    return "allowed"


def test_every_action_with_every_current_role(world):
    table = {(action, role): _outcome(world, action, users.get_actor(world.ctx, role))
             for action in ACTIONS for role in ROLES}
    expected = {(action, role): "allowed" if role in ACTIONS[action][0] else "denied"
                for action in ACTIONS for role in ROLES}
    assert {k: v for k, v in table.items() if v != expected[k]} == {}


@pytest.mark.parametrize("how", ["signed_out", "password_changed", "demoted", "deleted",
                                 "recreated_as_lead", "demoted_in_project",
                                 "project_role_cleared"])
def test_every_action_refuses_a_stale_actor(world, how):
    lead = users.get_actor(world.ctx, "lead")
    if how == "signed_out":
        users.sign_out(world.ctx, lead)
    elif how == "password_changed":
        users.set_password(world.ctx, SYSTEM_ACTOR, "lead", "a brand new password")
    elif how == "demoted":
        users.set_role(world.ctx, SYSTEM_ACTOR, "lead", "annotator")
    elif how == "demoted_in_project":  # in "p" only: the old actor is refused in "q" too
        users.set_project_role(world.ctx, SYSTEM_ACTOR, "lead", "q", "annotator")
    elif how == "project_role_cleared":
        users.set_project_role(world.ctx, SYSTEM_ACTOR, "lead", "p", "reviewer")
        lead = users.get_actor(world.ctx, "lead")
        users.set_project_role(world.ctx, SYSTEM_ACTOR, "lead", "p", None)
    else:
        users.delete_user(world.ctx, SYSTEM_ACTOR, "lead")
        if how == "recreated_as_lead":
            users.add_user(world.ctx, SYSTEM_ACTOR, "lead", "lead", PASSWORD)
    outcomes = {action: _outcome(world, action, lead) for action in ACTIONS}
    assert {a: o for a, o in outcomes.items() if o != "stale"} == {}


# (role in project "p", account role): each role is once the one set for "p" and once the
# account's, and a lead annotating one project is among them
PER_PROJECT = [("lead", "annotator"), ("annotator", "reviewer"), ("reviewer", "lead"),
               ("annotator", "lead")]


@pytest.mark.parametrize(("in_p", "account"), PER_PROJECT)
def test_every_action_follows_the_role_in_its_project(world, in_p, account):
    name = f"{in_p}-in-p"
    users.add_user(world.ctx, SYSTEM_ACTOR, name, account, PASSWORD)
    users.set_project_role(world.ctx, SYSTEM_ACTOR, name, "p", in_p)
    table, expected = {}, {}
    for project in ("p", "q"):
        world.p = project
        here = in_p if project == "p" else account
        for action, (allowed, _) in ACTIONS.items():
            deciding = account if action in ACCOUNT_WIDE else here
            expected[project, action] = "allowed" if deciding in allowed else "denied"
            table[project, action] = _outcome(world, action, users.get_actor(world.ctx, name))
    assert {k: v for k, v in table.items() if v != expected[k]} == {}


def test_a_project_role_is_audited_listed_and_named_when_it_refuses(world):
    users.set_project_role(world.ctx, SYSTEM_ACTOR, "lead", "p", "annotator")
    users.set_project_role(world.ctx, SYSTEM_ACTOR, "annotator", "q", "lead")
    lead = users.get_actor(world.ctx, "lead")
    with pytest.raises(PermissionDeniedError, match=r"lead \(annotator in p\) may not checks run"):
        checks.run_checks(world.ctx, lead, "p", "lint")
    checks.run_checks(world.ctx, lead, "q", "lint")  # still a lead there
    assert users.role_in_project(lead, "p") == "annotator"
    assert users.role_in_project(lead, "q") == "lead"
    assert [(r.user, r.project, r.role, r.set_by) for r in
            users.project_roles(world.ctx, lead)] == [("annotator", "q", "lead", "setup"),
                                                      ("lead", "p", "annotator", "setup")]
    assert users.set_project_role(world.ctx, SYSTEM_ACTOR, "lead", "p", None) == "annotator"
    assert users.set_project_role(world.ctx, SYSTEM_ACTOR, "lead", "p", None) is None
    log = [(e.action, e.target, e.detail) for e in
           audit.events(world.ctx, SYSTEM_ACTOR, action="user.project_role")]
    assert log == [
        ("user.project_role", "lead", {"project": "p", "from": "annotator", "to": None}),
        ("user.project_role", "annotator", {"project": "q", "from": None, "to": "lead"}),
        ("user.project_role", "lead", {"project": "p", "from": None, "to": "annotator"})]


def test_a_recreated_name_does_not_inherit_project_roles(world):
    users.add_user(world.ctx, SYSTEM_ACTOR, "temp", "annotator", PASSWORD)
    users.set_project_role(world.ctx, SYSTEM_ACTOR, "temp", "p", "lead")
    users.delete_user(world.ctx, SYSTEM_ACTOR, "temp")
    users.add_user(world.ctx, SYSTEM_ACTOR, "temp", "annotator", PASSWORD)
    again = users.get_actor(world.ctx, "temp")
    assert users.role_in_project(again, "p") == "annotator"
    assert users.project_roles(world.ctx, SYSTEM_ACTOR, "temp") == []
    with pytest.raises(PermissionDeniedError):
        checks.run_checks(world.ctx, again, "p", "lint")


def test_a_demoted_lead_is_checked_with_the_current_role(world):
    old = users.get_actor(world.ctx, "lead")
    users.set_role(world.ctx, SYSTEM_ACTOR, "lead", "annotator")
    with pytest.raises(AuthenticationError, match="sign in again"):
        users.list_users(world.ctx, old)
    again = users.authenticate(world.ctx, "lead", PASSWORD)
    assert again.role == "annotator"
    with pytest.raises(PermissionDeniedError):
        users.list_users(world.ctx, again)


def test_annotators_read_their_own_and_unassigned_drafts_only(world):
    ann = users.get_actor(world.ctx, "annotator")
    mine, free, other = (world.dialogue(assignee="annotator"), world.dialogue(),
                         world.dialogue(assignee="reviewer"))
    assert editing.get_dialogue(world.ctx.uow(), ann, mine).id == mine
    assert editing.get_dialogue(world.ctx.uow(), ann, free).id == free
    for read in (lambda: editing.get_dialogue(world.ctx.uow(), ann, other),
                 lambda: editing.history(world.ctx.uow(), ann, other),
                 lambda: workflow.events(world.ctx, ann, other),
                 lambda: privacy.findings_for(world.ctx, ann, other),
                 lambda: workflow.list_dialogues(world.ctx, ann, "p")):
        with pytest.raises(PermissionDeniedError):
            read()


# ---- throttling -------------------------------------------------------------------------------
def test_sign_in_is_throttled_per_account_with_a_clear_message(world):
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    for i in range(users.ACCOUNT_FAILURES):
        with pytest.raises(AuthenticationError, match="wrong user name or password"):
            users.authenticate(world.ctx, "reviewer", f"guess {i}", now=now)
    # now even the right password is refused, saying why and how long
    with pytest.raises(AuthenticationError, match="too many failed sign-ins for 'reviewer'; "
                                                  "wait 15 minutes"):
        users.authenticate(world.ctx, "reviewer", PASSWORD, now=now + timedelta(minutes=1))
    # other accounts are not affected
    assert users.authenticate(world.ctx, "lead", PASSWORD, now=now).name == "lead"
    # after the window, the right password works again
    later = now + users.WINDOW + timedelta(seconds=1)
    assert users.authenticate(world.ctx, "reviewer", PASSWORD, now=later).name == "reviewer"


def test_a_new_password_from_a_lead_lifts_the_account_throttle(world):
    now = datetime.now(UTC)
    for i in range(users.ACCOUNT_FAILURES):
        with pytest.raises(AuthenticationError):
            users.authenticate(world.ctx, "reviewer", f"guess {i}", now=now)
    users.set_password(world.ctx, users.get_actor(world.ctx, "lead"), "reviewer",
                       "a fresh password")
    assert users.authenticate(world.ctx, "reviewer", "a fresh password").name == "reviewer"


def test_sign_in_is_throttled_per_address(world):
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    names = [world.user() for _ in range(users.ADDRESS_FAILURES // 4 + 1)]
    for i in range(users.ADDRESS_FAILURES):
        with pytest.raises(AuthenticationError, match="wrong"):
            users.authenticate(world.ctx, names[i // 4], "guess", address="203.0.113.9",
                               now=now)
    with pytest.raises(AuthenticationError, match="too many failed sign-ins from this address"):
        users.authenticate(world.ctx, "lead", PASSWORD, address="203.0.113.9", now=now)
    assert users.authenticate(world.ctx, "lead", PASSWORD, address="198.51.100.7",
                              now=now).name == "lead"


# ---- tokens -----------------------------------------------------------------------------------
def _cookie_actor(ctx: AppContext, token: str) -> Actor | None:
    session = tokens.verify_token(token)
    return None if session is None else users.actor_for_session(ctx, *session)


@pytest.mark.parametrize("how", ["sign_out", "password", "role", "recreated"])
def test_a_copied_token_stops_working(world, monkeypatch, how):
    monkeypatch.setenv("CURATION_SECRET_KEY", "k" * 32)
    ann = users.authenticate(world.ctx, "annotator", PASSWORD)
    token = tokens.issue_token(ann.user_id, ann.session_version)
    assert _cookie_actor(world.ctx, token).name == "annotator"
    if how == "sign_out":
        users.sign_out(world.ctx, ann)
    elif how == "password":
        users.set_password(world.ctx, ann, "annotator", "my new password")
    elif how == "role":
        users.set_role(world.ctx, SYSTEM_ACTOR, "annotator", "reviewer")
    else:
        users.delete_user(world.ctx, SYSTEM_ACTOR, "annotator")
        users.add_user(world.ctx, SYSTEM_ACTOR, "annotator", "lead", PASSWORD)
    assert _cookie_actor(world.ctx, token) is None
    fresh = users.authenticate(world.ctx, "annotator",
                               "my new password" if how == "password" else PASSWORD)
    new_token = tokens.issue_token(fresh.user_id, fresh.session_version)
    assert _cookie_actor(world.ctx, new_token).name == "annotator"


def test_a_project_may_let_annotators_read_everything_but_edit_only_their_own(world):
    ann = users.get_actor(world.ctx, "annotator")
    other = world.dialogue(assignee="reviewer")
    with pytest.raises(PermissionDeniedError):
        editing.get_dialogue(world.ctx.uow(), ann, other)
    with pytest.raises(PermissionDeniedError):
        projects.set_annotator_reading(world.ctx.uow(), ann, "p", read_all=True)
    projects.set_annotator_reading(world.ctx.uow(), users.get_actor(world.ctx, "lead"), "p",
                                   read_all=True)
    assert editing.get_dialogue(world.ctx.uow(), ann, other).id == other
    assert editing.history(world.ctx.uow(), ann, other)[0].number == 0
    assert workflow.events(world.ctx, ann, other) == []
    with pytest.raises(PermissionDeniedError):
        editing.save_revision(world.ctx.uow(), ann, other, 0,
                              editing.get_dialogue(world.ctx.uow(), ann, other).turns)
