"""The command line for leads and scripts: ``curation …`` (also ``python -m curation_app``).

Each command is a thin wrapper over one service function. Errors become one ``Error: …`` line
on stderr and a non-zero exit; details (skipped records, warnings) go to stderr too, so stdout
carries just the one-line summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from curation_app import __version__
from curation_app.errors import CurationError, ImportRefusedError, RecordProblem
from curation_app.generation.client import AsyncDraftClient, LLMConfig
from curation_app.presets import PRESET_NAMES
from curation_app.services import checks as check_services
from curation_app.services import generation, transfer, workflow
from curation_app.services import projects as project_services
from curation_app.services import setup as setup_services
from curation_app.services import users as user_services
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole
from curation_app.store.db import data_dir, database_url, is_up_to_date, redact
from curation_app.store.jobs import JobRecord

FORMATS = ("peconv", "extes", "esconv", "jsonl")
STATUSES = ("draft", "in_progress", "submitted", "approved", "returned", "discarded")
DETAIL_LIMIT = 20

F = TypeVar("F", bound=Callable[..., Any])


def cli_actor() -> Actor:
    """Whoever runs the CLI has shell access to the data, so acts as a lead."""
    return Actor(os.environ.get("CURATION_USER") or os.environ.get("USER") or "cli",
                 UserRole.LEAD)


def _context(require_schema: bool = True) -> AppContext:
    ctx = AppContext.from_url()
    if require_schema and not is_up_to_date(ctx.engine):
        ctx.close()
        raise CurationError(
            f"the database {redact(database_url())} is not initialised or is out of date; "
            "run `curation init` first"
        )
    return ctx


def handle_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ImportRefusedError as exc:
            _print_problems("refused", exc.problems, verbose=kwargs.get("verbose", False))
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except CurationError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the last guard against a raw traceback
            if os.environ.get("CURATION_DEBUG"):
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc} "
                       "(set CURATION_DEBUG=1 to see the traceback)", err=True)
            sys.exit(2)
    return wrapper  # type: ignore[return-value]


def _print_problems(kind: str, problems: Sequence[RecordProblem], *, verbose: bool) -> None:
    shown = problems if verbose else problems[:DETAIL_LIMIT]
    for problem in shown:
        click.echo(f"{kind}: {problem}", err=True)
    if len(problems) > len(shown):
        click.echo(f"{kind}: … {len(problems) - len(shown)} more (use --verbose to list all)",
                   err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="curation")
def main() -> None:
    """Curate emotional-support dialogue datasets (PECONV, ExTES, ESConv).

    The database is $CURATION_DATABASE_URL, or a SQLite file in $CURATION_DATA_DIR
    (default ~/.local/share/curation-app).
    """


@main.command()
@click.option("--demo", is_flag=True, help="Also load the bundled demo projects if absent.")
@handle_errors
def init(demo: bool) -> None:
    """Create or migrate the database; optionally load the demo projects."""
    ctx = _context(require_schema=False)
    try:
        summary = setup_services.initialise(ctx, demo=demo)
    finally:
        ctx.close()
    click.echo(summary.line())


@main.command()
@handle_errors
def info() -> None:
    """Show where the data lives and which database is in use."""
    click.echo(f"database: {redact(database_url())}")
    click.echo(f"data directory: {data_dir()}")


@main.group()
def projects() -> None:
    """Create and list projects."""


@projects.command("create")
@click.argument("name")
@click.option("--preset", required=True, type=click.Choice(PRESET_NAMES),
              help="Vocabulary and formats to start from.")
@click.option("--topics-file", type=click.Path(dir_okay=False),
              help="A topic list (one or more per line, separated by 、) to add.")
@click.option("--replace-topics", is_flag=True,
              help="Use the topic list instead of the preset's topics, not in addition.")
@handle_errors
def projects_create(name: str, preset: str, topics_file: str | None,
                    replace_topics: bool) -> None:
    """Create project NAME from a preset."""
    ctx = _context()
    try:
        record = project_services.create_project(
            ctx.uow(), cli_actor(), name, preset, topics_file=topics_file,
            replace_topics=replace_topics)
    finally:
        ctx.close()
    v = record.vocabulary
    click.echo(f"created project {record.name} (preset {record.preset}, {v.language}: "
               f"{len(v.topics)} topics, {len(v.emotions)} emotions, "
               f"{len(v.strategies)} strategies)")


@projects.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def projects_list(as_json: bool) -> None:
    """List projects with their dialogue counts."""
    ctx = _context()
    try:
        rows = project_services.list_projects(ctx.uow())
    finally:
        ctx.close()
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no projects (create one with `curation projects create NAME --preset …`)")
        return
    width = max(len("project"), *(len(r.name) for r in rows))
    click.echo(f"{'project':<{width}}  {'preset':<7} {'lang':<4} {'dialogues':>9} "
               f"{'turns':>7}  by status")
    for r in rows:
        statuses = ", ".join(f"{k} {v}" for k, v in r.by_status.items()) or "-"
        click.echo(f"{r.name:<{width}}  {r.preset:<7} {r.language:<4} {r.dialogues:>9} "
                   f"{r.turns:>7}  {statuses}")


@projects.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the vocabulary as JSON.")
@handle_errors
def projects_show(name: str, as_json: bool) -> None:
    """Show project NAME's vocabulary: roles, topics, emotions, strategies."""
    ctx = _context()
    try:
        record = project_services.get_project(ctx.uow(), name)
    finally:
        ctx.close()
    v = record.vocabulary
    if as_json:
        click.echo(json.dumps(v.to_dict(), ensure_ascii=False, indent=2))
        return
    roles = ", ".join(f"{role.value} = {v.role_display(role)}" for role in v.roles)
    click.echo(f"{record.name}: preset {record.preset}, language {v.language}, roles {roles}")
    separator = "、" if v.language == "zh" else ", "
    click.echo(f"{v.topic_label}s ({len(v.topics)}): {separator.join(v.topics)}")
    click.echo(f"emotions ({len(v.emotions)}): {', '.join(v.emotions)}")
    many = "several per turn" if v.multi_strategy else "one per turn"
    click.echo(f"strategies ({len(v.strategies)}, {many}):")
    for s in v.strategies:
        click.echo(f"  {s.code:<4} {s.name}: {s.definition}")


