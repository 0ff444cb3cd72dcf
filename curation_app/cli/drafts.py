"""Commands for draft generation: generate, jobs, seeds."""

from __future__ import annotations

import asyncio
import sys

import click
import openai

from curation_app.cli.base import (
    cli_actor,
    handle_errors,
    main,
    open_context,
    plan_options,
)
from curation_app.cli.data import projects
from curation_app.errors import CurationError
from curation_app.generation.client import AsyncDraftClient, LLMConfig, map_openai_error
from curation_app.services import generation
from curation_app.services import projects as projects_service
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
            f"({job.prompt_tokens + job.completion_tokens} tokens, ${job.cost_usd:.4f}"
            + (f", {job.cost_note})" if job.cost_note else ")"))
    if job.stop_reason and job.status != "finished":
        text += f"; {job.stop_reason}"
    return text


@main.command()
@plan_options(None, "Model calls in flight at once (default 4; on --resume, the job's).")
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
             turns: int | None, temperature: float | None, top_p: float | None,
             resume: int | None, retry_failed: bool, timeout: float,
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
                concurrency=concurrency or 4, temperature=temperature, top_p=top_p))
        else:
            job_id = resume
            if budget_usd is not None:
                generation.set_job_budget(ctx, cli_actor(), job_id, budget_usd)
        job = generation.job_status(ctx, job_id)
        for warning in job.params.get("warnings") or []:
            click.echo(f"warning: {warning}", err=True)
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


@seeds.command("demote")
@click.option("--project", required=True, help="The project.")
@click.option("--id", "ids", type=int, multiple=True, required=True,
              help="A seed's dialogue id (repeatable).")
@handle_errors
def seeds_demote(project: str, ids: tuple[int, ...]) -> None:
    """Stop using dialogues as seeds (they stay in the project)."""
    ctx = open_context()
    try:
        changed = generation.demote_seeds(ctx, cli_actor(), project, ids)
        total = len(generation.list_seeds(ctx, project))
    finally:
        ctx.close()
    click.echo(f"demoted {len(changed)} seeds in {project} ({total} seeds left)")


@projects.command("targets")
@click.argument("name")
@click.option("--from-paper", is_flag=True, required=True,
              help="Use the published dialogue counts per scenario (ExTES Table 1).")
@click.option("--scale", type=int, required=True, metavar="N",
              help="Scale the published counts to N dialogues in all.")
@handle_errors
def projects_targets(name: str, from_paper: bool, scale: int) -> None:
    """Set project NAME's targets to the paper's counts, scaled to N dialogues."""
    ctx = open_context()
    try:
        targets = generation.paper_targets(ctx, cli_actor(), name, scale)
    finally:
        ctx.close()
    for topic, n in targets.items():
        click.echo(f"  {topic}: {n}", err=True)
    click.echo(f"{name}: targets for {len(targets)} topics as in the paper, "
               f"{sum(targets.values())} dialogues in all")


@projects.command("topic-emotions")
@click.argument("name")
@click.option("--set", "pairs", multiple=True, metavar="TOPIC=E1,E2",
              help="The emotions that fit a topic (repeatable).")
@click.option("--fill", is_flag=True,
              help="Ask the model (at $OPENAI_BASE_URL) once for every topic still unmapped.")
@click.option("--refill", is_flag=True, help="With --fill, ask for every topic.")
@click.option("--model", help="Model for --fill (default: the project's).")
@handle_errors
def projects_topic_emotions(name: str, pairs: tuple[str, ...], fill: bool, refill: bool,
                            model: str | None) -> None:
    """Show or edit project NAME's topic -> emotions map (the planner draws from it)."""
    ctx = open_context()
    try:
        if pairs:
            mapping: dict[str, list[str]] = {}
            for pair in pairs:
                topic, sep, emotions = pair.rpartition("=")
                if not sep or not topic.strip():
                    raise CurationError(f"{pair!r} is not TOPIC=EMOTION,EMOTION")
                mapping[topic.strip()] = [e.strip() for e in emotions.split(",") if e.strip()]
            generation.set_topic_emotions(ctx, cli_actor(), name, mapping)
        if fill:
            record = projects_service.get_project(ctx.uow(), name)
            config = LLMConfig.from_env(model or record.settings.get("model")
                                        or generation.DEFAULT_MODEL)
            client = openai.OpenAI(api_key=config.api_key, base_url=config.base_url,
                                   timeout=config.timeout_s)

            def complete(messages: list[dict[str, str]]) -> str:
                try:
                    reply = client.chat.completions.create(
                        model=config.model, messages=messages,  # type: ignore[arg-type]
                        response_format={"type": "json_object"})
                except openai.OpenAIError as exc:
                    raise map_openai_error(exc, secret=config.api_key) from None
                return reply.choices[0].message.content or ""

            try:
                found = generation.fill_topic_emotions(ctx, cli_actor(), name, complete,
                                                       all_topics=refill)
            finally:
                client.close()
            click.echo(f"filled {len(found)} topics from the model", err=True)
        vocab = projects_service.get_project(ctx.uow(), name).vocabulary
    finally:
        ctx.close()
    mapped = 0
    for topic in vocab.topics:
        emotions = vocab.emotions_for(topic) if vocab.topic_emotions else ()
        mapped += bool(emotions)
        click.echo(f"  {topic}: {', '.join(emotions) or '-'}", err=True)
    click.echo(f"{name}: {mapped} of {len(vocab.topics)} topics have emotions mapped")


@main.command("show")
@click.argument("dialogue_id", type=int)
@click.option("--prompt/--no-prompt", default=True, help="Print the exact prompt sent.")
@handle_errors
def show(dialogue_id: int, prompt: bool) -> None:
    """Print dialogue DIALOGUE_ID with where it came from (model, template, seeds, cost)."""
    ctx = open_context()
    try:
        view = generation.provenance_view(ctx, dialogue_id)
    finally:
        ctx.close()
    for line in view.lines(prompt=prompt):
        click.echo(line)
