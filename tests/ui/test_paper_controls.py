"""The paper-workflow controls under Streamlit's AppTest: a lead sets sampling, the seed policy
and targets as in the paper, saves an edited prompt as a project template; the provenance panel
shows in the editor what a draft came from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from curation_app.domain import Status
from curation_app.generation import DraftClient, LLMConfig
from curation_app.services import generation, workflow
from curation_app.services.worker import Worker, WorkerSettings
from curation_app.ui import state
from tests.openai_stub_server import OpenAIStub
from tests.ui.conftest import actor, open_page, texts


@pytest.fixture
def stub(app_ctx, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-ui-paper")
        yield server


def test_a_lead_sets_sampling_seed_policy_and_paper_targets(make_app, app_ctx):
    at = open_page(make_app("lea"), "generate")
    assert not at.exception
    at.number_input(key="paper.temperature").set_value(0.7)
    at.number_input(key="paper.top_p").set_value(0.9)
    at.selectbox(key="paper.seed_policy").set_value("newest_round")
    at.selectbox(key="paper.seed_shortage").set_value("refuse")
    at.button(key="FormSubmitter:paper.settings_form-Save the settings").click().run()
    assert not at.exception
    assert "Generation settings saved." in texts(at)
    record = generation.configure_project(app_ctx, actor("lea"), "demo-peconv")
    assert (record["temperature"], record["top_p"], record["seed_policy"],
            record["seed_shortage"]) == (0.7, 0.9, "newest_round", "refuse")


def test_a_lead_saves_the_edited_prompt_as_a_template_version(make_app, app_ctx, stub):
    at = open_page(make_app("lea"), "generate")
    user_box = [ta for ta in at.text_area if ta.label == "user message"][0]
    user_box.input(user_box.value + "\n请多写孩子的细节。").run()
    at.text_input(key="paper.template_name").input("peconv_detail")
    at.checkbox(key="paper.template_default").check()
    at.button(key="paper.template_save").click().run()
    assert not at.exception
    versions = generation.project_templates(app_ctx, "demo-peconv")["peconv_detail"]
    assert len(versions) == 1 and f"version {versions[0]}" in texts(at)
    # the saved template serves any topic of the project, with the lead's wording
    rendered = generation.preview_prompt(app_ctx, "demo-peconv", "怕黑", "fear")
    assert rendered.template_name == "peconv_detail"
    assert "请多写孩子的细节。" in rendered.messages[-1]["content"]
    assert "怕黑" in rendered.messages[-1]["content"]


def test_the_editor_shows_where_a_generated_draft_came_from(make_app, app_ctx, stub):
    at = open_page(make_app("ann"), "generate")
    at.button(key="generate.go").click().run()
    result = at.session_state[state.GENERATE_RESULT]
    assert result["error"] is None
    at.button(key="generate.open").click().run()
    assert at.title[0].value == "Editor"
    shown = texts(at)
    assert "Where this dialogue came from" in [e.label for e in at.expander]
    assert "model gpt-4o-mini, template peconv_draft@" in shown
    assert "request id " in shown and "$0.0" in shown
    prompt = stub.chat_requests[-1].messages[-1]["content"]
    assert any(prompt.strip()[:40] in c.value for c in at.code)


def test_review_shows_the_provenance_and_a_seed_opens_in_the_editor(make_app, app_ctx, stub):
    with app_ctx.uow() as uow:
        project = uow.repo.get_project("demo-extes")
        seeds = uow.repo.dialogue_ids(project, [Status.DRAFT])
        for i in seeds:
            uow.repo.set_status(i, Status.APPROVED)
        uow.commit()
    generation.promote_seeds(app_ctx, actor("lea"), "demo-extes", ids=seeds)
    generation.configure_project(app_ctx, actor("lea"), "demo-extes",
                                 generation={"cross_scenario_seeds": True, "temperature": 0.4})
    rendered = generation.preview_prompt(app_ctx, "demo-extes", "Academic Stress")
    with DraftClient(LLMConfig(model="gpt-4o-mini", api_key="sk-ui-paper",
                               base_url=stub.url)) as client:
        made = generation.generate_one(app_ctx, actor("lea"), "demo-extes", rendered, client)
    assert made.dialogue_id is not None
    workflow.submit(app_ctx, actor("lea"), made.dialogue_id)

    at = open_page(make_app("rita", project="demo-extes"), "review")
    assert "Where this dialogue came from" in [e.label for e in at.expander]
    shown = texts(at)
    assert "template extes_selfchat@" in shown and "temperature 0.4" in shown
    seed_id = generation.provenance_view(app_ctx, made.dialogue_id).seeds[0].id
    at.button(key=f"provenance.seed.{made.dialogue_id}.{seed_id}").click().run()
    assert at.session_state[state.EDITOR_DIALOGUE] == seed_id
    assert at.title[0].value == "Editor"


def test_a_batch_short_of_seeds_is_queued_with_a_warning_or_refused(make_app, app_ctx, stub):
    at = open_page(make_app("lea", project="demo-extes"), "generate")
    at.multiselect(key="generate.topics").set_value(["Caregiver Support"])
    at.button(key="FormSubmitter:generate.batch_form-Queue the batch").click().run()
    assert not at.exception
    # the warning quotes scenario names (user text), escaped for Markdown
    assert "Caregiver Support (0)" in [w.value for w in at.warning][-1].replace("\\", "")
    (job,) = generation.list_jobs(app_ctx, "demo-extes")
    assert Worker(app_ctx, WorkerSettings(poll_s=0.05)).run(once=True) == 1  # as serve's worker
    assert generation.job_status(app_ctx, job.id).status == "finished"

    generation.configure_project(app_ctx, actor("lea"), "demo-extes",
                                 generation={"seed_shortage": "refuse"})
    at.button(key="FormSubmitter:generate.batch_form-Queue the batch").click().run()
    assert "Caregiver Support (0)" in texts(at)
    assert len(generation.list_jobs(app_ctx, "demo-extes")) == 1  # refused: no new job
