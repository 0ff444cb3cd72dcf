"""Batch API jobs through the real openai SDK against the local server's /v1/files and
/v1/batches, on SQLite and PostgreSQL: exactly the good drafts are stored, every failure is
recorded, and nothing is sent twice."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import pytest
from click.testing import CliRunner

from curation_app.cli import main
from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.generation import AsyncDraftClient, LLMConfig, PriceTable
from curation_app.generation.batch_api import BATCH_DISCOUNT, BatchClient
from curation_app.generation.prompts import load_template, template_version
from curation_app.presets import load_preset
from curation_app.services import generation, worker
from curation_app.services.generation import JobRequest, item_hints
from curation_app.services.projects import create_project
from curation_app.services.worker import Worker, WorkerSettings
from tests.conftest import LEAD
from tests.openai_stub_server import OpenAIStub, ok, schema_violation, server_error, truncated

KEY = "sk-test-batch-0123456789abcdef"
# Five distinct scenarios of the ExTES preset (the paper's Table 1), read from the preset.
TOPICS = load_preset("extes").topics[:5]


@pytest.fixture
def stub():
    with OpenAIStub() as server:
        yield server


def batch_worker(ctx, stub: OpenAIStub) -> Worker:
    return Worker(ctx, WorkerSettings(poll_s=0.01, heartbeat_s=0.1, batch_poll_s=0),
                  batch_client_factory=lambda model: BatchClient(
                      LLMConfig(model=model, api_key=KEY, base_url=stub.url, max_retries=0)))


def queue(ctx, n_topics: int, **request) -> int:
    create_project(ctx.uow(), LEAD, "w", "extes")
    return worker.queue_job(ctx, LEAD, JobRequest(project="w", topics=TOPICS[:n_topics], n=1,
                                                  **request), batch_api=True)


def stored(ctx) -> list:
    with ctx.uow() as uow:
        return uow.repo.list_dialogues(uow.repo.get_project("w"))


def test_a_completed_batch_stores_the_good_drafts_and_records_the_failed_lines(ctx, stub):
    job_id = queue(ctx, 4)
    stub.script(ok(), server_error(500), schema_violation(), ok())
    assert batch_worker(ctx, stub).run(once=True) == 1
    assert stub.chat_requests == []  # nothing went through the live endpoint
    (batch,) = stub.batches.values()
    assert batch["completion_window"] == "24h" and batch["endpoint"] == "/v1/chat/completions"
    lines = stub.batch_lines
    assert [line["custom_id"] for line in lines] == [f"item-{i}" for i in (1, 2, 3, 4)]
    assert lines[0]["body"]["response_format"]["json_schema"]["strict"] is True

    job = generation.job_status(ctx, job_id)
    assert (job.status, job.succeeded, job.failed, job.pending) == ("finished", 2, 2, 0)
    drafts = stored(ctx)
    assert sorted(d.topic for d in drafts) == sorted([TOPICS[0], TOPICS[3]])
    price = PriceTable.load()
    for draft in drafts:
        prov = draft.provenance
        assert prov["batch_id"] == batch["id"] and prov["job_id"] == job_id
        assert prov["request_id"].startswith("req_stub_")
        full = price.cost_usd("gpt-4o-mini", prov["usage"])
        assert prov["cost_usd"] == pytest.approx(full * BATCH_DISCOUNT)
    failures = {f.topic: f.error for f in generation.failed_items(ctx, job_id)}
    assert set(failures) == {TOPICS[1], TOPICS[2]}
    assert "HTTP 500" in failures[TOPICS[1]]
    assert "Hypnosis" in failures[TOPICS[2]]  # the reply failed validation: same rules
    assert job.cost_usd == pytest.approx(sum(d.provenance["cost_usd"] for d in drafts)
                                         + sum(i.cost_usd or 0 for i in
                                               generation.failed_items(ctx, job_id)))


def test_an_expired_batch_keeps_what_ran_and_a_retry_sends_only_the_rest(ctx, stub):
    job_id = queue(ctx, 5)
    stub.batch_mode, stub.batch_expire_after = "expired", 2
    stub.script(ok(), truncated())
    batch_worker(ctx, stub).run(once=True)
    job = generation.job_status(ctx, job_id)
    assert (job.status, job.succeeded, job.failed, job.pending) == ("finished", 1, 4, 0)
    failures = [f.error for f in generation.failed_items(ctx, job_id)]
    assert sum("batch_expired" in e for e in failures) == 3
    assert sum("cut off" in e for e in failures) == 1
    # The lead queues the failures again; the next batch holds only those four.
    stub.batch_mode = "completed"
    worker.enqueue(ctx, LEAD, job_id, retry_failed=True)
    batch_worker(ctx, stub).run(once=True)
    assert len(stub.batches) == 2
    second = list(stub.batches.values())[1]
    assert len(second["_lines"]) == 4
    job = generation.job_status(ctx, job_id)
    assert (job.status, job.succeeded, job.failed, job.pending) == ("finished", 5, 0, 0)
    assert Counter(d.topic for d in stored(ctx)) == Counter(TOPICS)  # each exactly once


def test_a_batch_still_running_is_polled_again_later_not_sent_again(ctx, stub):
    job_id = queue(ctx, 3)
    stub.batch_polls_in_progress = 2
    handled = batch_worker(ctx, stub).run(once=True)
    assert handled == 3  # sent and looked at, looked at again, collected
    assert len(stub.batches) == 1 and len(stub.files) == 2  # the input and the output file
    job = generation.job_status(ctx, job_id)
    assert (job.status, job.succeeded) == ("finished", 3)


def test_a_budget_sends_only_what_it_allows(ctx, stub):
    # Each line reserves its worst case at the batch price, about $0.0015 here (the prompt's
    # byte bound plus 4096 output tokens): two fit under $0.004, five do not.
    job_id = queue(ctx, 5, budget_usd=0.004)
    batch_worker(ctx, stub).run(once=True)
    job = generation.job_status(ctx, job_id)
    sent = len(stub.batch_lines)
    assert 0 < sent < 5, sent
    assert (job.status, job.succeeded, job.pending) == ("stopped", sent, 5 - sent)
    assert "budget" in (job.stop_reason or "")


def test_queue_batch_api_and_worker_commands(sqlite_url, stub, monkeypatch, tmp_path):
    for name, value in {"CURATION_DATABASE_URL": sqlite_url, "OPENAI_BASE_URL": stub.url,
                        "OPENAI_API_KEY": KEY, "CURATION_WORKER_BATCH_POLL_S": "0"}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--demo"]).exit_code == 0
    queued = runner.invoke(main, ["queue", "--project", "demo-extes", "--topic", TOPICS[2],
                                  "-n", "2", "--batch-api", "--temperature", "0.3",
                                  "--top-p", "0.8"])
    assert queued.exit_code == 0, queued.output
    assert queued.stdout.startswith("job 1 queued through the Batch API: 2 drafts to generate")
    ran = runner.invoke(main, ["worker", "--once", "--poll", "0.01"])
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.strip().endswith("stopped after 1 jobs")
    shown = runner.invoke(main, ["jobs", "show", "1"])
    assert shown.stdout.startswith("job 1 finished: 2 drafts stored, 0 failed")
    line = json.loads(json.dumps(stub.batch_lines))[0]
    assert line["url"] == "/v1/chat/completions"
    # queue takes the same sampling options as generate, and the worker sends them
    assert (line["body"]["temperature"], line["body"]["top_p"]) == (0.3, 0.8)


def test_a_server_error_while_polling_is_retried_later_and_the_batch_is_not_lost(ctx, stub):
    job_id = queue(ctx, 2)
    stub.batch_polls_in_progress = 1
    runner = batch_worker(ctx, stub)
    runner.handle(runner.claim())  # sent; still in progress
    stub.batch_error = 503
    runner.handle(runner.claim())  # the look fails: not a reason to give the job up
    job = generation.job_status(ctx, job_id)
    assert job.status == "running" and job.pending == 2
    with ctx.uow() as uow:
        assert uow.queue.holder(job_id)[2] is not None  # still queued
    stub.batch_error = None
    runner.handle(runner.claim())
    job = generation.job_status(ctx, job_id)
    assert (job.status, job.succeeded) == ("finished", 2)
    assert len(stub.batches) == 1


def test_queue_without_a_project_or_job_says_so(sqlite_url, monkeypatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    bad = runner.invoke(main, ["queue", "--topic", TOPICS[2]])
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "Error: name a --project (or --job JOB)"
    missing = runner.invoke(main, ["queue", "--job", "42"])
    assert missing.stderr.strip() == "Error: no generation job with id 42"


def test_a_batch_job_keeps_the_project_settings_and_never_passes_its_budget(ctx, stub):
    """Random caps, reply sizes (cut at the output cap), failures, and batches that are still
    running at the next step: what the batches reported, at the batch price, never passes the
    cap; every line carries the project's sampling and output cap, and so does provenance."""
    stub.random_turns = (2, 40)
    stub.realistic_usage = True
    create_project(ctx.uow(), LEAD, "w", "extes")
    generation.configure_project(ctx, LEAD, "w", generation={
        "temperature": 0.7, "top_p": 0.9, "max_output_tokens": 700})
    vocab = load_preset("extes")
    price = PriceTable.load()
    rng = random.Random(2026)
    stopped = finished = sent = 0
    for n in range(12):
        stub.reset()
        stub.script(*[rng.choice([ok(), ok(), ok(), truncated(), server_error(500)])
                      for _ in range(6)])
        stub.batch_polls_in_progress = n % 2  # odd runs: the batch is still running once
        topic = TOPICS[n % len(TOPICS)]
        cap = rng.uniform(0.0003, 0.004)
        job_id = worker.queue_job(ctx, LEAD, JobRequest(project="w", topics=[topic],
                                                        n=rng.randint(1, 6), budget_usd=cap),
                                  batch_api=True)
        batch_worker(ctx, stub).run(once=True)
        job = generation.job_status(ctx, job_id)
        with ctx.uow() as uow:
            items = uow.jobs.items(job_id)
        spent = sum(i.cost_usd or 0.0 for i in items)  # the job's total is rounded to 1e-8
        assert spent <= cap + 1e-12, (n, spent, cap)
        assert job.cost_usd == pytest.approx(spent, abs=1e-8)

        lines = [line for b in stub.batches.values() if b["metadata"] == {"job": str(job_id)}
                 for line in b["_lines"]]
        assert len(lines) == job.succeeded + job.failed  # none when even one cannot fit
        sent += len(lines)
        # Lines still in a batch hold their worst case: here every line went out in one step,
        # so their worst cases together fit the cap; and each item cost no more than its own.
        bound = generation.JobBudget(cap, 0.0, price, "gpt-4o-mini", 700,
                                     discount=BATCH_DISCOUNT)
        worst = {line["custom_id"]: bound.worst_case(line["body"]) for line in lines}
        assert sum(worst.values()) <= cap + 1e-12, (n, worst, cap)
        for item in items:
            if item.status != "pending":
                assert (item.cost_usd or 0.0) <= worst[f"item-{item.id}"]
        for line in lines:
            body = line["body"]
            assert (body["temperature"], body["top_p"], body["max_completion_tokens"]) \
                == (0.7, 0.9, 700)
            assert body["model"] == "gpt-4o-mini"
        if job.status == "stopped":
            stopped += 1
            assert job.pending > 0 and (job.stop_reason or "").startswith("budget of $")
        else:
            finished += 1
            assert job.pending == 0

        hints = dict(zip([i.seq for i in items], item_hints(vocab, [i.topic for i in items]),
                         strict=True))
        drafts = {d.provenance["item"]: d for d in stored(ctx)
                  if d.provenance["job_id"] == job_id}
        assert len(drafts) == job.succeeded
        for seq, draft in drafts.items():
            prov = draft.provenance
            assert (prov["temperature"], prov["top_p"], prov["batch_api"]) == (0.7, 0.9, True)
            assert prov["situation_hint"] == hints[seq] and hints[seq]
            assert prov["situation_hint"] in prov["prompt"][-1]["content"]
            assert prov["usage"]["completion_tokens"] <= 700
            assert prov["cost_usd"] == pytest.approx(
                price.cost_usd("gpt-4o-mini", prov["usage"]) * BATCH_DISCOUNT)
    assert stopped and finished and sent  # the cap bound in some runs and not in others


