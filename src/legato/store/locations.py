"""Fulfilment locations (warehouses, stores, 3PLs, dropship suppliers) and suppliers' items.

A location is created and replaced whole by its code; every field is checked here, and each
problem names its field (``latitude``, ``atp_rules.SHOP-UK.safety_stock``, ``channels[1]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale
from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.exc import IntegrityError

from legato.domain.errors import DuplicateKey, FieldIssue, NotFound, UnknownProduct, ValidationFailed
from legato.store import tables as t
from legato.store.db import write_lock
from legato.store.inventory_tables import locations, supplier_items
from legato.store.queries import decode_cursor, encode_cursor, reading

KINDS = ("warehouse", "store", "3pl", "supplier")
ZERO = Decimal(0)
#: two-letter territories CLDR knows that are not countries (groupings, placeholders)
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}
COUNTRIES = frozenset(
    k for k in map(str, Locale("en").territories) if len(k) == 2 and k.isalpha() and k not in _NOT_COUNTRIES
)


@dataclass(frozen=True)
class Location:
    id: int
    code: str
    name: str
    kind: str
    address: dict[str, Any] | None
    latitude: Decimal | None
    longitude: Decimal | None
    priority: int
    channels: list[str]
    regions: list[str]
    ships: bool
    pickup: bool
    safety_stock: Decimal
    atp_rules: dict[str, dict[str, Any]]
    settings: dict[str, Any]
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SupplierItem:
    location: str
    sku: str
    supplier_sku: str | None
    cost: Decimal | None
    currency: str | None


@dataclass
class _Check:
    issues: list[FieldIssue] = field(default_factory=list)

    def bad(self, path: str, message: str, value: Any = None, code: str = "invalid") -> None:
        self.issues.append(FieldIssue(path, message, code, value))

    def raise_any(self) -> None:
        if self.issues:
            first = self.issues[0]
            raise ValidationFailed(f"{first.path}: {first.message}", issues=list(self.issues))


def _decimal(check: _Check, path: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        check.bad(path, "must be a decimal number", value)
        return None
    try:
        d = Decimal(str(value).strip())  # a JSON number: exact from its text form
    except InvalidOperation:
        check.bad(path, "must be a decimal number", value)
        return None
    if not d.is_finite():
        check.bad(path, "must be a finite decimal number", str(value))
        return None
    return d


def _code_list(check: _Check, path: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        check.bad(path, "must be a list of codes", value)
        return []
    return list(dict.fromkeys(v.strip() for v in value))


def validate(conn: Connection, data: Mapping[str, Any]) -> dict[str, Any]:
    """The row for a location described by ``data`` (as the API's JSON), or ``ValidationFailed``
    listing every problem with its field path."""
    c = _Check()
    code = data.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > 32:
        c.bad("code", "a code of 1 to 32 characters is required", code, "required")
    name = data.get("name") or code
    if not isinstance(name, str) or len(name) > 200:
        c.bad("name", "a name of at most 200 characters", name)
    kind = data.get("kind")
    if kind not in KINDS:
        c.bad("kind", f"must be one of {', '.join(KINDS)}", kind)
    address = data.get("address")
    if address is not None and not isinstance(address, dict):
        c.bad("address", "must be an object (line1, city, postcode, country ...)", address)
    lat = _decimal(c, "latitude", data.get("latitude"))
    if lat is not None and not Decimal(-90) <= lat <= Decimal(90):
        c.bad("latitude", "must be between -90 and 90", str(lat), "out_of_range")
    lon = _decimal(c, "longitude", data.get("longitude"))
    if lon is not None and not Decimal(-180) <= lon <= Decimal(180):
        c.bad("longitude", "must be between -180 and 180", str(lon), "out_of_range")
    if (lat is None) != (lon is None):
        c.bad("longitude" if lon is None else "latitude", "give both latitude and longitude, or neither")
    priority = data.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or abs(priority) > 1_000_000:
        c.bad("priority", "must be a whole number (higher is preferred)", priority)
    channels = _code_list(c, "channels", data.get("channels"))
    regions = [r.upper() for r in _code_list(c, "regions", data.get("regions"))]
    for i, r in enumerate(regions):
        if r not in COUNTRIES:
            c.bad(f"regions[{i}]", "must be an ISO 3166-1 alpha-2 country code (GB, DE, US ...)", r)
    flags = {}
    for flag, default in (("ships", kind != "store"), ("pickup", False), ("active", True)):
        v = data.get(flag, default)
        if not isinstance(v, bool):
            c.bad(flag, "must be true or false", v)
        flags[flag] = bool(v)
    safety = _decimal(c, "safety_stock", data.get("safety_stock", 0))
    if safety is not None and safety < 0:
        c.bad("safety_stock", "must be 0 or more", str(safety), "out_of_range")
    rules = _atp_rules(c, data.get("atp_rules"))
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        c.bad("settings", "must be an object", settings)
    known = _known_channels(conn, [*channels, *rules])
    for i, ch in enumerate(channels):
        if ch not in known:
            c.bad(f"channels[{i}]", f"no channel {ch!r}", ch, "unknown_channel")
    for ch in rules:
        if ch not in known:
            c.bad(f"atp_rules.{ch}", f"no channel {ch!r}", ch, "unknown_channel")
    c.raise_any()
    return {
        "code": str(code).strip(),
        "name": name,
        "kind": kind,
        "address": address,
        "latitude": lat,
        "longitude": lon,
        "priority": priority,
        "channels": channels,
        "regions": regions,
        "safety_stock": safety or ZERO,
        "atp_rules": rules,
        "settings": settings,
        **flags,
    }


def _atp_rules(c: _Check, value: Any) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        msg = 'must be an object: {"<channel>": {"safety_stock": "2", "excluded": false}}'
        c.bad("atp_rules", msg, value)
        return {}
    out: dict[str, dict[str, Any]] = {}
    for ch, rule in value.items():
        path = f"atp_rules.{ch}"
        if not isinstance(rule, dict):
            c.bad(path, "must be an object with safety_stock and/or excluded", rule)
            continue
        for k in rule:
            if k not in ("safety_stock", "excluded"):
                c.bad(f"{path}.{k}", "unknown rule: use safety_stock or excluded", k)
        norm: dict[str, Any] = {}
        if "safety_stock" in rule:
            held = _decimal(c, f"{path}.safety_stock", rule["safety_stock"])
            if held is not None and held < 0:
                c.bad(f"{path}.safety_stock", "must be 0 or more", str(held), "out_of_range")
            elif held is not None:
                norm["safety_stock"] = str(held)
        if "excluded" in rule:
            if not isinstance(rule["excluded"], bool):
                c.bad(f"{path}.excluded", "must be true or false", rule["excluded"])
            norm["excluded"] = bool(rule["excluded"])
        out[str(ch)] = norm
    return out


def _known_channels(conn: Connection, codes: list[str]) -> set[str]:
    if not codes:
        return set()
    q = select(t.channels.c.code).where(t.channels.c.code.in_(sorted(set(codes))))
    return set(conn.execute(q).scalars())


def _from_row(r: Any) -> Location:
    return Location(
        id=r.id,
        code=r.code,
        name=r.name,
        kind=r.kind,
        address=r.address,
        latitude=r.latitude,
        longitude=r.longitude,
        priority=r.priority,
        channels=list(r.channels or []),
        regions=list(r.regions or []),
        ships=r.ships,
        pickup=r.pickup,
        safety_stock=r.safety_stock,
        atp_rules=dict(r.atp_rules or {}),
        settings=dict(r.settings or {}),
        active=r.active,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def save(engine: Engine, data: Mapping[str, Any], *, create: bool, code: str | None = None) -> Location:
    """Create a location (``create``; its code must be new) or replace the one with ``code``."""
    now = datetime.now(UTC)
    with write_lock(engine), engine.begin() as conn:
        row = validate(conn, data)
        if code is not None and row["code"] != code:
            msg = f"the code in the body ({row['code']!r}) differs from the one in the path ({code!r})"
            raise ValidationFailed(msg, issues=[FieldIssue("code", msg, "mismatch", row["code"])])
        existing = conn.execute(select(locations.c.id).where(locations.c.code == row["code"])).first()
        if create:
            if existing is not None:
                raise DuplicateKey(f"a location {row['code']!r} already exists")
            try:
                conn.execute(locations.insert().values(**row, created_at=now, updated_at=now))
            except IntegrityError as exc:
                raise DuplicateKey(f"a location {row['code']!r} already exists") from exc
        else:
            if existing is None:
                raise NotFound(f"no location {row['code']!r}")
            same = locations.c.id == existing.id
            conn.execute(locations.update().where(same).values(**row, updated_at=now))
        return get_by_code(conn, row["code"])


def get_by_code(conn: Connection, code: str) -> Location:
    r = conn.execute(select(locations).where(locations.c.code == code)).first()
    if r is None:
        raise NotFound(f"no location {code!r}")
    return _from_row(r)


def get(engine: Engine, code: str) -> Location:
    with reading(engine) as conn:
        return get_by_code(conn, code)


def by_ids(conn: Connection, ids: list[int]) -> dict[int, Location]:
    if not ids:
        return {}
    rows = conn.execute(select(locations).where(locations.c.id.in_(sorted(set(ids)))))
    return {r.id: _from_row(r) for r in rows}


def list_locations(
    engine: Engine, *, limit: int = 100, cursor: str | None = None, kind: str | None = None
) -> tuple[list[Location], str | None]:
    """A page of locations in creation order, and the cursor of the next page (None: no more)."""
    q = select(locations).order_by(locations.c.id).limit(limit + 1)
    if cursor:
        q = q.where(locations.c.id > decode_cursor(cursor))
    if kind:
        q = q.where(locations.c.kind == kind)
    with reading(engine) as conn:
        rows = conn.execute(q).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [_from_row(r) for r in rows], encode_cursor(rows[-1].id) if more and rows else None


# --- supplier items ------------------------------------------------------------------


def _supplier(conn: Connection, code: str) -> Location:
    loc = get_by_code(conn, code)
    if loc.kind != "supplier":
        msg = f"location {code!r} is a {loc.kind}, not a supplier: only suppliers have supplier items"
        raise ValidationFailed(msg, issues=[FieldIssue("location", msg, "not_a_supplier", code)])
    return loc


def put_supplier_item(
    engine: Engine,
    location: str,
    sku: str,
    *,
    supplier_sku: str | None = None,
    cost: Decimal | None = None,
    currency: str | None = None,
) -> SupplierItem:
    """Say that supplier ``location`` supplies ``sku`` (dropship); replaces what was said before."""
    c = _Check()
    if cost is not None and (not cost.is_finite() or cost < 0):
        c.bad("cost", "must be 0 or more", str(cost), "out_of_range")
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        c.bad("currency", "must be a three-letter currency code", currency)
    c.raise_any()
    with write_lock(engine), engine.begin() as conn:
        loc = _supplier(conn, location)
        if conn.execute(select(t.products.c.id).where(t.products.c.sku == sku)).first() is None:
            msg = f"no product {sku!r} in the catalogue"
            raise UnknownProduct(msg, issues=[FieldIssue("sku", msg, "unknown_sku", sku)])
        key = (supplier_items.c.location_id == loc.id) & (supplier_items.c.sku == sku)
        conn.execute(delete(supplier_items).where(key))
        conn.execute(
            supplier_items.insert().values(
                location_id=loc.id,
                sku=sku,
                supplier_sku=supplier_sku,
                cost=cost,
                currency=currency.upper() if currency else None,
            )
        )
    return SupplierItem(location, sku, supplier_sku, cost, currency.upper() if currency else None)


def remove_supplier_item(engine: Engine, location: str, sku: str) -> None:
    with write_lock(engine), engine.begin() as conn:
        loc = _supplier(conn, location)
        key = (supplier_items.c.location_id == loc.id) & (supplier_items.c.sku == sku)
        if conn.execute(delete(supplier_items).where(key)).rowcount == 0:
            raise NotFound(f"supplier {location!r} has no item {sku!r}")


def list_supplier_items(engine: Engine, location: str) -> list[SupplierItem]:
    with reading(engine) as conn:
        loc = _supplier(conn, location)
        q = select(supplier_items).where(supplier_items.c.location_id == loc.id)
        rows = conn.execute(q.order_by(supplier_items.c.sku)).all()
    return [SupplierItem(location, r.sku, r.supplier_sku, r.cost, r.currency) for r in rows]


__all__ = [
    "COUNTRIES",
    "KINDS",
    "Location",
    "SupplierItem",
    "by_ids",
    "get",
    "get_by_code",
    "list_locations",
    "list_supplier_items",
    "put_supplier_item",
    "remove_supplier_item",
    "save",
    "validate",
]
