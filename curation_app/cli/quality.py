"""Commands for the quality gate: check and dedup."""

from __future__ import annotations

import json

import click

from curation_app.cli.base import (
    FORMATS,
    cli_actor,
    handle_errors,
    main,
    open_context,
)
from curation_app.services import checks as check_services
from curation_app.services import projects as project_services


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
    ctx = open_context()
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
