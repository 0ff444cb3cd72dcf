"""``curation dedup FILE``: duplicates in a file, outside any project.

A module of its own so that the command loads neither the database layer nor SQLAlchemy: it
reads a file and nothing else (about a second of start-up saved on every run).
"""

from __future__ import annotations

import json

import click

from curation_app.cli.base import DETAIL_LIMIT, FORMATS, handle_errors, main
from curation_app.services.file_dedup import dedup_file


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
    result = dedup_file(file, fmt, threshold)
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
