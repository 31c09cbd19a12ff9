"""Webhook subscriptions and their delivery log (the 0011 tables).

A subscription is a URL, the event types it wants (``order.created``, ``order.*`` or ``*``)
and a signing secret in the Standard Webhooks form (``whsec_`` + base64 of 32 random bytes).
The secret is sealed with the runtime's SecretBox like channel secrets and shown once, when it
is made. Rotating keeps the previous secret for ``ROTATION_OVERLAP`` so deliveries carry both
signatures meanwhile (the spec's zero-downtime rotation).

A delivery is one event for one subscription: its ``message_id`` (the ``webhook-id`` header)
is fixed when it is queued, so every retry carries the same id. States: ``pending`` (queued),
``failed`` (the last attempt failed, another follows), ``delivered``, ``dead`` (no more
attempts). ``failures`` on the subscription counts dead deliveries since the last success.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from legato.store import jobs
from legato.store import workflow_tables as w
from legato.store.alerts import clear_alert
from legato.store.db import write_lock
from legato.store.queries import decode_cursor, encode_cursor, reading
from legato.store.secretbox import SecretBox

PENDING, FAILED, DELIVERED, DEAD = "pending", "failed", "delivered", "dead"
DELIVERY_STATES = (PENDING, FAILED, DELIVERED, DEAD)
#: how long a rotated-out secret still signs deliveries beside the new one
ROTATION_OVERLAP = timedelta(hours=24)
#: the alert raised when a subscription is disabled (one per subscription while open)
ALERT_KIND = "webhook_disabled"
JOB_KIND = "webhook"
DELIVER_ACTION = "deliver_webhook"

_S = w.webhook_subscriptions
_D = w.webhook_deliveries
_A = w.job_attempts


def new_secret() -> str:
    """A fresh signing secret as the spec serialises it: ``whsec_`` + base64 (32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def alert_subject(sub_id: int) -> str:
    return f"webhook {sub_id}"


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """``*`` matches every event, ``order.*`` every ``order.`` event, anything else itself."""
    for p in patterns:
        if p == "*" or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])):
            return True
    return False


@dataclass(frozen=True)
class Subscription:
    id: int
    url: str
    events: tuple[str, ...]
    description: str | None
    active: bool
    failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str) -> bool:
        return matches(self.events, event_type)


@dataclass(frozen=True)
class Signing:
    """The secrets that sign a delivery now: the current one, and a rotated-out one until its
    overlap ends."""

    current: str
    previous: str | None = None
    previous_until: datetime | None = None

    def at(self, now: datetime) -> list[str]:
        if self.previous and self.previous_until and now < self.previous_until:
            return [self.current, self.previous]
        return [self.current]

    def sealed(self, box: SecretBox) -> str:
        values = {"current": self.current}
        if self.previous and self.previous_until:
            values |= {"previous": self.previous, "previous_until": self.previous_until.isoformat()}
        token = box.seal(values)
        assert token is not None
        return token

    @classmethod
    def opened(cls, box: SecretBox, token: str) -> Signing:
        values = box.open(token)
        until = values.get("previous_until")
        return cls(
            values["current"], values.get("previous"), datetime.fromisoformat(until) if until else None
        )


def _sub(r: Any) -> Subscription:
    return Subscription(
        id=r.id, url=r.url, events=tuple(r.events), description=r.description, active=r.active,
        failures=r.failures, disabled_at=r.disabled_at, disabled_reason=r.disabled_reason,
        created_at=r.created_at, updated_at=r.updated_at,
    )  # fmt: skip


_SUB_COLUMNS = [c for c in _S.c if c.name != "secret"]


def create(
    engine: Engine, box: SecretBox, *, url: str, events: Sequence[str], description: str | None
) -> tuple[Subscription, str]:
    """The new subscription and its signing secret (the only time the secret is returned)."""
    now, secret = datetime.now(UTC), new_secret()
    values = {
        "url": url, "events": list(events), "secret": Signing(secret).sealed(box), "description": description,
        "active": True, "failures": 0, "disabled_at": None, "disabled_reason": None,
        "created_at": now, "updated_at": now,
    }  # fmt: skip
    with write_lock(engine), engine.begin() as conn:
        sub_id = conn.execute(insert(_S).values(**values).returning(_S.c.id)).scalar_one()
    found = get(engine, int(sub_id))
    assert found is not None
    return found, secret


def get(engine: Engine, sub_id: int) -> Subscription | None:
    with reading(engine) as conn:
        return get_on(conn, sub_id)


def get_on(conn: Connection, sub_id: int) -> Subscription | None:
    r = conn.execute(select(*_SUB_COLUMNS).where(_S.c.id == sub_id)).first()
    return _sub(r) if r else None


