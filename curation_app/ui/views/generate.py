"""Generate page: pick topic and emotion, see (and edit) the prompt, stream one draft; leads
queue batch jobs. The model server is the one named by OPENAI_BASE_URL / OPENAI_API_KEY."""

from __future__ import annotations

import hashlib
import os
from functools import partial
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from curation_app.errors import CurationError
from curation_app.generation.client import DraftClient, LLMConfig
from curation_app.services import generation, worker
from curation_app.services.permissions import ALLOWED
from curation_app.ui import layout, paper_controls, readers, state
from curation_app.ui.feedback import load, reporting, show_error
from curation_app.ui.i18n import t, t_optional
from curation_app.ui.labels import label_name, shown, topic_label
from curation_app.ui.plain import t_md

actor = layout.require_actor(layout.start(state.GENERATE_RESULT, state.GENERATE_STREAMED))
project = layout.require_project()
st.title(t("generate.title"))

record = load(readers.project, project)
vocab = record.vocabulary
gen = vocab.generation
model = record.settings.get("model") or generation.DEFAULT_MODEL
server = urlsplit(os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1")
st.caption(t_md("generate.model", model=model, server=server.netloc or server.path))
paper_controls.generation_settings(actor, record)

left, right = st.columns(2)
topic = left.selectbox(topic_label(vocab), vocab.topics, key="generate.topic",
                       format_func=shown(vocab.topics, partial(label_name, vocab, "topic")))
emotions = [None, *(vocab.emotions_for(topic) or vocab.emotions)]  # the topic's own first
emotion = right.selectbox(
    t("label.emotion"), emotions, key="generate.emotion",
    index=1 if gen.get("emotion_per_draft") and vocab.emotions else 0,
    format_func=shown(emotions, lambda x: t("generate.no_emotion") if x is None
                      else label_name(vocab, "emotion", x)))

rendered = load(readers.prompt, project, topic, emotion)
fingerprint = hashlib.sha1(repr(rendered.messages).encode("utf-8")).hexdigest()[:10]
with st.expander(t("generate.prompt"), expanded=True):
    st.caption(t("generate.prompt_help"))
    edited = []
    for i, message in enumerate(rendered.messages):
        text = st.text_area(
            t("generate.message", role=t_optional(f"message_role.{message['role']}")
              or message["role"]), message["content"],
            height=220 if message["role"] == "user" else 120,
            key=f"generate.msg.{fingerprint}.{i}")
        edited.append({"role": message["role"], "content": text})
changed = edited != rendered.messages
paper_controls.save_template(actor, project, edited, topic, emotion)

if st.button(t("generate.one"), type="primary", icon=":material/auto_awesome:",
             key="generate.go"):
    live = st.empty()

    def show(text: str) -> None:
        live.code(text[-6000:] or "…", language="json", wrap_lines=True)

    try:
        with DraftClient(LLMConfig.from_env(model, max_retries=1)) as client:
            draft = generation.generate_one_streamed(
                readers.context(), actor, project, rendered, client,
                messages=edited if changed else None, on_text=show)
    except CurationError as exc:
        show_error(exc)
    else:
        readers.clear()
        state.put(state.GENERATE_STREAMED, draft.result.raw_text or "")
        state.put(state.GENERATE_RESULT, {
            "dialogue_id": draft.dialogue_id, "job_id": draft.job_id,
            "error": draft.result.error, "tokens": sum(draft.result.usage.values()),
            "cost": draft.result.cost_usd})

result = state.get(state.GENERATE_RESULT)
if result:
    if result["error"] is not None:
        show_error(result["error"])
        with st.expander(t("generate.raw_reply"), expanded=True):
            st.code(state.get(state.GENERATE_STREAMED) or "—", wrap_lines=True)
    else:
        st.success(t("generate.done", id=result["dialogue_id"], job=result["job_id"],
                     tokens=result["tokens"], cost=f"{result['cost'] or 0:.4f}"))
        if st.button(t("generate.open"), icon=":material/edit_note:", key="generate.open"):
            state.put(state.EDITOR_DIALOGUE, result["dialogue_id"])
            st.switch_page("views/editor.py")


# ---- batch jobs (leads) ------------------------------------------------------------------------
# A batch is only queued here: a worker process (`curation worker`, started by `curation serve`)
# runs it, so it survives a restart of the web server.
if layout.role_here(actor) in ALLOWED["generation.run"]:
    st.divider()
    st.subheader(t("generate.batch"))
    with st.form("generate.batch_form"):
        modes = ["topics", "all", "targets"]
        mode = st.radio(t("generate.batch_mode"), modes, horizontal=True, key="generate.mode",
                        format_func=shown(modes, lambda m: t(f"generate.mode_{m}")))
        topics = st.multiselect(topic_label(vocab), vocab.topics, key="generate.topics")
        c1, c2, c3 = st.columns(3)
        n = c1.number_input(t("generate.n"), 1, 1000, 1, key="generate.n")
        budget = c2.number_input(t("generate.budget"), 0.0, 10_000.0, 0.0, step=0.5,
                                 key="generate.budget")
        concurrency = c3.number_input(t("generate.concurrency"), 1, 64, 4, key="generate.conc")
        queued = st.form_submit_button(t("generate.queue"), icon=":material/playlist_add:")
    if queued:
        try:
            LLMConfig.from_env(model)  # no key: say so now rather than in the job's note
            job_id = worker.queue_job(readers.context(), actor, generation.JobRequest(
                project=project, topics=topics if mode == "topics" else (),
                all_topics=mode == "all", fill_targets=mode == "targets",
                emotion=emotion if not gen.get("emotion_per_draft") else None,
                n=int(n), budget_usd=float(budget) or None, concurrency=int(concurrency)))
        except CurationError as exc:
            show_error(exc)
        else:
            readers.clear()
            st.success(t("generate.queued_for_worker", job=job_id))
            paper_controls.job_warnings(job_id)

    st.button(t("ui.refresh"), icon=":material/refresh:", key="generate.refresh",
              on_click=readers.clear)
    with reporting():
        jobs = readers.jobs(project)
        if jobs:
            st.dataframe(pd.DataFrame([
                {t("jobs.id"): j.id,
                 t("jobs.status"): t_optional(f"job_status.{j.status}") or j.status,
                 t("jobs.by"): j.created_by,
                 t("jobs.requested"): j.requested, t("jobs.succeeded"): j.succeeded,
                 t("jobs.failed"): j.failed, t("jobs.pending"): j.pending,
                 t("jobs.cost"): round(j.cost_usd, 4),
                 t("jobs.note"): "; ".join(filter(None, [
                     j.stop_reason,
                     j.calls_in_flight and t("jobs.in_flight", n=j.calls_in_flight,
                                             usd=f"{j.in_flight_usd:.4f}")]))}
                for j in reversed(jobs)]), hide_index=True, width="stretch")
        else:
            st.caption(t("generate.no_jobs"))
