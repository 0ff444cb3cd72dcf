"""Statistics page (leads): the project's approved dialogues laid out like the ExTES paper's
tables and figures, with Altair charts; how much people changed the drafts; progress."""

from __future__ import annotations

import altair as alt
import streamlit as st

from curation_app.services import stats as stats_services
from curation_app.ui import layout, readers
from curation_app.ui.feedback import load
from curation_app.ui.i18n import t

actor = layout.require_actor(layout.start())
project = layout.require_project()
st.title(t("statistics.title"))
result = load(stats_services.project_stats, readers.context(), actor, project)
corpus = result.corpus
figures = corpus.figures

m1, m2, m3, m4 = st.columns(4)
m1.metric(t("statistics.dialogues"), figures["dialogues"])
m2.metric(t("statistics.utterances"), figures["utterances"])
m3.metric(t("statistics.per_dialogue"), figures["utterances_per_dialogue"])
m4.metric(t("statistics.length", unit=figures["length_unit"]), figures["mean_utterance_length"])
if not figures["dialogues"]:
    st.info(t("statistics.empty"))
    st.stop()

st.subheader(t("statistics.lengths"))
st.dataframe(corpus.lengths, hide_index=True, width="stretch")

st.subheader(t("statistics.topics"))
st.altair_chart(alt.Chart(corpus.topics).mark_bar().encode(
    x=alt.X("count:Q"), y=alt.Y("topic:N", sort="-x"), tooltip=["topic", "count", "share"]),
    width="stretch")
st.dataframe(corpus.topics, hide_index=True, width="stretch")

st.subheader(t("statistics.strategies"))
st.altair_chart(alt.Chart(corpus.strategies).mark_bar().encode(
    x=alt.X("share:Q"), y=alt.Y("strategy:N", sort=None),
    tooltip=["strategy", "count", "share"]), width="stretch")
st.dataframe(corpus.strategies, hide_index=True, width="stretch")

st.subheader(t("statistics.emotions"))
st.dataframe(corpus.emotions, hide_index=True, width="stretch")

st.subheader(t("statistics.phases"))
long = corpus.phases.reset_index().melt(id_vars="strategy", var_name="phase", value_name="share")
st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
    x=alt.X("phase:N", sort=list(corpus.phases.columns)), y="share:Q", color="strategy:N",
    tooltip=["strategy", "phase", "share"]), width="stretch")

st.subheader(t("statistics.transitions"))
st.dataframe(corpus.transitions, hide_index=True, width="stretch")

st.subheader(t("statistics.changes"))
if result.changes is not None:
    changes = result.changes.to_json()
    c1, c2, c3 = st.columns(3)
    c1.metric(t("statistics.edited_share"), f"{changes['edited_share']}%")
    c2.metric(t("statistics.turns_changed"), f"{changes['turns_changed_share']}%")
    c3.metric(t("statistics.strategy_changes"), changes["strategy_tags_changed"])
    st.dataframe(result.changes.table(), hide_index=True, width="stretch")

st.subheader(t("statistics.progress"))
if len(result.progress):
    st.dataframe(result.progress, hide_index=True, width="stretch")
else:
    st.caption(t("statistics.no_targets"))
