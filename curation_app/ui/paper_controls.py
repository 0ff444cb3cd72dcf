"""Lead controls of the paper workflows on the Generate page: sampling and seed settings,
targets as in the paper, and saving an edited prompt as a named template of the project.

Each is one call from the page; nothing here reads or writes the database except through the
generation service.
"""

from __future__ import annotations

import streamlit as st

from curation_app.errors import CurationError
from curation_app.services import generation
from curation_app.services.permissions import ALLOWED, Actor
from curation_app.store import ProjectRecord
from curation_app.ui import readers
from curation_app.ui.feedback import show_error
from curation_app.ui.i18n import t
from curation_app.ui.plain import md, t_md


def _is_lead(actor: Actor, project: str) -> bool:
    return readers.role_in(actor, project) in ALLOWED["project.edit_vocabulary"]


def _current(settings: dict[str, object], key: str) -> float:
    value = settings.get(key)
    return float(value) if isinstance(value, int | float) else 1.0  # 1.0: the API's default


def generation_settings(actor: Actor, record: ProjectRecord) -> None:
    """Temperature, top-p, seed policy and shortage, and the paper's targets scaled to N."""
    if not _is_lead(actor, record.name):
        return
    settings = record.settings
    with st.expander(t("paper.settings")), st.form("paper.settings_form"):
        c1, c2 = st.columns(2)
        temperature = c1.number_input(t("paper.temperature"), 0.0, 2.0,
                                      _current(settings, "temperature"), step=0.1,
                                      key="paper.temperature")
        top_p = c2.number_input(t("paper.top_p"), 0.0, 1.0, _current(settings, "top_p"),
                                step=0.05, key="paper.top_p")
        policies = list(generation.SEED_POLICIES)
        policy = c1.selectbox(t("paper.seed_policy"), policies,
                              index=policies.index(settings.get("seed_policy", "all_rounds")),
                              format_func=lambda p: t(f"paper.policy.{p}"),
                              key="paper.seed_policy")
        shortages = list(generation.SEED_SHORTAGE)
        shortage = c2.selectbox(t("paper.seed_shortage"), shortages,
                                index=shortages.index(settings.get("seed_shortage", "warn")),
                                format_func=lambda p: t(f"paper.shortage.{p}"),
                                key="paper.seed_shortage")
        scale = 0
        if record.vocabulary.paper_targets:
            scale = int(st.number_input(t("paper.scale"), 0, 1_000_000, 0, step=100,
                                        key="paper.scale"))
        saved = st.form_submit_button(t("paper.save"), icon=":material/tune:")
    if not saved:
        return
    try:
        generation.configure_project(
            readers.context(), actor, record.name,
            generation={"temperature": temperature, "top_p": top_p, "seed_policy": policy,
                        "seed_shortage": shortage})
        if scale:
            targets = generation.paper_targets(readers.context(), actor, record.name, scale)
            st.success(t("paper.targets_set", n=len(targets), total=sum(targets.values())))
    except CurationError as exc:
        show_error(exc)
    else:
        readers.clear()
        st.success(t("paper.saved"))


def save_template(actor: Actor, project: str, messages: list[dict[str, str]],
                  topic: str | None, emotion: str | None) -> None:
    """Save the (edited) prompt as a new version of a named template of the project."""
    if not _is_lead(actor, project):
        return
    c1, c2, c3 = st.columns([3, 2, 2], vertical_alignment="bottom")
    name = c1.text_input(t("paper.template_name"), key="paper.template_name")
    default = c2.checkbox(t("paper.template_default"), key="paper.template_default")
    if not c3.button(t("paper.template_save"), icon=":material/save:",
                     key="paper.template_save"):
        return
    try:
        saved = generation.save_project_template(readers.context(), actor, project, name,
                                                 messages, topic=topic, emotion=emotion,
                                                 make_default=default)
    except CurationError as exc:
        show_error(exc)
    else:
        readers.clear()
        st.success(t_md("paper.template_saved", name=saved.name, version=saved.version))


def job_warnings(job_id: int) -> None:
    """What planning the job warned about (scenarios short of same-scenario seeds)."""
    for warning in generation.job_status(readers.context(), job_id).params.get("warnings") or []:
        st.warning(md(warning))  # warnings quote scenario topics and emotions (user text)
