"""Checks page (leads): run the checks over the project, read the latest findings as a filterable
table, resolve near-duplicate clusters side by side (keep one, discard the others through the
workflow, never delete), and set the project's rules."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation_app.checks import KINDS, RULES, SEVERITIES, CheckConfig, Finding
from curation_app.domain import Status
from curation_app.errors import CurationError
from curation_app.services import checks, privacy, workflow
from curation_app.services.permissions import ALLOWED
from curation_app.ui import components, layout, readers, state
from curation_app.ui.feedback import load, show_error
from curation_app.ui.i18n import t
from curation_app.ui.labels import finding_message, shown
from curation_app.ui.plain import t_md

SHOWN_CLUSTERS = 20
PAGE = 200  # findings per page of the table
PER_ROW = 3

actor = layout.require_actor(layout.start(
    state.CHECKS_KINDS, state.CHECKS_FILTER_KINDS, state.CHECKS_FILTER_RULES,
    state.CHECKS_FILTER_SEVERITIES, state.CHECKS_FILTER_TEXT, state.CHECKS_OPEN,
    state.CHECKS_RULES_SHOWN, state.EDITOR_DIALOGUE))
project = layout.require_project()
vocab = load(readers.project, project).vocabulary
st.title(t("checks.title"))
kind_name = shown(KINDS, lambda k: t(f"checks.kind.{k}"))
severity_name = shown(SEVERITIES, lambda s: t(f"severity.{s}"))

# ---- run ---------------------------------------------------------------------------------------
left, right = st.columns([4, 1], vertical_alignment="bottom")
kinds = left.multiselect(t("checks.kinds"), list(KINDS), format_func=kind_name,
                         **state.bind(state.CHECKS_KINDS, state.get(state.CHECKS_KINDS)))
if right.button(t("checks.run"), type="primary", icon=":material/play_arrow:",
                key="checks.run_go", disabled=not kinds):
    try:
        with st.spinner(t("checks.running")):
            summary = checks.run_checks(readers.context(), actor, project, kinds)
    except CurationError as exc:
        show_error(exc)
    else:
        readers.clear()
        st.success(t_md("checks.done", line=summary.line()))

runs = load(readers.check_runs, project)
with st.expander(t("checks.runs"), expanded=False):
    if not runs:
        st.caption(t("checks.no_runs"))
    else:
        st.dataframe(pd.DataFrame([{
            t("checks.run_id"): r.id,
            t("checks.when"): r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            t("checks.by"): r.started_by,
            t("checks.run_kinds"): ", ".join(r.kinds),
            t("checks.dialogues"): r.summary.get("dialogues", 0),
            t("checks.errors"): r.summary.get("errors", 0),
            t("checks.warnings"): r.summary.get("warnings", 0),
            t("checks.clusters"): r.summary.get("clusters", 0),
            t("checks.seconds"): r.summary.get("seconds", 0),
        } for r in runs]), hide_index=True, width="stretch", height=200)

findings_tab, duplicates_tab, rules_tab = st.tabs(
    [t("checks.tab_findings"), t("checks.tab_duplicates"), t("checks.tab_rules")])


def open_in_editor(dialogue_id: int) -> None:
    state.put(state.EDITOR_DIALOGUE, dialogue_id)
    st.switch_page("views/editor.py")


# ---- the findings, filtered and paged by the database -------------------------------------------
def findings_table() -> None:
    c1, c2, c3 = st.columns([1, 2, 1])
    chosen_kinds = c1.multiselect(t("checks.filter_kinds"), list(KINDS), format_func=kind_name,
                                  placeholder=t("checks.filter_all"), **state.bind(
                                      state.CHECKS_FILTER_KINDS,
                                      state.get(state.CHECKS_FILTER_KINDS)))
    chosen_rules = c2.multiselect(t("checks.filter_rules"), list(RULES),
                                  placeholder=t("checks.filter_all"), **state.bind(
                                      state.CHECKS_FILTER_RULES,
                                      state.get(state.CHECKS_FILTER_RULES)))
    chosen_severities = c3.multiselect(
        t("checks.filter_severities"), list(SEVERITIES), format_func=severity_name,
        placeholder=t("checks.filter_all"),
        **state.bind(state.CHECKS_FILTER_SEVERITIES, state.get(state.CHECKS_FILTER_SEVERITIES)))
    search = st.text_input(t("checks.search"), icon=":material/search:", **state.bind(
        state.CHECKS_FILTER_TEXT, state.get(state.CHECKS_FILTER_TEXT), typed=True))
    filters = (tuple(chosen_kinds), tuple(chosen_rules), tuple(chosen_severities),
               search.strip())
    first = load(readers.findings_page, actor, project, *filters, 0)
    if first.stored == 0:
        st.info(t("checks.no_findings") if not runs else t("checks.nothing_found"))
        return
    pages = max(1, (first.matching + PAGE - 1) // PAGE)
    page = 1
    if pages > 1:
        page = int(st.number_input(t("checks.page", pages=pages), min_value=1, max_value=pages,
                                   value=1, step=1, key="checks.page"))
    shown = first if page == 1 else load(readers.findings_page, actor, project, *filters,
                                         (page - 1) * PAGE)
    st.caption(t("checks.shown", shown=first.matching, total=first.stored) + (
        "" if pages == 1 else " · " + t("checks.shown_paged",
                                        first=(page - 1) * PAGE + min(1, len(shown.items)),
                                        last=(page - 1) * PAGE + len(shown.items))))
    if first.per_rule:
        st.markdown(" · ".join(f"`{rule}` **{n}**" for rule, n in first.per_rule.items()))
    rows = shown.items
    table = pd.DataFrame([{
        t("checks.col_dialogue"): f.dialogue_id,
        t("checks.col_turn"): "" if f.turn is None else str(f.turn + 1),  # as the editor
        t("checks.col_rule"): f.rule,
        t("checks.col_severity"): t(f"severity.{f.severity}"),
        t("checks.col_category"): f.category or "",
        t("checks.col_message"): finding_message(f),
    } for f in rows], columns=[t(f"checks.col_{c}") for c in
                               ("dialogue", "turn", "rule", "severity", "category", "message")])
    table = table.astype({t("checks.col_dialogue"): "Int64"})
    st.dataframe(table, hide_index=True, width="stretch")
    ids = sorted({f.dialogue_id for f in rows if f.dialogue_id is not None})
    if ids:
        pick, go = st.columns([3, 1], vertical_alignment="bottom")
        pick.selectbox(t("checks.open_which"), ids, format_func=lambda i: f"#{i}",
                       **state.bind(state.CHECKS_OPEN, state.get(state.CHECKS_OPEN),
                                    options=ids))
        if go.button(t("checks.open"), icon=":material/edit_note:", key="checks.open_go"):
            open_in_editor(state.get(state.CHECKS_OPEN))


with findings_tab:
    findings_table()


# ---- near-duplicate clusters, side by side ------------------------------------------------------
def keep(number: int, kept: int, members: list[Finding]) -> None:
    """Discard every other dialogue of cluster ``number`` through the workflow."""
    discarded, failed = [], []
    others = sorted({m.dialogue_id for m in members if m.dialogue_id not in (None, kept)})
    for other in others:
        if load(readers.dialogue, actor, other).status == Status.DISCARDED:
            continue
        try:
            workflow.discard(readers.context(), actor, other,
                             reason=f"near-duplicate of #{kept} (cluster {number})")
        except CurationError as exc:
            failed.append(exc)
        else:
            discarded.append(f"#{other}")
    readers.clear()
    for exc in failed:
        show_error(exc)
    if not failed:
        state.flash(t("checks.kept", kept=kept, discarded=", ".join(discarded))
                    if discarded else t("checks.kept_nothing", kept=kept))
        st.rerun()


def show_cluster(number: int, members: list[Finding]) -> None:
    rule = members[0].rule.split(".", 1)[1]
    score = min((m.score for m in members if m.score is not None), default=1.0)
    st.markdown(f"**{t(f'checks.cluster_{rule}', n=number, score=f'{score:.2f}')}**")
    for start in range(0, len(members), PER_ROW):
        row = members[start:start + PER_ROW]
        for column, member in zip(st.columns(PER_ROW), row, strict=False):
            assert member.dialogue_id is not None
            dialogue = load(readers.dialogue, actor, member.dialogue_id)
            status = t(f"status.{dialogue.status}")
            similarity = f"{member.score or 1.0:.2f}"
            with column.container(border=True):
                if member.turn is None:
                    st.markdown(t("checks.member", id=dialogue.id, status=status,
                                  score=similarity))
                    st.html(components.compact_turns_html(vocab, dialogue.turns))
                else:
                    st.markdown(t("checks.member_turn", id=dialogue.id, turn=member.turn + 1,
                                  status=status, score=similarity))
                    if member.turn < len(dialogue.turns):
                        st.html(components.compact_turns_html(
                            vocab, [dialogue.turns[member.turn]]))
                if dialogue.status == Status.DISCARDED:
                    st.caption(t("checks.is_discarded"))
                elif member.turn is not None:
                    # A recycled sentence is fixed by rewriting the turn, not by throwing
                    # away whole dialogues.
                    if st.button(t("checks.open"), icon=":material/edit_note:",
                                 key=f"checks.edit.{number}.{dialogue.id}.{member.turn}"):
                        open_in_editor(dialogue.id)
                elif st.button(t("checks.keep"), icon=":material/done:",
                               key=f"checks.keep.{number}.{dialogue.id}"):
                    keep(number, member.dialogue_id, members)


with duplicates_tab:
    cluster_count, clusters = load(readers.duplicate_clusters, actor, project, SHOWN_CLUSTERS)
    if not clusters:
        st.info(t("checks.no_clusters"))
    else:
        st.caption(t("checks.clusters_found", n=cluster_count))
        for number in sorted(clusters):
            with st.container(border=True):
                show_cluster(number, clusters[number])
        if cluster_count > len(clusters):
            st.caption(t("checks.more_clusters", n=cluster_count - len(clusters)))


# ---- rule settings ------------------------------------------------------------------------------
def rule_key(rule_id: str, what: str) -> str:
    return f"checks.rule.{rule_id}.{what}"


def refill(config: CheckConfig) -> None:
    """Fill the form's widgets from the stored settings when those changed (a save, another
    lead) or the widgets were dropped (a page switch); not while someone is editing them."""
    shown_from = (tuple((r, s.enabled, s.severity) for r, s in config.rules.items()),
                  config.dedup_threshold)
    keys = [rule_key(r, w) for r in RULES for w in ("enabled", "severity")]
    if (state.get(state.CHECKS_RULES_SHOWN) == shown_from
            and all(k in st.session_state for k in keys)):
        return
    for rule_id, setting in config.rules.items():
        st.session_state[rule_key(rule_id, "enabled")] = setting.enabled
        st.session_state[rule_key(rule_id, "severity")] = setting.severity
    st.session_state["checks.threshold"] = float(config.dedup_threshold)
    state.put(state.CHECKS_RULES_SHOWN, shown_from)


def rule_settings(config: CheckConfig) -> None:
    st.caption(t("checks.rules_help"))
    refill(config)
    with st.form("checks.rules_form"):
        for rule_id, rule in RULES.items():
            name, on, severity = st.columns([6, 1, 2], vertical_alignment="center")
            name.markdown(f"`{rule_id}`  \n{rule.description}")
            on.checkbox(t("checks.enabled"), key=rule_key(rule_id, "enabled"))
            severity.selectbox(t("checks.severity"), list(SEVERITIES),
                               format_func=severity_name, label_visibility="collapsed",
                               key=rule_key(rule_id, "severity"))
        st.number_input(t("checks.threshold"), min_value=0.01, max_value=1.0, step=0.01,
                        format="%.2f", key="checks.threshold", help=t("checks.threshold_help"))
        save = st.form_submit_button(t("checks.save_rules"), icon=":material/save:")
    if not save:
        return
    changes: dict[str, dict[str, object]] = {}
    for rule_id, setting in config.rules.items():
        enabled = st.session_state[rule_key(rule_id, "enabled")]
        severity = st.session_state[rule_key(rule_id, "severity")]
        change = ({"enabled": enabled} if enabled != setting.enabled else {}) | (
            {"severity": severity} if severity != setting.severity else {})
        if change:
            changes[rule_id] = change
    threshold = float(st.session_state["checks.threshold"])
    new_threshold = threshold if abs(threshold - config.dedup_threshold) > 1e-9 else None
    if not changes and new_threshold is None:
        st.info(t("checks.rules_unchanged"))
        return
    try:
        checks.configure_checks(readers.context(), actor, project, rules=changes or None,
                                dedup_threshold=new_threshold)
    except CurationError as exc:
        show_error(exc)
    else:
        readers.clear()
        state.flash(t_md("checks.rules_saved", project=project))
        st.rerun()


with rules_tab:
    rule_settings(load(readers.check_config, project))


# ---- privacy findings per turn: replace by placeholders, or mark a false alarm ------------
SHOWN_PRIVATE = 20


def privacy_section(found: list[Finding]) -> None:
    """Each dialogue with open privacy findings, per turn. Dialogue text and the (masked)
    values are shown as plain text, never as Markdown."""
    by_dialogue: dict[int, list[Finding]] = {}
    for f in found:
        if f.kind == "privacy" and f.dialogue_id is not None:
            by_dialogue.setdefault(f.dialogue_id, []).append(f)
    if not by_dialogue:
        st.caption(t("privacy.none"))
        return
    st.caption(t("privacy.help"))
    for dialogue_id in sorted(by_dialogue)[:SHOWN_PRIVATE]:
        dialogue = load(readers.dialogue, actor, dialogue_id)
        with st.container(border=True):
            st.text(t("privacy.dialogue", id=dialogue_id, n=len(by_dialogue[dialogue_id])))
            for i, f in enumerate(by_dialogue[dialogue_id]):
                where = (t("privacy.in_turn", turn=f.turn + 1) if f.turn is not None
                         else f.path)
                st.text(f"{where} · {f.rule} · {f.message}")
                if f.turn is not None and f.turn < len(dialogue.turns):
                    st.text(dialogue.turns[f.turn].text)
                if layout.role_here(actor) in ALLOWED["privacy.dismiss"]:
                    reason_col, mark_col = st.columns([4, 1], vertical_alignment="bottom")
                    reason = reason_col.text_input(
                        t("privacy.reason"), key=f"privacy.reason.{dialogue_id}.{i}")
                    if mark_col.button(t("privacy.mark"), key=f"privacy.mark.{dialogue_id}.{i}"):
                        try:
                            privacy.dismiss(readers.context(), actor, dialogue_id, f.path,
                                            f.rule, f.message, reason)
                        except CurationError as exc:
                            show_error(exc)
                        else:
                            readers.clear()
                            state.flash(t("privacy.marked", id=dialogue_id))
                            st.rerun()
            if st.button(t("privacy.replace"), icon=":material/shield:",
                         key=f"privacy.replace.{dialogue_id}"):
                try:
                    done = privacy.redact_dialogue(readers.context(), actor, dialogue_id,
                                                   dialogue.version)
                except CurationError as exc:
                    show_error(exc)
                else:
                    readers.clear()
                    state.flash(t("privacy.replaced", id=dialogue_id, n=done.replaced,
                                  revision=done.revision if done.revision is not None else "-"))
                    st.rerun()
    if len(by_dialogue) > SHOWN_PRIVATE:
        st.caption(t("privacy.more", n=len(by_dialogue) - SHOWN_PRIVATE))


# The privacy findings are read as one page of their own (filtered in the database, like the
# table above), so a project with many findings of other kinds does not crowd them out.
private = load(readers.findings_page, actor, project, ("privacy",), (), (), "", 0)
if private is not None:
    with st.expander(t("privacy.title", n=private.matching), expanded=private.matching > 0):
        privacy_section(private.items)
