"""Promotions, vouchers, loyalty points and tax rates over HTTP.

Money, percentages and rates are decimal strings ("12.50"); a JSON number with a fraction is
refused with its field's path, because a float is not exact. Writing needs ``catalog:write``,
reading ``orders:read``; errors are problem+json like everywhere else.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

from legato.api.deps import runtime
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.errors import FieldIssue, IssueCollector, NotFound, ValidationFailed
from legato.domain.promotions import Promotion, Voucher
from legato.domain.tax import TaxRate
from legato.intake.canonical import Code, Currency, Sku, Strict, Tag, Text, _no_control
from legato.store.apikeys import ApiKey
from legato.store.promotions import MAX_POINTS, LedgerEntry, SqlPromotions, looking, writing

router = APIRouter(prefix="/api/v1", tags=["promotions"])
READ, WRITE = require("orders:read"), require("catalog:write")


def _exact(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(
            'must be a decimal string such as "12.50": a JSON number with a fraction is not exact'
        )
    return value


Money = Annotated[Decimal, BeforeValidator(_exact), Field(ge=0, max_digits=18, decimal_places=6)]
Rate = Annotated[Decimal, BeforeValidator(_exact), Field(ge=0, le=1, max_digits=8, decimal_places=6)]
Count = Annotated[int, Field(ge=1, le=2_000_000_000)]
VoucherCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Region = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
TaxClass = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Kind = Literal["percent", "fixed", "buy_x_get_y"]
Level = Literal["line", "order"]
Skus = Annotated[list[Sku], Field(max_length=500)]
Category = Annotated[str, StringConstraints(min_length=1, max_length=120), AfterValidator(_no_control)]
Categories = Annotated[list[Category], Field(max_length=100)]
Tags = Annotated[list[Tag], Field(max_length=100)]
Channels = Annotated[list[Code], Field(max_length=100)]
Priority = Annotated[int, Field(ge=-1000, le=1000, description="higher first")]


class PromotionIn(Strict):
    code: Code
    name: Text(200, 1)  # type: ignore[valid-type]
    kind: Kind
    level: Level = "line"
    value: Money = Field(Decimal(0), description="a percentage (10 = 10 %), or an amount in currency")
    currency: Currency | None = Field(None, description="required for fixed amounts and min_subtotal")
    skus: Skus = Field(default_factory=list, description="only these SKUs; empty: every product")
    categories: Categories = Field(default_factory=list)
    tags: Tags = Field(default_factory=list, description="products with any of these tags")
    min_subtotal: Money | None = None
    buy_qty: Count | None = None
    get_qty: Count | None = None
    channels: Channels = Field(default_factory=list, description="channel codes; empty: every channel")
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True
    priority: Priority = 0
    exclusive: bool = Field(False, description="when it applies, promotions of lower priority do not")


class PromotionPatch(Strict):
    """Only the fields sent change; ``null`` clears an optional one."""

    name: Text(200, 1) | None = None  # type: ignore[valid-type]
    kind: Kind | None = None
    level: Level | None = None
    value: Money | None = None
    currency: Currency | None = None
    skus: Skus | None = None
    categories: Categories | None = None
    tags: Tags | None = None
    min_subtotal: Money | None = None
    buy_qty: Count | None = None
    get_qty: Count | None = None
    channels: Channels | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool | None = None
    priority: Priority | None = None
    exclusive: bool | None = None


#: fields a patch may not set to null (the others are optional settings it clears)
_REQUIRED = ("name", "kind", "level", "value", "skus", "categories", "tags", "channels", "active",
             "priority", "exclusive")  # fmt: skip


class PromotionOut(BaseModel):
    code: str
    name: str
    kind: Kind
    level: Level
    value: Decimal
    currency: str | None
    skus: list[str]
    categories: list[str]
    tags: list[str]
    min_subtotal: Decimal | None
    buy_qty: int | None
    get_qty: int | None
    channels: list[str]
    valid_from: date | None
    valid_to: date | None
    active: bool
    priority: int
    exclusive: bool


class PromotionPage(BaseModel):
    items: list[PromotionOut]
    next_cursor: str | None


class VoucherIn(Strict):
    code: VoucherCode = Field(description="stored upper-case; customers may type it in any case")
    promotion: Code = Field(description="the promotion it gives, which then applies only with a voucher")
    usage_limit: Count | None = Field(None, description="uses in all; null: unlimited")
    per_account_limit: Count | None = None
    valid_from: date | None = None
    valid_to: date | None = None


class VoucherOut(BaseModel):
    code: str
    promotion: PromotionOut
    usage_limit: int | None
    used: int
    remaining: int | None
    per_account_limit: int | None
    valid_from: date | None
    valid_to: date | None


class VoucherPage(BaseModel):
    items: list[VoucherOut]
    next_cursor: str | None


class PointsIn(Strict):
    points: Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS, description="+ credit, - debit; not 0")]
    reason: Text(200, 1)  # type: ignore[valid-type]


class LedgerOut(BaseModel):
    id: int
    points: int
    reason: str
    order_id: int | None
    at: datetime


class PointsOut(BaseModel):
    account: str
    balance: int
    ledger: list[LedgerOut] = Field(description="newest first")
    next_cursor: str | None


class TaxRateIn(Strict):
    region: Region = Field(description='a country ("GB") or a subdivision ("US-CA")')
    tax_class: TaxClass = Field(description='"standard", "reduced", "zero" ...')
    rate: Rate = Field(description='"0.20" for 20 %')
    name: Text(100, 1)  # type: ignore[valid-type]


class TaxRateOut(BaseModel):
    region: str
    tax_class: str
    rate: Decimal
    name: str


class TaxRateList(BaseModel):
    items: list[TaxRateOut]


def _code() -> Any:
    return Path(max_length=64)


def _promotion(p: Promotion) -> dict[str, Any]:
    return {**p.__dict__, "skus": list(p.skus), "categories": list(p.categories), "tags": list(p.tags),
            "channels": list(p.channels)}  # fmt: skip


def _voucher(v: Voucher) -> dict[str, Any]:
    remaining = max(v.usage_limit - v.used, 0) if v.usage_limit is not None else None
    return {**v.__dict__, "promotion": _promotion(v.promotion), "remaining": remaining}


def _entry(e: LedgerEntry) -> dict[str, Any]:
    return e.__dict__


def _as_domain(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}


# --- promotions ------------------------------------------------------------------------


@router.post("/promotions", response_model=PromotionOut, status_code=201)
def create_promotion(
    body: PromotionIn, _: ApiKey = Depends(WRITE), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    promotion = Promotion(**_as_domain(body.model_dump()))
    with writing(rt.engine) as s:
        s.add_promotion(promotion)
    return _promotion(promotion)


@router.get("/promotions", response_model=PromotionPage)
def list_promotions(
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(READ),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    with looking(rt.engine) as s:
        items, nxt = s.list_promotions(limit, cursor)
    return {"items": [_promotion(p) for p in items], "next_cursor": nxt}


@router.get("/promotions/{code}", response_model=PromotionOut)
def get_promotion(
    code: str = _code(), _: ApiKey = Depends(READ), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    with looking(rt.engine) as s:
        found = s.promotion(code)
    if found is None:
        raise NotFound(f"no promotion {code!r}")
    return _promotion(found)


@router.patch("/promotions/{code}", response_model=PromotionOut)
def change_promotion(
    body: PromotionPatch, code: str = _code(), _: ApiKey = Depends(WRITE), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    problems = IssueCollector()
    for name in _REQUIRED:
        if name in changes and changes[name] is None:
            problems.add(name, f"{name} cannot be null", "null")
    problems.raise_if_any()
    with writing(rt.engine) as s:
        found = s.promotion(code)
        if found is None:
            raise NotFound(f"no promotion {code!r}")
        changed = replace(found, **_as_domain(changes))
        s.update_promotion(changed)
    return _promotion(changed)


# --- vouchers --------------------------------------------------------------------------


@router.post("/vouchers", response_model=VoucherOut, status_code=201)
def create_voucher(
    body: VoucherIn, _: ApiKey = Depends(WRITE), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    with writing(rt.engine) as s:
        promotion = s.promotion(body.promotion)
        if promotion is None:
            msg = f"no promotion {body.promotion!r}"
            raise ValidationFailed(
                msg, issues=[FieldIssue("promotion", msg, "unknown_promotion", body.promotion)]
            )
        voucher = Voucher(body.code, promotion, body.usage_limit, 0, body.per_account_limit,
                          body.valid_from, body.valid_to)  # fmt: skip
        return _voucher(s.add_voucher(voucher))


@router.get("/vouchers", response_model=VoucherPage)
def list_vouchers(
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(READ),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    with looking(rt.engine) as s:
        items, nxt = s.list_vouchers(limit, cursor)
    return {"items": [_voucher(v) for v in items], "next_cursor": nxt}


@router.get("/vouchers/{code}", response_model=VoucherOut)
def get_voucher(
    code: str = _code(), _: ApiKey = Depends(READ), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    with looking(rt.engine) as s:
        found = s.voucher(code)
    if found is None:
        raise NotFound(f"no voucher {code!r}")
    return _voucher(found)


# --- loyalty points --------------------------------------------------------------------


def _account(s: SqlPromotions, code: str) -> int:
    found = s.account_id(code)
    if found is None:
        raise NotFound(f"no account {code!r}")
    return found


@router.get("/accounts/{code}/points", response_model=PointsOut, tags=["accounts"])
def get_points(
    code: str = _code(),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(READ),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    with looking(rt.engine) as s:
        account = _account(s, code)
        entries, nxt = s.ledger(account, limit, cursor)
        balance = s.points_balance(account)
    return {"account": code, "balance": balance, "ledger": [_entry(e) for e in entries], "next_cursor": nxt}


@router.post("/accounts/{code}/points", response_model=PointsOut, status_code=201, tags=["accounts"])
def move_points(
    body: PointsIn, code: str = _code(), _: ApiKey = Depends(WRITE), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Credit (points > 0) or debit (points < 0) the account; a debit never takes the balance
    below zero (422 ``points_exceeded``)."""
    if body.points == 0:
        msg = "points must not be 0: send a credit (> 0) or a debit (< 0)"
        raise ValidationFailed(msg, issues=[FieldIssue("points", msg, "out_of_range", 0)])
    with writing(rt.engine) as s:
        account = _account(s, code)
        if body.points > 0:
            entry = s.credit_points(account, body.points, body.reason)
        else:
            entry = s.spend_points(account, -body.points, None, body.reason)
        balance = s.points_balance(account)
    return {"account": code, "balance": balance, "ledger": [_entry(entry)], "next_cursor": None}


