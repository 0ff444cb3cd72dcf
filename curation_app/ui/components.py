"""Pieces drawn on more than one page: the draft-vs-current diff, a dialogue's history, the
safety screen's warnings, a dialogue's turns in brief.

Dialogue text is user content: it is HTML-escaped before it goes into any markup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd
import streamlit as st

from curation_app.checks import Finding
from curation_app.diffing import TurnDiff, diff_turns
from curation_app.domain import Dialogue, Revision, Turn
from curation_app.presets import Vocabulary
from curation_app.store.workflow import WorkflowEvent
from curation_app.ui.i18n import t, t_optional
from curation_app.ui.labels import role_name, strategy_label
from curation_app.ui.plain import md, t_md

_STYLE = {
    "added": "background:#d9f2dd;text-decoration:none",
    "removed": "background:#fbdcdc;text-decoration:line-through",
}
_TAG = {"added": "ins", "removed": "del"}
_BORDER = {"same": "#dddddd", "changed": "#e0a800", "added": "#2e8b57", "removed": "#c0392b"}


def _segments_html(diff: TurnDiff) -> str:
    out = []
    for seg in diff.segments:
        text = html.escape(seg.text).replace("\n", "<br>")
        if seg.kind == "same":
            out.append(text)
        else:
            out.append(f'<{_TAG[seg.kind]} style="{_STYLE[seg.kind]}">{text}'
                       f"</{_TAG[seg.kind]}>")
    return "".join(out)


def _strategies(vocab: Vocabulary, turn: Turn | None) -> str:
    if turn is None or not turn.strategies:
        return ""
    return ", ".join(strategy_label(vocab, s) for s in turn.strategies)


def diff_html(vocab: Vocabulary, diffs: Sequence[TurnDiff]) -> str:
    rows = []
    for diff in diffs:
        turn = diff.new or diff.old
        assert turn is not None
        tags = _strategies(vocab, diff.new)
        if diff.strategies_changed:
            tags = (f'<del style="{_STYLE["removed"]}">{html.escape(_strategies(vocab, diff.old))}'
                    f'</del> → <ins style="{_STYLE["added"]}">{html.escape(tags)}</ins>')
        else:
            tags = html.escape(tags)
        rows.append(
            f'<div style="border-left:4px solid {_BORDER[diff.change]};padding:2px 8px;'
            f'margin:4px 0"><div style="font-size:0.8em;color:#666">'
            f"{html.escape(role_name(vocab, turn.role))} · {html.escape(t('diff.' + diff.change))}"
            f'{" · " + tags if tags else ""}</div><div>{_segments_html(diff)}</div></div>')
    return "".join(rows) or f"<p>{html.escape(t('diff.empty'))}</p>"


def show_diff(vocab: Vocabulary, old: Sequence[Turn], new: Sequence[Turn]) -> None:
    """Turn by turn, the machine draft (old) against the current text (new)."""
    diffs = diff_turns(old, new)
    changed = sum(d.change != "same" for d in diffs)
    st.caption(t("diff.summary", changed=changed, total=len(diffs)))
    st.html(f'<div lang="{html.escape(vocab.language)}">{diff_html(vocab, diffs)}</div>')


def show_turns(vocab: Vocabulary, turns: Sequence[Turn],
               warnings: Mapping[int, Sequence[str]] | None = None) -> None:
    """A read-only dialogue; ``warnings`` (by turn index) are shown beside their turn."""
    for i, turn in enumerate(turns):
        tags = _strategies(vocab, turn)
        st.markdown(f"**{i + 1}. {md(role_name(vocab, turn.role))}**"
                    + (f" · _{md(tags)}_" if tags else ""))
        st.text(turn.text)
        for warning in (warnings or {}).get(i, ()):
            st.warning(warning, icon=":material/health_and_safety:")


def safety_warnings(vocab: Vocabulary, turns: Sequence[Turn],
                    findings: Sequence[Finding]) -> dict[int, list[str]]:
    """For each turn the safety screen flagged, a warning per category in the interface
    language, in the manner of PANDA's safety message."""
    out: dict[int, list[str]] = {}
    for f in findings:
        if f.kind != "safety" or f.turn is None or not 0 <= f.turn < len(turns):
            continue
        category = f.category or f.rule.split(".", 1)[1]
        out.setdefault(f.turn, []).append(t_md(
            "safety.warning", role=role_name(vocab, turns[f.turn].role),
            category=t_optional(f"safety.category.{category}") or category))
    return out


def compact_turns_html(vocab: Vocabulary, turns: Sequence[Turn], height_px: int = 320) -> str:
    """A whole dialogue in little space (speaker and text per line, scrolling), for showing
    several side by side. The text is escaped."""
    lines = "".join(
        f'<div style="margin:2px 0"><b>{html.escape(role_name(vocab, turn.role))}</b>: '
        f"{html.escape(turn.text)}</div>" for turn in turns)
    return (f'<div lang="{html.escape(vocab.language)}" style="max-height:{height_px}px;'
            f'overflow-y:auto;font-size:0.9em">{lines}</div>')


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def show_history(revisions: Sequence[Revision], events: Sequence[WorkflowEvent]) -> None:
    rows = [{t("history.when"): _when(r.created_at), t("history.who"): r.author,
             t("history.what"): t("history.revision", number=r.number),
             t("history.note"): r.note or "",
             t("history.seconds"): r.seconds_spent or 0} for r in revisions]
    rows += [{t("history.when"): _when(e.created_at), t("history.who"): e.actor,
              t("history.what"): t(f"action.{e.action}") if e.action else "",
              t("history.note"): e.comment or "", t("history.seconds"): 0} for e in events]
    if not rows:
        return
    table = pd.DataFrame(rows).sort_values(t("history.when"), kind="stable")
    st.dataframe(table, hide_index=True, width="stretch")


def dialogue_caption(d: Dialogue) -> str:
    return t_md("dialogue.caption", id=d.id, status=t(f"status.{d.status}"),
             assignee=d.assignee or "—", version=d.version, turns=len(d.turns))


def dialogue_option(d: Dialogue) -> str:
    topic = (d.topic or "—")[:40]
    return f"#{d.id} · {topic} · {t(f'status.{d.status}')}"


def latest_comment(events: Sequence[WorkflowEvent], action: str) -> WorkflowEvent | None:
    found = [e for e in events if e.action == action and e.comment]
    return found[-1] if found else None
