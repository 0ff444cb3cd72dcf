"""Commands for the people and the app: users, assign, progress, serve."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import click

from curation_app.cli.base import (
    cli_actor,
    handle_errors,
    main,
    open_context,
)
from curation_app.services import users as user_services
from curation_app.services import workflow
from curation_app.services.permissions import UserRole
from curation_app.store.db import database_url, redact


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
    ctx = open_context()
    try:
        record = user_services.add_user(ctx, cli_actor(), name, role, password)
    finally:
        ctx.close()
    how = "no password (identity provider only)" if password is None else "a password"
    click.echo(f"added user {record.name} ({record.role}) with {how}")


@users_group.command("list")
@handle_errors
def users_list() -> None:
    """List users, their roles, and the roles set for them per project."""
    ctx = open_context()
    try:
        found = user_services.list_users(ctx, cli_actor())
        per_project = user_services.project_roles(ctx, cli_actor())
    finally:
        ctx.close()
    if not found:
        click.echo("no users (add one with `curation users add NAME --role lead`)")
    elsewhere: dict[str, list[str]] = {}
    for grant in per_project:
        elsewhere.setdefault(grant.user, []).append(f"{grant.role} in {grant.project}")
    for u in found:
        line = f"{u.name}\t{u.role}\t{'password' if u.password_hash else 'OIDC only'}"
        # roles set per project, where any: a fourth column
        click.echo(line + (f"\t{', '.join(elsewhere[u.name])}" if u.name in elsewhere else ""))


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
    ctx = open_context()
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
    ctx = open_context()
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
@click.option("--worker/--no-worker", "with_worker", default=True, show_default=True,
              help="Also start one generation worker (`curation worker`) beside the app.")
@handle_errors
def serve(port: int, address: str, headless: bool, with_worker: bool) -> None:
    """Start the web app on the configured database."""
    app = Path(__file__).resolve().parents[1] / "ui" / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
           "--server.address", address, "--server.headless", str(headless).lower(),
           "--browser.gatherUsageStats", "false",
           # Streamlit's developer toolbar ("Deploy", rerun settings) is noise for annotators.
           "--client.toolbarMode", "minimal",
           # An unexpected exception shows its type only: no traceback with server paths and
           # no message quoting data in the browser (the server log has the details).
           "--client.showErrorDetails", "type"]
    click.echo(f"serving on http://{address}:{port} (database {redact(database_url())})")
    sys.stdout.flush()
    if with_worker:
        # Batch jobs run here, not in the web server: the worker outlives a page reload and,
        # given this pid (Streamlit's once exec'd), stops when the server does.
        import subprocess

        subprocess.Popen([sys.executable, "-m", "curation_app", "worker",
                          "--parent-pid", str(os.getpid())])
    # Become Streamlit rather than wait on it, so that a SIGTERM or Ctrl-C reaches the server
    # itself and stopping `curation serve` leaves nothing running behind.
    os.execv(sys.executable, cmd)
