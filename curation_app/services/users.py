"""Accounts: create users with a role, check passwords, map identity-provider sign-ins.

Passwords are hashed with Argon2id (argon2-cffi's defaults); the hash is the only thing stored.

Every actor made here is *bound* (see :mod:`curation_app.services.permissions`): services check
the account's current role and session version on each call. Sign-in is throttled: after
:data:`ACCOUNT_FAILURES` failed attempts on one account, or :data:`ADDRESS_FAILURES` from one
network address, within :data:`WINDOW` (counted since the account's last successful sign-in or
password change), further attempts are refused, the right password included, until the window
has passed. Every attempt, refused ones included, goes to the audit log.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from curation_app.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole, bind_source, require, role_in
from curation_app.store.repository import UserRecord
from curation_app.store.security_repository import Account, ProjectRole
from curation_app.store.uow import UnitOfWork

MIN_PASSWORD = 8
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
WINDOW = timedelta(minutes=15)
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """What a password is verified against when the user does not exist, so that "no such
    user" and "wrong password" take alike long and sign-in does not reveal which names exist.
    Made on first need, not at import: every CLI command imports this module, and hashing
    costs a tenth of a second that an export or a check has no use for."""
    return _hasher.hash("not-a-real-password")


def _role(value: str) -> UserRole:
    try:
        return UserRole(value)
    except ValueError:
        choices = ", ".join(r.value for r in UserRole)
        raise InvalidInputError(f"unknown role {value!r}; choose one of {choices}") from None


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"a password needs at least {MIN_PASSWORD} characters")


def add_user(ctx: AppContext, actor: Actor, name: str, role: str,
             password: str | None) -> UserRecord:
    """Create an account. ``password`` None makes an account that can only sign in by OIDC."""
    require(actor, "user.manage")
    name = name.strip()
    if not name:
        raise InvalidInputError("a user needs a non-empty name")
    checked_role = _role(role)
    if password is not None:
        _check_password(password)
    with ctx.uow() as uow:
        record = uow.repo.add_user(name, str(checked_role),
                                   _hasher.hash(password) if password is not None else None)
        uow.security.audit("user.add", actor.name, name, detail={"role": str(checked_role)})
        uow.commit()
    return record


def list_users(ctx: AppContext, actor: Actor) -> list[UserRecord]:
    require(actor, "user.manage")
    with ctx.uow() as uow:
        return uow.repo.list_users()


def _bound(ctx: AppContext, account: Account) -> Actor:
    return Actor(account.name, UserRole(account.role), account.id, account.session_version,
                 bind_source(ctx.factory))


def get_actor(ctx: AppContext, name: str) -> Actor:
    with ctx.uow() as uow:
        return _bound(ctx, uow.security.account(name))


def actor_for_session(ctx: AppContext, user_id: int, session_version: int) -> Actor | None:
    """The actor of a sign-in token's account, if that account still exists and the token's
    session is still its current one (no sign-out, password or role change since)."""
    with ctx.uow() as uow:
        account = uow.security.account_by_id(user_id)
    if account is None or account.session_version != session_version:
        return None
    return _bound(ctx, account)


def is_current(ctx: AppContext, actor: Actor) -> bool:
    """Whether a bound actor's account, role and session are unchanged (unbound: True)."""
    if actor.user_id is None:
        return True
    current = actor_for_session(ctx, actor.user_id, actor.session_version or 0)
    return current is not None and current.role == actor.role and current.name == actor.name


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _throttled(uow: UnitOfWork, name: str, address: str | None, now: datetime) -> str | None:
    since = now - WINDOW
    reset = _aware(uow.security.last_event(["sign_in", "user.password"], name))
    account_since = max(since, reset) if reset is not None else since
    if uow.security.count_events("sign_in.failed", account_since,
                                 target=name) >= ACCOUNT_FAILURES:
        return (f"too many failed sign-ins for {name!r}; wait {WINDOW.seconds // 60} minutes "
                "or ask a lead to set a new password")
    if address and uow.security.count_events("sign_in.failed", since,
                                             address=address) >= ADDRESS_FAILURES:
        return (f"too many failed sign-ins from this address; wait {WINDOW.seconds // 60} "
                "minutes")
    return None


def authenticate(ctx: AppContext, name: str, password: str, *, address: str | None = None,
                 now: datetime | None = None) -> Actor:
    """The user behind a name and password; one message for every kind of failure, another
    (naming the wait) while sign-in is throttled."""
    name = name.strip()
    now = now or datetime.now(UTC)
    # Made before the user is looked up, so the first sign-in of a process pays for it
    # whether or not the name exists.
    dummy = _dummy_hash()
    with ctx.uow() as uow:
        refused = _throttled(uow, name, address, now)
        if refused:
            uow.security.audit("sign_in.refused", name, name, address=address, at=now)
            uow.commit()
            raise AuthenticationError(refused)
        try:
            user: UserRecord | None = uow.repo.get_user(name)
        except NotFoundError:
            user = None
    stored = user.password_hash if user and user.password_hash else dummy
    try:
        _hasher.verify(stored, password)
        ok = user is not None and user.password_hash is not None
    except (VerificationError, InvalidHashError):
        ok = False
    with ctx.uow() as uow:
        uow.security.audit("sign_in" if ok else "sign_in.failed", name, name, address=address,
                           at=now)
        uow.commit()
    if not ok or user is None:
        raise AuthenticationError("wrong user name or password")
    return get_actor(ctx, user.name)


