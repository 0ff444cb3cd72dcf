"""Progress page: every project's counts by status, then the chosen project per topic (against
its targets) and per annotator (revisions, time spent), and how much people edited."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation_app.domain import Status
from curation_app.ui import layout, readers
from curation_app.ui.feedback import load
from curation_app.ui.i18n import t
from curation_app.ui.labels import blank
from curation_app.ui.plain import md, t_md

actor = layout.require_actor(layout.start())
st.title(t("progress.title"))


def duration(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}"


def status_columns(counts: dict[str, int]) -> dict[str, int]:
    return {t(f"status.{s}"): int(counts.get(str(s), 0)) for s in Status}


# ---- all projects ----------------------------------------------------------------------------
projects = load(readers.project_list)
st.subheader(t("progress.projects"))
st.dataframe(pd.DataFrame([
    {t("progress.project"): p.name, t("progress.preset"): p.preset,
     t("progress.dialogues"): p.dialogues, **status_columns(p.by_status)}
    for p in projects]), hide_index=True, width="stretch")

project = layout.require_project()
report = load(readers.progress, actor, project)
st.subheader(t_md("progress.project_title", project=project))
m1, m2, m3, m4 = st.columns(4)
m1.metric(t("progress.total"), report.total)
m2.metric(t("status.approved"), report.by_status.get(str(Status.APPROVED), 0))
m3.metric(t("progress.edited"), report.edited_dialogues)
m4.metric(t("progress.edits_per_dialogue"), f"{report.edits_per_dialogue:.2f}")
st.bar_chart(pd.DataFrame({t("progress.count"): status_columns(report.by_status)}),
             horizontal=True, height=240)

st.markdown(f"**{t('progress.by_topic')}**")
if report.by_topic:
    st.dataframe(pd.DataFrame([
        {t("label.topic"): row.topic or "—", t("progress.target"): blank(row.target),
         t("progress.dialogues"): row.dialogues, t("status.approved"): row.approved,
         t("progress.of_target"): (min(row.dialogues / row.target, 1.0) if row.target else None)}
        for row in report.by_topic]), hide_index=True, width="stretch",
        column_config={t("progress.of_target"): st.column_config.ProgressColumn(
            t("progress.of_target"), min_value=0.0, max_value=1.0, format="percent")})
else:
    st.caption(t("progress.nothing"))

st.markdown(f"**{t('progress.by_annotator')}**")
if report.by_annotator:
    st.dataframe(pd.DataFrame([
        {t("progress.annotator"): row.name, **status_columns(row.by_status),
         t("progress.revisions"): row.revisions, t("progress.time"): duration(row.seconds)}
        for row in report.by_annotator]), hide_index=True, width="stretch")
else:
    st.caption(t("progress.nothing"))
for line in report.notes:
    st.caption(md(line))