def listing(engine: Engine, *, limit: int, cursor: str | None) -> tuple[list[Subscription], str | None]:
    """Oldest first, with a keyset cursor on the id."""
    query = select(*_SUB_COLUMNS).order_by(_S.c.id).limit(limit + 1)
    if cursor:
        query = query.where(_S.c.id > decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query).all()
    more, rows = len(rows) > limit, rows[:limit]
    return [_sub(r) for r in rows], encode_cursor(rows[-1].id) if more and rows else None


def active_subscriptions(conn: Connection) -> list[Subscription]:
    return [
        _sub(r) for r in conn.execute(select(*_SUB_COLUMNS).where(_S.c.active.is_(True)).order_by(_S.c.id))
    ]


def update_subscription(engine: Engine, sub_id: int, changes: Mapping[str, Any]) -> Subscription | None:
    """Apply ``changes`` (url, events, description, active). ``active: true`` re-enables a
    disabled subscription (its failure count starts again, its alert is cleared); ``active:
    false`` pauses it."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {k: changes[k] for k in ("url", "description") if k in changes}
    if "events" in changes:
        values["events"] = list(changes["events"])
    with write_lock(engine), engine.begin() as conn:
        current = get_on(conn, sub_id)
        if current is None:
            return None
        if "active" in changes and changes["active"] != current.active:
            if changes["active"]:
                values |= {"active": True, "failures": 0, "disabled_at": None, "disabled_reason": None}
                clear_alert(conn, ALERT_KIND, alert_subject(sub_id), at=now)
            else:
                values |= {"active": False, "disabled_at": now, "disabled_reason": "paused through the API"}
        if values:
            conn.execute(update(_S).where(_S.c.id == sub_id).values(**values, updated_at=now))
        return get_on(conn, sub_id)


def delete_subscription(engine: Engine, sub_id: int) -> bool:
    """Remove the subscription and its delivery log. Queued deliveries of it end, unsent."""
    with write_lock(engine), engine.begin() as conn:
        clear_alert(conn, ALERT_KIND, alert_subject(sub_id))
        return conn.execute(delete(_S).where(_S.c.id == sub_id)).rowcount > 0


def rotate_secret(
    engine: Engine, box: SecretBox, sub_id: int, *, overlap: timedelta = ROTATION_OVERLAP
) -> str | None:
    """A new signing secret (returned once); the old one still signs for ``overlap``."""
    now = datetime.now(UTC)
    with write_lock(engine), engine.begin() as conn:
        token = conn.execute(select(_S.c.secret).where(_S.c.id == sub_id)).scalar_one_or_none()
        if token is None:
            return None
        old, secret = Signing.opened(box, token), new_secret()
        sealed = Signing(secret, old.current, now + overlap).sealed(box)
        conn.execute(update(_S).where(_S.c.id == sub_id).values(secret=sealed, updated_at=now))
    return secret


def signing(conn: Connection, box: SecretBox, sub_id: int) -> Signing | None:
    token = conn.execute(select(_S.c.secret).where(_S.c.id == sub_id)).scalar_one_or_none()
    return Signing.opened(box, token) if token else None


# --- deliveries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    id: int
    subscription_id: int
    job_id: int | None
    event_id: int | None
    message_id: str
    event_type: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    max_attempts: int | None = None  # of its job


def enqueue(
    conn: Connection,
    *,
    subscription_id: int,
    message_id: str,
    event_id: int | None,
    body: Mapping[str, Any],
    max_attempts: int,
    now: datetime,
) -> int | None:
    """Queue one delivery: its job (kind ``webhook``, action ``deliver_webhook``) and its log
    row, in the caller's transaction. None if this message was already queued for it."""
    params = {"subscription_id": subscription_id, "message_id": message_id, **body}
    job_id = jobs.add_job(
        conn, action=DELIVER_ACTION, params=params, max_attempts=max_attempts, now=now, kind=JOB_KIND,
        key=f"webhook-{subscription_id}-{message_id}"[:120],
    )  # fmt: skip
    if job_id is None:
        return None
    row = {
        "subscription_id": subscription_id, "job_id": job_id, "event_id": event_id, "message_id": message_id,
        "event_type": str(body["type"])[:60], "state": PENDING, "attempts": 0, "last_status": None,
        "last_error": None, "created_at": now, "delivered_at": None,
    }  # fmt: skip
    conn.execute(insert(_D).values(**row))
    return int(job_id)


def log_test(
    engine: Engine, sub_id: int, message_id: str, status: int | None, error: str | None, now: datetime
) -> None:
    """A test delivery (sent at once, not queued) in the log."""
    ok = error is None
    with write_lock(engine), engine.begin() as conn:
        conn.execute(
            insert(_D).values(
                subscription_id=sub_id, job_id=None, event_id=None, message_id=message_id,
                event_type="webhook.test", state=DELIVERED if ok else DEAD, attempts=1,
                last_status=status, last_error=error, created_at=now, delivered_at=now if ok else None,
            )
        )  # fmt: skip


