"""Commands for queued generation: queue (plan a job for a worker), worker (run queued jobs)."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import click

from curation_app.cli.base import cli_actor, handle_errors, main, open_context, plan_options


@main.command("queue")
@plan_options(4, "Model calls in flight at once while a worker runs the job.")
@click.option("--batch-api", is_flag=True,
              help="Send the job through the OpenAI Batch API (half price; results arrive "
                   "within 24 hours and the worker collects them).")
@click.option("--job", "job_id", type=int, metavar="JOB",
              help="Queue existing job JOB again (a stopped one) instead of planning a new one.")
@click.option("--retry-failed", is_flag=True, help="With --job, also retry its failed items.")
@handle_errors
def queue(project: str | None, topics: tuple[str, ...], all_topics: bool, fill_targets: bool,
          emotion: str | None, n: int | None, concurrency: int, budget_usd: float | None,
          model: str | None, template: str | None, turns: int | None,
          temperature: float | None, top_p: float | None, batch_api: bool,
          job_id: int | None, retry_failed: bool) -> None:
    """Plan a generation job and leave it to a worker (`curation worker`)."""
    from curation_app.errors import CurationError
    from curation_app.services import generation, worker

    ctx = open_context()
    try:
        if job_id is not None:
            worker.enqueue(ctx, cli_actor(), job_id, batch_api=batch_api,
                           retry_failed=retry_failed)
        else:
            if not project:
                raise CurationError("name a --project (or --job JOB)")
            job_id = worker.queue_job(ctx, cli_actor(), generation.JobRequest(
                project=project, topics=topics, all_topics=all_topics,
                fill_targets=fill_targets, emotion=emotion, n=n, model=model,
                template=template, turns=turns, budget_usd=budget_usd,
                concurrency=concurrency, temperature=temperature, top_p=top_p),
                batch_api=batch_api)
        job = generation.job_status(ctx, job_id)
    finally:
        ctx.close()
    how = " through the Batch API" if job.params.get("batch_api") else ""
    click.echo(f"job {job.id} queued{how}: {job.pending} drafts to generate for {job.project} "
               f"with {job.params['model']}; follow it with `curation jobs show {job.id}`")


@main.command("worker")
@click.option("--once", is_flag=True, help="Stop when the queue is empty instead of waiting.")
@click.option("--poll", "poll_s", type=float, envvar="CURATION_WORKER_POLL_S",
              default=2.0, show_default=True,
              help="Seconds between looks at an empty queue.")
@click.option("--heartbeat", "heartbeat_s", type=float, envvar="CURATION_WORKER_HEARTBEAT_S",
              default=5.0, show_default=True,
              help="Seconds between heartbeats while a job runs.")
@click.option("--stale-after", "stale_after_s", type=float, envvar="CURATION_WORKER_STALE_AFTER_S",
              default=60.0, show_default=True,
              help="A job whose worker has not beaten for this long is taken over.")
@click.option("--batch-poll", "batch_poll_s", type=float, envvar="CURATION_WORKER_BATCH_POLL_S",
              default=30.0, show_default=True,
              help="Seconds between looks at a job's pending OpenAI batches.")
@click.option("--id", "worker_id", help="The worker's name in claims (default host:pid:random).")
@click.option("--parent-pid", type=int, hidden=True,
              help="Stop when process PARENT_PID, which started this one, ends (used by serve).")
@handle_errors
def worker_command(once: bool, poll_s: float, heartbeat_s: float, stale_after_s: float,
                   batch_poll_s: float, worker_id: str | None, parent_pid: int | None) -> None:
    """Run queued generation jobs (model server: $OPENAI_BASE_URL, key: $OPENAI_API_KEY)."""
    from curation_app.services.worker import Worker, WorkerSettings, default_worker_id

    settings = WorkerSettings(worker_id=worker_id or default_worker_id(), poll_s=poll_s,
                              heartbeat_s=heartbeat_s, stale_after_s=stale_after_s,
                              batch_poll_s=batch_poll_s)
    ctx = open_context()
    # The pid comes from the parent itself: one read here could already be the reaper's, had
    # the parent died while this process started.
    runner = Worker(ctx, settings,
                    should_stop=(lambda: os.getppid() != parent_pid) if parent_pid else None,
                    log=lambda line: click.echo(f"worker: {line}", err=True))

    def stop(_signum: int, _frame: Any) -> None:
        runner.stop()  # finish the step in hand, leave the job queued for the next worker

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"worker: {settings.worker_id} waiting for queued jobs", err=True)
    sys.stderr.flush()
    try:
        handled = runner.run(once=once)
    finally:
        ctx.close()
    click.echo(f"worker {settings.worker_id} stopped after {handled} jobs")
