"""The editor's widgets for one working copy: metadata fields and one block per turn.

Every widget is bound (:func:`curation_app.ui.state.bind`) to the working copy kept in session
state, which is the only copy of the unsaved edit: widgets are refilled from it on each run and
write back through callbacks that look the copy up by dialogue id at call time. A text area per
turn (not a data editor) keeps long Chinese or English turns easy to edit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import streamlit as st

from curation_app.domain import Role
from curation_app.presets import Vocabulary
from curation_app.ui import readers, state
from curation_app.ui.i18n import t
from curation_app.ui.labels import (
    finding_message,
    label_name,
    role_name,
    shown,
    strategy_help,
    strategy_label,
    topic_label,
)
from curation_app.ui.plain import md
from curation_app.ui.working_copy import WorkingCopy, WorkTurn

ROLES = [str(Role.SEEKER), str(Role.SUPPORTER)]
# A hook for the checks: given a turn's index, the findings to show under it.
Findings = Callable[[int], Sequence[Any]]
# The editor's one-click privacy replacement, given a turn's uid (a button's callback).
Redact = Callable[[int], None]


# Dialogues longer than this show their turns a page at a time: a 120-turn dialogue would
# otherwise draw about a thousand widgets on every run.
TURNS_PER_PAGE = 20
PAGED_FROM = 30


def working_copy(dialogue_id: int) -> WorkingCopy:
    actor = state.get(state.AUTH_ACTOR)
    return readers.working_copies().for_user(actor.name)[dialogue_id]


def typed_widget(key: str, value: str, wc: WorkingCopy,
                 store: Callable[[str], None]) -> dict[str, Any]:
    """Keyword arguments for a box people type in, showing ``value`` from the working copy.

    The box's key names the working copy's ``stamp`` and the page's generation
    (:data:`state.EDITOR_GEN`): a box is never refilled in place (a refill raced what was
    being typed, and a box drawn again after a page switch could come back blank); when its
    text changes other than by typing, or the page is entered again, a new box is drawn with
    the text as its value.
    """
    wkey = state.widget_key(f"{key}@{state.get(state.EDITOR_GEN)}.{wc.stamp}")
    return {"key": wkey, "value": value,
            "on_change": lambda: store(st.session_state[wkey])}


def description_key(wc: WorkingCopy) -> str:
    """The description box's widget key: absent from the session state when the page was not
    drawn in the previous run (the page was entered again)."""
    return state.widget_key(f"editor.{wc.dialogue_id}.description@"
                            f"{state.get(state.EDITOR_GEN)}.{wc.stamp}")


def _apply(dialogue_id: int, method: str, *args: Any) -> Callable[[Any], None]:
    def store(value: Any) -> None:
        getattr(working_copy(dialogue_id), method)(*args, value)
    return store


def _set_field(dialogue_id: int, name: str, value: Any) -> None:
    wc = working_copy(dialogue_id)
    setattr(wc, name, value if value != "" or name == "note" else None)
    wc.touch()


def _op(dialogue_id: int, method: str, *args: Any) -> None:
    wc = working_copy(dialogue_id)
    getattr(wc, method)(*args)
    wc.restructured()


def metadata(wc: WorkingCopy, vocab: Vocabulary, *, disabled: bool) -> None:
    did = wc.dialogue_id
    c1, c2 = st.columns(2)
    topics = list(dict.fromkeys([*vocab.topics, *([wc.topic] if wc.topic else [])]))
    c1.selectbox(topic_label(vocab), topics, disabled=disabled,
                 **state.bind(f"editor.{did}.topic", wc.topic, options=topics,
                              store=partial(_set_field, did, "topic")))
    emotions = [None, *dict.fromkeys([*vocab.emotions, *([wc.emotion] if wc.emotion else [])])]
    c2.selectbox(t("label.emotion"), emotions, disabled=disabled,
                 format_func=shown(emotions, partial(label_name, vocab, "emotion")),
                 **state.bind(f"editor.{did}.emotion", wc.emotion, options=emotions,
                              store=partial(_set_field, did, "emotion")))
    with st.container(key=f"editor-field-{did}-description"):
        st.text_area(t("label.description"), height=68, disabled=disabled,
                     **typed_widget(f"editor.{did}.description", wc.description or "", wc,
                                    lambda v: working_copy(did).set_field("description", v,
                                                                           typed=True)))


def _height(text: str) -> int:
    rows = sum(len(line) // 70 + 1 for line in text.split("\n"))
    return max(68, min(400, 28 + 24 * rows))


def _strategies(wc: WorkingCopy, vocab: Vocabulary, turn: WorkTurn, disabled: bool) -> None:
    did, uid = wc.dialogue_id, turn.uid
    names = list(vocab.strategy_names)
    extra = [s for s in turn.strategies if s not in names]  # labels the project lost
    key = f"editor.{did}.{uid}.strategies"
    if vocab.multi_strategy:
        st.multiselect(t("editor.strategies"), names + extra, disabled=disabled,
                       format_func=shown(names + extra, partial(strategy_label, vocab)),
                       help=strategy_help(vocab),
                       placeholder=t("editor.choose_strategies"),
                       **state.bind(key, list(turn.strategies),
                                    store=_apply(did, "set_strategies", uid)))
    else:
        options = [None, *names, *extra]
        current = turn.strategies[0] if turn.strategies else None
        st.selectbox(t("editor.strategy"), options, disabled=disabled,
                     format_func=shown(options, lambda s: "—" if s is None
                                       else strategy_label(vocab, s)),
                     help=strategy_help(vocab),
                     **state.bind(key, current, options=options,
                                  store=lambda v, d=did, u=uid: working_copy(d).set_strategies(
                                      u, [v] if v else [])))


def _actions(wc: WorkingCopy, turn: WorkTurn, first: bool, last: bool) -> None:
    did, uid = wc.dialogue_id, turn.uid
    buttons = [
        ("up", "arrow_upward", "editor.move_up", "move", (uid, -1), first),
        ("down", "arrow_downward", "editor.move_down", "move", (uid, 1), last),
        ("split", "content_cut", "editor.split", "split", (uid,), False),
        ("merge", "merge", "editor.merge", "merge_next", (uid,), last),
        ("add", "add", "editor.add_after", "add_after", (uid,), False),
        ("delete", "delete", "editor.delete", "delete", (uid,), False),
    ]
    with st.container(horizontal=True, gap="small"):
        for name, icon, help_key, method, args, off in buttons:
            st.button(f":material/{icon}:", key=f"editor.{did}.{uid}.{name}", help=t(help_key),
                      disabled=off, on_click=_op, args=(did, method, *args), type="tertiary")


def turn_page(wc: WorkingCopy) -> range:
    """The turns (by index) shown now: all of a short dialogue, one page of a long one, with
    the page picked above the turns."""
    count = len(wc.turns)
    if count < PAGED_FROM:
        return range(count)
    pages = (count + TURNS_PER_PAGE - 1) // TURNS_PER_PAGE
    options = list(range(pages))
    key = f"editor.{wc.dialogue_id}.turn_page"
    chosen = st.session_state.get(key, 0)
    st.segmented_control(
        t("editor.turn_pages", n=count), options, selection_mode="single", required=True,
        format_func=lambda p: f"{p * TURNS_PER_PAGE + 1}–{min(count, (p + 1) * TURNS_PER_PAGE)}",
        **state.bind(key, chosen if chosen in options else 0, options=options))
    page = st.session_state.get(key, 0)
    return range(page * TURNS_PER_PAGE, min(count, (page + 1) * TURNS_PER_PAGE))


def turns(wc: WorkingCopy, vocab: Vocabulary, *, disabled: bool,
          findings: Findings | None = None, redact: Redact | None = None) -> None:
    did = wc.dialogue_id
    count = len(wc.turns)
    role_names = shown(ROLES, partial(role_name, vocab))
    for i in turn_page(wc):
        turn = wc.turns[i]
        with st.container(border=True, key=f"editor-turn-{did}-{turn.uid}"):
            left, middle, right = st.columns([1.3, 5.4, 3])
            left.selectbox(
                t("editor.speaker"), ROLES, disabled=disabled,
                format_func=role_names, label_visibility="collapsed",
                **state.bind(f"editor.{did}.{turn.uid}.role", turn.role, options=ROLES,
                             store=_apply(did, "set_role", turn.uid)))
            left.caption(f"#{i + 1}")
            middle.text_area(
                t("editor.turn_text", n=i + 1, speaker=role_name(vocab, turn.role)),
                height=_height(turn.text), disabled=disabled, label_visibility="collapsed",
                **typed_widget(f"editor.{did}.{turn.uid}.text", turn.text, wc,
                               lambda v, u=turn.uid: working_copy(did).set_text(u, v,
                                                                                 typed=True)))
            with right:
                if turn.role == Role.SUPPORTER:
                    _strategies(wc, vocab, turn, disabled)
                if not disabled:
                    _actions(wc, turn, first=i == 0, last=i == count - 1)
            if findings is not None:
                found = findings(i)
                show_findings(found)
                if redact is not None and not disabled and any(
                        f.rule.startswith("privacy.") for f in found):
                    st.button(t("editor.redact"), icon=":material/shield:",
                              help=t("editor.redact_help"),
                              key=f"editor.{did}.{turn.uid}.redact", on_click=redact,
                              args=(turn.uid,))
    if not disabled:
        st.button(t("editor.add_turn"), icon=":material/add:", key=f"editor.{did}.append",
                  on_click=_op, args=(did, "add_after", None))


def show_findings(found: Sequence[Any]) -> None:
    """The checks' findings (``curation_app.checks.findings.Finding``) for one turn, or for the
    whole dialogue: rule id and message, an error in red, a warning in yellow."""
    for finding in found:
        show = st.error if finding.severity == "error" else st.warning
        show(f"`{finding.rule}` {md(finding_message(finding))}", icon=":material/rule:")
