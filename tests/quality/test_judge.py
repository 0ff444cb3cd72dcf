"""The LLM judge through the real openai SDK against the local OpenAI-protocol server: good
replies, malformed and out-of-range scores (repaired once, then failed, never stored), retries,
budget and resume, and the comparison with human ratings."""

from __future__ import annotations

import asyncio
import json

import pytest

from curation_app.domain import Dialogue, Role, Turn
from curation_app.generation import LLMConfig, PriceTable
from curation_app.quality.judge import (
    JUDGE_MAX_TOKENS,
    AsyncJudgeClient,
    JudgeClient,
    judge_messages,
)
from curation_app.quality.protocols import builtin_protocols
from curation_app.services import judging, users
from curation_app.services import quality as q
from curation_app.services.generation import JobBudget
from curation_app.services.permissions import Actor, UserRole
from curation_app.services.projects import create_project
from curation_app.services.quality import protocol_of
from tests.conftest import LEAD
from tests.openai_stub_server import OpenAIStub, rate_limit, reply

KEY = "sk-test-5f3c2b1a9e8d7c6b5a4f3e2d1c0b9a8f"
PRICES = PriceTable.from_dict({"gpt-4o-mini": {"input": 0.15, "output": 0.60}})
PANDA = builtin_protocols()["panda"]
CONTENT = {"language": "en", "description": None, "turns": [
    {"role": "seeker", "text": "I failed my driving test again."},
    {"role": "supporter", "text": "That is disappointing; what happened?", "focus": True}]}


def config(stub: OpenAIStub) -> LLMConfig:
    return LLMConfig(model="gpt-4o-mini", api_key=KEY, base_url=stub.url, timeout_s=2,
                     max_retries=2, backoff_base_s=0.01, backoff_max_s=0.05)


def good(**override: int) -> str:
    scores = {"fluency": 8, "coherence": 7, "validation": 6, "empathy": 9, "support": 5}
    return json.dumps({"scores": {**scores, **override}, "reason": "Warm and on topic."})


@pytest.fixture
def stub():
    with OpenAIStub() as server:
        yield server


def test_a_good_reply_gives_scores_a_reason_and_a_cost(stub):
    stub.script(reply(good()))
    with JudgeClient(config(stub), prices=PRICES) as client:
        result = client.judge(judge_messages(PANDA, CONTENT), PANDA)
    assert result.ok and result.scores["empathy"] == 9 and result.reason == "Warm and on topic."
    assert result.attempts == 1 and not result.repaired and result.cost_usd > 0
    sent = stub.chat_requests[0].body
    schema = sent["response_format"]["json_schema"]
    assert schema["name"] == "quality_scores"
    assert schema["schema"]["properties"]["scores"]["properties"]["fluency"]["enum"] == \
        list(range(1, 11))
    assert ">>> Supporter: That is disappointing" in sent["messages"][1]["content"]


@pytest.mark.parametrize("bad, field", [
    (good(empathy=11), "scores.empathy is 11"),
    (good(fluency=0), "scores.fluency is 0"),
    ('{"scores": {"fluency": 8}, "reason": "short"}', "scores.coherence is missing"),
    ("I would give it an eight overall.", "not JSON"),
    (good(support="high"), "scores.support must be a whole number"),  # type: ignore[arg-type]
])
def test_malformed_or_out_of_range_scores_are_repaired_once(stub, bad, field):
    stub.script(reply(bad), reply(good()))
    with JudgeClient(config(stub), prices=PRICES) as client:
        result = client.judge(judge_messages(PANDA, CONTENT), PANDA)
    assert result.ok and result.repaired and result.attempts == 2
    repair = stub.chat_requests[1].messages[-1]["content"]
    assert field in repair and stub.chat_requests[1].messages[-2]["content"] == bad


def test_a_second_bad_reply_fails_and_keeps_no_scores(stub):
    stub.script(reply(good(validation=42)), reply(good(validation=-1)))
    with JudgeClient(config(stub), prices=PRICES) as client:
        result = client.judge(judge_messages(PANDA, CONTENT), PANDA)
    assert not result.ok and result.scores is None
    assert "scores.validation is -1" in result.error_text
    assert result.raw_text == good(validation=-1)
    assert result.earlier_raw_texts == (good(validation=42),)