def set_password(ctx: AppContext, actor: Actor, name: str, password: str) -> None:
    """Leads may set anyone's password; everyone may set their own. Every sign-in of the
    account ends (its other sessions must sign in again with the new password)."""
    if actor.name != name:
        require(actor, "user.manage")
    else:
        require(actor, "dialogue.read")  # any current account; refuses stale actors
    _check_password(password)
    with ctx.uow() as uow:
        uow.repo.get_user(name)
        uow.repo.set_password_hash(name, _hasher.hash(password))
        uow.security.bump_session(name)
        uow.security.audit("user.password", actor.name, name)
        uow.commit()


def set_role(ctx: AppContext, actor: Actor, name: str, role: str) -> None:
    """Change a user's role (leads). The user's sign-ins end: they sign in again with it."""
    require(actor, "user.manage")
    checked = _role(role)
    with ctx.uow() as uow:
        old = uow.security.account(name).role
        uow.security.set_role(name, str(checked))
        uow.security.bump_session(name)
        uow.security.audit("user.role", actor.name, name, detail={"from": old,
                                                                  "to": str(checked)})
        uow.commit()


def set_project_role(ctx: AppContext, actor: Actor, name: str, project: str,
                     role: str | None) -> str | None:
    """Give user ``name`` another role in ``project`` than their account's (leads), or with
    ``role`` None take it away (the account's role applies there again). Returns the role
    they had in the project before (None: the account's). A change ends the user's sign-ins,
    like an account role change, and goes to the audit log."""
    require(actor, "user.manage")
    checked = None if role is None else _role(role)
    with ctx.uow() as uow:
        account = uow.security.account(name)
        record = uow.repo.get_project(project)
        old = uow.security.project_role(account.id, record.id)
        if checked is None:
            uow.security.clear_project_role(account.id, record.id)
        else:
            uow.security.set_project_role(account.id, record.id, str(checked), actor.name)
        if old != (None if checked is None else str(checked)):
            uow.security.bump_session(name)
            uow.security.audit("user.project_role", actor.name, name,
                               detail={"project": project, "from": old,
                                       "to": None if checked is None else str(checked)})
        uow.commit()
    return old


def project_roles(ctx: AppContext, actor: Actor, name: str | None = None) -> list[ProjectRole]:
    """The roles set per project (every user's, or ``name``'s), by user then project (leads)."""
    require(actor, "user.manage")
    with ctx.uow() as uow:
        return uow.security.project_roles(name)


def people_in(ctx: AppContext, actor: Actor, project: str,
              action: str) -> list[tuple[str, UserRole]]:
    """Every user with their role in ``project``, for someone who may do ``action`` there (a
    lead of the project hands out work or picks raters without managing accounts)."""
    require(actor, action, project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        return [(name, UserRole(role)) for name, role in uow.security.roles_in(record.id)]


def role_in_project(actor: Actor, project: str | None) -> UserRole:
    """The role the actor acts with in ``project`` (their role set there, else their account's);
    what the app's page list follows. A stale actor is refused (AuthenticationError)."""
    return role_in(actor, project)


def delete_user(ctx: AppContext, actor: Actor, name: str) -> None:
    """Remove an account (leads). Its sign-ins end; a new account of the same name is another
    account (another id), so nothing issued to the old one works for it."""
    require(actor, "user.manage")
    if name == actor.name:
        raise InvalidInputError("you cannot remove your own account; ask another lead")
    with ctx.uow() as uow:
        old = uow.security.account(name)
        uow.security.delete_user(name)
        uow.security.audit("user.delete", actor.name, name, detail={"role": old.role})
        uow.commit()


def sign_out(ctx: AppContext, actor: Actor) -> None:
    """End every sign-in of the actor's account: a copied cookie stops working too."""
    if actor.user_id is None:
        return
    with ctx.uow() as uow:
        account = uow.security.account_by_id(actor.user_id)
        if account is not None and account.name == actor.name:
            uow.security.bump_session(actor.name)
            uow.security.audit("sign_out", actor.name, actor.name)
            uow.commit()


def actor_for_identity(ctx: AppContext, email: str | None, name: str | None) -> Actor:
    """Map an identity-provider sign-in onto a user: by e-mail, then its local part, then name.

    Unknown identities are refused, unless ``CURATION_OIDC_DEFAULT_ROLE`` names a role for
    them, in which case an account without a password is created on first sign-in.
    """
    candidates = [c for c in (email, email.split("@")[0] if email else None, name) if c]
    with ctx.uow() as uow:
        for candidate in candidates:
            try:
                return _bound(ctx, uow.security.account(candidate))
            except NotFoundError:
                continue
        default_role = os.environ.get("CURATION_OIDC_DEFAULT_ROLE")
        if not default_role or not candidates:
            raise PermissionDeniedError(
                f"{email or name or 'this identity'} has no account here; ask a lead to add "
                "one with `curation users add`")
        created = uow.repo.add_user(candidates[0], str(_role(default_role)), None)
        uow.security.audit("user.add", "oidc", created.name, detail={"role": created.role})
        uow.commit()
    return get_actor(ctx, created.name)
