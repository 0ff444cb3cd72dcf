"""What every command shares: the click group, the acting user, the database handle, and the
one place where errors become an ``Error: …`` line and an exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

import click

from curation_app import __version__
from curation_app.errors import CurationError, ImportRefusedError, RecordProblem
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole
from curation_app.store.db import database_url, is_up_to_date, redact

FORMATS = ("peconv", "extes", "esconv", "jsonl")
STATUSES = ("draft", "in_progress", "submitted", "approved", "returned", "discarded")
DETAIL_LIMIT = 20

F = TypeVar("F", bound=Callable[..., Any])


def cli_actor() -> Actor:
    """Whoever runs the CLI has shell access to the data, so acts as a lead."""
    return Actor(os.environ.get("CURATION_USER") or os.environ.get("USER") or "cli",
                 UserRole.LEAD)


def open_context(require_schema: bool = True) -> AppContext:
    ctx = AppContext.from_url()
    try:
        ready = not require_schema or is_up_to_date(ctx.engine)
    except CurationError:  # unreadable (a full disk, unreachable): the true cause, not "init"
        ctx.close()
        raise
    if not ready:
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
            print_problems("refused", exc.problems, verbose=kwargs.get("verbose", False))
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


def print_problems(kind: str, problems: Sequence[RecordProblem], *, verbose: bool) -> None:
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
