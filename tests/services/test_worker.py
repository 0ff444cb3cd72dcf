"""The generation worker: queued jobs run outside the app, claims are exclusive, a dead
worker's job is taken over; against real SQLite and PostgreSQL and the local OpenAI server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from curation_app.errors import PermissionDeniedError
from curation_app.generation import AsyncDraftClient, LLMConfig
from curation_app.presets import load_preset
from curation_app.services import generation, worker
from curation_app.services.context import AppContext
from curation_app.services.generation import JobRequest
from curation_app.services.projects import create_project
from curation_app.services.worker import Worker, WorkerSettings
from curation_app.store import migrate
from curation_app.store.models import GenerationJobRow, utcnow
from tests.conftest import ANNOTATOR, LEAD
from tests.openai_stub_server import OpenAIStub

KEY = "sk-test-worker-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]
# 18 distinct scenarios of the ExTES preset (the paper's Table 1), read from the preset.
TOPICS = load_preset("extes").topics[:18]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def client_factory(stub: OpenAIStub):
    def make(model: str) -> AsyncDraftClient:
        return AsyncDraftClient(LLMConfig(model=model, api_key=KEY, base_url=stub.url,
                                          timeout_s=5.0, max_retries=0))
    return make


def fast(**overrides) -> WorkerSettings:
    values = {"poll_s": 0.05, "heartbeat_s": 0.1, "stale_after_s": 30.0}
    values.update(overrides)
    return WorkerSettings(**values)


def scenario_counts(stub: OpenAIStub) -> Counter[str]:
    """How many model calls were made for each scenario (one scenario per planned item)."""
    found = Counter()
    for request in stub.chat_requests:
        match = re.search(r"^Scenario: (.+)$", request.messages[-1]["content"], re.M)
        assert match, request.messages[-1]["content"][:200]
        found[match.group(1).strip()] += 1
    return found


def test_a_queued_job_is_run_by_a_worker_not_by_whoever_queued_it(ctx, stub):
    create_project(ctx.uow(), LEAD, "w", "extes")
    job_id = worker.queue_job(ctx, LEAD, JobRequest(project="w", topics=TOPICS[:3], n=2))
    assert generation.job_status(ctx, job_id).status == "queued"
    assert stub.chat_requests == []  # queueing makes no call
    handled = Worker(ctx, fast(), client_factory=client_factory(stub)).run(once=True)
    assert handled == 1
    job = generation.job_status(ctx, job_id)
    assert (job.status, job.succeeded, job.failed, job.pending) == ("finished", 6, 0, 0)
    assert sum(scenario_counts(stub).values()) == 6
    with ctx.uow() as uow:
        assert uow.queue.holder(job_id) == (None, None, None)  # left the queue
    # Nothing left to claim; a job planned for in-process running is never claimed.
    generation.plan_job(ctx, LEAD, JobRequest(project="w", topics=TOPICS[:1], n=1))
    assert Worker(ctx, fast(), client_factory=client_factory(stub)).run(once=True) == 0


def test_only_leads_queue_jobs_and_a_finished_job_cannot_be_queued_again(ctx, stub):
    create_project(ctx.uow(), LEAD, "w", "extes")
    with pytest.raises(PermissionDeniedError):
        worker.queue_job(ctx, ANNOTATOR, JobRequest(project="w", topics=TOPICS[:1], n=1))
    job_id = worker.queue_job(ctx, LEAD, JobRequest(project="w", topics=TOPICS[:1], n=1))
    Worker(ctx, fast(), client_factory=client_factory(stub)).run(once=True)
    with pytest.raises(Exception, match=f"job {job_id} is finished"):
        worker.enqueue(ctx, LEAD, job_id)


def test_a_claim_is_exclusive_until_its_heartbeat_goes_stale(ctx):
    create_project(ctx.uow(), LEAD, "w", "extes")
    job_id = worker.queue_job(ctx, LEAD, JobRequest(project="w", topics=TOPICS[:2], n=1))
    first = Worker(ctx, fast(worker_id="first"))
    second = Worker(ctx, fast(worker_id="second"))
    claim = first.claim()
    assert claim is not None and claim.job_id == job_id
    assert second.claim() is None  # held by a live worker
    with pytest.raises(Exception, match="being run by worker first"):
        worker.enqueue(ctx, LEAD, job_id)
    # The first worker stops beating (it died): after stale_after_s the job is taken over.
    with ctx.uow() as uow:
        uow._session.execute(update(GenerationJobRow).where(GenerationJobRow.id == job_id)
                             .values(heartbeat_at=utcnow() - timedelta(seconds=31)))
        uow.commit()
    taken = second.claim()
    assert taken is not None and taken.job_id == job_id
    assert not first._beat(job_id)  # the old owner learns it lost the claim
    assert second._beat(job_id)


def test_a_worker_without_an_api_key_stops_the_job_with_the_reason(ctx, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    create_project(ctx.uow(), LEAD, "w", "extes")
    job_id = worker.queue_job(ctx, LEAD, JobRequest(project="w", topics=TOPICS[:1], n=1))
    assert Worker(ctx, fast()).run(once=True) == 1
    job = generation.job_status(ctx, job_id)
    assert job.status == "stopped" and "OPENAI_API_KEY" in (job.stop_reason or "")
    assert job.pending == 1
    worker.enqueue(ctx, LEAD, job_id)  # a lead can queue it again once the key is set
    assert generation.job_status(ctx, job_id).status == "queued"


# ---- real processes --------------------------------------------------------------------------
def _env(url: str, stub: OpenAIStub, **extra: str) -> dict[str, str]:
    env = {**os.environ, "CURATION_DATABASE_URL": url, "OPENAI_BASE_URL": stub.url,
           "OPENAI_API_KEY": KEY, "PYTHONPATH": str(REPO), **extra}
    return env


def _wait(what: str, condition, seconds: float, procs=()) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"{proc.args} exited with {proc.returncode} while waiting: {what}")
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_a_job_queued_from_the_app_finishes_after_the_app_is_killed_and_restarted(
        tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'curation.db'}"
    ctx = AppContext.from_url(url)
    migrate(ctx.engine)
    create_project(ctx.uow(), LEAD, "w", "extes")
    topics = TOPICS[:8]
    # The page's own service: plan the job and queue it.
    job_id = worker.queue_job(ctx, LEAD, JobRequest(project="w", topics=topics, n=1,
                                                    concurrency=1))
    with OpenAIStub(latency_s=0.4) as stub:
        env = _env(url, stub, CURATION_WORKER_POLL_S="0.2", CURATION_WORKER_HEARTBEAT_S="0.3",
                   CURATION_WORKER_STALE_AFTER_S="2")
        log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below

        def serve() -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-m", "curation_app", "serve", "--port", str(_free_port())],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        app = serve()
        try:
            _wait("two drafts stored", lambda: generation.job_status(ctx, job_id).succeeded >= 2,
                  90, [app])
            # The machine goes down: the app server and its worker die at once, mid-job.
            os.killpg(app.pid, signal.SIGKILL)
            app.wait(10)
            killed = generation.job_status(ctx, job_id)
            assert killed.status == "running" and killed.pending > 0, killed
            app = serve()
            _wait("the job finished", lambda: generation.job_status(ctx, job_id).status
                  == "finished", 120, [app])
        finally:
            if app.poll() is None:
                os.killpg(app.pid, signal.SIGTERM)
                app.wait(20)
            log.close()
    job = generation.job_status(ctx, job_id)
    assert (job.succeeded, job.failed, job.pending) == (8, 0, 0)
    with ctx.uow() as uow:
        stored = uow.repo.list_dialogues(uow.repo.get_project("w"))
    assert sorted(d.topic for d in stored) == sorted(topics)  # each item stored exactly once
    ctx.close()
    assert "waiting for queued jobs" in (tmp_path / "serve.log").read_text()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_on_postgres_never_generate_the_same_item(pg_url: str, tmp_path: Path):
    ctx = AppContext.from_url(pg_url)
    create_project(ctx.uow(), LEAD, "w", "extes")
    jobs = [worker.queue_job(ctx, LEAD, JobRequest(project="w", topics=TOPICS[i:i + 3], n=1,
                                                   concurrency=2))
            for i in range(0, len(TOPICS), 3)]
    with OpenAIStub(latency_s=0.15) as stub:
        env = _env(pg_url, stub, CURATION_WORKER_POLL_S="0.1")
        logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(2)]  # noqa: SIM115
        workers = [subprocess.Popen([sys.executable, "-m", "curation_app", "worker",
                                     "--id", f"w{i}"], env=env, stdout=logs[i],
                                    stderr=subprocess.STDOUT) for i in range(2)]
        try:
            _wait("every job finished", lambda: all(
                generation.job_status(ctx, j).status == "finished" for j in jobs), 120, workers)
        finally:
            for proc in workers:
                proc.send_signal(signal.SIGTERM)
            for proc in workers:
                proc.wait(20)
            for f in logs:
                f.close()
        calls = scenario_counts(stub)
    assert calls == Counter({t: 1 for t in TOPICS}), calls  # one model call per item, no more
    for j in jobs:
        job = generation.job_status(ctx, j)
        assert (job.succeeded, job.failed, job.pending) == (3, 0, 0)
    with ctx.uow() as uow:
        assert len(uow.repo.list_dialogues(uow.repo.get_project("w"))) == len(TOPICS)
    ctx.close()
    texts = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert all("stopped after" in t for t in texts), texts


def test_a_stopped_worker_leaves_its_job_queued_and_the_next_one_finishes_it(ctx):
    import threading

    create_project(ctx.uow(), LEAD, "w", "extes")
    job_id = worker.queue_job(ctx, LEAD, JobRequest(project="w", topics=TOPICS[:6], n=1,
                                                    concurrency=1))
    with OpenAIStub(latency_s=0.3) as stub:
        first = Worker(ctx, fast(worker_id="first"), client_factory=client_factory(stub))
        thread = threading.Thread(target=first.run)
        thread.start()
        try:
            _wait("one draft stored", lambda: generation.job_status(ctx, job_id).succeeded >= 1,
                  30)
        finally:
            first.stop()  # what SIGTERM / Ctrl-C does in `curation worker`
            thread.join(30)
        assert not thread.is_alive()
        job = generation.job_status(ctx, job_id)
        assert job.status == "queued" and 0 < job.pending < 6, job
        with ctx.uow() as uow:
            assert uow.queue.holder(job_id)[0] is None  # released, not left to go stale
        assert Worker(ctx, fast(worker_id="second"),
                      client_factory=client_factory(stub)).run(once=True) == 1
    job = generation.job_status(ctx, job_id)
    assert (job.status, job.succeeded, job.failed, job.pending) == ("finished", 6, 0, 0)
    with ctx.uow() as uow:
        assert sorted(d.topic for d in uow.repo.list_dialogues(uow.repo.get_project("w"))) \
            == sorted(TOPICS[:6])
