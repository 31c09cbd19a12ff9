"""The demo's fulfilment locations and opening stock: two warehouses, a London store (click &
collect, no shipping), a dropship supplier for the bulky audio, and stock of every other product.

Loaded after the catalogue, idempotently: a location that exists is left as it is, and each opening
receipt carries its own key, so a second run receives nothing.
"""

from __future__ import annotations

import random
from contextlib import suppress
from decimal import Decimal
from typing import Any

from legato.bootstrap import Runtime
from legato.domain.catalog import Product
from legato.domain.errors import DuplicateKey
from legato.store import locations, stock

ACTOR = "demo"
REFERENCE = "DEMO-OPENING"
_EU = ["AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "LU", "NL", "PL", "PT", "SE"]

LOCATIONS: list[dict[str, Any]] = [
    {"code": "WH-LON", "name": "London fulfilment centre (Dartford)", "kind": "warehouse", "priority": 10,
     "address": {"line1": "Unit 4, Crossways Business Park", "city": "Dartford", "postcode": "DA2 6QG",
                 "country": "GB"},
     "latitude": "51.454200", "longitude": "0.248100", "safety_stock": "2",
     "atp_rules": {"MKT-JP": {"safety_stock": "5"}}},
    {"code": "WH-RTM", "name": "Rotterdam EU hub", "kind": "warehouse", "priority": 5,
     "address": {"line1": "Waalhaven Oostzijde 1", "city": "Rotterdam", "postcode": "3087 BM",
                 "country": "NL"},
     "latitude": "51.894500", "longitude": "4.436500", "regions": _EU,
     "atp_rules": {"POS-LDN": {"excluded": True}}},
    {"code": "STORE-LDN", "name": "London flagship store", "kind": "store", "priority": 1,
     "address": {"line1": "12 Poland Street", "city": "London", "postcode": "W1F 8QB", "country": "GB"},
     "latitude": "51.514800", "longitude": "-0.136700", "ships": False, "pickup": True,
     "channels": ["POS-LDN", "WEB-UK"]},
    {"code": "DS-SOUND", "name": "SoundWorks (dropship)", "kind": "supplier", "priority": 0,
     "address": {"city": "Leeds", "country": "GB"},
     "settings": {"payload": {"format": "json"}}},
]  # fmt: skip

#: the supplier's catalogue: bulky audio ships straight from SoundWorks
SUPPLIER_ITEMS = {"AUD-TT-BLT": "SW-TT-100", "AUD-SPK-BK": "SW-BK-220"}
#: the store keeps a few units of these categories on its shelves
STORE_CATEGORIES = {"coffee", "tea", "brewing"}


def opening_stock(products: list[Product], seed: int = 7) -> list[tuple[str, str, Decimal, Decimal]]:
    """(location, sku, quantity, unit cost) of the opening receipts, planned with no I/O."""
    rng = random.Random(seed)
    out = []
    for p in products:
        if p.sku in SUPPLIER_ITEMS:
            continue
        cost = (p.prices.get("GBP", Decimal(10)) * Decimal("0.45")).quantize(Decimal("0.01"))
        out.append(("WH-LON", p.sku, Decimal(rng.randrange(20, 200)), cost))
        if rng.random() < 0.7:
            out.append(("WH-RTM", p.sku, Decimal(rng.randrange(5, 120)), cost))
        if p.category in STORE_CATEGORIES:
            out.append(("STORE-LDN", p.sku, Decimal(rng.randrange(2, 12)), cost))
    return out


def load_stock(rt: Runtime, products: list[Product]) -> int:
    """Create the demo locations and receive their opening stock; returns the receipts applied now."""
    for loc in LOCATIONS:
        with suppress(DuplicateKey):
            locations.save(rt.engine, loc, create=True)
    for sku, supplier_sku in SUPPLIER_ITEMS.items():
        locations.put_supplier_item(rt.engine, "DS-SOUND", sku, supplier_sku=supplier_sku, currency="GBP")
    applied = 0
    with stock.transaction(rt.engine) as conn:
        for code, sku, qty, cost in opening_stock(products):
            key = f"demo:{code}:{sku}"
            done = stock.receive(conn, code, sku, qty, cost, REFERENCE, key, actor=ACTOR)
            applied += 0 if done.replayed else 1
    return applied


__all__ = ["LOCATIONS", "SUPPLIER_ITEMS", "load_stock", "opening_stock"]