@projects.command("add-labels")
@click.argument("name")
@click.option("--topic", "topics", multiple=True, help="A topic to add (repeatable).")
@click.option("--emotion", "emotions", multiple=True, help="An emotion label to add (repeatable).")
@click.option("--strategy", "strategies", multiple=True, help="A strategy to add (repeatable).")
@handle_errors
def projects_add_labels(name: str, topics: tuple[str, ...], emotions: tuple[str, ...],
                        strategies: tuple[str, ...]) -> None:
    """Extend project NAME's topics, emotions or strategies."""
    if not (topics or emotions or strategies):
        raise CurationError("name at least one --topic, --emotion or --strategy to add")
    ctx = _context()
    added: list[str] = []
    try:
        for kind, labels in (("topic", topics), ("emotion", emotions),
                             ("strategy", strategies)):
            if labels:
                new = project_services.add_labels(ctx.uow(), cli_actor(), name, kind,
                                                  list(labels))
                added += [f"{kind} {label!r}" for label in new]
    finally:
        ctx.close()
    click.echo(f"added to {name}: {', '.join(added)}" if added
               else f"nothing added to {name}: all labels were already there")


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS),
              help="The file's format.")
@click.option("--project", required=True, help="The project to import into.")
@click.option("--status", default="draft", show_default=True, type=click.Choice(STATUSES),
              help="Status the imported dialogues start in.")
@click.option("--skip-invalid", is_flag=True,
              help="Import the valid records and list the refused ones, instead of refusing all.")
