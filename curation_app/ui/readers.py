"""Every read the pages make, cached: the app context once per database, queries for a few seconds.

Pages never open a unit of work themselves. The context is a ``cache_resource`` keyed by the
database URL (so tests that point the app at a fresh database get a fresh engine); queries are
``cache_data`` with a short ``ttl`` keyed by their arguments, the acting user included, so one
user's view never answers another's. After a write, a page calls :func:`clear`.
"""

from __future__ import annotations

import streamlit as st

import curation_app.services.adjudication as adjudication
import curation_app.services.judging as judging
import curation_app.services.quality as quality
from curation_app.checks import CheckConfig, Finding
from curation_app.domain import Dialogue, Revision, Status
from curation_app.generation.prompts import RenderedPrompt
from curation_app.services import checks, editing, generation, projects, users, workflow
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor
from curation_app.store import ProjectCounts, ProjectRecord
from curation_app.store.checks_repository import CheckRunRecord
from curation_app.store.db import database_url, is_up_to_date
from curation_app.store.jobs import JobRecord
from curation_app.store.repository import UserRecord
from curation_app.store.workflow import WorkflowEvent
from curation_app.ui.working_copy import WorkingCopyStore

TTL_S = 5


@st.cache_resource(show_spinner=False)
def _context_for(url: str) -> AppContext:
    return AppContext.from_url(url)


def context() -> AppContext:
    return _context_for(database_url())


@st.cache_resource(show_spinner=False)
def _working_copies_for(url: str) -> WorkingCopyStore:
    return WorkingCopyStore()


def working_copies() -> WorkingCopyStore:
    """The unsaved edits of every user of this database, outliving any one browser session."""
    return _working_copies_for(database_url())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _ready(url: str) -> bool:
    return is_up_to_date(_context_for(url).engine)


def database_ready() -> bool:
    return _ready(database_url())


def clear() -> None:
    """Forget every cached query (after a write); the context stays."""
    st.cache_data.clear()


def clear_dialogue(dialogue_id: int) -> None:
    """Forget what a save or a submit of one dialogue changes (its reads, the lists and the
    counts), keeping the rest cached: the next run after a save stays warm."""
    for read in (dialogue, history, events, dialogue_page, progress, project_list):
        read.clear()


# ---- who acts where ---------------------------------------------------------------------------
@st.cache_data(ttl=TTL_S, show_spinner=False)
def role_in(actor: Actor, project: str | None) -> str:
    """The actor's role in ``project`` (the one set for them there, else their account's).
    A role change ends the user's sessions, so a cached answer never outlives the actor."""
    return str(users.role_in_project(actor, project))


# ---- projects --------------------------------------------------------------------------------
@st.cache_data(ttl=TTL_S, show_spinner=False)
def project_list() -> list[ProjectCounts]:
    return projects.list_projects(context().uow())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def project_names() -> list[str]:
    """The sidebar's choice: names only, no counting over every dialogue on each run."""
    return workflow.project_names(context())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def project(name: str) -> ProjectRecord:
    return projects.get_project(context().uow(), name)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def prompt(name: str, topic: str, emotion: str | None) -> RenderedPrompt:
    return generation.preview_prompt(context(), name, topic, emotion)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def jobs(name: str) -> list[JobRecord]:
    return generation.list_jobs(context(), name)


