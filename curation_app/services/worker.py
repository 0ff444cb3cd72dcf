"""The generation worker: runs queued jobs outside the web server, so they survive it.

The Generate page and ``curation queue`` only plan a job and put it in the queue. A worker
(``curation worker``, started beside the app by ``curation serve``) claims one job at a time,
runs it with :func:`curation_app.services.generation.run_job` and heartbeats while it does.
Several workers may share a PostgreSQL database: the claim is atomic (see
:mod:`curation_app.store.queue`), so no job, and therefore no item, is run by two at once.
A worker that dies leaves its claim behind with a heartbeat that stops moving; once it is older
than ``stale_after_s`` another worker takes the job over and resumes it: items already stored
stay stored, the ones still pending are run.

Jobs marked for the OpenAI Batch API are advanced one step per claim (send what is unsent,
collect what is ready) and put back in the queue with a ``not_before`` time until done.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from curation_app.errors import CurationError, GenerationError
from curation_app.services.context import AppContext
from curation_app.services.generation import JobRequest, plan_job, run_job
from curation_app.services.permissions import Actor, UserRole, require
from curation_app.store.models import utcnow
from curation_app.store.queue import Claim

# The async client a worker runs a job with, made per job from the job's model name.
ClientFactory = Callable[[str], Any]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class WorkerSettings:
    """``heartbeat_s``: how often a running job's claim is refreshed; ``stale_after_s``: how
    old a heartbeat must be before the job counts as orphaned (keep it several heartbeats and
    above the clock skew between machines); ``poll_s``: the wait when the queue is empty;
    ``batch_poll_s``: the wait between two looks at an OpenAI batch."""

    worker_id: str = field(default_factory=default_worker_id)
    poll_s: float = 2.0
    heartbeat_s: float = 5.0
    stale_after_s: float = 60.0
    batch_poll_s: float = 30.0


def queue_job(ctx: AppContext, actor: Actor, request: JobRequest, *,
              batch_api: bool = False) -> int:
    """Plan a job and leave it to a worker; what the Generate page's batch form calls."""
    job_id = plan_job(ctx, actor, request)
    enqueue(ctx, actor, job_id, batch_api=batch_api)
    return job_id


def enqueue(ctx: AppContext, actor: Actor, job_id: int, *, batch_api: bool = False,
            retry_failed: bool = False) -> None:
    """Queue an existing job (a new one, or a stopped one to resume) for a worker;
    ``retry_failed`` makes its failed items pending again first."""
    require(actor, "generation.run", of=("job", job_id))
    with ctx.uow() as uow:
        if retry_failed:
            uow.jobs.reset_failed(job_id)
        job = uow.jobs.get(job_id)
        if job.status == "finished" and not job.pending:
            raise CurationError(f"job {job_id} is finished; nothing left to run")
        worker, heartbeat, _ = uow.queue.holder(job_id)
        if worker is not None:
            raise CurationError(f"job {job_id} is being run by worker {worker}")
        if batch_api:
            uow.jobs.update_params(job_id, {"batch_api": True})
        uow.queue.enqueue(job_id)
        uow.commit()