@click.option("--add-labels", is_flag=True,
              help="Add topics/emotions/strategies the project lacks instead of refusing them.")
@click.option("--verbose", "-v", is_flag=True, help="List every warning and refused record.")
@handle_errors
def import_(file: str, fmt: str, project: str, status: str, skip_invalid: bool,
            add_labels: bool, verbose: bool) -> None:
    """Import dialogues from FILE into a project."""
    ctx = _context()
    try:
        summary = transfer.import_file(
            ctx.uow(), cli_actor(), file, fmt, project, status=status,
            skip_invalid=skip_invalid, add_labels=add_labels)
    finally:
        ctx.close()
    _print_problems("skipped", summary.refused, verbose=verbose)
    _print_problems("warning", summary.warnings, verbose=verbose)
    for kind, labels in summary.added_labels.items():
        click.echo(f"added {kind} labels: {', '.join(labels)}", err=True)
    click.echo(summary.line())


@main.command("export")
@click.option("--project", required=True, help="The project to export.")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS),
              help="The format to write.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The file to write (never overwritten unless --overwrite).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Only dialogues in this status (repeatable). Default: all.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@handle_errors
def export(project: str, fmt: str, output: str, statuses: tuple[str, ...],
           overwrite: bool) -> None:
    """Export a project's dialogues to a file."""
    ctx = _context()
    try:
        summary = transfer.export_file(ctx.uow(), cli_actor(), project, fmt, output,
                                       statuses=statuses, overwrite=overwrite)
    finally:
        ctx.close()
    click.echo(summary.line())


