"""Commands for keeping the data safe: backup, restore, account changes, the audit log."""

from __future__ import annotations

import json

import click

from curation_app.cli.base import cli_actor, handle_errors, main, open_context
from curation_app.cli.data import projects as projects_group
from curation_app.cli.team import users_group
from curation_app.errors import InvalidInputError
from curation_app.services import audit as audit_services
from curation_app.services import backup as backup_services
from curation_app.services import projects as project_services
from curation_app.services import users as user_services
from curation_app.services.permissions import UserRole


@main.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@handle_errors
def backup(out: str, overwrite: bool) -> None:
    """Write a consistent backup of the whole database to OUT (a JSON Lines dump)."""
    ctx = open_context()
    try:
        summary = backup_services.backup(ctx, cli_actor(), out, overwrite=overwrite)
    finally:
        ctx.close()
    click.echo(summary.line())


@main.command()
@click.argument("backup_file", type=click.Path(dir_okay=False))
@handle_errors
def restore(backup_file: str) -> None:
    """Restore BACKUP_FILE into the (empty) database; creates its tables first."""
    ctx = open_context(require_schema=False)
    try:
        summary = backup_services.restore(ctx, cli_actor(), backup_file)
    finally:
        ctx.close()
    click.echo(summary.line())


@users_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice([r.value for r in UserRole]), required=False)
@click.option("--project", help="Set the role in this project only (the account's role holds "
                                "in the others).")
@click.option("--clear", is_flag=True,
              help="With --project: take away the project's role; the account's applies.")
@handle_errors
def users_role(name: str, role: str | None, project: str | None, clear: bool) -> None:
    """Give user NAME another ROLE (in one project with --project); their open sessions end."""
    if clear and (project is None or role is not None):
        raise InvalidInputError("--clear takes --project and no ROLE")
    if not clear and role is None:
        raise InvalidInputError("name the ROLE (or --clear a project's role)")
    ctx = open_context()
    try:
        if project is None:
            user_services.set_role(ctx, cli_actor(), name, str(role))
        else:
            old = user_services.set_project_role(ctx, cli_actor(), name, project, role)
    finally:
        ctx.close()
    if project is None:
        click.echo(f"{name} is now {role}; their sessions ended")
    elif clear and old is None:
        click.echo(f"{name} had no role of their own in {project}; nothing changed")
    elif clear:
        click.echo(f"{name} is no longer {old} in {project} (their account's role applies "
                   "there); their sessions ended")
    elif old == role:
        click.echo(f"{name} is already {role} in {project}")
    else:
        click.echo(f"{name} is now {role} in {project}; their sessions ended")


@users_group.command("remove")
@click.argument("name")
@handle_errors
def users_remove(name: str) -> None:
    """Remove user NAME; their sessions end (their revisions and events stay)."""
    ctx = open_context()
    try:
        user_services.delete_user(ctx, cli_actor(), name)
    finally:
        ctx.close()
    click.echo(f"removed user {name}")


@main.command()
@click.option("--user", help="Only what this user did.")
@click.option("--action", help="Only this kind of event (a prefix: sign_in, user, backup …).")
@click.option("--limit", type=int, default=50, show_default=True, help="Newest N events.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines.")
@handle_errors
def audit(user: str | None, action: str | None, limit: int, as_json: bool) -> None:
    """Show the audit log, newest first: sign-ins, account changes, reviews, exports, backups."""
    ctx = open_context()
    try:
        events = audit_services.events(ctx, cli_actor(), user=user, action=action, limit=limit)
    finally:
        ctx.close()
    for e in events:
        if as_json:
            click.echo(json.dumps({"at": e.created_at.isoformat(), "user": e.actor,
                                   "action": e.action, "target": e.target,
                                   "address": e.address, "detail": e.detail},
                                  ensure_ascii=False))
        else:
            detail = " ".join(f"{k}={v}" for k, v in e.detail.items())
            click.echo("\t".join([e.created_at.strftime("%Y-%m-%d %H:%M:%S"), e.actor or "-",
                                  e.action, e.target or "", detail]).rstrip())


@projects_group.command("access")
@click.argument("name")
@click.option("--annotators-read", type=click.Choice(["own", "all"]), required=True,
              help="own: their dialogues and unassigned drafts (the default); all: every "
                   "dialogue of the project (editing stays limited to their own).")
@handle_errors
def projects_access(name: str, annotators_read: str) -> None:
    """Set what annotators of project NAME may read."""
    ctx = open_context()
    try:
        project_services.set_annotator_reading(ctx.uow(), cli_actor(), name,
                                               read_all=annotators_read == "all")
    finally:
        ctx.close()
    click.echo(f"annotators of {name} now read "
               + ("every dialogue" if annotators_read == "all"
                  else "their own dialogues and unassigned drafts"))
