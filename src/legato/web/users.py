"""Users of the control tower: create them with a checked name, role and password, and check a
sign-in. The CLI (``legato user``) and the demo call these; the store only sees hashes."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import Engine

from legato.domain.errors import FieldIssue, ValidationFailed
from legato.store import users as store
from legato.store.users import User
from legato.web.passwords import check_policy, dummy_hash, hash_password, verify_password
from legato.web.permissions import ROLES

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
DEMO_USERNAME = "demo"


def normalise_username(username: str) -> str:
    return username.strip().lower()


def _check(username: str | None = None, role: str | None = None) -> None:
    issues = []
    if username is not None and not USERNAME.match(username):
        msg = (
            "2 to 64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
        issues.append(FieldIssue("username", msg, "invalid", username))
    if role is not None and role not in ROLES:
        issues.append(FieldIssue("role", f"choose one of {', '.join(ROLES)}", "invalid_role", role))
    if issues:
        raise ValidationFailed(issues[0].message if len(issues) == 1 else "invalid user", issues=issues)


def create_user(
    engine: Engine, username: str, role: str, password: str, display_name: str | None = None
) -> User:
    """A new user; ValidationFailed naming each bad field, DuplicateKey if the name is taken."""
    name = normalise_username(username)
    _check(name, role)
    check_policy(password)
    return store.add_user(engine, name, role, hash_password(password), (display_name or "").strip() or None)


def change_password(engine: Engine, username: str, password: str) -> User:
    """A new password; every session of the user ends."""
    check_policy(password)
    return store.set_password(engine, normalise_username(username), hash_password(password))


def change_role(engine: Engine, username: str, role: str) -> User:
    _check(role=role)
    return store.set_role(engine, normalise_username(username), role)


def set_active(engine: Engine, username: str, active: bool) -> User:
    return store.set_active(engine, normalise_username(username), active)


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The active user with this name and password, else None. An unknown name costs the same
    hashing as a wrong password, so timing does not tell which names exist."""
    found = store.credentials(engine, normalise_username(username)) if username else None
    if found is None:
        verify_password(password, dummy_hash())
        return None
    user, stored = found
    if not verify_password(password, stored) or not user.active:
        return None
    return user


def ensure_demo_admin(engine: Engine) -> tuple[str, str]:
    """The demo's admin user, with a fresh random password each time the demo is loaded (like
    its API key): returns (username, password) to print once."""
    password = secrets.token_urlsafe(12)
    if store.credentials(engine, DEMO_USERNAME) is None:
        store.add_user(engine, DEMO_USERNAME, "admin", hash_password(password), "Demo admin")
    else:
        store.set_password(engine, DEMO_USERNAME, hash_password(password))
        store.set_role(engine, DEMO_USERNAME, "admin")
        store.set_active(engine, DEMO_USERNAME, True)
    return DEMO_USERNAME, password


__all__ = [
    "DEMO_USERNAME",
    "USERNAME",
    "authenticate",
    "change_password",
    "change_role",
    "create_user",
    "ensure_demo_admin",
    "normalise_username",
    "set_active",
]
