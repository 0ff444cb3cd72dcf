"""Batch API jobs through the real openai SDK against the local server's /v1/files and
/v1/batches, on SQLite and PostgreSQL: exactly the good drafts are stored, every failure is
recorded, and nothing is sent twice."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from curation_app.cli import main
from curation_app.generation import LLMConfig, PriceTable
from curation_app.generation.batch_api import BATCH_DISCOUNT, BatchClient
from curation_app.services import generation, worker
from curation_app.services.generation import JobRequest
from curation_app.services.projects import create_project
from curation_app.services.worker import Worker, WorkerSettings
from tests.conftest import LEAD
from tests.openai_stub_server import OpenAIStub, ok, schema_violation, server_error, truncated

KEY = "sk-test-batch-0123456789abcdef"
TOPICS = ["Academic Stress", "Work Stress", "Job Loss", "Career Uncertainty",
          "Financial Worries"]


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
    assert sorted(d.topic for d in drafts) == ["Academic Stress", "Career Uncertainty"]
    price = PriceTable.load()
    for draft in drafts:
        prov = draft.provenance
        assert prov["batch_id"] == batch["id"] and prov["job_id"] == job_id
        assert prov["request_id"].startswith("req_stub_")
        full = price.cost_usd("gpt-4o-mini", prov["usage"])
        assert prov["cost_usd"] == pytest.approx(full * BATCH_DISCOUNT)
    failures = {f.topic: f.error for f in generation.failed_items(ctx, job_id)}
    assert "HTTP 500" in failures["Work Stress"]
    assert "Hypnosis" in failures["Job Loss"]  # the reply failed validation: same rules
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
    job_id = queue(ctx, 5, budget_usd=0.0002)
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
    queued = runner.invoke(main, ["queue", "--project", "demo-extes", "--topic", "Job Loss",
                                  "-n", "2", "--batch-api"])
    assert queued.exit_code == 0, queued.output
    assert queued.stdout.startswith("job 1 queued through the Batch API: 2 drafts to generate")
    ran = runner.invoke(main, ["worker", "--once", "--poll", "0.01"])
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.strip().endswith("stopped after 1 jobs")
    shown = runner.invoke(main, ["jobs", "show", "1"])
    assert shown.stdout.startswith("job 1 finished: 2 drafts stored, 0 failed")
    assert json.loads(json.dumps(stub.batch_lines))[0]["url"] == "/v1/chat/completions"


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
    bad = runner.invoke(main, ["queue", "--topic", "Job Loss"])
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "Error: name a --project (or --job JOB)"
    missing = runner.invoke(main, ["queue", "--job", "42"])
    assert missing.stderr.strip() == "Error: no generation job with id 42"
