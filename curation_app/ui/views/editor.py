"""Editor page: one dialogue, turn by turn; save as a revision, submit for review.

Unsaved edits live in a working copy per user and dialogue kept by the server process
(``readers.working_copies``), so a rerun, a page switch, a reload or moving to another dialogue
loses nothing; the keystroke keeper (``ui/keeper.py``) brings typed text to it while people
type, not only when a box loses focus. A save names the version it was made on; if someone
saved in between, the service refuses it as a conflict, the text stays on the page, and
"reapply on latest" puts it on top of the newer version. A save that would throw text away
(empty turns that had text, most of the dialogue gone) is refused by the service until the
person confirms it here, with the turns it would remove named.

The list of dialogues is read as summaries, a page at a time (no turns), and Previous / Next
ask the database for the neighbour; the edit area is a fragment, so typing, tagging or moving
a turn reruns only it, and a long dialogue shows its turns a page at a time.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from curation_app.domain import Status
from curation_app.errors import ConfirmationNeededError, ConflictError, CurationError
from curation_app.services import editing, privacy, workflow
from curation_app.services.permissions import Actor, UserRole
from curation_app.ui import components, keeper, layout, provenance, readers, state, turn_editor
from curation_app.ui.feedback import describe, load
from curation_app.ui.i18n import t
from curation_app.ui.labels import role_name, shown
from curation_app.ui.plain import t_md
from curation_app.ui.working_copy import WorkingCopy

REVIEWABLE = (Status.DRAFT, Status.IN_PROGRESS, Status.RETURNED, Status.SUBMITTED)
LISTED = 200  # dialogues offered in the picker; "go to" reaches the others

actor = layout.require_actor(layout.start(state.EDITOR_DIALOGUE, state.EDITOR_CONFLICT,
                                          state.EDITOR_CONFIRM))
project = layout.require_project()
record = load(readers.project, project)
vocab = record.vocabulary
store = readers.working_copies()
works: dict[int, WorkingCopy] = store.for_user(actor.name)
conflicts: dict[int, tuple[int, int]] = state.get(state.EDITOR_CONFLICT)
confirmations: dict[int, str] = state.get(state.EDITOR_CONFIRM)


def scope(who: Actor) -> tuple[tuple[Status, ...], str | None]:
    """Which dialogues this user moves through with previous / next: (statuses, assignee)."""
    if layout.role_here(who) == UserRole.ANNOTATOR:
        return workflow.OPEN_WORK, who.name
    return REVIEWABLE, None


# ---- which dialogue --------------------------------------------------------------------------
st.title(t("editor.title"))
statuses, assignee = scope(actor)
listing = load(readers.dialogue_page, actor, project, statuses, assignee, LISTED)
labels = {d.id: components.dialogue_option(d) for d in listing.items}
ids = list(labels)
chosen = state.get(state.EDITOR_DIALOGUE)
if chosen is None:
    chosen = store.last_dialogue(actor.name)  # after a reload: where this person left off
if chosen is not None and chosen not in labels:
    # Opened from elsewhere (generate, review, checks) or beyond the listed page: keep it
    # reachable (read only if this person may not edit it), if it is of this project.
    try:
        other = readers.dialogue(actor, chosen)
    except CurationError:
        other = None
    if other is not None and other.project == project:
        ids.insert(0, chosen)
        labels[chosen] = components.dialogue_option(other)
    else:
        chosen = None
if not ids:
    state.put(state.EDITOR_DIALOGUE, None)
    st.info(t("editor.nothing"))
    st.stop()
state.put(state.EDITOR_DIALOGUE, chosen if chosen in labels else ids[0])
unsaved = {i for i, wc in works.items() if wc.dirty}

picker, goto = st.columns([4, 1], vertical_alignment="bottom")
picker.selectbox(
    t("editor.dialogue"), ids,
    format_func=shown(ids, lambda i: ("✎ " if i in unsaved else "") + labels.get(i, f"#{i}")),
    **state.bind(state.EDITOR_DIALOGUE, state.get(state.EDITOR_DIALOGUE), options=ids))


def go_to() -> None:
    wanted = st.session_state.get("editor.goto")
    if wanted:
        state.put(state.EDITOR_DIALOGUE, int(wanted))
        st.session_state["editor.goto"] = None


goto.number_input(t("editor.go_to"), min_value=1, step=1, value=None, key="editor.goto",
                  on_change=go_to, placeholder="#")
if listing.total > len(listing.items):
    st.caption(t("editor.listed", shown=len(listing.items), total=listing.total))


def go(step: int) -> None:
    here = state.get(state.EDITOR_DIALOGUE)
    found = readers.neighbour(actor, project, here, step, statuses, assignee)
    if found is not None:
        state.put(state.EDITOR_DIALOGUE, found)


with st.container(horizontal=True):
    st.button(t("editor.previous"), icon=":material/chevron_left:", key="editor.prev",
              on_click=go, args=(-1,), shortcut="Alt+PageUp", disabled=listing.total < 2)
    st.button(t("editor.next"), icon=":material/chevron_right:", key="editor.next",
              on_click=go, args=(1,), shortcut="Alt+PageDown", disabled=listing.total < 2)
dialogue_id: int = state.get(state.EDITOR_DIALOGUE)
store.remember(actor.name, dialogue_id)

# ---- the dialogue and its working copy -------------------------------------------------------
current = load(readers.dialogue, actor, dialogue_id)
wc = works.get(dialogue_id)
if wc is None or (wc.version != current.version and not wc.dirty):
    wc = works[dialogue_id] = WorkingCopy.from_dialogue(current)
try:
    editing.check_may_edit(actor, current, UserRole(readers.role_in(actor, current.project)))
    readonly_reason = None
except CurationError as exc:
    readonly_reason = str(exc)

st.caption(components.dialogue_caption(current))
provenance.panel(current.id)
events = load(readers.events, actor, dialogue_id)
returned = components.latest_comment(events, "return")
if current.status == Status.RETURNED and returned is not None:
    st.warning(t_md("editor.returned", who=returned.actor, comment=returned.comment))
if readonly_reason:
    st.info(t_md("editor.readonly", reason=readonly_reason))


def on_keystrokes() -> None:
    """A batch of typed text from the browser: into the working copy, before the page runs;
    Ctrl+S in a box saves it at once."""
    found = keeper.batch()
    if not found:
        return
    target = works.get(int(found.get("did") or 0))
    if target is not None and keeper.apply(target, found):
        save_clicked(target.dialogue_id)


def removal_text(exc: ConfirmationNeededError, stored: list) -> str:
    lines = [t("editor.confirm_title")]
    for i in exc.emptied:
        lines.append(t_md("editor.confirm_emptied", n=i + 1,
                       speaker=role_name(vocab, stored[i].role),
                       text=stored[i].text.strip()[:80]))
    if exc.kept * 2 < exc.total:
        lines.append(t("editor.confirm_most", kept=exc.kept, total=exc.total))
    for i in exc.removed:
        lines.append(t_md("editor.confirm_removed", n=i + 1,
                       speaker=role_name(vocab, stored[i].role),
                       text=stored[i].text.strip()[:80]))
    return "\n".join(lines)


def save(working: WorkingCopy, *, confirmed: bool = False) -> bool:
    """Save the working copy as a revision; False if it was not (the reason is left for the
    page to show: a flash, a conflict or a confirmation to ask for). Runs in a button's
    callback, before the page is drawn, so one run shows the result."""
    spent = working.take_seconds()
    try:
        result = editing.save_revision(
            readers.context().uow(), actor, working.dialogue_id, working.version,
            working.to_turns(), topic=working.topic, emotion=working.emotion,
            description=working.description, note=working.note or None, seconds_spent=spent,
            confirm_removal=confirmed)
    except ConfirmationNeededError as exc:
        working.seconds += spent
        stored = editing.get_dialogue(readers.context().uow(), actor, working.dialogue_id)
        confirmations[working.dialogue_id] = removal_text(exc, list(stored.turns))
        return False
    except ConflictError as exc:
        # Shown at the top with the text kept and the choice to reapply it.
        working.seconds += spent
        conflicts[working.dialogue_id] = (exc.expected_version, exc.current_version)
        state.flash(describe(exc), "error")
        return False
    except CurationError as exc:
        working.seconds += spent
        state.flash(describe(exc), "error")
        return False
    readers.clear_dialogue(working.dialogue_id)
    conflicts.pop(working.dialogue_id, None)
    confirmations.pop(working.dialogue_id, None)
    fresh = editing.get_dialogue(readers.context().uow(), actor, working.dialogue_id)
    works[working.dialogue_id] = working.after_save(fresh)
    state.flash(t("editor.saved", revision=result.revision, id=working.dialogue_id))
    return True


def save_clicked(did: int, confirmed: bool = False) -> None:
    on_keystrokes_pending()
    working = works.get(did)
    if working is None:
        return
    if not working.dirty and not confirmed:
        state.flash(t("editor.nothing_to_save"), "info")
        return
    save(working, confirmed=confirmed)


def on_keystrokes_pending() -> None:
    """The keeper's latest batch, if this run's callbacks have not applied it yet (a click's
    callback may run before the keeper's): applying a batch twice changes nothing."""
    found = keeper.batch()
    if found:
        target = works.get(int(found.get("did") or 0))
        if target is not None and int(found.get("seq") or 0) > target.keeper_seq:
            keeper.apply(target, found)


def redact_clicked(did: int, uid: int) -> None:
    """One turn's privacy findings replaced by placeholders in the text shown (unsaved edits
    and the keystrokes still on their way included), saved at once as a revision; the boxes
    are then drawn afresh with the saved text. On a refusal nothing is replaced and the text
    stays as it was, as with Save."""
    on_keystrokes_pending()
    working = works.get(did)
    if working is None or not working.has_uid(uid):
        return
    index = working.index(uid)
    edited_elsewhere = working.dirty
    spent = working.take_seconds()
    shown_now = replace(current, turns=working.to_turns(), topic=working.topic,
                        emotion=working.emotion, description=working.description)
    try:
        result = privacy.redact_edit(readers.context(), actor, did, working.version, shown_now,
                                     paths={f"turns[{index}].text"},
                                     note=working.note or None, seconds_spent=spent)
    except ConflictError as exc:
        working.seconds += spent
        conflicts[did] = (exc.expected_version, exc.current_version)
        state.flash(describe(exc), "error")
        return
    except CurationError as exc:
        working.seconds += spent
        state.flash(describe(exc), "error")
        return
    if result.revision is None:
        working.seconds += spent
        state.flash(t("editor.nothing_to_redact", turn=index + 1), "info")
        return
    readers.clear_dialogue(did)
    conflicts.pop(did, None)
    confirmations.pop(did, None)
    fresh = editing.get_dialogue(readers.context().uow(), actor, did)
    before = {turn.uid: turn.text for turn in working.turns}
    works[did] = after = working.after_save(fresh)
    after.replaced = {turn.uid: before[turn.uid] for turn in after.turns
                      if turn.uid in before and before[turn.uid] != turn.text}
    said = t("editor.redacted", turn=index + 1, n=result.replaced, revision=result.revision,
             id=did)
    state.flash(f"{said} {t('editor.redacted_with_edits')}" if edited_elsewhere else said)


def submit_clicked(did: int) -> None:
    on_keystrokes_pending()
    working = works.get(did)
    if working is None or (working.dirty and not save(working)):
        return
    following = readers.neighbour(actor, project, did, 1, statuses, assignee)
    try:
        workflow.submit(readers.context(), actor, did, working.note or None)
    except CurationError as exc:
        state.flash(describe(exc), "error")
        return
    readers.clear_dialogue(did)
    works.pop(did, None)
    state.put(state.EDITOR_DIALOGUE, following if following not in (None, did) else None)
    state.flash(t("editor.submitted", id=did))


def reapply() -> None:
    latest = editing.get_dialogue(readers.context().uow(), actor, dialogue_id)
    works[dialogue_id] = works[dialogue_id].rebased(latest)
    conflicts.pop(dialogue_id, None)
    readers.clear()
    state.flash(t("editor.reapplied", version=latest.version), "info")


def drop_mine() -> None:
    works.pop(dialogue_id, None)
    conflicts.pop(dialogue_id, None)
    confirmations.pop(dialogue_id, None)
    readers.clear()


def put_back(uids: list[int]) -> None:
    """The stored text of turns that are empty in the working copy."""
    working = works[dialogue_id]
    stored = editing.get_dialogue(readers.context().uow(), actor, dialogue_id)
    for uid in uids:
        if working.has_uid(uid):
            working.set_text(uid, stored.turns[working.origin[uid]].text)


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
elif wc.version != current.version and not readonly_reason:
    st.warning(t("editor.stale", mine=wc.version, now=current.version))

disabled = readonly_reason is not None
if turn_editor.description_key(wc) not in st.session_state:
    # Entered again (or another dialogue): new boxes, never ones the browser may remember.
    state.put(state.EDITOR_GEN, state.get(state.EDITOR_GEN) + 1)
turn_editor.metadata(wc, vocab, disabled=disabled)


# ---- the edit itself ---------------------------------------------------------------------------
def edit_area() -> None:
    working = works.get(dialogue_id)
    if working is None:  # submitted or dropped from another tab: draw the page again
        st.rerun()
    assert working is not None
    blank = working.emptied(current)
    if blank and not disabled:
        numbers = ", ".join(str(working.index(u) + 1) for u in blank if working.has_uid(u))
        with st.container(border=True):
            st.warning(t("editor.blanked", turns=numbers), icon=":material/warning:")
            st.button(t("editor.put_back"), icon=":material/restore:", key="editor.put_back",
                      on_click=put_back, args=(blank,))
    # Only the open tab is drawn: the diff of a 120-turn dialogue is not worked out on every
    # keystroke batch while the turns are shown.
    edit_tab, diff_tab, history_tab = st.tabs([t("editor.tab_edit"), t("editor.tab_diff"),
                                               t("editor.tab_history")],
                                              key="editor.tabs", on_change="rerun")
    found = load(readers.findings, replace(current, turns=working.to_turns(),
                                           topic=working.topic, emotion=working.emotion,
                                           description=working.description))
    with edit_tab:  # drawn even when another tab is open: the boxes keep their state
        if found:
            turn_editor.show_findings([f for f in found if f.turn is None])
        turn_editor.turns(working, vocab, disabled=disabled,
                          findings=None if found is None else
                          (lambda i: [f for f in found if f.turn == i]),
                          redact=lambda uid: redact_clicked(dialogue_id, uid))
    if diff_tab.open:
        with diff_tab:
            revisions = load(readers.history, actor, dialogue_id)
            if revisions:
                st.caption(t_md("editor.diff_help", author=revisions[0].author))
                components.show_diff(vocab, revisions[0].turns, working.to_turns())
    if history_tab.open:
        with history_tab:
            components.show_history(load(readers.history, actor, dialogue_id), events)
    if not disabled:
        save_and_submit(working)


def save_and_submit(working: WorkingCopy) -> None:
    with st.container(key=f"editor-field-{dialogue_id}-note"):
        st.text_input(t("editor.note"), **turn_editor.typed_widget(
            f"editor.{dialogue_id}.note", working.note, working,
            lambda v: works[dialogue_id].set_field("note", v, typed=True)))
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="center")
    # Never disabled: a click right after typing must save (the keeper sends the text first).
    c1.button(t("editor.save"), type="primary", icon=":material/save:", key="editor.save",
              shortcut="Ctrl+S", on_click=save_clicked, args=(dialogue_id,))
    c2.button(t("editor.submit"), icon=":material/send:", key="editor.submit",
              disabled=current.status not in workflow.OPEN_WORK, on_click=submit_clicked,
              args=(dialogue_id,))
    c3.caption(t("editor.unsaved") if working.dirty else t("editor.no_changes"))
    if dialogue_id in confirmations:
        with st.container(border=True, key="editor-confirm"):
            st.warning(confirmations[dialogue_id], icon=":material/delete_forever:")
            k1, k2 = st.columns(2)
            k1.button(t("editor.confirm_save"), key="editor.confirm_save",
                      icon=":material/save:", on_click=save_clicked, args=(dialogue_id, True))
            k2.button(t("editor.confirm_cancel"), key="editor.confirm_cancel",
                      icon=":material/edit:", on_click=confirmations.pop,
                      args=(dialogue_id, None))


if not disabled:
    # Not in a fragment: a fragment run racing a page switch or a language switch drops the
    # switch and blanks the boxes (seen in Chromium); a long dialogue is paged instead.
    keeper.mount(wc, on_keystrokes)
edit_area()
