"""Commands for releases and statistics: release (build, verify, diff) and stats."""

from __future__ import annotations

import json
import sys

import click

from curation_app.cli.base import STATUSES, cli_actor, handle_errors, main, open_context
from curation_app.errors import CurationError

# The services (pandas, pyarrow) are imported inside the commands: every other command, and
# `curation --help`, starts without them.
DEFAULT_OUT = "exports"


@main.group("release", invoke_without_command=True)
@click.option("--project", help="The project to release.")
@click.option("--version", "version", help="The release version, X.Y.Z (written once).")
@click.option("--out", default=DEFAULT_OUT, show_default=True,
              type=click.Path(file_okay=False),
              help="Folder under which <project>/<version>/ is written.")
@click.option("--splits", "ratios", default="0.8,0.1,0.1", show_default=True,
              help="Train, validation and test shares.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the split order (same selection and seed -> same split).")
@click.option("--include-status", "statuses", multiple=True,
              type=click.Choice([s for s in STATUSES if s != "discarded"]),
              help="Statuses to release (repeatable). Default: approved.")
@click.option("--license", "license_id",
              help="License id for the dataset card (e.g. cc-by-4.0; default: the project's "
              "settings, else 'other').")
@click.pass_context
@handle_errors
def release(click_ctx: click.Context, project: str | None, version: str | None, out: str,
            ratios: str, seed: int, statuses: tuple[str, ...], license_id: str | None) -> None:
    """Build a versioned release of a project (or: release verify DIR, release diff A B)."""
    if click_ctx.invoked_subcommand is not None:
        return
    from curation_app.services import release as release_services

    if not project or not version:
        raise CurationError("name the project and the version: curation release --project NAME "
                            "--version X.Y.Z")
    ctx = open_context()

    def progress(stage: str, number: int, total: int) -> None:
        click.echo(f"[{number}/{total}] {stage}", err=True)

    try:
        summary = release_services.build_release(
            ctx, cli_actor(), project, version, out=out, ratios=ratios, seed=seed,
            statuses=list(statuses) or None, license_id=license_id, on_progress=progress)
    finally:
        ctx.close()
    click.echo(summary.line())


@release.command("verify")
@click.argument("folder", type=click.Path(file_okay=False))
@handle_errors
def release_verify(folder: str) -> None:
    """Re-check every file hash and schema of the release in FOLDER."""
    from curation_app.services import release as release_services

    result = release_services.verify_release(folder)
    for problem in result.problems:
        click.echo(f"problem: {problem}", err=True)
    click.echo(result.line())
    if not result.ok:
        sys.exit(1)


@release.command("diff")
@click.argument("a", type=click.Path(file_okay=False))
@click.argument("b", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the ids as JSON.")
@handle_errors
def release_diff(a: str, b: str, as_json: bool) -> None:
    """Dialogues added, removed and changed from release A to release B."""
    from curation_app.services import release as release_services

    result = release_services.diff_releases(a, b)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    for name in ("added", "removed", "changed", "moved"):
        ids = getattr(result, name)
        if ids:
            shown = ", ".join(ids[:30]) + (f" … {len(ids) - 30} more" if len(ids) > 30 else "")
            click.echo(f"{name}: {shown}", err=True)
    click.echo(result.line())


@main.command("stats")
@click.option("--project", help="The project (its approved dialogues, one per overlap group).")
@click.option("--release", "release_dir", type=click.Path(file_okay=False),
              help="A release folder instead of the project's database.")
@click.option("--json", "as_json", is_flag=True, help="Print every table as JSON.")
@handle_errors
def stats(project: str | None, release_dir: str | None, as_json: bool) -> None:
    """Statistics as in the ExTES paper: sizes, topics, strategies, phases, transitions."""
    from curation_app.services import stats as stats_services
    from curation_app.stats import markdown_table

    if bool(project) == bool(release_dir):
        raise CurationError("name either --project NAME or --release DIR")
    if release_dir:
        result = stats_services.release_stats(release_dir)
    else:
        ctx = open_context()
        try:
            result = stats_services.project_stats(ctx, cli_actor(), project or "")
        finally:
            ctx.close()
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=str))
        return
    c = result.corpus
    sections = [(f"{result.name}", c.overview), ("utterance length per role", c.lengths),
                ("topics", c.topics), ("emotions", c.emotions), ("strategies", c.strategies)]
    for title, frame in sections:
        click.echo(f"## {title}\n{markdown_table(frame)}\n")
    click.echo(f"## strategy shares (%) per phase\n{markdown_table(c.phases, index=True)}\n")
    click.echo(f"## top strategy transitions (per mille)\n{markdown_table(c.transitions)}\n")
    if result.changes is not None:
        click.echo(f"## how much people changed the drafts\n"
                   f"{markdown_table(result.changes.table())}\n")
    if len(result.progress):
        click.echo(f"## progress against targets\n{markdown_table(result.progress)}")
