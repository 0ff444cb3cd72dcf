"""Seeds as ExTES used them, PECONV's topic -> emotion pairs, and a budget that never
overshoots: jobs run against the local OpenAI-protocol server on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random

import pytest

from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.errors import InvalidInputError
from curation_app.generation import AsyncDraftClient, LLMConfig
from curation_app.presets import load_preset
from curation_app.services import generation, workflow
from curation_app.services.generation import JobRequest, plan_items
from curation_app.services.projects import create_project
from tests.conftest import LEAD
from tests.openai_stub_server import OpenAIStub, invalid_json, ok

PET = "Dealing with the Loss of a Pet"
WORK = "Work-related Stress and Burnout"


@pytest.fixture
def stub():
    with OpenAIStub() as server:
        yield server


def run(ctx, stub, job_id):
    async def go():
        config = LLMConfig(model="gpt-4o-mini", api_key="sk-test", base_url=stub.url,
                           timeout_s=5.0, max_retries=1, backoff_base_s=0.01)
        async with AsyncDraftClient(config) as client:
            return await generation.run_job(ctx, LEAD, job_id, client)
    return asyncio.run(go())


def _dialogue(topic: str, n: int, *, status: Status = Status.APPROVED) -> Dialogue:
    return Dialogue(turns=[Turn(Role.SEEKER, f"I need to talk ({topic}, {n})."),
                           Turn(Role.SUPPORTER, "I'm here, tell me more.", ["Clarification"]),
                           Turn(Role.SEEKER, "It has been a hard month."),
                           Turn(Role.SUPPORTER, "That sounds heavy.", ["Empathetic Statements"])],
                    topic=topic, description=f"example {n}", status=status,
                    source=Source.IMPORTED)


def _add(ctx, project: str, dialogues: list[Dialogue]) -> list[int]:
    with ctx.uow() as uow:
        ids = uow.repo.add_dialogues(uow.repo.get_project(project), dialogues, author="lead")
        uow.commit()
    return ids


def _item_seed_ids(ctx, job_id: int) -> list[list[int]]:
    with ctx.uow() as uow:
        return [i.seed_ids or [] for i in uow.jobs.items(job_id)]


def test_only_approved_dialogues_become_seeds_and_demote_undoes_it(ctx):
    create_project(ctx.uow(), LEAD, "ex", "extes")
    approved, draft = _add(ctx, "ex", [_dialogue(PET, 1), _dialogue(PET, 2, status=Status.DRAFT)])
    with pytest.raises(InvalidInputError, match=rf"not approved: {draft} \(draft\)"):
        generation.promote_seeds(ctx, LEAD, "ex", ids=[approved, draft])
    assert generation.list_seeds(ctx, "ex") == []  # nothing partial
    assert generation.promote_seeds(ctx, LEAD, "ex", ids=[approved]) == [approved]
    assert generation.demote_seeds(ctx, LEAD, "ex", [approved]) == [approved]
    assert generation.list_seeds(ctx, "ex") == []


def test_a_discarded_or_returned_seed_is_never_used_by_a_later_job(ctx, stub):
    create_project(ctx.uow(), LEAD, "ex", "extes")
    keep, discard_me, return_me = _add(ctx, "ex", [
        _dialogue(PET, 1), _dialogue(PET, 2, status=Status.DRAFT),
        _dialogue(PET, 3, status=Status.SUBMITTED)])
    with ctx.uow() as uow:  # seeds flagged before only approved ones could be promoted
        uow.repo.mark_seeds(uow.repo.get_project("ex"), [keep, discard_me, return_me])
        uow.commit()
    workflow.discard(ctx, LEAD, discard_me, "broken")
    workflow.return_(ctx, LEAD, return_me, "fix the ending")
    assert [s.id for s in generation.list_seeds(ctx, "ex")] == [keep]
    job_id = generation.plan_job(ctx, LEAD, JobRequest(project="ex", topics=[PET], n=4))
    run(ctx, stub, job_id)
    used = {i for ids in _item_seed_ids(ctx, job_id) for i in ids}
    assert used == {keep}
    with ctx.uow() as uow:
        flags = {d.id: d.is_seed for d in uow.repo.list_dialogues(uow.repo.get_project("ex"))}
    assert (flags[discard_me], flags[return_me]) == (False, False)


def test_newest_round_only_uses_exactly_the_newest_rounds_seeds(ctx, stub):
    create_project(ctx.uow(), LEAD, "ex", "extes")
    originals = _add(ctx, "ex", [_dialogue(PET, n) for n in range(3)])
    generation.promote_seeds(ctx, LEAD, "ex", ids=originals)
    first = generation.plan_job(ctx, LEAD, JobRequest(project="ex", topics=[PET], n=3))
    run(ctx, stub, first)
    with ctx.uow() as uow:
        made = [i.dialogue_id for i in uow.jobs.items(first)]
        for i in made:  # reviewed and approved: round 1
            uow.repo.set_status(i, Status.APPROVED)
        uow.commit()
    generation.promote_seeds(ctx, LEAD, "ex", ids=made)
    assert {s.id: s.seed_round for s in generation.list_seeds(ctx, "ex")} == {
        **{i: 0 for i in originals}, **{i: 1 for i in made}}

    generation.configure_project(ctx, LEAD, "ex", generation={"seed_policy": "newest_round"})
    newest = generation.plan_job(ctx, LEAD, JobRequest(project="ex", topics=[PET], n=6))
    run(ctx, stub, newest)
    used = _item_seed_ids(ctx, newest)
    assert all(len(ids) == 2 and set(ids) <= set(made) for ids in used)
    assert {i for ids in used for i in ids} == set(made)

    generation.configure_project(ctx, LEAD, "ex", generation={"seed_policy": "all_rounds"})
    every = generation.plan_job(ctx, LEAD, JobRequest(project="ex", topics=[PET], n=12))
    run(ctx, stub, every)
    assert {i for ids in _item_seed_ids(ctx, every) for i in ids} & set(originals)


def test_a_job_short_of_same_scenario_seeds_is_refused_or_warned_as_configured(ctx, stub):
    create_project(ctx.uow(), LEAD, "ex", "extes")
    ids = _add(ctx, "ex", [_dialogue(PET, 1), _dialogue(PET, 2), _dialogue(WORK, 3)])
    generation.promote_seeds(ctx, LEAD, "ex", ids=ids)
    generation.configure_project(ctx, LEAD, "ex", generation={"seed_shortage": "refuse"})
    with pytest.raises(InvalidInputError) as caught:
        generation.plan_job(ctx, LEAD, JobRequest(project="ex",
                                                  topics=[PET, WORK, "Caregiver Support"]))
    message = str(caught.value)
    assert f"{WORK} (1)" in message and "Caregiver Support (0)" in message
    assert PET + " (" not in message
    with ctx.uow() as uow:
        assert uow.jobs.list() == []

    generation.configure_project(ctx, LEAD, "ex", generation={"seed_shortage": "warn"})
    job_id = generation.plan_job(ctx, LEAD, JobRequest(project="ex", topics=[PET, WORK]))
    job = generation.job_status(ctx, job_id)
    assert len(job.params["warnings"]) == 1 and f"{WORK} (1)" in job.params["warnings"][0]
    run(ctx, stub, job_id)
    # same-scenario only: the work-stress draft saw its one seed, never a pet-loss one
    with ctx.uow() as uow:
        items = {i.topic: i.seed_ids for i in uow.jobs.items(job_id)}
    assert items[WORK] == [ids[2]] and sorted(items[PET]) == ids[:2]


def test_peconv_planning_never_pairs_a_topic_with_an_emotion_outside_its_map():
    peconv = load_preset("peconv")
    topics = [t for t in peconv.topics for _ in range(7)]
    random.Random(3).shuffle(topics)
    items = plan_items(peconv, topics, None, rotate=True)
    for item in items:
        assert item.emotion in peconv.topic_emotions[item.topic], item
    # every mapped emotion of a topic does come up when a topic is drafted often enough
    for topic in peconv.topics:
        assert {i.emotion for i in items if i.topic == topic} == set(
            peconv.topic_emotions[topic])
    unmapped = peconv.extended("topic", ["火星旅行"])
    with pytest.raises(InvalidInputError, match="no emotions are mapped for topic"):
        plan_items(unmapped, ["火星旅行"], None, rotate=True)


def test_the_budget_is_never_exceeded_over_200_runs(ctx, stub):
    """Chinese and English projects, random reply sizes, repairs, several calls in flight, a
    random cap each run: what the server reported, at the table's prices, never passes it."""
    stub.random_turns = (2, 40)
    stub.realistic_usage = True
    create_project(ctx.uow(), LEAD, "zh", "peconv")
    create_project(ctx.uow(), LEAD, "en", "extes")
    for name in ("zh", "en"):
        generation.configure_project(ctx, LEAD, name, generation={"max_output_tokens": 900})
    rng = random.Random(2026)
    stopped = 0
    client_config = LLMConfig(model="gpt-4o-mini", api_key="sk-test", base_url=stub.url,
                              timeout_s=5.0, max_retries=0)

    async def go(job_id):
        async with AsyncDraftClient(client_config) as client:
            return await generation.run_job(ctx, LEAD, job_id, client)

    for n in range(200):
        project = "zh" if n % 2 else "en"
        topic = "搬家" if project == "zh" else PET
        cap = rng.uniform(0.0001, 0.004)
        stub.reset()
        stub.script(*[rng.choice([ok(), ok(), ok(), invalid_json()]) for _ in range(8)])
        job_id = generation.plan_job(ctx, LEAD, JobRequest(
            project=project, topics=[topic], n=rng.randint(1, 4), budget_usd=cap,
            concurrency=rng.randint(1, 4)))
        job = asyncio.run(go(job_id))
        assert job.cost_usd <= cap + 1e-12, (n, job.cost_usd, cap)
        stopped += job.status == "stopped"
        with ctx.uow() as uow:
            items = uow.jobs.items(job_id)
        assert sum(i.cost_usd or 0.0 for i in items) == pytest.approx(job.cost_usd, abs=1e-9)
        assert len(stub.chat_requests) == sum(i.attempts for i in items)
    assert 20 < stopped < 200  # the cap did bind in many runs, and not in all
