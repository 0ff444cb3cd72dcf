"""The audit log: who did what and when (sign-ins, failed ones too; account and role changes;
submissions, reviews and discards; exports; backups and restores). Leads read it."""

from __future__ import annotations

from datetime import datetime

from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, require
from curation_app.store.security_repository import AuditEvent


def events(ctx: AppContext, actor: Actor, *, user: str | None = None,
           action: str | None = None, since: datetime | None = None,
           limit: int = 500) -> list[AuditEvent]:
    """The newest events first, filtered by who did them and by kind (a prefix: ``sign_in``
    matches ``sign_in.failed`` too)."""
    require(actor, "audit.read")
    with ctx.uow() as uow:
        return uow.security.events(actor=user or None, action=action or None, since=since,
                                   limit=max(1, limit))