def _seed(topic: str, n: int, seed_round: int | None) -> Dialogue:
    return Dialogue(turns=[Turn(Role.SEEKER, f"Seed {n}: I can't stop thinking about it."),
                           Turn(Role.SUPPORTER, "Tell me more.", ["Clarification"])],
                    topic=topic, description=f"seed {n}", status=Status.APPROVED,
                    source=Source.IMPORTED, seed_round=seed_round)


def test_a_batch_job_sends_what_a_live_run_of_the_same_job_sends(ctx, stub):
    """The newest-round seed policy, same-scenario seeds, sub-situation hints, the project's
    own template and its sampling: a job's items go out the same through the Batch API as
    through live calls, and their drafts say so."""
    pet, other = TOPICS[4], TOPICS[0]
    create_project(ctx.uow(), LEAD, "w", "extes")
    source = load_template("extes_selfchat").source.replace(
        "Now write a new conversation", "House rule 7. Now write a new conversation")
    assert "House rule 7" in source
    with ctx.uow() as uow:
        record = uow.repo.get_project("w")
        old = uow.repo.add_dialogues(record, [_seed(pet, n, None) for n in range(3)],
                                     author="lead")
        newest = uow.repo.add_dialogues(record, [_seed(pet, n, 1) for n in range(3, 6)],
                                        author="lead")
        elsewhere = uow.repo.add_dialogues(record, [_seed(other, n, 1) for n in range(6, 9)],
                                           author="lead")
        uow.repo.set_settings(record.id, {**record.settings, "templates": {"extes_selfchat": [
            {"version": template_version(source), "source": source, "by": "lead"}]}})
        uow.commit()
    generation.promote_seeds(ctx, LEAD, "w", ids=old + newest + elsewhere)
    generation.configure_project(ctx, LEAD, "w", generation={
        "seed_policy": "newest_round", "temperature": 0.4, "top_p": 0.8,
        "max_output_tokens": 1500})
    job_id = generation.plan_job(ctx, LEAD, JobRequest(project="w", topics=[pet], n=4,
                                                       concurrency=1))

    # Live first, every call failing: the items stay to be retried.
    stub.script(*[server_error(500)] * 4)

    async def live() -> None:
        config = LLMConfig(model="gpt-4o-mini", api_key=KEY, base_url=stub.url,
                           timeout_s=5.0, max_retries=0)
        async with AsyncDraftClient(config) as client:
            await generation.run_job(ctx, LEAD, job_id, client)
    asyncio.run(live())
    sent_live = [r.body for r in stub.chat_requests]
    assert len(sent_live) == 4 and generation.job_status(ctx, job_id).failed == 4

    # The same items again, through the Batch API.
    worker.enqueue(ctx, LEAD, job_id, batch_api=True, retry_failed=True)
    batch_worker(ctx, stub).run(once=True)
    job = generation.job_status(ctx, job_id)
    assert (job.status, job.succeeded) == ("finished", 4)
    sent_batch = [line["body"] for line in stub.batch_lines]

    def wire(body: dict) -> str:
        keep = ("model", "messages", "temperature", "top_p", "max_completion_tokens")
        return json.dumps({k: body.get(k) for k in keep}, sort_keys=True)
    assert sorted(map(wire, sent_batch)) == sorted(map(wire, sent_live))
    assert all((b["temperature"], b["top_p"], b["max_completion_tokens"]) == (0.4, 0.8, 1500)
               for b in sent_batch)

    hints = item_hints(load_preset("extes"), [pet] * 4)
    drafts = sorted((d for d in stored(ctx) if d.source == Source.GENERATED),
                    key=lambda d: d.provenance["item"])
    assert len(drafts) == 4
    assert [d.provenance["situation_hint"] for d in drafts] == hints and len(set(hints)) > 1
    for draft in drafts:
        prov = draft.provenance
        assert "House rule 7" in prov["prompt"][-1]["content"]
        assert prov["template_version"] == template_version(source)
        assert len(prov["seed_ids"]) == 2 and set(prov["seed_ids"]) <= set(newest)
        assert (prov["temperature"], prov["top_p"], prov["seed_policy"]) == (
            0.4, 0.8, "newest_round")
        assert draft.seed_round == 2
