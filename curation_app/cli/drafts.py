"""Commands for draft generation: generate, jobs, seeds."""

from __future__ import annotations

import asyncio
import sys

import click

from curation_app.cli.base import (
    cli_actor,
    handle_errors,
    main,
    open_context,
)
from curation_app.errors import CurationError
from curation_app.generation.client import AsyncDraftClient, LLMConfig
from curation_app.services import generation
from curation_app.store.jobs import JobRecord


class _ProgressLine:
    """A one-line progress bar on stderr (rewritten in place on a terminal)."""

    def __init__(self, total: int):
        self.total = total
        self.tty = sys.stderr.isatty()
        self.last_printed = -1

    def __call__(self, p: generation.Progress) -> None:
        width = 30
        filled = int(width * p.done / max(1, p.requested))
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {p.done}/{p.requested} "
                f"done, {p.failed} failed, {p.requested - p.done} remaining, "
                f"{p.prompt_tokens + p.completion_tokens} tokens, ${p.cost_usd:.4f}")
        if self.tty:
            click.echo("\r" + line, nl=False, err=True)
        elif p.done == p.requested or p.done - self.last_printed >= max(1, p.requested // 10):
            click.echo(line, err=True)
            self.last_printed = p.done

    def close(self) -> None:
        if self.tty:
            click.echo("", err=True)


def _job_line(job: JobRecord) -> str:
    text = (f"job {job.id} {job.status}: {job.succeeded} drafts stored, {job.failed} failed, "
            f"{job.pending} remaining of {job.requested} "
            f"({job.prompt_tokens + job.completion_tokens} tokens, ${job.cost_usd:.4f})")
    if job.stop_reason and job.status != "finished":
        text += f"; {job.stop_reason}"
    return text


@main.command()
@click.option("--project", help="The project to generate drafts for.")
@click.option("--topic", "topics", multiple=True, help="A topic/scenario (repeatable).")
@click.option("--all-topics", is_flag=True, help="Every topic of the project.")
@click.option("--fill-targets", is_flag=True,
              help="As many drafts per topic as its target still lacks.")
@click.option("--emotion", help="The emotion label for every draft (default: rotate).")
@click.option("-n", "n", type=int, help="Drafts per topic (with --fill-targets: at most N).")
@click.option("--concurrency", type=int,
              help="Model calls in flight at once (default 4; on --resume, the job's).")
@click.option("--budget-usd", type=float, help="Stop starting calls before this cost.")
@click.option("--model", help="Model name (default: the project's, else gpt-4o-mini).")
@click.option("--template", help="Prompt template name in prompts/ (default: the preset's).")
@click.option("--turns", type=int, help="Target number of turns per dialogue.")
@click.option("--resume", "resume", type=int, metavar="JOB",
              help="Finish job JOB: run its items that have no stored result yet.")
@click.option("--retry-failed", is_flag=True, help="With --resume, also retry failed items.")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for one model reply.")
@click.option("--max-retries", type=int, default=3, show_default=True,
              help="Retries of a call after a timeout, 429 or 5xx.")
@handle_errors
def generate(project: str | None, topics: tuple[str, ...], all_topics: bool,
             fill_targets: bool, emotion: str | None, n: int | None, concurrency: int | None,
             budget_usd: float | None, model: str | None, template: str | None,
             turns: int | None, resume: int | None, retry_failed: bool, timeout: float,
             max_retries: int) -> None:
    """Generate draft dialogues with the model at $OPENAI_BASE_URL (key: $OPENAI_API_KEY)."""
    ctx = open_context()
    try:
        if resume is None:
            if not project:
                raise CurationError("name a --project (or --resume JOB)")
            job_id = generation.plan_job(ctx, cli_actor(), generation.JobRequest(
                project=project, topics=topics, all_topics=all_topics,
                fill_targets=fill_targets, emotion=emotion, n=n, model=model,
                template=template, turns=turns, budget_usd=budget_usd,
                concurrency=concurrency or 4))
        else:
            job_id = resume
            if budget_usd is not None:
                generation.set_job_budget(ctx, cli_actor(), job_id, budget_usd)
        job = generation.job_status(ctx, job_id)
        click.echo(f"job {job_id}: {job.pending} drafts to generate for {job.project} with "
                   f"{job.params['model']}", err=True)
        config = LLMConfig.from_env(job.params["model"], timeout_s=timeout,
                                    max_retries=max_retries)
        bar = _ProgressLine(job.requested)

        async def go() -> JobRecord:
            async with AsyncDraftClient(config) as client:
                return await generation.run_job(
                    ctx, cli_actor(), job_id, client,
                    concurrency=concurrency,
                    retry_failed=retry_failed, on_progress=bar)

        try:
            job = asyncio.run(go())
        except KeyboardInterrupt:
            bar.close()
            job = generation.job_status(ctx, job_id)
            click.echo(_job_line(job), err=True)
            click.echo(f"Error: interrupted; resume with `curation generate --resume {job_id}`",
                       err=True)
            sys.exit(130)
        bar.close()
    finally:
        ctx.close()
    click.echo(_job_line(job))
    if job.pending:
        click.echo(f"resume with `curation generate --resume {job.id}`", err=True)
    if job.failed:
        click.echo(f"see the failures with `curation jobs show {job.id} --failed`", err=True)


@main.group()
def jobs() -> None:
    """Inspect generation jobs."""


@jobs.command("list")
@click.option("--project", help="Only this project's jobs.")
@handle_errors
def jobs_list(project: str | None) -> None:
    """List generation jobs with their counts, tokens and cost."""
    ctx = open_context()
    try:
        found = generation.list_jobs(ctx, project)
        projects = sorted({job.project for job in found})
        spend = {name: generation.project_spend(ctx, name) for name in projects}
    finally:
        ctx.close()
    if not found:
        click.echo("no generation jobs")
    for job in found:
        click.echo(f"{job.project}: {_job_line(job)}")
    for name, (tokens_in, tokens_out, usd) in spend.items():
        click.echo(f"{name} in all: {tokens_in} prompt + {tokens_out} completion tokens, "
                   f"${usd:.4f}")


@jobs.command("show")
@click.argument("job_id", type=int)
@click.option("--failed", "show_failed", is_flag=True,
              help="List the failed items with their error and raw reply.")
@handle_errors
def jobs_show(job_id: int, show_failed: bool) -> None:
    """Show job JOB_ID: counts per topic, and its failures."""
    ctx = open_context()
    try:
        job = generation.job_status(ctx, job_id)
        failures = generation.failed_items(ctx, job_id) if show_failed else []
    finally:
        ctx.close()
    click.echo(_job_line(job))
    params = job.params
    budget = params.get("budget_usd")
    click.echo(f"model {params.get('model')}, template {params.get('template')}, "
               f"{f'budget ${budget:.4f}' if budget is not None else 'no budget'}, "
               f"created by {job.created_by}")
    for topic, counts in sorted(job.by_topic.items()):
        click.echo(f"  {topic or '-'}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for item in failures:
        click.echo(f"item {item.seq} ({item.topic}): {item.error}")
        if item.raw_text:
            click.echo(f"  raw reply: {item.raw_text[:500]}")


@main.group()
def seeds() -> None:
    """Seed dialogues: the in-context examples of iterative expansion."""


@seeds.command("promote")
@click.option("--project", required=True, help="The project.")
@click.option("--id", "ids", type=int, multiple=True, help="A dialogue id (repeatable).")
@click.option("--approved", is_flag=True, help="Every approved dialogue of the project.")
@handle_errors
def seeds_promote(project: str, ids: tuple[int, ...], approved: bool) -> None:
    """Make dialogues seeds for later generation rounds."""
    ctx = open_context()
    try:
        changed = generation.promote_seeds(ctx, cli_actor(), project, ids=ids,
                                           approved=approved)
        total = len(generation.list_seeds(ctx, project))
    finally:
        ctx.close()
    click.echo(f"promoted {len(changed)} dialogues to seeds in {project} ({total} seeds in all)")


@seeds.command("list")
@click.option("--project", required=True, help="The project.")
@handle_errors
def seeds_list(project: str) -> None:
    """List a project's seeds with their round and topic."""
    ctx = open_context()
    try:
        found = generation.list_seeds(ctx, project)
    finally:
        ctx.close()
    if not found:
        click.echo(f"{project} has no seeds (promote some with `curation seeds promote`)")
    for d in found:
        click.echo(f"{d.id}\tround {d.seed_round}\t{d.topic or '-'}\t{len(d.turns)} turns")
