"""Stock: fulfilment locations and suppliers' items, stock levels and the movement ledger, receipts,
adjustments, returns, the stock file (CSV) and available to promise.

Reads take ``orders:read``; every change takes ``catalog:write`` (stock, like the catalogue, is
master data a merchandiser keeps). A receipt, adjustment or return sent again with the same
``Idempotency-Key`` is applied once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from legato.api.deps import runtime
from legato.api.schemas import AddressIn, _no_control
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import FieldIssue, ValidationFailed
from legato.store import atp as atp_store
from legato.store import locations as store
from legato.store import stock
from legato.store.apikeys import ApiKey
from legato.store.queries import reading
from legato.store.stock_import import COLUMNS, import_stock

router = APIRouter(prefix="/api/v1", tags=["inventory"])
READ = require("orders:read")
WRITE = require("catalog:write")  # locations and supplier items: master data
STOCK = require("fulfilment:write")  # stock changes: what a warehouse posts

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
SKU = r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,63}$"
Code = Annotated[str, StringConstraints(pattern=CODE)]
Sku = Annotated[str, StringConstraints(pattern=SKU)]
Text = Annotated[str, StringConstraints(max_length=150), AfterValidator(_no_control)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_no_control)]
Units = Annotated[Decimal, Field(gt=0, le=1_000_000_000, max_digits=14, decimal_places=4)]
Signed = Annotated[Decimal, Field(ge=-1_000_000_000, le=1_000_000_000, max_digits=14, decimal_places=4)]
Cost = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]


def _clean(value: Any) -> Any:
    """Free JSON (a location's settings): no control characters in any key or text, so nothing
    reaches the database that it cannot store."""
    if isinstance(value, str):
        return _no_control(value)
    if isinstance(value, dict):
        return {_no_control(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


Settings = Annotated[dict[str, Any], AfterValidator(_clean)]


def _code() -> Any:
    return Path(max_length=32, pattern=CODE, description="the location's code")


# --- models --------------------------------------------------------------------------------


class AtpRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    safety_stock: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)] | None = None
    excluded: bool = False


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code
    name: (
        Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_control)] | None
    ) = None
    kind: Literal["warehouse", "store", "3pl", "supplier"]
    address: AddressIn | None = None
    latitude: Annotated[Decimal, Field(ge=-90, le=90, max_digits=9, decimal_places=6)] | None = None
    longitude: Annotated[Decimal, Field(ge=-180, le=180, max_digits=9, decimal_places=6)] | None = None
    priority: int = Field(0, ge=-1_000_000, le=1_000_000, description="higher is preferred")
    channels: list[Code] = Field(default_factory=list, max_length=200, description="[] = every channel")
    regions: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]] = Field(
        default_factory=list, max_length=300, description="ship-to countries (ISO 3166-1 alpha-2); [] = all"
    )
    ships: bool | None = Field(None, description="serves shipped orders (default: every kind but store)")
    pickup: bool = Field(False, description="a click & collect point")
    safety_stock: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)] = Decimal(0)
    atp_rules: dict[Code, AtpRule] = Field(default_factory=dict, max_length=200)
    settings: Settings = Field(default_factory=dict)
    active: bool = True


class LocationOut(BaseModel):
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


class LocationPage(BaseModel):
    items: list[LocationOut]
    next_cursor: str | None


class SupplierItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    supplier_sku: Annotated[str, StringConstraints(max_length=64), AfterValidator(_no_control)] | None = None
    cost: Cost | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None


class SupplierItemOut(BaseModel):
    location: str
    sku: str
    supplier_sku: str | None
    cost: Decimal | None
    currency: str | None


class SupplierItemList(BaseModel):
    items: list[SupplierItemOut]


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location: Code
    sku: Sku
    quantity: Units
    unit_cost: Cost | None = None
    reference: Text | None = None


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location: Code
    sku: Sku
    quantity: Signed = Field(description="signed: +3 found, -2 damaged")
    reason: Reason
    unit_cost: Cost | None = None
    reference: Text | None = None


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location: Code
    sku: Sku
    quantity: Units
    reason: Reason | None = None
    unit_cost: Cost | None = None
    reference: Text | None = None


class StockChangeOut(BaseModel):
    location: str
    sku: str
    kind: str
    quantity: Decimal
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    replayed: bool = Field(description="true: this key was applied before; nothing changed now")
    filled_orders: list[int] = Field(description="orders whose backorders the new stock filled")


class LevelOut(BaseModel):
    location: str
    sku: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    updated_at: datetime


class LevelList(BaseModel):
    items: list[LevelOut]


class MovementOut(BaseModel):
    id: int
    location: str
    sku: str
    kind: str
    on_hand_delta: Decimal
    reserved_delta: Decimal
    order_id: int | None
    fulfilment_order_id: int | None
    reference: str | None
    unit_cost: Decimal | None
    actor: str
    reason: str | None
    at: datetime


class MovementPage(BaseModel):
    items: list[MovementOut]
    next_cursor: str | None


class ImportOut(BaseModel):
    mode: str
    rows: int
    applied: int
    replayed: int
    unchanged: int
    filled_orders: list[int]


class LocationAtp(BaseModel):
    location: str
    location_id: int
    available: Decimal


class SkuAtp(BaseModel):
    sku: str
    available: Decimal = Field(description="in total over the locations that serve the channel and region")
    locations: list[LocationAtp]


class AvailabilityOut(BaseModel):
    channel: str | None
    region: str | None
    items: list[SkuAtp]


# --- locations -----------------------------------------------------------------------------


def _location(body: LocationIn) -> dict[str, Any]:
    data = body.model_dump(exclude_none=True)
    data["atp_rules"] = {ch: r.model_dump(exclude_none=True) for ch, r in body.atp_rules.items()}
    return data


@router.post("/locations", response_model=LocationOut, status_code=201)
def create_location(
    body: LocationIn, _: ApiKey = Depends(WRITE), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """A warehouse, store, 3PL or dropship supplier, with what it serves and its ATP rules."""
    return vars(store.save(rt.engine, _location(body), create=True))


@router.get("/locations", response_model=LocationPage)
def list_locations(
    kind: Literal["warehouse", "store", "3pl", "supplier"] | None = Query(None),
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(READ),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    items, nxt = store.list_locations(rt.engine, limit=limit, cursor=cursor, kind=kind)
    return {"items": [vars(x) for x in items], "next_cursor": nxt}


@router.get("/locations/{code}", response_model=LocationOut)
def get_location(
    code: str = _code(), _: ApiKey = Depends(READ), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    return vars(store.get(rt.engine, code))


@router.put("/locations/{code}", response_model=LocationOut)
def replace_location(
    body: LocationIn, code: str = _code(), _: ApiKey = Depends(WRITE), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Replace the location whole (its code cannot change)."""
    return vars(store.save(rt.engine, _location(body), create=False, code=code))


@router.get("/locations/{code}/supplier-items", response_model=SupplierItemList)
def list_supplier_items(
    code: str = _code(), _: ApiKey = Depends(READ), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """The SKUs a dropship supplier supplies (they are never reserved from stock)."""
    return {"items": [vars(i) for i in store.list_supplier_items(rt.engine, code)]}


@router.put("/locations/{code}/supplier-items/{sku}", response_model=SupplierItemOut)
def put_supplier_item(
    body: SupplierItemIn,
    code: str = _code(),
    sku: str = Path(max_length=64, pattern=SKU),
    _: ApiKey = Depends(WRITE),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    item = store.put_supplier_item(
        rt.engine, code, sku, supplier_sku=body.supplier_sku, cost=body.cost, currency=body.currency
    )
    return vars(item)


@router.delete("/locations/{code}/supplier-items/{sku}", status_code=204)
def delete_supplier_item(
    code: str = _code(),
    sku: str = Path(max_length=64, pattern=SKU),
    _: ApiKey = Depends(WRITE),
    rt: Runtime = Depends(runtime),
) -> Response:
    store.remove_supplier_item(rt.engine, code, sku)
    return Response(status_code=204)


# --- stock ---------------------------------------------------------------------------------


def _changed(c: stock.StockChange) -> dict[str, Any]:
    return {**vars(c), "available": c.available}


def _key(request: Request, kind: str) -> str | None:
    return stock.movement_key(f"api-{kind}", request.headers.get("idempotency-key") or None)


def _actor(key: ApiKey) -> str:
    return f"apikey:{key.name}"[:120]


@router.get("/stock", response_model=LevelList)
def stock_levels(
    sku: str | None = Query(None, max_length=64, pattern=SKU),
    location: str | None = Query(None, max_length=32, pattern=CODE),
    limit: int = Query(500, ge=1, le=5000),
    _: ApiKey = Depends(READ),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """On hand, reserved and available per location and SKU."""
    rows = stock.levels(rt.engine, sku=sku, location=location, limit=limit)
    return {"items": [{**vars(r), "available": r.available} for r in rows]}


@router.get("/stock/movements", response_model=MovementPage)
def stock_movements(
    sku: str | None = Query(None, max_length=64, pattern=SKU),
    location: str | None = Query(None, max_length=32, pattern=CODE),
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(READ),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """The stock ledger, newest first: every receipt, adjustment, reservation, release, shipment
    and return."""
    items, nxt = stock.movements(rt.engine, sku=sku, location=location, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": nxt}


@router.post("/stock/receipts", response_model=StockChangeOut, status_code=201)
def receive(
    body: ReceiptIn, request: Request, key: ApiKey = Depends(STOCK), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Goods in at a location; waiting backorders of the SKU are filled from them at once."""
    done = stock.receive(
        rt.engine, body.location, body.sku, body.quantity, body.unit_cost, body.reference,
        _key(request, "receipt"), actor=_actor(key),
    )  # fmt: skip
    return _changed(done)


@router.post("/stock/adjustments", response_model=StockChangeOut, status_code=201)
def adjust(
    body: AdjustmentIn, request: Request, key: ApiKey = Depends(STOCK), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """A signed correction with its reason; on hand never goes below what is reserved (409)."""
    done = stock.adjust(
        rt.engine, body.location, body.sku, body.quantity, body.reason, reference=body.reference,
        unit_cost=body.unit_cost, key=_key(request, "adjustment"), actor=_actor(key),
    )  # fmt: skip
    return _changed(done)


@router.post("/stock/returns", response_model=StockChangeOut, status_code=201)
def return_stock(
    body: ReturnIn, request: Request, key: ApiKey = Depends(STOCK), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Returned units back into stock at a location."""
    done = stock.return_stock(
        rt.engine, body.location, body.sku, body.quantity, reference=body.reference, reason=body.reason,
        unit_cost=body.unit_cost, key=_key(request, "return"), actor=_actor(key),
    )  # fmt: skip
    return _changed(done)


_CSV_BODY = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {"type": "string", "description": f"a header row ({','.join(COLUMNS)}), a line a row"}
        }
    },
}


@router.post("/stock/import", response_model=ImportOut, openapi_extra={"requestBody": _CSV_BODY})
async def import_file(
    request: Request,
    mode: Literal["receive", "set"] = Query("receive", description="receive: receipts; set: counts"),
    key: ApiKey = Depends(STOCK),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """The stock file: all rows or none; 422 names each bad row and column."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        msg = "the file is not UTF-8 text"
        raise ValidationFailed(msg, issues=[FieldIssue("body", msg, "encoding")]) from None
    done = await run_in_threadpool(import_stock, rt.engine, text, mode=mode, actor=_actor(key))
    return vars(done)


@router.get("/availability", response_model=AvailabilityOut)
def availability(
    sku: list[Sku] = Query(min_length=1, max_length=100, description="one or more SKUs (?sku=A&sku=B)"),
    channel: str | None = Query(
        None, max_length=32, pattern=CODE, description="the channel's ATP rules apply"
    ),
    region: str | None = Query(
        None, pattern=r"^[A-Za-z]{2}$", description="ship-to country (ISO 3166-1 alpha-2)"
    ),
    _: ApiKey = Depends(READ),
    rt: Runtime = Depends(runtime),
) -> JSONResponse:
    """Available to promise per location and in total: on hand - reserved - safety stock (the
    location's and the channel rule's), over the active shipping locations that serve the channel
    and the region."""
    # This sits behind storefront product pages: the look-up is one indexed query of well under a
    # millisecond, and the answer is built as JSON here in the documented shape (no second pass
    # through the response model). It runs in the thread pool like every database call: on the
    # event loop, a wait for a pooled PostgreSQL connection would stall every other request.
    region = region.upper() if region else None
    with reading(rt.engine) as conn:
        found = atp_store.by_location(conn, sku, channel=channel, region=region)
    items = [
        {
            "sku": s,
            "available": str(sum((free for _, _, free in rows), Decimal(0))),
            "locations": [
                {"location": code, "location_id": lid, "available": str(free)} for lid, code, free in rows
            ],
        }
        for s, rows in found.items()
    ]
    return JSONResponse({"channel": channel, "region": region, "items": items})
