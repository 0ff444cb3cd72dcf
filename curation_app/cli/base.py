"""What every command shares: the click group, the acting user, the database handle, and the
one place where errors become an ``Error: …`` line and an exit code."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from curation_app import __version__
from curation_app.errors import CurationError, ImportRefusedError, RecordProblem
from curation_app.services.permissions import Actor, UserRole
from curation_app.store.location import database_url, redact

if TYPE_CHECKING:  # SQLAlchemy loads only in the commands that open the database
    from curation_app.services.context import AppContext

FORMATS = ("peconv", "extes", "esconv", "jsonl")
STATUSES = ("draft", "in_progress", "submitted", "approved", "returned", "discarded")
DETAIL_LIMIT = 20

F = TypeVar("F", bound=Callable[..., Any])


def cli_actor() -> Actor:
    """Whoever runs the CLI has shell access to the data, so acts as a lead."""
    return Actor(os.environ.get("CURATION_USER") or os.environ.get("USER") or "cli",
                 UserRole.LEAD)


def open_context(require_schema: bool = True) -> AppContext:
    from curation_app.services.context import AppContext
    from curation_app.store.db import is_up_to_date

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


def plan_options(concurrency_default: int | None, concurrency_help: str) -> Callable[[F], F]:
    """The options that plan a generation job, shared by ``generate`` and ``queue`` (they
    differ only in what ``--concurrency`` means there, so each gives its own)."""
    options = [
        click.option("--project", help="The project to generate drafts for."),
        click.option("--topic", "topics", multiple=True,
                     help="A topic/scenario (repeatable)."),
        click.option("--all-topics", is_flag=True, help="Every topic of the project."),
        click.option("--fill-targets", is_flag=True,
                     help="As many drafts per topic as its target still lacks."),
        click.option("--emotion", help="The emotion label for every draft (default: rotate)."),
        click.option("-n", "n", type=int,
                     help="Drafts per topic (with --fill-targets: at most N)."),
        click.option("--concurrency", type=int, default=concurrency_default,
                     show_default=concurrency_default is not None, help=concurrency_help),
        click.option("--budget-usd", type=float, help="Stop starting calls before this cost."),
        click.option("--model", help="Model name (default: the project's, else gpt-4o-mini)."),
        click.option("--template",
                     help="Prompt template name in prompts/ (default: the preset's)."),
        click.option("--turns", type=int, help="Target number of turns per dialogue."),
        click.option("--temperature", type=float,
                     help="Sampling temperature (default: the project's setting)."),
        click.option("--top-p", "top_p", type=float,
                     help="Top-p (default: the project's setting)."),
    ]

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def print_problems(kind: str, problems: Sequence[RecordProblem], *, verbose: bool) -> None:
    shown = problems if verbose else problems[:DETAIL_LIMIT]
    for problem in shown:
        click.echo(f"{kind}: {problem}", err=True)
    if len(problems) > len(shown):
        click.echo(f"{kind}: … {len(problems) - len(shown)} more (use --verbose to list all)",
                   err=True)


class LazyGroup(click.Group):
    """A group whose commands are imported when one is run, not when the program starts.

    ``lazy`` maps a command's name to (the module that defines it, its one-line help), so that
    ``curation --help`` lists every command without importing any of them (each module pulls in
    SQLAlchemy, the OpenAI SDK or pandas). A module registers its commands on ``main`` as it is
    imported; commands registered by a module imported eagerly work as well. Reading
    ``commands`` (the docs tests, shell completion) imports every module.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        self._registered: dict[str, click.Command] = {}
        self.lazy: dict[str, tuple[str, str]] = {}
        self._loaded: set[str] = set()
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        for name in list(self.lazy):
            self._load(name)
        return self._registered

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._registered = dict(value)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._registered[name] = cmd

    def _load(self, name: str) -> click.Command | None:
        if name in self.lazy and name not in self._loaded:
            # A group may gain sub-commands from several modules (``projects``: data, drafts,
            # ops): the first module defines it, the others add to it.
            first, *more = self.lazy[name][0].split(",")
            importlib.import_module(first)
            if name not in self._registered:
                raise RuntimeError(f"{first} does not define command {name!r}")
            for module in more:
                importlib.import_module(module)
            self._loaded.add(name)
        return self._registered.get(name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self._registered) | set(self.lazy))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        rows = []
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        for name in names:
            cmd = self._registered.get(name)
            if cmd is not None:
                if cmd.hidden:
                    continue
                rows.append((name, cmd.get_short_help_str(limit)))
            else:
                rows.append((name, click.utils.make_default_short_help(self.lazy[name][1],
                                                                       limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="curation")
def main() -> None:
    """Curate emotional-support dialogue datasets (PECONV, ExTES, ESConv).

    The database is $CURATION_DATABASE_URL, or a SQLite file in $CURATION_DATA_DIR
    (default ~/.local/share/curation-app).
    """
    # The batch commands (check, export, stats, release, dedup) build hundreds of thousands
    # of small objects that hold no cycles; with the default threshold (700) the collector
    # walks the growing heap again and again: about a quarter of their CPU time at 11k.
    gc.set_threshold(50_000, 20, 100)