# ---- judge runs as jobs ----------------------------------------------------------------------
@pytest.fixture
def campaign(ctx):
    create_project(ctx.uow(), LEAD, "p", "extes")
    users.add_user(ctx, LEAD, "ann", "annotator", "correct horse")
    users.add_user(ctx, LEAD, "ben", "annotator", "correct horse")
    with ctx.uow() as uow:
        uow.repo.add_dialogues(uow.repo.get_project("p"), [
            Dialogue(turns=[Turn(Role.SEEKER, f"worry number {i} " * (i + 1)),
                            Turn(Role.SUPPORTER, f"reply {i}", ["Others"])], topic="Work Stress")
            for i in range(5)], author="model")
        uow.commit()
    return q.create_campaign(ctx, LEAD, "p", "c", "extes", ["ann", "ben"],
                             [q.SampleSpec("random", n=5)], overlap=2)


def run(ctx, stub, run_id, **kwargs):
    async def go():
        async with AsyncJudgeClient(config(stub), prices=PRICES) as client:
            return await judging.run_judge(ctx, LEAD, run_id, client, **kwargs)
    return asyncio.run(go())


def extes_reply(score: int) -> str:
    return json.dumps({"scores": {a: score for a in ("informativeness", "understanding",
                                                     "helpfulness", "consistency",
                                                     "coherence")}, "reason": "fine"})


def test_a_judge_run_stores_scores_and_failures_and_resumes_failed_items(ctx, stub, campaign):
    run_id = judging.plan_judge(ctx, LEAD, campaign.id, model="gpt-4o-mini", concurrency=1)
    stub.script(rate_limit(0.01), reply(extes_reply(2)), reply(extes_reply(9)),
                reply("not json at all"), reply(extes_reply(3)), reply(extes_reply(1)),
                reply(extes_reply(0)))
    record = run(ctx, stub, run_id)
    assert record.status == "finished"
    assert record.counts == {"pending": 0, "succeeded": 4, "failed": 1}
    assert record.model == "gpt-4o-mini" and record.prompt_version.startswith("judge@")
    assert record.settings["temperature"] == 0.0 and record.cost_usd > 0
    # What the client really sent is kept with the run, never the key.
    assert record.settings["client"]["structured"] == "json_schema"
    assert record.settings["client"]["max_retries"] == 2
    assert KEY not in repr(record.settings)
    (failed,) = judging.judge_failures(ctx, LEAD, run_id)
    assert failed.scores is None and failed.raw_text == "not json at all"
    assert "ModelOutputError" in failed.error
    # Resume with --retry-failed: only the failed item is asked again (the stub's default).
    before = len(stub.chat_requests)
    record = run(ctx, stub, run_id, retry_failed=True)
    assert record.counts == {"pending": 0, "succeeded": 5, "failed": 0}
    assert len(stub.chat_requests) == before + 1


class Recorder:
    """A gate that sends everything and notes each request's worst case, as a budget
    (:class:`JobBudget`) reserves it."""

    def __init__(self):
        self.budget = JobBudget(None, 0.0, PRICES, "gpt-4o-mini", JUDGE_MAX_TOKENS)
        self.reserved: list[float] = []

    def reserve(self, kwargs):
        self.reserved.append(self.budget.worst_case(kwargs))
        return 0.0

    def settle(self, ticket, usage, model):
        pass


def _speakers(ctx):
    with ctx.uow() as uow:
        vocab = uow.repo.get_project("p").vocabulary
    return {str(r): vocab.role_display(r, "en") for r in Role}


def _first_call_worst(ctx, stub, campaign, item_ids=None) -> dict[int, float]:
    """Per campaign item: the worst case its judgement request reserves."""
    with ctx.uow() as uow:
        items = uow.quality.items(campaign.id)
        protocol = protocol_of(uow.quality.get_campaign(campaign.id))  # as run_judge reads it
    out = {}
    with JudgeClient(config(stub), prices=PRICES) as client:
        for it in items:
            if item_ids is None or it.id in item_ids:
                gate = Recorder()
                client.judge(judge_messages(protocol, it.content, _speakers(ctx)), protocol,
                             model="gpt-4o-mini", gate=gate)
                out[it.id] = gate.reserved[0]
    return out