def _parse_targets(values: Sequence[str], targets_file: str | None) -> dict[str, int]:
    pairs = list(values)
    if targets_file:
        text = Path(targets_file).read_text(encoding="utf-8-sig")
        pairs += [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    targets: dict[str, int] = {}
    for pair in pairs:
        topic, sep, count = pair.rpartition("=") if "=" in pair else pair.rpartition(",")
        if not sep or not topic.strip() or not count.strip().isdigit():
            raise CurationError(f"target {pair!r} is not TOPIC=COUNT")
        targets[topic.strip()] = int(count)
    return targets


@projects.command("configure")
@click.argument("name")
@click.option("--model", help="Model name used for this project's drafts.")
@click.option("--target", "targets", multiple=True,
              help="Target number of dialogues for a topic, as TOPIC=N (repeatable).")
@click.option("--targets-file", type=click.Path(dir_okay=False, exists=True),
              help="A file of TOPIC=N (or TOPIC,N) lines.")
@handle_errors
def projects_configure(name: str, model: str | None, targets: tuple[str, ...],
                       targets_file: str | None) -> None:
    """Set project NAME's model and per-topic targets; show progress against targets."""
    wanted = _parse_targets(targets, targets_file)
    ctx = _context()
    try:
        settings = generation.configure_project(ctx, cli_actor(), name, model=model,
                                                targets=wanted)
        progress = generation.target_progress(ctx, name)
    finally:
        ctx.close()
    click.echo(f"{name}: model {settings.get('model', generation.DEFAULT_MODEL)}, "
               f"{len(progress)} topics with targets, "
               f"{sum(max(0, n - have) for _, n, have in progress)} dialogues still needed")
    for topic, n, have in progress:
        click.echo(f"  {topic}: {have}/{n}", err=True)


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
    ctx = _context()
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
    ctx = _context()
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
    ctx = _context()
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
    ctx = _context()
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
    ctx = _context()
    try:
        found = generation.list_seeds(ctx, project)
    finally:
        ctx.close()
    if not found:
        click.echo(f"{project} has no seeds (promote some with `curation seeds promote`)")
    for d in found:
        click.echo(f"{d.id}\tround {d.seed_round}\t{d.topic or '-'}\t{len(d.turns)} turns")


@main.group("users")
def users_group() -> None:
    """Accounts for the web app (annotator, reviewer, lead)."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in UserRole]),
              help="What the user may do.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
@click.option("--no-password", is_flag=True,
              help="No password: the user signs in through the identity provider only.")
@handle_errors
def users_add(name: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Create user NAME with a role and a password."""
    password: str | None
    if no_password:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    ctx = _context()
    try:
        record = user_services.add_user(ctx, cli_actor(), name, role, password)
    finally:
        ctx.close()
    how = "no password (identity provider only)" if password is None else "a password"
    click.echo(f"added user {record.name} ({record.role}) with {how}")


@users_group.command("list")
@handle_errors
def users_list() -> None:
    """List users and their roles."""
    ctx = _context()
    try:
        found = user_services.list_users(ctx, cli_actor())
    finally:
        ctx.close()
    if not found:
        click.echo("no users (add one with `curation users add NAME --role lead`)")
    for u in found:
        click.echo(f"{u.name}\t{u.role}\t{'password' if u.password_hash else 'OIDC only'}")


@main.command()
@click.option("--project", required=True, help="The project.")
@click.option("--to", "annotators", multiple=True, required=True,
              help="An annotator to assign to (repeatable; dialogues go round-robin).")
@click.option("--id", "ids", type=int, multiple=True,
              help="A dialogue id (repeatable). Default: unassigned drafts, oldest first.")
@click.option("--count", type=int, help="How many unassigned drafts to hand out.")
@click.option("--overlap", type=int, default=1, show_default=True,
              help="Annotators per dialogue (copies for agreement measurement).")
@handle_errors
def assign(project: str, annotators: tuple[str, ...], ids: tuple[int, ...], count: int | None,
           overlap: int) -> None:
    """Assign dialogues to annotators."""
    ctx = _context()
    try:
        pairs = workflow.assign(ctx, cli_actor(), project, annotators=annotators,
                                dialogue_ids=ids or None, count=count, overlap=overlap)
    finally:
        ctx.close()
    per = Counter(name for _, name in pairs)
    click.echo(f"assigned {len(pairs)} dialogues in {project}: "
               + ", ".join(f"{name} {n}" for name, n in sorted(per.items())))


@main.command()
@click.option("--project", required=True, help="The project.")
@handle_errors
def progress(project: str) -> None:
    """Show a project's progress: statuses, topics against targets, annotators."""
    ctx = _context()
    try:
        report = workflow.progress(ctx, cli_actor(), project)
    finally:
        ctx.close()
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(report.by_status.items())) or "-"
    click.echo(f"{project}: {report.total} dialogues ({statuses}); "
               f"{report.edited_dialogues} edited by people, "
               f"{report.edits_per_dialogue} revisions per edited dialogue")
    for t in report.by_topic:
        target = f"/{t.target}" if t.target is not None else ""
        click.echo(f"  topic {t.topic or '-'}: {t.dialogues}{target} ({t.approved} approved)",
                   err=True)
    for a in report.by_annotator:
        done = ", ".join(f"{k} {v}" for k, v in sorted(a.by_status.items())) or "-"
        click.echo(f"  annotator {a.name}: {done}; {a.revisions} revisions, "
                   f"{a.seconds // 60} min", err=True)


@main.command()
@click.option("--port", default=8501, show_default=True, help="Port for the web app.")
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--headless/--no-headless", default=True, show_default=True,
              help="Do not open a browser window.")
@handle_errors
def serve(port: int, address: str, headless: bool) -> None:
    """Start the web app on the configured database."""
    app = Path(__file__).with_name("ui") / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
           "--server.address", address, "--server.headless", str(headless).lower(),
           "--browser.gatherUsageStats", "false",
           # Streamlit's developer toolbar ("Deploy", rerun settings) is noise for annotators.
           "--client.toolbarMode", "minimal"]
    click.echo(f"serving on http://{address}:{port} (database {redact(database_url())})")
    sys.exit(subprocess.call(cmd))


