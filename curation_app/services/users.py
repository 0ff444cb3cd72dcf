"""Accounts: create users with a role, check passwords, map identity-provider sign-ins.

Passwords are hashed with Argon2id (argon2-cffi's defaults); the hash is the only thing stored.
"""

from __future__ import annotations

import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from curation_app.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole, require
from curation_app.store.repository import UserRecord

MIN_PASSWORD = 8
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of "no such user" and
# "wrong password" alike, so sign-in does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


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
        uow.commit()
    return record


def list_users(ctx: AppContext, actor: Actor) -> list[UserRecord]:
    require(actor, "user.manage")
    with ctx.uow() as uow:
        return uow.repo.list_users()


def get_actor(ctx: AppContext, name: str) -> Actor:
    with ctx.uow() as uow:
        user = uow.repo.get_user(name)
    return Actor(user.name, UserRole(user.role))


def authenticate(ctx: AppContext, name: str, password: str) -> Actor:
    """The user behind a name and password; one message for every kind of failure."""
    with ctx.uow() as uow:
        try:
            user: UserRecord | None = uow.repo.get_user(name.strip())
        except NotFoundError:
            user = None
    stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
        ok = user is not None and user.password_hash is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        raise AuthenticationError("wrong user name or password")
    return Actor(user.name, UserRole(user.role))


def set_password(ctx: AppContext, actor: Actor, name: str, password: str) -> None:
    """Leads may set anyone's password; everyone may set their own."""
    if actor.name != name:
        require(actor, "user.manage")
    _check_password(password)
    with ctx.uow() as uow:
        uow.repo.get_user(name)
        uow.repo.set_password_hash(name, _hasher.hash(password))
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
                user = uow.repo.get_user(candidate)
                return Actor(user.name, UserRole(user.role))
            except NotFoundError:
                continue
        default_role = os.environ.get("CURATION_OIDC_DEFAULT_ROLE")
        if not default_role or not candidates:
            raise PermissionDeniedError(
                f"{email or name or 'this identity'} has no account here; ask a lead to add "
                "one with `curation users add`")
        created = uow.repo.add_user(candidates[0], str(_role(default_role)), None)
        uow.commit()
    return Actor(created.name, UserRole(created.role))