def test_a_budget_stops_the_run_and_a_raised_budget_resumes_it(ctx, stub, campaign):
    # What a judgement really costs here, from a first run without a cap.
    free = run(ctx, stub, judging.plan_judge(ctx, LEAD, campaign.id, model="gpt-4o-mini",
                                             concurrency=1))
    actual = free.cost_usd / 5
    worst = _first_call_worst(ctx, stub, campaign)
    sent_before = len(stub.chat_requests)
    # Each request reserves its worst case (the prompt's upper bound at the full output cap)
    # before it is sent: a cap of the largest one plus 2.5 real judgements lets 3 or 4 through.
    assert min(worst.values()) > 10 * actual  # the bound dominates, or the count means nothing
    cap = max(worst.values()) + 2.5 * actual
    run_id = judging.plan_judge(ctx, LEAD, campaign.id, model="gpt-4o-mini", budget_usd=cap,
                                concurrency=1)
    record = run(ctx, stub, run_id)
    assert record.status == "stopped" and "budget" in record.stop_reason
    done = record.counts["succeeded"]
    assert 3 <= done < 5 and record.cost_usd <= cap
    judging.set_judge_budget(ctx, LEAD, run_id, None)
    record = run(ctx, stub, run_id)
    assert record.status == "finished" and record.counts["succeeded"] == 5
    assert len(stub.chat_requests) - sent_before == 5  # nothing paid for twice


def test_a_budget_refusing_the_repair_leaves_the_item_pending_not_failed(ctx, stub, campaign):
    run_id = judging.plan_judge(ctx, LEAD, campaign.id, model="gpt-4o-mini", budget_usd=1.0,
                                concurrency=1)
    with ctx.uow() as uow:
        first = uow.quality.judge_items(run_id, "pending")[0]
    # The cap is exactly the first request's worst case: the judgement is sent; its repair
    # (a longer prompt, and something is spent by then) cannot fit.
    stub.script(reply("not json"), reply(extes_reply(4)))
    (cap,) = _first_call_worst(ctx, stub, campaign, {first.item_id}).values()
    judging.set_judge_budget(ctx, LEAD, run_id, cap)
    sent_before = len(stub.chat_requests)
    stub.script(reply("not json at all"))
    record = run(ctx, stub, run_id)
    assert len(stub.chat_requests) == sent_before + 1  # the judgement, not its repair
    assert record.status == "stopped" and "budget" in record.stop_reason
    assert record.counts == {"pending": 5, "succeeded": 0, "failed": 0}
    assert 0 < record.cost_usd <= cap  # the call that was sent is paid for
    assert judging.judge_failures(ctx, LEAD, run_id) == []
    # Resumed without a cap, the item is judged afresh (and repaired if need be).
    judging.set_judge_budget(ctx, LEAD, run_id, None)
    record = run(ctx, stub, run_id)
    assert record.status == "finished" and record.counts["succeeded"] == 5


def test_judge_scores_sit_beside_human_ratings_with_spearman(ctx, stub, campaign):
    aspects = q.campaign_protocol(ctx, LEAD, campaign.id).aspect_names
    human = {}
    for actor in (Actor("ann", UserRole.ANNOTATOR), Actor("ben", UserRole.ANNOTATOR)):
        for task in q.my_items(ctx, actor, campaign.id):
            score = task.item_id % 4
            human[task.item_id] = score
            q.rate(ctx, actor, task.item_id, {a: score for a in aspects})
    run_id = judging.plan_judge(ctx, LEAD, campaign.id, model="gpt-4o-mini", concurrency=1)
    # The judge agrees with the humans on the order of the items, not on the level.
    items = sorted(human)
    stub.script(*[reply(extes_reply(min(3, human[i] + 0))) for i in items])
    run(ctx, stub, run_id)
    table = judging.judge_vs_human(ctx, LEAD, run_id)
    assert [row.aspect for row in table] == list(aspects)
    assert all(row.items == 5 and row.spearman == pytest.approx(1.0) for row in table)
    comparison = q.compare_groups(ctx, LEAD, campaign.id, "", "", judge_run_id=run_id)
    assert comparison.scorer == f"judge run {run_id}"
