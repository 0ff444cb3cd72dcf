"""``curation info``: kept apart from the other commands so that it loads no database driver."""

from __future__ import annotations

import click

from curation_app.cli.base import handle_errors, main
from curation_app.store.location import data_dir, database_url, redact


@main.command()
@handle_errors
def info() -> None:
    """Show where the data lives and which database is in use."""
    click.echo(f"database: {redact(database_url())}")
    click.echo(f"data directory: {data_dir()}")
