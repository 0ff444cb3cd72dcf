"""What every page shares: the page list by role, the sidebar, the start of a page.

A page is offered to a role only when the service action it exists for allows that role
(:data:`curation_app.services.permissions.ALLOWED`), so the menu mirrors the server's rules
instead of restating them; the services still refuse the action for anyone else. The role is
the user's role in the project selected in the sidebar (a lead of one project may annotate
another), except for the pages of account-wide actions (users), which follow the account's.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from curation_app.errors import CurationError
from curation_app.services.permissions import ACCOUNT_WIDE, ALLOWED, Actor
from curation_app.ui import auth, readers, state
from curation_app.ui.feedback import show_error, show_flash
from curation_app.ui.i18n import LANGUAGES, language, t
from curation_app.ui.plain import md


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to app.py
    title_key: str
    action: str  # the service action whose roles may see the page
    icon: str
    url_path: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("views/queue.py", "nav.queue", "workflow.take", ":material/inbox:", "queue"),
    PageSpec("views/editor.py", "nav.editor", "dialogue.edit", ":material/edit_note:", "editor"),
    PageSpec("views/generate.py", "nav.generate", "generation.single",
             ":material/auto_awesome:", "generate"),
    PageSpec("views/review.py", "nav.review", "workflow.review", ":material/fact_check:",
             "review"),
    PageSpec("views/checks.py", "nav.checks", "checks.run", ":material/rule:", "checks"),
    PageSpec("views/progress.py", "nav.progress", "progress.read", ":material/monitoring:",
             "progress"),
    PageSpec("views/users.py", "nav.users", "user.manage", ":material/group:", "users"),
    PageSpec("views/ratings.py", "nav.ratings", "quality.rate", ":material/star_rate:",
             "ratings"),
    PageSpec("views/adjudication.py", "nav.adjudication", "quality.adjudicate",
             ":material/compare:", "adjudication"),
    PageSpec("views/releases.py", "nav.releases", "release.build", ":material/inventory_2:",
             "releases"),
    PageSpec("views/statistics.py", "nav.statistics", "stats.read", ":material/bar_chart:",
             "statistics"),
)
SIGN_IN = PageSpec("views/sign_in.py", "nav.sign_in", "", ":material/login:", "sign-in")
# The page a role lands on after signing in.
HOME = {"annotator": "queue", "reviewer": "review", "lead": "progress"}


def pages_for(actor: Actor | None, role: str | None = None) -> list[PageSpec]:
    """The pages ``actor`` is offered when acting as ``role`` (their role in the selected
    project; default: the account's), home page first."""
    if actor is None:
        return [SIGN_IN]
    here = role or str(actor.role)
    allowed = [p for p in PAGES
               if (actor.role if p.action in ACCOUNT_WIDE else here) in ALLOWED[p.action]]
    home = HOME.get(here)
    return sorted(allowed, key=lambda p: p.url_path != home)


def selected_project(actor: Actor | None) -> str | None:
    """The project the sidebar shows: the one chosen in this session, else the one this person
    last worked in, else the first."""
    try:
        names = readers.project_names()
    except CurationError:
        return None
    chosen = state.get(state.PROJECT) or (
        readers.working_copies().last_project(actor.name) if actor else None)
    return chosen if chosen in names else (names[0] if names else None)


def role_here(actor: Actor) -> str:
    """The actor's role in the selected project: what the pages and their forms follow."""
    try:
        return readers.role_in(actor, selected_project(actor))
    except CurationError:
        return str(actor.role)  # a stale actor: the next service call says so


def navigation(actor: Actor | None) -> st.navigation:  # type: ignore[valid-type]
    specs = pages_for(actor, role_here(actor) if actor is not None else None)
    pages = [st.Page(p.path, title=t(p.title_key), icon=p.icon, url_path=p.url_path,
                     default=(i == 0))
             for i, p in enumerate(specs)]
    if actor is None:
        # A page's own address (a bookmark of /progress) before signing in: answer it with the
        # sign-in form, so that signing in lands on that page instead of "Page not found".
        pages += [st.Page(SIGN_IN.path, title=t(SIGN_IN.title_key), icon=SIGN_IN.icon,
                          url_path=p.url_path) for p in PAGES]
    return st.navigation(pages, position="sidebar" if actor else "hidden")


# ---- the sidebar -----------------------------------------------------------------------------
def _language_switch() -> None:
    st.segmented_control(
        t("ui.language"), list(LANGUAGES), format_func=LANGUAGES.get,
        selection_mode="single", required=True,
        **state.bind(state.LANGUAGE, language(), options=list(LANGUAGES)))


def _project_select() -> str | None:
    try:
        names = readers.project_names()
    except CurationError as exc:
        show_error(exc)
        return None
    if not names:
        st.caption(t("ui.no_projects"))
        return None
    actor = state.get(state.AUTH_ACTOR)
    store = readers.working_copies()
    # A new session (a reload) starts in the project this person last worked in.
    chosen = state.get(state.PROJECT) or (store.last_project(actor.name) if actor else None)
    if chosen in names:
        state.put(state.PROJECT, chosen)
    st.selectbox(t("ui.project"), names,
                 **state.bind(state.PROJECT, chosen, options=names))
    if actor is not None:
        store.remember_project(actor.name, state.get(state.PROJECT))
    return state.get(state.PROJECT)


def sidebar(actor: Actor | None) -> None:
    with st.sidebar:
        if actor is not None:
            st.markdown(f"**{md(actor.name)}** · {t('role.' + role_here(actor))}")
            _project_select()
        _language_switch()
        if actor is not None and st.button(t("auth.sign_out"), icon=":material/logout:",
                                           key="sidebar.sign_out"):
            auth.sign_out()
        auth.write_cookies(language())


def start(*keys: str) -> Actor | None:
    """The first lines of every page: its state keys, the sidebar, any message left for it."""
    state.init(*keys)
    actor = state.get(state.AUTH_ACTOR)
    sidebar(actor)
    show_flash()
    return actor


def require_actor(actor: Actor | None) -> Actor:
    if actor is None:
        st.info(t("auth.please_sign_in"))
        st.stop()
    return actor


def require_project() -> str:
    name = state.get(state.PROJECT)
    if not name:
        st.info(t("ui.choose_project"))
        st.stop()
    return name
