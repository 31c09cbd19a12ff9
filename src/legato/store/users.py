"""People who sign in to the control tower, and their saved hub views.

Passwords arrive here already hashed (``legato.web.passwords``): the store never sees one.
Every change that should end a user's sessions (a new password, a new role, disabling,
signing out) bumps ``session_version``; a session cookie issued under an older version is
refused on its next request, in every process, because each request reads the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from legato.domain.errors import DuplicateKey, NotFound
from legato.store.db import write_lock
from legato.store.queries import reading
from legato.store.user_tables import saved_views as _V
from legato.store.user_tables import users as _U


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str | None
    role: str
    session_version: int
    active: bool
    last_sign_in_at: datetime | None
    created_at: datetime

    @property
    def actor(self) -> str:
        """How the user appears on timelines: ``user:alice``."""
        return f"user:{self.username}"

    @property
    def label(self) -> str:
        return self.display_name or self.username


@dataclass(frozen=True)
class SavedView:
    id: int
    name: str
    query: str


def _user(r: Any) -> User:
    return User(
        r.id, r.username, r.display_name, r.role, r.session_version, r.active, r.last_sign_in_at, r.created_at
    )


def _now() -> datetime:
    return datetime.now(UTC)


def add_user(
    engine: Engine, username: str, role: str, password_hash: str, display_name: str | None = None
) -> User:
    """Store a new user; DuplicateKey if the name is taken."""
    now = _now()
    try:
        with write_lock(engine), engine.begin() as conn:
            new_id = conn.execute(
                insert(_U)
                .values(
                    username=username, display_name=display_name, role=role, password_hash=password_hash,
                    session_version=1, active=True, created_at=now, updated_at=now,
                )
                .returning(_U.c.id)
            ).scalar_one()  # fmt: skip
    except IntegrityError:
        raise DuplicateKey(f"there is already a user {username!r}", username=username) from None
    found = get_user(engine, int(new_id))
    assert found is not None
    return found


def get_user(engine: Engine, user_id: int) -> User | None:
    with reading(engine) as conn:
        r = conn.execute(select(_U).where(_U.c.id == user_id)).first()
    return _user(r) if r is not None else None


def credentials(engine: Engine, username: str) -> tuple[User, str] | None:
    """The user and their password hash, to check a sign-in."""
    with reading(engine) as conn:
        r = conn.execute(select(_U).where(_U.c.username == username)).first()
    return (_user(r), r.password_hash) if r is not None else None


def list_users(engine: Engine) -> list[User]:
    with reading(engine) as conn:
        return [_user(r) for r in conn.execute(select(_U).order_by(_U.c.username))]


def _change(engine: Engine, username: str, **values: Any) -> User:
    """Change a user and end their sessions."""
    with write_lock(engine), engine.begin() as conn:
        done = conn.execute(
            update(_U)
            .where(_U.c.username == username)
            .values(**values, session_version=_U.c.session_version + 1, updated_at=_now())
        ).rowcount
    if not done:
        raise NotFound(f"no user {username!r}")
    found = credentials(engine, username)
    assert found is not None
    return found[0]


def set_password(engine: Engine, username: str, password_hash: str) -> User:
    return _change(engine, username, password_hash=password_hash)


def set_role(engine: Engine, username: str, role: str) -> User:
    return _change(engine, username, role=role)


def set_active(engine: Engine, username: str, active: bool) -> User:
    return _change(engine, username, active=active)


def end_sessions(engine: Engine, user_id: int) -> None:
    """Sign the user out everywhere: every cookie issued so far stops working."""
    with write_lock(engine), engine.begin() as conn:
        conn.execute(
            update(_U)
            .where(_U.c.id == user_id)
            .values(session_version=_U.c.session_version + 1, updated_at=_now())
        )


def record_sign_in(engine: Engine, user_id: int) -> None:
    with write_lock(engine), engine.begin() as conn:
        conn.execute(update(_U).where(_U.c.id == user_id).values(last_sign_in_at=_now()))


# --- saved hub views ----------------------------------------------------------------------


def list_views(engine: Engine, user_id: int) -> list[SavedView]:
    with reading(engine) as conn:
        rows = conn.execute(
            select(_V.c.id, _V.c.name, _V.c.query).where(_V.c.user_id == user_id).order_by(_V.c.name)
        )
        return [SavedView(r.id, r.name, r.query) for r in rows]


def save_view(engine: Engine, user_id: int, name: str, query: str) -> SavedView:
    """Save a view under ``name``, replacing the user's view of that name."""
    with write_lock(engine), engine.begin() as conn:
        conn.execute(delete(_V).where(_V.c.user_id == user_id, _V.c.name == name))
        new_id = conn.execute(
            insert(_V).values(user_id=user_id, name=name, query=query, created_at=_now()).returning(_V.c.id)
        ).scalar_one()
    return SavedView(int(new_id), name, query)


def delete_view(engine: Engine, user_id: int, view_id: int) -> bool:
    """Delete one of the user's views (another user's view is not theirs to delete)."""
    with write_lock(engine), engine.begin() as conn:
        return bool(conn.execute(delete(_V).where(_V.c.id == view_id, _V.c.user_id == user_id)).rowcount)


__all__ = [
    "SavedView",
    "User",
    "add_user",
    "credentials",
    "delete_view",
    "end_sessions",
    "get_user",
    "list_users",
    "list_views",
    "record_sign_in",
    "save_view",
    "set_active",
    "set_password",
    "set_role",
]
