"""API keys (stored hashed) and Idempotency-Key records.

A key reads ``lgt_<prefix>_<secret>``. The prefix finds the row; the secret is
compared as a SHA-256 digest in constant time. Keys are 32 random bytes, so a fast
hash is the right tool here (no password stretching is needed for random secrets).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from legato.store import tables as t
from legato.store.db import READ_ONLY

#: What each scope allows; ``admin`` implies every other scope.
SCOPES = {
    "orders:read": "read orders, quotes and the catalogue",
    "orders:write": "create and move orders and quotes (implies orders:read)",
    "catalog:write": "create and change products, accounts and pricelists",
    "workflows:write": "create, change, enable and disable workflows (implies orders:read)",
    "approver": "accept or reject approval requests (implies orders:read)",
    "fulfilment:write": "a warehouse, 3PL or supplier: post fulfilment orders' events, hold, release and "
    "cancel them; receive, adjust and return stock (implies orders:read)",
    "admin": "everything, including channels (with their secrets)",
}
IMPLIES = {
    "admin": set(SCOPES),
    "orders:write": {"orders:read"},
    "catalog:write": {"orders:read"},
    "workflows:write": {"orders:read"},
    "approver": {"orders:read"},
    "fulfilment:write": {"orders:read"},
}


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return any(scope == s or scope in IMPLIES.get(s, ()) for s in self.scopes)

    @property
    def actor(self) -> str:
        return f"apikey:{self.name}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(engine: Engine, name: str, scopes: list[str]) -> str:
    """Create a key and return it in full: the only time the secret is ever shown."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"unknown scopes {unknown}; choose from {', '.join(SCOPES)}")
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            insert(t.api_keys).values(
                name=name,
                prefix=prefix,
                secret_hash=_digest(secret),
                scopes=sorted(set(scopes)),
                created_at=datetime.now(UTC),
            )
        )
    return f"lgt_{prefix}_{secret}"


_revocations = 0


def revocation_epoch() -> int:
    """Grows with every revocation in this process: caches of verified keys watch it."""
    return _revocations


def revoke_keys(engine: Engine, name: str) -> int:
    global _revocations
    _revocations += 1
    with engine.begin() as conn:
        return conn.execute(
            update(t.api_keys)
            .where(t.api_keys.c.name == name, t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        ).rowcount


def authenticate(engine: Engine, presented: str) -> ApiKey | None:
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != "lgt" or not parts[1] or not parts[2]:
        return None
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        r = conn.execute(select(t.api_keys).where(t.api_keys.c.prefix == parts[1][:16])).first()
    if r is None or r.revoked_at is not None:
        return None
    if not hmac.compare_digest(r.secret_hash, _digest(parts[2])):
        return None
    return ApiKey(r.id, r.name, frozenset(r.scopes))


# --- Idempotency-Key ---------------------------------------------------------------

#: A first request that never finished (the process died) frees its key after this.
STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Replay:
    state: str  # "new" (go ahead), "replay" (answer with the stored response), "mismatch", "in_flight"
    status_code: int | None = None
    body: str | None = None
    record_id: int | None = None


def begin_idempotent(
    engine: Engine, api_key_id: int, key: str, method: str, path: str, body: bytes
) -> Replay:
    """Claim ``key`` for this request, or say how to answer a repeat of it."""
    h = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()
    now = datetime.now(UTC)
    ik = t.idempotency_keys
    for _ in range(2):
        try:
            with engine.begin() as conn:
                rid = conn.execute(
                    insert(ik)
                    .values(
                        api_key_id=api_key_id,
                        key=key,
                        method=method,
                        path=path,
                        request_hash=h,
                        created_at=now,
                    )
                    .returning(ik.c.id)
                ).scalar_one()
            return Replay("new", record_id=rid)
        except IntegrityError:
            pass
        with engine.begin() as conn:
            r = conn.execute(select(ik).where(ik.c.api_key_id == api_key_id, ik.c.key == key)).first()
            if r is None:
                continue
            if r.request_hash != h:
                return Replay("mismatch")
            if r.status_code is not None:
                return Replay("replay", r.status_code, r.response_body)
            if now - r.created_at > STALE_AFTER:
                conn.execute(ik.delete().where(ik.c.id == r.id))
                continue
            return Replay("in_flight")
    return Replay("in_flight")


def finish_idempotent(engine: Engine, record_id: int, status_code: int, body: str) -> None:
    ik = t.idempotency_keys
    with engine.begin() as conn:
        if status_code >= 500:  # a server failure is not an answer: let the client retry
            conn.execute(ik.delete().where(ik.c.id == record_id))
        else:
            conn.execute(
                update(ik).where(ik.c.id == record_id).values(status_code=status_code, response_body=body)
            )