# --- tax rates -------------------------------------------------------------------------


@router.get("/tax-rates", response_model=TaxRateList, tags=["tax"])
def list_tax_rates(_: ApiKey = Depends(READ), rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    with looking(rt.engine) as s:
        return {"items": [r.__dict__ for r in s.tax_rules().rates]}


@router.put(
    "/tax-rates",
    response_model=TaxRateOut,
    tags=["tax"],
    responses={201: {"model": TaxRateOut, "description": "created"}},
)
def put_tax_rate(
    body: TaxRateIn, response: Response, _: ApiKey = Depends(WRITE), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Create (201) or replace (200) the rate of a region and tax class."""
    rate = TaxRate(body.region, body.tax_class, body.rate, body.name)
    with writing(rt.engine) as s:
        created = s.put_tax_rate(rate)
    response.status_code = 201 if created else 200
    return rate.__dict__


@router.delete("/tax-rates/{region}/{tax_class}", status_code=204, tags=["tax"])
def delete_tax_rate(
    region: str = Path(max_length=10),
    tax_class: str = Path(max_length=40),
    _: ApiKey = Depends(WRITE),
    rt: Runtime = Depends(runtime),
) -> Response:
    with writing(rt.engine) as s:
        if not s.delete_tax_rate(region, tax_class):
            raise NotFound(f"no tax rate for {region} {tax_class}")
    return Response(status_code=204)
