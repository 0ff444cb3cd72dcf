"""My queue: take the next unassigned dialogue, open the ones assigned to me; leads assign."""

from __future__ import annotations

import streamlit as st

from curation_app.errors import CurationError
from curation_app.services import workflow
from curation_app.services.permissions import ALLOWED, UserRole
from curation_app.ui import components, layout, readers, state
from curation_app.ui.feedback import load, reporting, show_error
from curation_app.ui.i18n import t
from curation_app.ui.plain import md

SHOWN = 100

actor = layout.require_actor(layout.start(state.EDITOR_DIALOGUE))
project = layout.require_project()
st.title(t("queue.title"))


def open_in_editor(dialogue_id: int) -> None:
    state.put(state.EDITOR_DIALOGUE, dialogue_id)
    st.switch_page("views/editor.py")


if st.button(t("queue.take_next"), type="primary", icon=":material/playlist_play:",
             key="queue.take", shortcut="Alt+N"):
    try:
        taken = workflow.take_next(readers.context(), actor, project)
    except CurationError as exc:
        show_error(exc)
    else:
        readers.clear()
        if taken is None:
            st.info(t("queue.none_left"))
        else:
            state.flash(t("queue.taken", id=taken.id))
            open_in_editor(taken.id)

# Summaries, one page of them: an annotator's queue is read without the dialogues' turns.
mine = load(readers.dialogue_page, actor, project, workflow.OPEN_WORK, actor.name, SHOWN)
st.subheader(t("queue.mine", n=mine.total))
if not mine.items:
    st.caption(t("queue.empty"))
for dialogue in mine.items:
    text, button = st.columns([6, 1], vertical_alignment="center")
    text.markdown(md(components.dialogue_option(dialogue)))
    if button.button(t("queue.open"), key=f"queue.open.{dialogue.id}",
                     icon=":material/edit_note:"):
        open_in_editor(dialogue.id)
if mine.total > len(mine.items):
    st.caption(t("queue.more", n=mine.total - len(mine.items)))

# ---- leads: hand out work --------------------------------------------------------------------
if layout.role_here(actor) in ALLOWED["workflow.assign"]:
    st.divider()
    st.subheader(t("queue.assign"))
    with reporting():
        people = [name for name, role in readers.people_in(actor, project, "workflow.assign")
                  if role == UserRole.ANNOTATOR]
        with st.form("queue.assign_form"):
            chosen = st.multiselect(t("queue.annotators"), people, key="queue.annotators")
            c1, c2 = st.columns(2)
            count = c1.number_input(t("queue.count"), 1, 10_000, 10, key="queue.count")
            overlap = c2.number_input(t("queue.overlap"), 1, 10, 1, key="queue.overlap",
                                      help=t("queue.overlap_help"))
            go = st.form_submit_button(t("queue.assign_go"), icon=":material/assignment_ind:")
        if go:
            done = workflow.assign(readers.context(), actor, project, annotators=chosen,
                                   count=int(count), overlap=int(overlap))
            readers.clear()
            st.success(t("queue.assigned", n=len(done), people=len(set(a for _, a in done))))
