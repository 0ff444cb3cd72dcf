"""Review page: submitted dialogues with their diff to the machine draft and the safety screen's
warnings; approve, return with a comment, or discard with a reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import streamlit as st

from curation_app.domain import Status
from curation_app.errors import CurationError
from curation_app.services import workflow
from curation_app.ui import components, layout, provenance, readers, state, turn_editor
from curation_app.ui.feedback import load, show_error
from curation_app.ui.i18n import language, t
from curation_app.ui.labels import shown
from curation_app.ui.plain import md, t_md

LISTED = 200  # submitted dialogues offered in the picker, oldest first

actor = layout.require_actor(layout.start(state.REVIEW_DIALOGUE))
project = layout.require_project()
vocab = load(readers.project, project).vocabulary
st.title(t("review.title"))

# The queue as summaries (no turns), one page of it; only the chosen dialogue is read whole.
queue = load(readers.dialogue_page, actor, project, (Status.SUBMITTED,), None, LISTED)
if not queue.items:
    st.info(t("review.empty"))
    st.stop()
by_id = {d.id: d for d in queue.items}
st.selectbox(t("review.dialogue", n=queue.total), list(by_id),
             format_func=shown(by_id, lambda i: components.dialogue_option(by_id[i])),
             **state.bind(state.REVIEW_DIALOGUE, state.get(state.REVIEW_DIALOGUE),
                          options=list(by_id)))
dialogue_id = state.get(state.REVIEW_DIALOGUE)
dialogue = load(readers.dialogue, actor, dialogue_id)

st.caption(components.dialogue_caption(dialogue))
provenance.panel(dialogue_id)
meta = [f"**{t('label.topic')}**: {md(dialogue.topic or '—')}",
        f"**{t('label.emotion')}**: {md(dialogue.emotion or '—')}"]
if dialogue.description:
    meta.append(f"**{t('label.description')}**: {md(dialogue.description)}")
st.markdown(" · ".join(meta))
events = load(readers.events, actor, dialogue_id)
note = components.latest_comment(events, "submit")
if note is not None:
    st.info(t_md("review.submit_note", who=note.actor, comment=note.comment))

# The local checks, as on every save. Error-level format and lint findings stop an approval
# (the service refuses it); they are named here first, so the reviewer knows why.
checked = load(readers.findings, dialogue)
blocking = [f for f in checked if f.severity == "error" and f.kind in ("format", "lint")]
if blocking:
    with st.container(border=True, key="review-blocked"):
        st.error(t("review.blocked"), icon=":material/block:")
        turn_editor.show_findings([replace(f, message=(
            f"({t('checks.col_turn')} {f.turn + 1}) " if f.turn is not None else "") + f.message)
            if language() == "en" else f for f in blocking])
# The safety screen: each flagged turn is named here and warned beside.
warnings = components.safety_warnings(vocab, dialogue.turns, checked)
for turn, shown_warnings in sorted(warnings.items()):
    for warning in shown_warnings:
        st.warning(t("safety.turn", n=turn + 1, warning=warning),
                   icon=":material/health_and_safety:")

revisions = load(readers.history, actor, dialogue_id)
diff_tab, text_tab, history_tab = st.tabs([t("review.tab_diff"), t("review.tab_text"),
                                           t("editor.tab_history")])
with diff_tab:
    if revisions:
        st.caption(t_md("review.diff_help", author=revisions[0].author))
        components.show_diff(vocab, revisions[0].turns, dialogue.turns)
with text_tab:
    components.show_turns(vocab, dialogue.turns, warnings)
with history_tab:
    components.show_history(revisions, events)

# ---- the decision ----------------------------------------------------------------------------
comment = st.text_area(t("review.comment"), key=f"review.comment.{dialogue_id}",
                       help=t("review.comment_help"))


def decide(action: Callable[..., None], done_key: str) -> None:
    try:
        action(readers.context(), actor, dialogue_id, comment.strip() or None)
    except CurationError as exc:
        show_error(exc)
    else:
        readers.clear()
        state.put(state.REVIEW_DIALOGUE, None)
        state.flash(t(done_key, id=dialogue_id))
        st.rerun()


c1, c2, c3, c4 = st.columns(4)
if c1.button(t("review.approve"), type="primary", icon=":material/check_circle:",
             key="review.approve"):
    decide(workflow.approve, "review.approved")
if c2.button(t("review.return"), icon=":material/undo:", key="review.return"):
    decide(lambda c, a, i, text: workflow.return_(c, a, i, text or ""), "review.returned")
if c3.button(t("review.discard"), icon=":material/delete:", key="review.discard"):
    decide(lambda c, a, i, text: workflow.discard(c, a, i, text or ""), "review.discarded")
if c4.button(t("review.edit"), icon=":material/edit_note:", key="review.edit"):
    state.put(state.EDITOR_DIALOGUE, dialogue_id)
    st.switch_page("views/editor.py")
