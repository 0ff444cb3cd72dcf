"""Editor page: one dialogue, turn by turn; save as a revision, submit for review.

Unsaved edits live in a working copy per dialogue in session state (see ``working_copy``), so a
rerun, a page switch or moving to another dialogue loses nothing. A save names the version it
was made on; if someone saved in between, the service refuses it as a conflict, the text stays
on the page, and "reapply on latest" puts it on top of the newer version.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from curation_app.domain import Dialogue, Status
from curation_app.errors import ConflictError, CurationError, PermissionDeniedError
from curation_app.services import editing, workflow
from curation_app.services.permissions import Actor, UserRole
from curation_app.ui import components, layout, provenance, readers, state, turn_editor
from curation_app.ui.feedback import describe, load, show_error
from curation_app.ui.i18n import t
from curation_app.ui.labels import shown
from curation_app.ui.plain import t_md
from curation_app.ui.working_copy import WorkingCopy

REVIEWABLE = (Status.DRAFT, Status.IN_PROGRESS, Status.RETURNED, Status.SUBMITTED)

actor = layout.require_actor(layout.start(state.EDITOR_DIALOGUE, state.EDITOR_WORK,
                                          state.EDITOR_CONFLICT))
project = layout.require_project()
record = load(readers.project, project)
vocab = record.vocabulary
works: dict[int, WorkingCopy] = state.get(state.EDITOR_WORK)
conflicts: dict[int, tuple[int, int]] = state.get(state.EDITOR_CONFLICT)


def candidates(who: Actor) -> list[Dialogue]:
    """The dialogues this user moves through with previous / next."""
    if who.role == UserRole.ANNOTATOR:
        return readers.my_queue(who, project)
    return readers.dialogues(who, project, REVIEWABLE)


# ---- which dialogue --------------------------------------------------------------------------
st.title(t("editor.title"))
queue = load(candidates, actor)
ids = [d.id for d in queue]
chosen = state.get(state.EDITOR_DIALOGUE)
if chosen is not None and chosen not in ids:
    # Opened from elsewhere (generate, review): keep it reachable, if it is of this project.
    if load(readers.dialogue, actor, chosen).project == project:
        ids.insert(0, chosen)
    else:
        state.put(state.EDITOR_DIALOGUE, chosen := None)
if not ids:
    st.info(t("editor.nothing"))
    st.stop()
labels = {d.id: components.dialogue_option(d) for d in queue}
unsaved = {i for i, wc in works.items() if wc.dirty}

st.selectbox(
    t("editor.dialogue"), ids,
    format_func=shown(ids, lambda i: ("✎ " if i in unsaved else "") + labels.get(i, f"#{i}")),
    **state.bind(state.EDITOR_DIALOGUE, chosen, options=ids))
position = ids.index(state.get(state.EDITOR_DIALOGUE))


def go(step: int) -> None:
    state.put(state.EDITOR_DIALOGUE, ids[(position + step) % len(ids)])


with st.container(horizontal=True):
    st.button(t("editor.previous"), icon=":material/chevron_left:", key="editor.prev",
              on_click=go, args=(-1,), shortcut="Alt+PageUp", disabled=len(ids) < 2)
    st.button(t("editor.next"), icon=":material/chevron_right:", key="editor.next",
              on_click=go, args=(1,), shortcut="Alt+PageDown", disabled=len(ids) < 2)
dialogue_id: int = state.get(state.EDITOR_DIALOGUE)

# ---- the dialogue and its working copy -------------------------------------------------------
current = load(readers.dialogue, actor, dialogue_id)
wc = works.get(dialogue_id)
if wc is None or (wc.version != current.version and not wc.dirty):
    wc = works[dialogue_id] = WorkingCopy.from_dialogue(current)
try:
    editing.check_may_edit(actor, current)
    readonly_reason = None
except PermissionDeniedError as exc:
    readonly_reason = str(exc)

st.caption(components.dialogue_caption(current))
provenance.panel(current.id)
events = load(readers.events, actor, dialogue_id)
returned = components.latest_comment(events, "return")
if current.status == Status.RETURNED and returned is not None:
    st.warning(t_md("editor.returned", who=returned.actor, comment=returned.comment))
if readonly_reason:
    st.info(t_md("editor.readonly", reason=readonly_reason))
elif wc.version != current.version:
    st.warning(t("editor.stale", mine=wc.version, now=current.version))


def save(working: WorkingCopy) -> bool:
    spent = working.take_seconds()
    try:
        result = editing.save_revision(
            readers.context().uow(), actor, working.dialogue_id, working.version,
            working.to_turns(), topic=working.topic, emotion=working.emotion,
            description=working.description, note=working.note or None, seconds_spent=spent)
    except ConflictError as exc:
        # Shown at the top with the text kept and the choice to reapply it: rerun to draw that.
        working.seconds += spent
        conflicts[working.dialogue_id] = (exc.expected_version, exc.current_version)
        state.flash(describe(exc), "error")
        st.rerun()
    except CurationError as exc:
        working.seconds += spent
        show_error(exc)
        return False
    readers.clear()
    conflicts.pop(working.dialogue_id, None)
    fresh = editing.get_dialogue(readers.context().uow(), actor, working.dialogue_id)
    works[working.dialogue_id] = WorkingCopy.from_dialogue(fresh)
    state.flash(t("editor.saved", revision=result.revision, id=working.dialogue_id))
    return True


def reapply() -> None:
    latest = editing.get_dialogue(readers.context().uow(), actor, dialogue_id)
    works[dialogue_id] = works[dialogue_id].rebased(latest)
    conflicts.pop(dialogue_id, None)
    readers.clear()
    state.flash(t("editor.reapplied", version=latest.version), "info")


def drop_mine() -> None:
    works.pop(dialogue_id, None)
    conflicts.pop(dialogue_id, None)
    readers.clear()


# ---- a refused save: keep the text, offer to reapply it -----------------------------------
if dialogue_id in conflicts:
    mine, now = conflicts[dialogue_id]
    with st.container(border=True):
        st.error(t("editor.conflict", mine=mine, now=now))
        latest = editing.get_dialogue(readers.context().uow(), actor, dialogue_id)
        with st.expander(t("editor.conflict_diff")):
            components.show_diff(vocab, latest.turns, wc.to_turns())
        c1, c2 = st.columns(2)
        c1.button(t("editor.reapply"), type="primary", icon=":material/sync:",
                  key="editor.reapply", on_click=reapply)
        c2.button(t("editor.drop_mine"), icon=":material/undo:", key="editor.drop",
                  on_click=drop_mine)

# ---- the edit itself -------------------------------------------------------------------------
disabled = readonly_reason is not None
turn_editor.metadata(wc, vocab, disabled=disabled)
edit_tab, diff_tab, history_tab = st.tabs([t("editor.tab_edit"), t("editor.tab_diff"),
                                           t("editor.tab_history")])
found = load(readers.findings, replace(current, turns=wc.to_turns(), topic=wc.topic,
                                       emotion=wc.emotion, description=wc.description))
with edit_tab:
    if found:
        turn_editor.show_findings([f for f in found if f.turn is None])
    turn_editor.turns(wc, vocab, disabled=disabled,
                      findings=None if found is None else
                      (lambda i: [f for f in found if f.turn == i]))
with diff_tab:
    revisions = load(readers.history, actor, dialogue_id)
    if revisions:
        st.caption(t_md("editor.diff_help", author=revisions[0].author))
        components.show_diff(vocab, revisions[0].turns, wc.to_turns())
with history_tab:
    components.show_history(load(readers.history, actor, dialogue_id), events)

# ---- save and submit -------------------------------------------------------------------------
if not disabled:
    st.text_input(t("editor.note"), **state.bind(
        f"editor.{dialogue_id}.note", wc.note, typed=True,
        store=lambda v, d=dialogue_id: setattr(works[d], "note", v)))
    status_line = t("editor.unsaved") if wc.dirty else t("editor.no_changes")
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="center")
    if c1.button(t("editor.save"), type="primary", icon=":material/save:", key="editor.save",
                 disabled=not wc.dirty, shortcut="Ctrl+S") and save(wc):
        st.rerun()
    may_submit = current.status in workflow.OPEN_WORK
    submit = c2.button(t("editor.submit"), icon=":material/send:", key="editor.submit",
                       disabled=not may_submit)
    if submit and (not wc.dirty or save(wc)):
        try:
            workflow.submit(readers.context(), actor, dialogue_id, wc.note or None)
        except CurationError as exc:
            show_error(exc)
        else:
            readers.clear()
            works.pop(dialogue_id, None)
            following = ids[position + 1:] + ids[:position]
            state.put(state.EDITOR_DIALOGUE, following[0] if following else None)
            state.flash(t("editor.submitted", id=dialogue_id))
            st.rerun()
    c3.caption(status_line)
