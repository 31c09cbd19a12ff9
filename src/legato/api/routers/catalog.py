"""The catalogue and the parties: channels, products, accounts, pricelists.

Each is created with POST, read and replaced by its code (PUT), listed with a cursor.
Channel secrets are write-only: PUT merges new secret values over the stored ones.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from legato.api import schemas as s
from legato.api import views
from legato.api.deps import runtime
from legato.api.security import require
from legato.bootstrap import Runtime
from legato.domain.catalog import (
    Account,
    Channel,
    ChannelSettings,
    Dimensions,
    OnNoMatch,
    Pricelist,
    PricePolicy,
    Product,
)
from legato.domain.errors import FieldIssue, NotFound, ValidationFailed
from legato.services import catalog as svc
from legato.store import queries
from legato.store.apikeys import ApiKey

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


#: a fresh Path() per use: one shared object would bind every path parameter to one name
def _code() -> Any:
    return Path(max_length=64)


def _same(path_value: str, body_value: str, field: str) -> None:
    if path_value != body_value:
        msg = f"the {field} in the body ({body_value!r}) differs from the one in the path ({path_value!r})"
        raise ValidationFailed(msg, issues=[FieldIssue(field, msg, "mismatch", body_value)])


# --- channels ----------------------------------------------------------------------


def _channel(body: s.ChannelIn) -> Channel:
    st = body.settings
    # only what was sent: the pipeline applies the defaults (no SKU map, quarantine unknown SKUs)
    extra = {
        **(st.model_extra or {}),
        **st.model_dump(include={"sku_map", "unknown_sku"}, exclude_unset=True),
    }
    return Channel(
        code=body.code,
        name=body.name,
        type=body.type,
        adapter=body.adapter,
        currency=body.currency,
        settings=ChannelSettings(
            tuple(st.match_keys), OnNoMatch(st.on_no_match), PricePolicy(st.price_policy), extra
        ),
        secrets=dict(body.secrets),
        active=body.active,
    )


@router.post("/channels", response_model=s.ChannelOut, status_code=201, tags=["channels"])
def create_channel(
    body: s.ChannelIn, _: ApiKey = Depends(require("admin")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    return views.channel_out(svc.save_channel(rt.uow(), _channel(body), create=True))


@router.get("/channels", response_model=s.ChannelPage, tags=["channels"])
def list_channels(
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    items, nxt = queries.list_channels(rt.engine, rt.box, limit, cursor)
    return {"items": [views.channel_out(c) for c in items], "next_cursor": nxt}


@router.get("/channels/{code}", response_model=s.ChannelOut, tags=["channels"])
def get_channel(
    code: str = _code(), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    with rt.uow() as uow:
        channel = uow.channels.get_by_code(code)
    if channel is None:
        raise NotFound(f"no channel {code!r}")
    return views.channel_out(channel)


@router.put("/channels/{code}", response_model=s.ChannelOut, tags=["channels"])
def replace_channel(
    body: s.ChannelIn,
    code: str = _code(),
    _: ApiKey = Depends(require("admin")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    _same(code, body.code, "code")
    return views.channel_out(svc.save_channel(rt.uow(), _channel(body), create=False))


# --- products ----------------------------------------------------------------------


def _product(body: s.ProductIn) -> Product:
    d = body.dimensions
    return Product(
        sku=body.sku,
        name=body.name,
        category=body.category,
        tags=tuple(body.tags),
        dimensions=Dimensions(d.length, d.width, d.height) if d else None,
        weight_kg=body.weight_kg,
        prices=dict(body.prices),
        active=body.active,
        pricing=body.pricing.model_dump() if body.pricing else None,
        tax_class=body.tax_class,
    )


@router.post("/products", response_model=s.ProductOut, status_code=201, tags=["products"])
def create_product(
    body: s.ProductIn, _: ApiKey = Depends(require("catalog:write")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    return views.product_out(svc.save_product(rt.uow(), _product(body), create=True))


@router.get("/products", response_model=s.ProductPage, tags=["products"])
def list_products(
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    items, nxt = queries.list_products(rt.engine, limit, cursor)
    return {"items": [views.product_out(p) for p in items], "next_cursor": nxt}


@router.get("/products/{sku}", response_model=s.ProductOut, tags=["products"])
def get_product(
    sku: str = _code(), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    with rt.uow() as uow:
        product = uow.products.get_many([sku]).get(sku)
    if product is None:
        raise NotFound(f"no product {sku!r}")
    return views.product_out(product)


@router.put("/products/{sku}", response_model=s.ProductOut, tags=["products"])
def replace_product(
    body: s.ProductIn,
    sku: str = _code(),
    _: ApiKey = Depends(require("catalog:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    _same(sku, body.sku, "sku")
    return views.product_out(svc.save_product(rt.uow(), _product(body), create=False))


# --- accounts ----------------------------------------------------------------------


def _account(body: s.AccountIn) -> Account:
    return Account(
        code=body.code,
        name=body.name,
        email=body.email,
        phone=body.phone,
        erp_ref=body.erp_ref,
        properties=dict(body.properties),
        tier=body.tier,
        region=body.region,
        currency=body.currency,
        pricelist_code=body.pricelist,
        credit_limit=body.credit_limit,
        payment_terms=body.payment_terms,
    )


@router.post("/accounts", response_model=s.AccountOut, status_code=201, tags=["accounts"])
def create_account(
    body: s.AccountIn, _: ApiKey = Depends(require("catalog:write")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    return views.account_out(svc.save_account(rt.uow(), _account(body), create=True))


@router.get("/accounts", response_model=s.AccountPage, tags=["accounts"])
def list_accounts(
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    items, nxt = queries.list_accounts(rt.engine, limit, cursor)
    return {"items": [views.account_out(a) for a in items], "next_cursor": nxt}


@router.get("/accounts/{code}", response_model=s.AccountOut, tags=["accounts"])
def get_account(
    code: str = _code(), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    account = queries.get_account(rt.engine, code)
    if account is None:
        raise NotFound(f"no account {code!r}")
    return views.account_out(account)


@router.put("/accounts/{code}", response_model=s.AccountOut, tags=["accounts"])
def replace_account(
    body: s.AccountIn,
    code: str = _code(),
    _: ApiKey = Depends(require("catalog:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    _same(code, body.code, "code")
    return views.account_out(svc.save_account(rt.uow(), _account(body), create=False))


# --- pricelists --------------------------------------------------------------------


def _pricelist(body: s.PricelistIn) -> Pricelist:
    return Pricelist(
        code=body.code,
        name=body.name,
        currency=body.currency,
        kind=body.kind,
        percent_off=body.percent_off,
        items=dict(body.items),
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        channel_code=body.channel,
        item_pricing={k: dict(v) for k, v in body.item_pricing.items()},
    )


@router.post("/pricelists", response_model=s.PricelistOut, status_code=201, tags=["pricelists"])
def create_pricelist(
    body: s.PricelistIn, _: ApiKey = Depends(require("catalog:write")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    return views.pricelist_out(svc.save_pricelist(rt.uow(), _pricelist(body), create=True))


@router.get("/pricelists", response_model=s.PricelistPage, tags=["pricelists"])
def list_pricelists(
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=100),
    _: ApiKey = Depends(require("orders:read")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    items, nxt = queries.list_pricelists(rt.engine, limit, cursor)
    return {"items": [views.pricelist_out(p) for p in items], "next_cursor": nxt}


@router.get("/pricelists/{code}", response_model=s.PricelistOut, tags=["pricelists"])
def get_pricelist(
    code: str = _code(), _: ApiKey = Depends(require("orders:read")), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    pricelist = queries.get_pricelist(rt.engine, code)
    if pricelist is None:
        raise NotFound(f"no pricelist {code!r}")
    return views.pricelist_out(pricelist)


@router.put("/pricelists/{code}", response_model=s.PricelistOut, tags=["pricelists"])
def replace_pricelist(
    body: s.PricelistIn,
    code: str = _code(),
    _: ApiKey = Depends(require("catalog:write")),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    _same(code, body.code, "code")
    return views.pricelist_out(svc.save_pricelist(rt.uow(), _pricelist(body), create=False))