def _where(dialogue_id: int | None, turn: int | None) -> str:
    # People count turns from 1, as the editor does; findings store the 0-based index.
    return f"dialogue {dialogue_id}" + (f" turn {turn + 1}" if turn is not None else "")


@main.command("check")
@click.option("--project", required=True, help="The project to check.")
@click.option("--only", help="Comma-separated checks to run: format, lint, dedup, safety "
              "(default: all four).")
@click.option("--against", multiple=True, type=click.Path(dir_okay=False),
              help="An earlier export or release file the dialogues must not duplicate "
              "(repeatable).")
@click.option("--against-format", type=click.Choice(FORMATS),
              help="Format of the --against files (default: the project's export format).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary and every finding as JSON on stdout.")
@click.option("--verbose", "-v", is_flag=True,
              help="List every finding on stderr, not only the first few of each rule.")
@handle_errors
def check(project: str, only: str | None, against: tuple[str, ...],
          against_format: str | None, as_json: bool, verbose: bool) -> None:
    """Run the checks over a project and store its findings.

    Findings are data: the exit code is 0 whatever was found, and non-zero only when the
    checks could not run.
    """
    ctx = _context()
    try:
        if against and against_format is None:
            record = project_services.get_project(ctx.uow(), project)
            against_format = record.vocabulary.export_format
        summary = check_services.run_checks(
            ctx, cli_actor(), project, only,
            against=[(path, against_format or "") for path in against])
    finally:
        ctx.close()
    for rule, info in summary.by_rule.items():
        click.echo(f"{rule} ({info['severity']}): {info['count']}", err=True)
        found = [f for f in summary.findings if f.rule == rule]
        shown = found if verbose else found[:3]
        for f in shown:
            click.echo(f"  {_where(f.dialogue_id, f.turn)}: {f.message}", err=True)
        if len(found) > len(shown):
            click.echo(f"  … {len(found) - len(shown)} more (--verbose lists all, --json "
                       "prints them)", err=True)
    if as_json:
        click.echo(json.dumps({"project": project, "run": summary.run_id,
                               "summary": summary.to_json(),
                               "findings": [f.to_dict() for f in summary.findings]},
                              ensure_ascii=False, indent=2))
        click.echo(summary.line(), err=True)
    else:
        click.echo(summary.line())


@main.command("dedup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS),
              help="The file's format.")
@click.option("--threshold", type=float,
              help="Similarity in (0, 1] from which two dialogues or turns count as "
              "near-duplicates (default 0.85).")
@click.option("--json", "as_json", is_flag=True, help="Print the clusters as JSON on stdout.")
@click.option("--verbose", "-v", is_flag=True, help="List every cluster on stderr.")
@handle_errors
def dedup(file: str, fmt: str, threshold: float | None, as_json: bool, verbose: bool) -> None:
    """Find duplicate dialogues and recycled supporter turns in FILE, outside any project."""
    result = check_services.dedup_file(file, fmt, threshold)
    clusters = result.to_json()
    shown = clusters if verbose else clusters[:DETAIL_LIMIT]
    for c in shown:
        how = "exact" if c["exact"] else f"similarity {c['score']:.2f}"
        members = ", ".join(m["record"] + (f" turn {m['turn'] + 1}" if m["turn"] is not None
                                           else "") for m in c["members"])
        click.echo(f"cluster {c['cluster']} ({c['level']}, {how}): {members}", err=True)
    if len(clusters) > len(shown):
        click.echo(f"… {len(clusters) - len(shown)} more clusters (--verbose lists all)",
                   err=True)
    if as_json:
        click.echo(json.dumps({"file": str(result.path), "threshold": result.threshold,
                               "records": result.records, "clusters": clusters},
                              ensure_ascii=False, indent=2))
        click.echo(result.line(), err=True)
    else:
        click.echo(result.line())
