"""Batch generation through the real openai SDK against the local stub server, on both databases."""

from __future__ import annotations

import asyncio
import json

import pytest

from curation_app.domain import Dialogue, Role, Source, Status
from curation_app.errors import BudgetError, InvalidInputError
from curation_app.generation import AsyncDraftClient, DraftClient, LLMConfig
from curation_app.services import editing, generation
from curation_app.services.generation import JobRequest
from curation_app.services.projects import create_project
from curation_app.services.setup import load_demo
from tests.conftest import ANNOTATOR, LEAD
from tests.openai_stub_server import (
    OpenAIStub,
    invalid_json,
    ok,
    rate_limit,
    schema_violation,
    server_error,
    truncated,
)

KEY = "sk-test-0123456789abcdef0123456789"
# ExTES scenarios as spelled in the paper's Table 1.
JOB_LOSS = "Job Loss or Career Setbacks"
WORK_STRESS = "Work-related Stress and Burnout"
BEREAVEMENT = "Coping with the Death of a Loved One"


@pytest.fixture
def stub():
    with OpenAIStub() as server:
        yield server


def config(stub: OpenAIStub, **overrides) -> LLMConfig:
    settings = {"model": "gpt-4o-mini", "api_key": KEY, "base_url": stub.url, "timeout_s": 2.0,
                "max_retries": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
    settings.update(overrides)
    return LLMConfig(**settings)


def run(ctx, stub, job_id, **kwargs):
    async def go():
        async with AsyncDraftClient(config(stub, **kwargs.pop("client", {}))) as client:
            return await generation.run_job(ctx, LEAD, job_id, client, **kwargs)
    return asyncio.run(go())


def dialogues(ctx, project: str) -> list[Dialogue]:
    with ctx.uow() as uow:
        return uow.repo.list_dialogues(uow.repo.get_project(project))


def test_a_job_stores_every_draft_as_revision_zero_with_its_provenance(ctx, stub):
    create_project(ctx.uow(), LEAD, "zh", "peconv")
    job_id = generation.plan_job(ctx, LEAD, JobRequest(project="zh", topics=["搬家"], n=4,
                                                        concurrency=2))
    seen = []
    job = run(ctx, stub, job_id, on_progress=seen.append)

    assert (job.status, job.requested, job.succeeded, job.failed, job.pending) == (
        "finished", 4, 4, 0, 0)
    assert [p.done for p in seen] == [1, 2, 3, 4]
    stored = dialogues(ctx, "zh")
    assert len(stored) == 4
    # the emotion rotates through the topic's own emotions when none is given
    stored.sort(key=lambda d: d.provenance["item"])
    assert [d.emotion for d in stored] == ["sad", "surprise", "fear", "sad"]
    first = stored[0]
    assert first.status == Status.DRAFT and first.source == Source.GENERATED
    assert first.topic == "搬家" and first.language == "zh"
    prov = first.provenance
    assert prov["model"] == "gpt-4o-mini" and prov["template"].startswith("peconv_draft@")
    assert "搬家" in prov["prompt"][-1]["content"]
    assert prov["usage"]["completion_tokens"] > 0 and prov["cost_usd"] > 0
    assert KEY not in json.dumps(prov)
    history = editing.history(ctx.uow(), LEAD, first.id)
    assert [(r.number, r.author) for r in history] == [(0, "model")]
    assert job.cost_usd == pytest.approx(sum(d.provenance["cost_usd"] for d in stored), abs=1e-8)


def test_failures_are_recorded_with_raw_text_and_counts_add_up(ctx, stub):
    create_project(ctx.uow(), LEAD, "en", "extes")
    job_id = generation.plan_job(ctx, LEAD, JobRequest(project="en", topics=[JOB_LOSS], n=6,
                                                        concurrency=1))
    stub.script(
        rate_limit(retry_after=0.05), server_error(), ok(),  # item 0: two retries, then ok
        invalid_json(), invalid_json(),                       # item 1: repair fails -> failed
        truncated(),                                          # item 2: cut off -> failed
        schema_violation(),                                   # item 3: repaired -> ok
    )
    job = run(ctx, stub, job_id)
    assert job.requested == 6 and job.succeeded + job.failed == 6
    assert (job.succeeded, job.failed) == (4, 2)
    failures = generation.failed_items(ctx, job_id)
    assert [f.seq for f in failures] == [1, 2], [(f.seq, f.error) for f in failures]
    assert "ModelOutputError" in failures[0].error and failures[0].raw_text
    assert "cut off" in failures[1].error and failures[1].raw_text
    assert len(dialogues(ctx, "en")) == 4
    first = next(d for d in dialogues(ctx, "en") if d.provenance["item"] == 0)
    assert first.provenance["attempts"] == 3
    assert len(stub.chat_requests) == 3 + 2 + 1 + 2 + 1 + 1


def test_the_budget_stops_new_calls_before_it_is_exceeded_and_resume_finishes(ctx, stub):
    create_project(ctx.uow(), LEAD, "en", "extes")
    probe = run(ctx, stub, generation.plan_job(ctx, LEAD, JobRequest(
        project="en", topics=[JOB_LOSS], n=1)))
    per_call = probe.cost_usd  # the stub's drafts cost the same each time
    # Each call reserves its worst case (a byte bound of the prompt + the max output) before it
    # is sent, so a budget of 6.5 drafts' real cost fits at least one, and fewer than six.
    generation.configure_project(ctx, LEAD, "en", generation={"max_output_tokens": 600})
    cap = 6.5 * per_call
    job_id = generation.plan_job(ctx, LEAD, JobRequest(project="en", topics=[JOB_LOSS], n=10,
                                                        concurrency=1, budget_usd=cap))
    stub.reset()
    job = run(ctx, stub, job_id)
    assert job.status == "stopped" and "budget" in job.stop_reason
    assert 1 <= job.succeeded < 6 and job.pending == 10 - job.succeeded
    assert job.cost_usd <= cap
    assert len(stub.chat_requests) == job.succeeded

    # The lead lifts the cap; resuming runs exactly the items left.
    generation.set_job_budget(ctx, LEAD, job_id, None)
    job = run(ctx, stub, job_id)
    assert (job.status, job.succeeded, job.pending) == ("finished", 10, 0)
    assert len(stub.chat_requests) == 10
    assert len(dialogues(ctx, "en")) == 11  # with the probe's


def test_a_budget_on_an_unpriced_model_is_refused(ctx):
    create_project(ctx.uow(), LEAD, "en", "extes")
    with pytest.raises(BudgetError, match="no price"):
        generation.plan_job(ctx, LEAD, JobRequest(project="en", topics=[JOB_LOSS], n=1,
                                                  model="my-local-llama", budget_usd=1.0))


def test_seeds_are_sampled_same_scenario_first_and_rounds_are_counted(ctx, stub):
    load_demo(ctx)  # demo-extes: 3 dialogues, one each of Academic Stress, pet loss, work stress
    with ctx.uow() as uow:
        ids = uow.repo.dialogue_ids(uow.repo.get_project("demo-extes"), [Status.DRAFT])
        for i in ids:  # only approved dialogues become seeds
            uow.repo.set_status(i, Status.APPROVED)
        uow.commit()
    generation.configure_project(ctx, LEAD, "demo-extes",
                                 generation={"cross_scenario_seeds": True})
    assert generation.promote_seeds(ctx, LEAD, "demo-extes", ids=ids) == ids
    job_id = generation.plan_job(ctx, LEAD, JobRequest(project="demo-extes",
                                                        topics=[WORK_STRESS], n=2))
    run(ctx, stub, job_id)
    made = [d for d in dialogues(ctx, "demo-extes") if d.source == Source.GENERATED]
    work_stress_seed = next(d for d in dialogues(ctx, "demo-extes") if d.topic == WORK_STRESS
                            and d.is_seed)
    for d in made:
        assert d.provenance["seed_ids"][0] == work_stress_seed.id
        assert len(d.provenance["seed_ids"]) == 2
        assert d.seed_round == 1
        assert WORK_STRESS in d.provenance["prompt"][-1]["content"]

    # approve one draft, promote it, and the next round counts 2
    with ctx.uow() as uow:
        uow.repo.set_status(made[0].id, Status.APPROVED)
        uow.commit()
    assert generation.promote_seeds(ctx, LEAD, "demo-extes", approved=True) == [made[0].id]
    seeds = {d.id: d.seed_round for d in generation.list_seeds(ctx, "demo-extes")}
    assert seeds[made[0].id] == 1


def test_fill_targets_generates_only_what_is_missing(ctx, stub):
    load_demo(ctx)
    generation.configure_project(ctx, LEAD, "demo-extes",
                                 targets={WORK_STRESS: 3, JOB_LOSS: 2, BEREAVEMENT: 0})
    job_id = generation.plan_job(ctx, LEAD, JobRequest(project="demo-extes", fill_targets=True))
    job = run(ctx, stub, job_id)
    assert job.requested == 4 and job.succeeded == 4  # 2 more work stress, 2 job loss
    progress = {t: (n, have) for t, n, have in generation.target_progress(ctx, "demo-extes")}
    assert progress == {WORK_STRESS: (3, 3), JOB_LOSS: (2, 2), BEREAVEMENT: (0, 0)}
    with pytest.raises(InvalidInputError, match="every target is already met"):
        generation.plan_job(ctx, LEAD, JobRequest(project="demo-extes", fill_targets=True))


def test_one_draft_from_an_edited_prompt_stores_the_exact_prompt_sent(ctx, stub):
    create_project(ctx.uow(), LEAD, "zh", "peconv")
    rendered = generation.preview_prompt(ctx, "zh", "搬家", "sad")
    wish = "\n请让孩子提到新学校。"
    edited = [*rendered.messages[:-1],
              {"role": "user", "content": rendered.messages[-1]["content"] + wish}]
    with DraftClient(config(stub)) as client:
        single = generation.generate_one(ctx, ANNOTATOR, "zh", rendered, client, messages=edited)
    assert single.dialogue_id is not None
    assert stub.chat_requests[-1].messages[-1]["content"].endswith("请让孩子提到新学校。")
    stored = editing.get_dialogue(ctx.uow(), ANNOTATOR, single.dialogue_id)
    assert stored.provenance["prompt"] == edited
    assert stored.provenance["template"].startswith("peconv_draft+edited@")
    assert stored.emotion == "sad" and stored.topic == "搬家"
    assert all(t.role in (Role.SEEKER, Role.SUPPORTER) for t in stored.turns)


def test_one_failed_draft_is_recorded_not_lost(ctx, stub):
    create_project(ctx.uow(), LEAD, "zh", "peconv")
    rendered = generation.preview_prompt(ctx, "zh", "搬家", "sad")
    stub.script(truncated())
    with DraftClient(config(stub)) as client:
        single = generation.generate_one(ctx, ANNOTATOR, "zh", rendered, client)
    assert single.dialogue_id is None and not single.result.ok
    (failure,) = generation.failed_items(ctx, single.job_id)
    assert failure.raw_text and "cut off" in failure.error


def test_only_leads_run_batch_jobs(ctx):
    create_project(ctx.uow(), LEAD, "zh", "peconv")
    with pytest.raises(Exception, match="may not generation run"):
        generation.plan_job(ctx, ANNOTATOR, JobRequest(project="zh", topics=["搬家"], n=1))


def test_unknown_topics_and_emotions_are_refused_before_any_call(ctx):
    create_project(ctx.uow(), LEAD, "zh", "peconv")
    with pytest.raises(InvalidInputError, match="topic '火星旅行' is not in the project"):
        generation.plan_job(ctx, LEAD, JobRequest(project="zh", topics=["火星旅行"], n=1))
    with pytest.raises(InvalidInputError, match="emotion 'bored'"):
        generation.plan_job(ctx, LEAD, JobRequest(project="zh", topics=["搬家"], n=1,
                                                  emotion="bored"))



def test_a_streamed_draft_arrives_in_pieces_and_is_stored_with_its_usage(ctx, stub):
    create_project(ctx.uow(), LEAD, "zh", "peconv")
    rendered = generation.preview_prompt(ctx, "zh", "搬家", "sad")
    seen: list[str] = []
    with DraftClient(config(stub)) as client:
        single = generation.generate_one_streamed(ctx, ANNOTATOR, "zh", rendered, client,
                                                  on_text=seen.append)
    assert single.dialogue_id is not None and len(seen) > 3
    assert all(b.startswith(a) for a, b in zip(seen, seen[1:], strict=False))
    assert stub.chat_requests[-1].body["stream"] is True
    stored = editing.get_dialogue(ctx.uow(), ANNOTATOR, single.dialogue_id)
    assert stored.provenance["usage"]["completion_tokens"] > 0
    assert stored.provenance["cost_usd"] > 0


def test_a_streamed_reply_that_breaks_the_schema_is_recorded_as_failed(ctx, stub):
    create_project(ctx.uow(), LEAD, "zh", "peconv")
    rendered = generation.preview_prompt(ctx, "zh", "搬家", "sad")
    stub.script(schema_violation())
    with DraftClient(config(stub)) as client:
        single = generation.generate_one_streamed(ctx, ANNOTATOR, "zh", rendered, client)
    assert single.dialogue_id is None
    (failure,) = generation.failed_items(ctx, single.job_id)
    assert failure.raw_text and "ModelOutputError" in failure.error


def test_a_single_draft_belongs_to_whoever_generated_it(ctx, stub):
    # The Generate page leads straight into the editor, which only lets annotators edit
    # dialogues assigned to them.
    create_project(ctx.uow(), LEAD, "zh", "peconv")
    rendered = generation.preview_prompt(ctx, "zh", "搬家", "sad")
    with DraftClient(config(stub)) as client:
        single = generation.generate_one(ctx, ANNOTATOR, "zh", rendered, client)
    stored = editing.get_dialogue(ctx.uow(), ANNOTATOR, single.dialogue_id)
    assert stored.assignee == ANNOTATOR.name
    editing.save_revision(ctx.uow(), ANNOTATOR, stored.id, stored.version, stored.turns[:2],
                          confirm_removal=True)  # cutting 6 turns to 2 is confirmed
