"""Ratings page: raters score their items on the campaign's protocol (aspect definitions in the
interface language); leads also start and close campaigns, follow each rater's progress and
read the agreement, the judge beside the humans, and group comparisons."""

from __future__ import annotations

import asyncio
import threading

import pandas as pd
import streamlit as st

from curation_app.errors import CurationError
from curation_app.generation.client import LLMConfig
from curation_app.quality.judge import AsyncJudgeClient
from curation_app.services import judging, quality
from curation_app.services.context import AppContext
from curation_app.services.permissions import ALLOWED, Actor
from curation_app.ui import layout, readers, state
from curation_app.ui.feedback import load, reporting, show_error
from curation_app.ui.i18n import language, t
from curation_app.ui.labels import role_name
from curation_app.ui.plain import md, t_md

actor = layout.require_actor(layout.start(state.RATINGS_CAMPAIGN, state.RATINGS_ITEM,
                                          state.RATINGS_COMPARE))
project = layout.require_project()
vocab = load(readers.project, project).vocabulary
lang = language()
is_lead = layout.role_here(actor) in ALLOWED["quality.manage"]
reads = layout.role_here(actor) in ALLOWED["quality.read"]
st.title(t("ratings.title"))


def _f(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def choose_campaign(campaigns: list[quality.CampaignRecord]) -> quality.CampaignRecord:
    by_id = {c.id: c for c in campaigns}
    st.selectbox(t("ratings.campaign"), list(by_id),
                 format_func=lambda i: f"#{i} · {by_id[i].name} · "
                                       f"{t(f'ratings.status.{by_id[i].status}')}",
                 **state.bind(state.RATINGS_CAMPAIGN, state.get(state.RATINGS_CAMPAIGN),
                              options=list(by_id)))
    return by_id[state.get(state.RATINGS_CAMPAIGN)]


def rate_tab(campaign: quality.CampaignRecord) -> None:
    protocol = load(readers.campaign_protocol, actor, campaign.id)
    tasks = load(readers.rating_tasks, actor, campaign.id)
    if campaign.status == "closed":
        st.info(t("ratings.closed"))
    if not tasks:
        st.info(t("ratings.no_items"))
        return
    done = sum(task.scores is not None for task in tasks)
    st.progress(done / len(tasks))
    st.caption(t("ratings.progress", done=done, total=len(tasks)))
    numbers = [task.number for task in tasks]
    st.selectbox(t("ratings.item"), numbers, format_func=lambda n: t(
        "ratings.item_option", n=n, mark=" ✓" if tasks[n - 1].scores is not None else ""),
        **state.bind(state.RATINGS_ITEM, state.get(state.RATINGS_ITEM), options=numbers))
    task = tasks[state.get(state.RATINGS_ITEM) - 1]
    content = task.content
    if any(turn.get("focus") for turn in content["turns"]):
        st.caption(t("ratings.focus"))
    with st.container(border=True):
        if content.get("description"):
            st.markdown(f"*{md(content['description'])}*")
        for turn in content["turns"]:
            mark = "▶ " if turn.get("focus") else ""
            st.markdown(f"{mark}**{md(role_name(vocab, turn['role']))}**: {md(turn['text'])}")
    st.caption(t("ratings.scale", min=protocol.minimum, max=protocol.maximum))
    closed = campaign.status == "closed"
    chosen: dict[str, int | None] = {}
    # One form per item: choosing a score does not rerun the page; saving does.
    with st.form(f"ratings.form.{task.item_id}", border=False):
        for aspect in protocol.aspects:
            key = f"ratings.{task.item_id}.{aspect.name}"
            current = (task.scores or {}).get(aspect.name)
            # The definition sits between the aspect's name and its scale, where raters look.
            st.markdown(f"**{md(aspect.shown(lang))}**")
            st.caption(md(aspect.explained(lang)))
            chosen[aspect.name] = st.radio(
                md(aspect.shown(lang)), protocol.scale, horizontal=True, key=key,
                index=protocol.scale.index(current) if current is not None else None,
                disabled=closed, label_visibility="collapsed")
        comment = st.text_input(t("ratings.comment"), value=task.comment or "",
                                key=f"ratings.{task.item_id}.comment", disabled=closed)
        saved = st.form_submit_button(t("ratings.save"), type="primary", key="ratings.save",
                                      disabled=closed, icon=":material/save:")
    if saved:
        missing = [a.shown(lang) for a in protocol.aspects if chosen[a.name] is None]
        if missing:
            st.error(t_md("ratings.missing", aspects=", ".join(missing)))
            return
        try:
            quality.rate(readers.context(), actor, task.item_id, chosen, comment)
        except CurationError as exc:
            show_error(exc)
            return
        readers.clear()
        following = next((x.number for x in tasks[task.number:] if x.scores is None), None)
        if following is not None:
            state.put(state.RATINGS_ITEM, following)
        state.flash(t("ratings.saved", n=task.number))
        st.rerun()


def new_campaign_form(lead: Actor) -> None:
    with st.expander(t("ratings.new"), icon=":material/add:"):
        st.caption(t("ratings.new_help"))
        protocols = load(readers.protocols, project)
        people = [name for name, _ in load(readers.people_in, lead, project, "quality.manage")]
        name = st.text_input(t("ratings.name"), key="ratings.new.name")
        protocol = st.selectbox(t("ratings.protocol"), list(protocols), key="ratings.new.protocol",
                                format_func=lambda p: protocols[p].shown(lang))
        kind = st.selectbox(t("ratings.sample"), ["random", "stratified", "draft-vs-final"],
                            key="ratings.new.sample",
                            format_func=lambda k: t(f"ratings.sample.{k}"))
        n = st.number_input(t("ratings.n"), min_value=1, value=10, key="ratings.new.n")
        raters = st.multiselect(t("ratings.raters"), people, key="ratings.new.raters")
        overlap = st.number_input(t("ratings.overlap"), min_value=1, value=2,
                                  key="ratings.new.overlap")
        if st.button(t("ratings.start"), key="ratings.new.start", icon=":material/play_arrow:"):
            try:
                record = quality.create_campaign(
                    readers.context(), lead, project, name, protocol, raters,
                    [quality.SampleSpec(kind, n=int(n))], overlap=int(overlap))
            except CurationError as exc:
                show_error(exc)
                return
            readers.clear()
            state.put(state.RATINGS_CAMPAIGN, record.id)
            items = len(quality.campaign_items(readers.context(), lead, record.id))
            state.flash(t_md("ratings.started", name=record.name, items=items))
            st.rerun()


def manage_tab(campaign: quality.CampaignRecord) -> None:
    st.markdown(t("ratings.status", status=t(f"ratings.status.{campaign.status}")))
    progress = load(readers.campaign_progress, actor, campaign.id)
    st.subheader(t("ratings.rater_progress"))
    st.dataframe(pd.DataFrame([{t("ratings.rater"): p.rater, t("ratings.rated"): p.rated,
                                t("ratings.assigned"): p.assigned} for p in progress]),
                 hide_index=True)
    if not is_lead:
        return
    with reporting():
        if campaign.status == "open":
            if st.button(t("ratings.close"), key="ratings.close", icon=":material/lock:"):
                quality.close_campaign(readers.context(), actor, campaign.id)
                readers.clear()
                state.flash(t_md("ratings.closed_done", name=campaign.name))
                st.rerun()
        elif st.button(t("ratings.reopen"), key="ratings.reopen", icon=":material/lock_open:"):
            quality.reopen_campaign(readers.context(), actor, campaign.id)
            readers.clear()
            state.flash(t_md("ratings.reopened", name=campaign.name))
            st.rerun()


def results_tab(campaign: quality.CampaignRecord) -> None:
    result = load(readers.campaign_agreement, actor, campaign.id)
    st.subheader(t("ratings.agreement"))
    if not result.rated_items:
        st.info(t("ratings.no_ratings"))
    else:
        st.caption(t("ratings.agreement_caption", rated=result.rated_items, items=result.items))
        protocol = load(readers.campaign_protocol, actor, campaign.id)
        shown = {a.name: a.shown(lang) for a in protocol.aspects}
        rows = []
        for a in result.aspects:
            row = {t("ratings.aspect"): shown[a.aspect], t("ratings.mean"): _f(a.mean, 2),
                   t("ratings.fleiss"): _f(a.fleiss.kappa), t("ratings.alpha"): _f(a.alpha),
                   t("ratings.items"): a.fleiss.units}
            if result.reference.get("mean"):  # the paper's own figures, beside ours
                row[t("ratings.paper_mean")] = _f(a.paper_mean, 2)
                row[t("ratings.paper_kappa")] = _f(a.paper_kappa, 2)
            rows.append(row)
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        if result.reference.get("overall"):
            st.caption(t("ratings.paper_overall", mean=_f(result.overall_mean, 2),
                         scores=", ".join(f"{m} {v:g}" for m, v in
                                          result.reference["overall"])))
        if result.reference.get("source"):
            st.caption(t_md("ratings.paper_source", source=result.reference["source"]))
        for a in result.aspects:  # one plain line per aspect, for reading and for tests
            st.caption(t_md("ratings.kappa_line", aspect=shown[a.aspect], kappa=_f(a.fleiss.kappa)))
        st.subheader(t("ratings.per_rater"))
        st.dataframe(pd.DataFrame([{
            t("ratings.rater"): r.rater, t("ratings.shared"): r.units,
            t("ratings.kappa_rest"): _f(r.kappa), t("ratings.spearman_rest"): _f(r.spearman)}
            for r in result.raters]), hide_index=True)
    compare_section(campaign)
    judge_section(campaign)
    tags = load(readers.tag_agreement, actor, project)
    if tags.groups:
        st.subheader(t("ratings.tags"))
        st.markdown(t("ratings.tags_line", groups=tags.groups, units=tags.units,
                      fleiss=_f(tags.fleiss.kappa if tags.fleiss else None),
                      alpha=_f(tags.alpha)))
        for p in tags.pairs:
            st.caption(t_md("ratings.tags_pair", a=p.a, b=p.b, kappa=_f(p.kappa), units=p.units))


def compare_section(campaign: quality.CampaignRecord) -> None:
    st.subheader(t("ratings.compare"))
    groups = load(readers.campaign_groups, actor, campaign.id)
    if len(groups) < 2:
        st.caption(t("ratings.one_group"))
        return
    runs = load(readers.judge_runs, actor, campaign.id)
    c1, c2, c3 = st.columns(3)
    a = c1.selectbox(t("ratings.group_a"), groups, index=0, key="ratings.compare.a")
    b = c2.selectbox(t("ratings.group_b"), groups, index=1, key="ratings.compare.b")
    scorers = [None, *[r.id for r in runs]]
    scorer = c3.selectbox(t("ratings.scorer"), scorers, key="ratings.compare.scorer",
                          format_func=lambda s: t("ratings.scorer_human") if s is None
                          else t("ratings.scorer_judge", id=s))
    with reporting():
        result = readers.comparison(actor, campaign.id, a, b, scorer)
        st.caption(t("ratings.paired") if result.paired else t("ratings.unpaired"))
        rows = [{t("ratings.aspect"): x.aspect, a: x.difference.mean_a, b: x.difference.mean_b,
                 t("ratings.diff"): x.difference.diff,
                 t("ratings.interval"): f"[{_f(x.difference.low, 2)}, "
                                        f"{_f(x.difference.high, 2)}]"}
                for x in result.aspects]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        chart = pd.DataFrame({a: [x.difference.mean_a for x in result.aspects],
                              b: [x.difference.mean_b for x in result.aspects]},
                             index=[x.aspect for x in result.aspects])
        st.bar_chart(chart, stack=False)


def _judge_in_background(ctx: AppContext, who: Actor, run_id: int, config: LLMConfig) -> None:
    async def run() -> None:
        async with AsyncJudgeClient(config) as client:
            await judging.run_judge(ctx, who, run_id, client)

    threading.Thread(target=lambda: asyncio.run(run()), name=f"judge-run-{run_id}",
                     daemon=True).start()


def judge_section(campaign: quality.CampaignRecord) -> None:
    st.subheader(t("ratings.judge"))
    runs = load(readers.judge_runs, actor, campaign.id)
    if is_lead:
        c1, c2 = st.columns([3, 1])
        model = c1.text_input(t("ratings.judge_model"), key="ratings.judge.model",
                              placeholder=t("ratings.judge_model_default"))
        c2.button(t("ui.refresh"), icon=":material/refresh:", key="ratings.judge.refresh",
                  on_click=readers.clear)
        if st.button(t("ratings.judge_start"), key="ratings.judge.start",
                     icon=":material/smart_toy:"):
            try:
                run_id = judging.plan_judge(readers.context(), actor, campaign.id,
                                            model=model.strip() or None)
                run = judging.judge_run(readers.context(), actor, run_id)
                config = LLMConfig.from_env(run.model, temperature=run.settings["temperature"])
            except CurationError as exc:
                show_error(exc)
            else:
                _judge_in_background(readers.context(), actor, run_id, config)
                readers.clear()
                st.success(t("ratings.judge_started", id=run_id))
    if not runs:
        st.caption(t("ratings.judge_help", id=campaign.id))
        return
    for run in runs[:3]:
        st.markdown(t_md("ratings.judge_run", id=run.id, model=run.model,
                      prompt=run.prompt_version, status=run.status,
                      done=run.counts.get("succeeded", 0), failed=run.counts.get("failed", 0),
                      cost=f"{run.cost_usd:.4f}"))
    rows = load(readers.judge_vs_human, actor, runs[0].id)
    st.dataframe(pd.DataFrame([{
        t("ratings.aspect"): r.aspect, t("ratings.items"): r.items,
        t("ratings.judge_mean"): _f(r.judge_mean, 2), t("ratings.human_mean"): _f(r.human_mean, 2),
        t("ratings.spearman"): _f(r.spearman)} for r in rows]), hide_index=True)


campaigns = load(readers.campaigns, actor, project)
if is_lead:
    new_campaign_form(actor)
if not campaigns:
    st.info(t("ratings.no_campaigns"))
    st.stop()
campaign = choose_campaign(campaigns)
if reads:
    rate, manage, results = st.tabs([t("ratings.tab_rate"), t("ratings.tab_manage"),
                                     t("ratings.tab_results")])
    with rate:
        rate_tab(campaign)
    with manage:
        manage_tab(campaign)
    with results:
        results_tab(campaign)
else:
    rate_tab(campaign)
