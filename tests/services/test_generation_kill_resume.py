"""A real `curation generate` process is SIGKILLed mid-job; `--resume` finishes it exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from curation_app.services import generation
from curation_app.services.context import AppContext
from curation_app.services.projects import create_project
from tests.conftest import LEAD
from tests.openai_stub_server import OpenAIStub

pytestmark = pytest.mark.slow
REQUESTED = 40


def _cli(db_url: str, stub: OpenAIStub, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CURATION_DATABASE_URL": db_url, "OPENAI_API_KEY": "sk-test-kill",
           "OPENAI_BASE_URL": stub.url, "CURATION_USER": "lead"}
    return subprocess.Popen([sys.executable, "-m", "curation_app", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_job_then_resume_gives_no_duplicate_and_no_missing_draft(db_url: str):
    ctx = AppContext.from_url(db_url)
    create_project(ctx.uow(), LEAD, "en", "extes")
    with OpenAIStub(latency_s=0.15) as stub:
        proc = _cli(db_url, stub, "generate", "--project", "en", "--topic",
                    "Job Loss or Career Setbacks", "-n", str(REQUESTED), "--concurrency", "4")
        deadline = time.monotonic() + 60
        job = None
        while time.monotonic() < deadline:
            jobs = generation.list_jobs(ctx, "en")
            if jobs and jobs[0].succeeded >= 8:
                job = jobs[0]
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        assert job is not None, "the job never got going"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

        killed = generation.job_status(ctx, job.id)
        # it never got to say so, but its process is gone: shown as interrupted (issue 13)
        assert killed.status == "interrupted" and "resume it" in killed.stop_reason
        assert 8 <= killed.succeeded < REQUESTED and killed.pending > 0
        calls_before = len(stub.chat_requests)
        # Calls in flight at the kill are in the job's cost: written down (worst case) before
        # they were sent, so at least every request the server got without a stored item.
        with ctx.uow() as uow:
            items = uow.jobs.items(job.id)
            lost = uow.jobs.lost_calls(job.id)
            recipe = generation.job_recipe(uow, uow.jobs.get(job.id))
        stored_cost = sum(i.cost_usd or 0.0 for i in items)
        unanswered = calls_before - killed.succeeded - killed.failed
        assert unanswered >= 1, "nothing was in flight at the kill"
        assert lost.in_flight >= unanswered - 1  # one reply may have come, not yet stored
        assert killed.calls_in_flight == lost.in_flight >= 1
        assert killed.calls_in_flight + (lost.settled_usd > 0) <= 4  # concurrency
        assert killed.in_flight_usd > 0
        assert killed.cost_usd == pytest.approx(
            stored_cost + lost.settled_usd + killed.in_flight_usd, abs=1e-8)
        assert killed.cost_usd > stored_cost
        # the resumed run's budget starts from all of it
        assert recipe.spent_usd == pytest.approx(killed.cost_usd, abs=1e-8)
        shown = _cli(db_url, stub, "jobs", "show", str(job.id)).communicate(timeout=60)[0]
        assert (f"including {killed.calls_in_flight} call"
                f"{'' if killed.calls_in_flight == 1 else 's'} in flight at the interruption, "
                f"at most ${killed.in_flight_usd:.4f}") in shown

        resumed = _cli(db_url, stub, "generate", "--resume", str(job.id))
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        final = generation.job_status(ctx, job.id)
        assert out.strip() == (
            f"job {job.id} finished: {REQUESTED} drafts stored, 0 failed, 0 remaining of "
            f"{REQUESTED} ({final.prompt_tokens + final.completion_tokens} tokens, "
            f"${final.cost_usd:.4f}, {final.cost_note})")
        # the calls lost at the kill stay in the finished job's cost
        assert final.calls_in_flight == killed.calls_in_flight
        with ctx.uow() as uow:
            stored_now = sum(i.cost_usd or 0.0 for i in uow.jobs.items(job.id))
        assert final.cost_usd == pytest.approx(
            stored_now + lost.settled_usd + killed.in_flight_usd, abs=1e-8)
        # The resumed run called the model once per item that had no stored result; calls in
        # flight at the kill were lost (and paid for), so at most concurrency=4 extra.
        assert len(stub.chat_requests) - calls_before == REQUESTED - killed.succeeded

    with ctx.uow() as uow:
        items = uow.jobs.items(job.id)
        drafts = uow.repo.list_dialogues(uow.repo.get_project("en"))
    assert len(items) == REQUESTED and all(i.status == "succeeded" for i in items)
    assert len(drafts) == REQUESTED
    per_item = Counter(d.provenance["item"] for d in drafts)
    assert sorted(per_item) == list(range(REQUESTED)) and set(per_item.values()) == {1}
    assert {i.dialogue_id for i in items} == {d.id for d in drafts}
    ctx.close()