_DELIVERY = select(_D, w.jobs.c.max_attempts).join(w.jobs, w.jobs.c.id == _D.c.job_id, isouter=True)


def _delivery(r: Any) -> Delivery:
    return Delivery(**{k: v for k, v in r._mapping.items()})


def find_delivery(conn: Connection, sub_id: int, message_id: str) -> Delivery | None:
    r = conn.execute(_DELIVERY.where(_D.c.subscription_id == sub_id, _D.c.message_id == message_id)).first()
    return _delivery(r) if r else None


def record_attempt(
    conn: Connection,
    delivery_id: int,
    *,
    state: str,
    status: int | None,
    error: str | None,
    now: datetime,
) -> None:
    conn.execute(
        update(_D)
        .where(_D.c.id == delivery_id)
        .values(
            state=state, attempts=_D.c.attempts + 1, last_status=status, last_error=error,
            delivered_at=now if state == DELIVERED else None,
        )
    )  # fmt: skip


def succeeded(conn: Connection, sub_id: int) -> None:
    """A delivery arrived: the count of consecutive failures starts again."""
    conn.execute(update(_S).where(_S.c.id == sub_id, _S.c.failures != 0).values(failures=0))


def count_failure(conn: Connection, sub_id: int) -> int:
    """One more consecutive dead delivery; returns the new count."""
    conn.execute(update(_S).where(_S.c.id == sub_id).values(failures=_S.c.failures + 1))
    return int(conn.execute(select(_S.c.failures).where(_S.c.id == sub_id)).scalar_one_or_none() or 0)


def disable(conn: Connection, sub_id: int, reason: str, now: datetime) -> bool:
    """Disable an active subscription; False if it was already inactive (or gone)."""
    done = conn.execute(
        update(_S)
        .where(_S.c.id == sub_id, _S.c.active.is_(True))
        .values(active=False, disabled_at=now, disabled_reason=reason, updated_at=now)
    )
    return done.rowcount > 0


def deliveries(
    engine: Engine, sub_id: int, *, state: str | None, limit: int, cursor: str | None
) -> tuple[list[tuple[Delivery, list[dict[str, Any]]]], str | None]:
    """The delivery log, newest first, each with its attempts (from the job's attempt log)."""
    query = _DELIVERY.where(_D.c.subscription_id == sub_id).order_by(_D.c.id.desc()).limit(limit + 1)
    if state:
        query = query.where(_D.c.state == state)
    if cursor:
        query = query.where(_D.c.id < decode_cursor(cursor))
    with reading(engine) as conn:
        rows = conn.execute(query).all()
        more, rows = len(rows) > limit, rows[:limit]
        found = [_delivery(r) for r in rows]
        job_ids = [d.job_id for d in found if d.job_id is not None]
        attempts: dict[int, list[dict[str, Any]]] = {}
        if job_ids:
            cols = (_A.c.job_id, _A.c.attempt, _A.c.started_at, _A.c.finished_at, _A.c.outcome, _A.c.error,
                    _A.c.response, _A.c.duration_ms)  # fmt: skip
            for a in conn.execute(select(*cols).where(_A.c.job_id.in_(job_ids)).order_by(_A.c.id)):
                attempts.setdefault(a.job_id, []).append(
                    {k: v for k, v in a._mapping.items() if k != "job_id"}
                )
    items = [(d, attempts.get(d.job_id, []) if d.job_id is not None else []) for d in found]
    return items, encode_cursor(rows[-1].id) if more and rows else None


def delivery_counts(engine: Engine, sub_id: int) -> dict[str, int]:
    """How many deliveries of the subscription are in each state."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(_D.c.state, func.count()).where(_D.c.subscription_id == sub_id).group_by(_D.c.state)
        ).all()
    return {state: 0 for state in DELIVERY_STATES} | {r[0]: int(r[1]) for r in rows}


__all__ = [
    "ALERT_KIND",
    "DEAD",
    "DELIVERED",
    "DELIVERY_STATES",
    "DELIVER_ACTION",
    "FAILED",
    "JOB_KIND",
    "PENDING",
    "ROTATION_OVERLAP",
    "Delivery",
    "Signing",
    "Subscription",
    "active_subscriptions",
    "alert_subject",
    "count_failure",
    "create",
    "delete_subscription",
    "deliveries",
    "delivery_counts",
    "disable",
    "enqueue",
    "find_delivery",
    "get",
    "get_on",
    "listing",
    "log_test",
    "matches",
    "new_secret",
    "record_attempt",
    "rotate_secret",
    "signing",
    "succeeded",
]