class Worker:
    """Claims and runs queued jobs until told to stop."""

    def __init__(self, ctx: AppContext, settings: WorkerSettings | None = None, *,
                 client_factory: ClientFactory | None = None,
                 batch_client_factory: ClientFactory | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 log: Callable[[str], None] | None = None):
        self.ctx = ctx
        self.settings = settings or WorkerSettings()
        self.client_factory = client_factory or _default_client
        self.batch_client_factory = batch_client_factory or _default_batch_client
        self.stop_event = threading.Event()
        self._should_stop = should_stop or (lambda: False)
        self.log = log or (lambda _line: None)

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set() or self._should_stop()

    def stop(self) -> None:
        self.stop_event.set()

    # -- the loop --
    def run(self, *, once: bool = False) -> int:
        """Run jobs until stopped (or, with ``once``, until the queue is empty). Returns the
        number of claims handled."""
        handled = 0
        while not self.stopping:
            claim = self.claim()
            if claim is None:
                if once:
                    break
                self.stop_event.wait(self.settings.poll_s)
                continue
            handled += 1
            self.handle(claim)
        return handled

    def claim(self) -> Claim | None:
        stale_before = utcnow() - timedelta(seconds=self.settings.stale_after_s)
        with self.ctx.uow() as uow:
            claim = uow.queue.claim(self.settings.worker_id, stale_before)
            uow.commit()
        return claim

    def handle(self, claim: Claim) -> None:
        """Run one claimed job to its end (or one step, for the Batch API), then release it."""
        who = Actor(claim.created_by, UserRole.LEAD)  # only leads can queue jobs
        self.log(f"job {claim.job_id}: claimed by {self.settings.worker_id}")
        keep_queued, not_before = False, None
        try:
            if claim.params.get("batch_api"):
                done = asyncio.run(self._guarded(claim.job_id, self._advance(who, claim)))
                if not done:
                    keep_queued = True
                    not_before = utcnow() + timedelta(seconds=self.settings.batch_poll_s)
            else:
                asyncio.run(self._guarded(claim.job_id, self._run(who, claim)))
                with self.ctx.uow() as uow:
                    job = uow.jobs.get(claim.job_id)
                # Interrupted by a stop (not by its budget): leave it for the next worker.
                keep_queued = bool(job.pending) and job.stop_reason == "interrupted"
        except _ClaimLost:
            self.log(f"job {claim.job_id}: another worker took it over")
            return
        except _Stopped:
            keep_queued = True
        except GenerationError as exc:
            if claim.params.get("batch_api") and exc.retryable:
                # The batch is safe on OpenAI's side; look again later rather than give up.
                self.log(f"job {claim.job_id}: {exc}; trying again later")
                keep_queued = True
                not_before = utcnow() + timedelta(seconds=self.settings.batch_poll_s)
            else:
                self._stop_job(claim.job_id, f"worker: {exc}")
        except CurationError as exc:
            self._stop_job(claim.job_id, f"worker: {exc}")
        except Exception as exc:  # noqa: BLE001 - a job must not take the worker down with it
            self._stop_job(claim.job_id, f"worker: unexpected {type(exc).__name__}: {exc}")
        with self.ctx.uow() as uow:
            uow.queue.release(claim.job_id, self.settings.worker_id, keep_queued=keep_queued,
                              not_before=not_before)
            if keep_queued and not claim.params.get("batch_api"):
                uow.jobs.set_status(claim.job_id, "queued")  # to be resumed by a worker
            uow.commit()
            job = uow.jobs.get(claim.job_id)
        self.log(f"job {job.id} {job.status}: {job.succeeded} stored, {job.failed} failed, "
                 f"{job.pending} pending")

    async def _run(self, who: Actor, claim: Claim) -> None:
        client = self.client_factory(str(claim.params["model"]))
        async with client:
            await run_job(self.ctx, who, claim.job_id, client)

    async def _advance(self, who: Actor, claim: Claim) -> bool:
        from curation_app.services.batch_jobs import advance  # only batch jobs need it

        async with self.batch_client_factory(str(claim.params["model"])) as client:
            return await advance(self.ctx, who, claim.job_id, client)

    async def _guarded(self, job_id: int, work: Any) -> Any:
        """Run ``work`` while heartbeating; cancel it when stopping or when the claim is lost."""
        task = asyncio.ensure_future(work)
        last_beat = asyncio.get_running_loop().time()
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=min(0.2, self.settings.heartbeat_s))
                if task.done():
                    break
                if self.stopping:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    raise _Stopped
                now = asyncio.get_running_loop().time()
                if now - last_beat >= self.settings.heartbeat_s:
                    last_beat = now
                    if not await asyncio.to_thread(self._beat, job_id):
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
                        raise _ClaimLost
            return task.result()
        finally:
            if not task.done():
                task.cancel()

    def _beat(self, job_id: int) -> bool:
        with self.ctx.uow() as uow:
            held = uow.queue.heartbeat(job_id, self.settings.worker_id)
            uow.commit()
        return held

    def _stop_job(self, job_id: int, reason: str) -> None:
        self.log(f"job {job_id}: {reason}")
        with self.ctx.uow() as uow:
            uow.jobs.set_status(job_id, "stopped", reason)
            uow.commit()


class _ClaimLost(Exception):
    pass


class _Stopped(Exception):
    pass


def _default_client(model: str) -> Any:
    from curation_app.generation.client import AsyncDraftClient, LLMConfig

    return AsyncDraftClient(LLMConfig.from_env(model))


def _default_batch_client(model: str) -> Any:
    from curation_app.generation.batch_api import BatchClient
    from curation_app.generation.client import LLMConfig

    return BatchClient(LLMConfig.from_env(model))


__all__ = ["Worker", "WorkerSettings", "default_worker_id", "enqueue", "queue_job"]
