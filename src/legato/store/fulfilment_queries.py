"""The read side of fulfilment orders: lists with a keyset cursor, one FO with its events, an
order's FOs, and finding an FO by id or number (``SO-000012-F2``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from legato.domain.errors import NotFound
from legato.domain.order import ORDER_PREFIX, parse_number
from legato.store.fulfilment_payload import payloads
from legato.store.inventory_tables import fulfilment_events, fulfilment_orders, locations
from legato.store.queries import decode_cursor, encode_cursor, reading

_F, _FE, _L = fulfilment_orders, fulfilment_events, locations
_NUMBER = re.compile(r"^(?P<order>.+)-F(?P<seq>\d{1,6})$", re.IGNORECASE)


def resolve(conn: Connection, ref: str) -> int:
    """The id of the FO named by its id (``7``) or number (``SO-000012-F2``); NotFound otherwise."""
    text = ref.strip()
    if text.isascii() and text.isdigit() and len(text) <= 18:
        found = conn.execute(select(_F.c.id).where(_F.c.id == int(text))).scalar()
    elif (m := _NUMBER.match(text)) and (order_id := parse_number(ORDER_PREFIX, m["order"])) is not None:
        found = conn.execute(
            select(_F.c.id).where(_F.c.order_id == order_id, _F.c.seq == int(m["seq"]))
        ).scalar()
    else:
        found = None
    if found is None:
        raise NotFound(f"no fulfilment order {ref!r}")
    return int(found)


def events_of(conn: Connection, fo_id: int) -> list[dict[str, Any]]:
    return [
        {"at": r.at, "actor": r.actor, "source": r.source, "from": r.from_status, "to": r.to_status,
         "reason": r.reason, "event_id": r.key, "data": dict(r.data or {})}
        for r in conn.execute(select(_FE).where(_FE.c.fulfilment_order_id == fo_id).order_by(_FE.c.id))
    ]  # fmt: skip


def get(engine: Engine, ref: str) -> dict[str, Any]:
    """One FO as documented (``fulfilment_payload``), with its events, oldest first."""
    with reading(engine) as conn:
        fo_id = resolve(conn, ref)
        return {**payloads(conn, [fo_id])[fo_id], "events": events_of(conn, fo_id)}


def of_order(engine: Engine, order_id: int) -> list[dict[str, Any]]:
    with reading(engine) as conn:
        ids = list(
            conn.execute(select(_F.c.id).where(_F.c.order_id == order_id).order_by(_F.c.seq)).scalars()
        )
        docs = payloads(conn, ids)
    return [docs[i] for i in ids]


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def list_fos(
    engine: Engine, *, status: str | None = None, location: str | None = None, limit: int = 50,
    cursor: str | None = None,
) -> Page:  # fmt: skip
    """Newest first; filter by status and by location code (a warehouse's work queue)."""
    query = select(_F.c.id).order_by(_F.c.id.desc()).limit(limit + 1)
    if status is not None:
        query = query.where(_F.c.status == status)
    if location is not None:
        query = query.join(_L, _L.c.id == _F.c.location_id).where(_L.c.code == location)
    if cursor:
        query = query.where(_F.c.id < decode_cursor(cursor))
    with reading(engine) as conn:
        ids = list(conn.execute(query).scalars())
        more, ids = len(ids) > limit, ids[:limit]
        docs = payloads(conn, ids)
    return Page([docs[i] for i in ids], encode_cursor(ids[-1]) if more and ids else None)


__all__ = ["Page", "events_of", "get", "list_fos", "of_order", "resolve"]
