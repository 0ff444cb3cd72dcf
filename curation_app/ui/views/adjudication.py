"""Adjudication page: the overlap copies of one draft side by side, the turns where their text or
strategies differ marked, and the choice of the copy that goes into the dataset (as it is, or
merged turn by turn into one of them)."""

from __future__ import annotations

import html

import streamlit as st

from curation_app.domain import Dialogue, Turn
from curation_app.errors import CurationError
from curation_app.services import adjudication
from curation_app.ui import layout, readers, state
from curation_app.ui.feedback import load, show_error
from curation_app.ui.i18n import t
from curation_app.ui.labels import role_name, strategy_label
from curation_app.ui.plain import md, t_md

actor = layout.require_actor(layout.start(state.ADJUDICATION_GROUP))
project = layout.require_project()
vocab = load(readers.project, project).vocabulary
st.title(t("adjudication.title"))

only_open = st.toggle(t("adjudication.only_open"), value=True, key="adjudication.only_open")
groups = load(readers.overlap_groups, actor, project, only_open)
if not groups:
    st.info(t("adjudication.empty"))
    st.stop()
by_id = {g.original: g for g in groups}
st.selectbox(t("adjudication.group"), list(by_id), format_func=lambda i: t(
    "adjudication.group_option", id=i, n=len(by_id[i].members),
    differ=len(by_id[i].differing),
    done=t("adjudication.decided") if by_id[i].adjudicated else ""),
    **state.bind(state.ADJUDICATION_GROUP, state.get(state.ADJUDICATION_GROUP),
                 options=list(by_id)))
group = by_id[state.get(state.ADJUDICATION_GROUP)]
differing = set(group.differing)
if differing:
    st.caption(t("adjudication.differs", turns=", ".join(str(i + 1) for i in group.differing)))
else:
    st.caption(t("adjudication.same"))


def _owner(d: Dialogue) -> str:
    return d.assignee or "—"


def _turn_html(i: int, turn: Turn) -> str:
    tags = ", ".join(strategy_label(vocab, s) for s in turn.strategies)
    mark = "⚠ " if i in differing else ""
    style = "background:#fff3cd;" if i in differing else ""
    return (f"<div style='{style}padding:2px 4px'>{mark}<b>{i + 1}. "
            f"{html.escape(role_name(vocab, turn.role))}</b>"
            f"{' [' + html.escape(tags) + ']' if tags else ''}: "
            f"{html.escape(turn.text)}</div>")


def decide(chosen: int, merged: list[Turn] | None = None) -> None:
    try:
        adjudication.adjudicate(readers.context(), actor, chosen, merged=merged)
    except CurationError as exc:
        show_error(exc)
        return
    readers.clear()
    state.flash(t("adjudication.merged" if merged else "adjudication.picked", id=chosen))
    st.rerun()


columns = st.columns(len(group.members))
for column, member in zip(columns, group.members, strict=True):
    with column:
        title = t_md("adjudication.copy", id=member.id, who=_owner(member),
                  status=t(f"status.{member.status}"))
        st.markdown(f"**{title}**")
        if group.adjudicated == member.id:
            st.success(t("adjudication.chosen"), icon=":material/check_circle:")
        st.html("".join(_turn_html(i, turn) for i, turn in enumerate(member.turns)))
        if st.button(t("adjudication.pick"), key=f"adjudication.pick.{member.id}",
                     icon=":material/done:"):
            decide(member.id)

st.subheader(t("adjudication.merge"))
if len({len(m.turns) for m in group.members}) > 1:
    st.caption(t("adjudication.cannot_merge"))
    st.stop()
if not differing:
    st.stop()
st.caption(t("adjudication.merge_help"))
members = {m.id: m for m in group.members}
source: dict[int, int] = {}
for i in group.differing:
    # radio options render Markdown: the owner's name is escaped (selectbox options do not)
    source[i] = st.radio(t("adjudication.turn_from", n=i + 1), list(members), horizontal=True,
                         key=f"adjudication.{group.original}.turn.{i}",
                         format_func=lambda m: f"#{m} · {md(_owner(members[m]))}")
target = st.selectbox(t("adjudication.merge_into"), list(members),
                      key=f"adjudication.{group.original}.target",
                      format_func=lambda m: f"#{m} · {_owner(members[m])}")
if st.button(t("adjudication.merge_save"), type="primary", key="adjudication.merge_save",
             icon=":material/merge:"):
    base = members[target].turns
    merged = [members[source[i]].turns[i] if i in source else turn
              for i, turn in enumerate(base)]
    decide(target, merged)