# ---- dialogues -------------------------------------------------------------------------------
@st.cache_data(ttl=TTL_S, show_spinner=False)
def dialogue(actor: Actor, dialogue_id: int) -> Dialogue:
    return editing.get_dialogue(context().uow(), actor, dialogue_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def history(actor: Actor, dialogue_id: int) -> list[Revision]:
    return editing.history(context().uow(), actor, dialogue_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def events(actor: Actor, dialogue_id: int) -> list[WorkflowEvent]:
    return workflow.events(context(), actor, dialogue_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def dialogue_page(actor: Actor, name: str, statuses: tuple[Status, ...] | None = None,
                  assignee: str | None = None, limit: int = 100,
                  offset: int = 0) -> workflow.DialoguePage:
    """A page of summaries (no turns): small to cache, quick to read at any project size."""
    return workflow.dialogue_page(context(), actor, name, statuses or None, assignee,
                                  limit=limit, offset=offset)


def neighbour(actor: Actor, name: str, dialogue_id: int, step: int,
              statuses: tuple[Status, ...] | None = None,
              assignee: str | None = None) -> int | None:
    return workflow.neighbour(context(), actor, name, dialogue_id, step, statuses or None,
                              assignee)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def progress(actor: Actor, name: str) -> workflow.ProjectProgress:
    return workflow.progress(context(), actor, name)


# ---- users -----------------------------------------------------------------------------------
@st.cache_data(ttl=TTL_S, show_spinner=False)
def user_list(actor: Actor) -> list[UserRecord]:
    return users.list_users(context(), actor)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def project_roles(actor: Actor) -> list[users.ProjectRole]:
    return users.project_roles(context(), actor)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def people_in(actor: Actor, project: str, action: str) -> list[tuple[str, str]]:
    return [(name, str(role)) for name, role in users.people_in(context(), actor, project,
                                                                 action)]


# ---- checks ------------------------------------------------------------------------------------
@st.cache_data(ttl=TTL_S, show_spinner=False)
def findings_page(actor: Actor, name: str, kinds: tuple[str, ...], rules: tuple[str, ...],
                  severities: tuple[str, ...], text: str,
                  offset: int = 0) -> checks.FindingsPage:
    """One page (200) of the stored findings, filtered and counted in the database."""
    return checks.findings_page(context(), actor, name, kinds=kinds, rules=rules,
                                severities=severities, text=text, offset=offset)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def duplicate_clusters(actor: Actor, name: str,
                       limit: int) -> tuple[int, dict[int, list[Finding]]]:
    return checks.duplicate_clusters(context(), actor, name, limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def check_runs(name: str) -> list[CheckRunRecord]:
    return checks.check_runs(context(), name)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def check_config(name: str) -> CheckConfig:
    """The project's check settings resolved as a run resolves them (preset, then project)."""
    record = project(name)
    return CheckConfig.resolve(record.vocabulary.checks, record.settings)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _findings(dialogue_id: int, edited: Dialogue) -> list[Finding]:
    return list(checks.check_dialogue(context(), dialogue_id, edited))


def findings(edited: Dialogue) -> list[Finding]:
    """Format, lint and safety findings for a dialogue as the page holds it (an editor's
    unsaved edits included)."""
    assert edited.id is not None
    return _findings(edited.id, edited)


# ---- quality evaluation ----------------------------------------------------------------------
@st.cache_data(ttl=TTL_S, show_spinner=False)
def campaigns(actor: Actor, name: str) -> list[quality.CampaignRecord]:
    return quality.list_campaigns(context(), actor, name)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def campaign_protocol(actor: Actor, campaign_id: int) -> quality.Protocol:
    return quality.campaign_protocol(context(), actor, campaign_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def rating_tasks(actor: Actor, campaign_id: int) -> list[quality.RaterTask]:
    return quality.my_items(context(), actor, campaign_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def campaign_progress(actor: Actor, campaign_id: int) -> list[quality.RaterProgress]:
    return quality.campaign_progress(context(), actor, campaign_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def campaign_agreement(actor: Actor, campaign_id: int) -> quality.CampaignAgreement:
    return quality.campaign_agreement(context(), actor, campaign_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def campaign_groups(actor: Actor, campaign_id: int) -> list[str]:
    return sorted({it.group for it in quality.campaign_items(context(), actor, campaign_id)})


@st.cache_data(ttl=TTL_S, show_spinner=False)
def comparison(actor: Actor, campaign_id: int, group_a: str, group_b: str,
               judge_run_id: int | None = None) -> quality.Comparison:
    return quality.compare_groups(context(), actor, campaign_id, group_a, group_b,
                                  judge_run_id=judge_run_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def judge_runs(actor: Actor, campaign_id: int) -> list[judging.JudgeRunRecord]:
    return judging.judge_runs(context(), actor, campaign_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def judge_vs_human(actor: Actor, run_id: int) -> list[judging.JudgeVsHuman]:
    return judging.judge_vs_human(context(), actor, run_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def protocols(name: str) -> dict[str, quality.Protocol]:
    return quality.list_protocols(context(), name)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def overlap_groups(actor: Actor, name: str, only_open: bool) -> list[adjudication.OverlapGroup]:
    return adjudication.overlap_groups(context(), actor, name, only_open=only_open)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def tag_agreement(actor: Actor, name: str) -> adjudication.TagAgreement:
    return adjudication.tag_agreement(context(), actor, name)
