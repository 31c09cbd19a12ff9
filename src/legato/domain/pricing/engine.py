"""Price resolution: which list prices a line, by which mechanism, from which inputs.

For each line, in this order (documented in docs/pricing/README.md):

1. **channel**: the channel trusts its prices (``price_policy = trust``) and the line carries
   one: keep it;
2. **contract**: the account's contracted pricelist, in force on the day and in the order's
   currency: a fixed price for the SKU, the list's own mechanism for it (e.g. its own slabs),
   or a percentage off the base list;
3. **channel list**: the channel's pricelist in the order's currency, the same three ways;
4. **base list**: the product's own pricing in the order's currency (its mechanism: simple,
   slabs, rental, distance, zone + weight, usage, rate card);
5. **converted**: the product's pricing in the base currency, converted at the day's rate
   with the configured margin and price rule (e.g. to .99).

Each priced line records the list, the mechanism and its rule, the inputs, the breakdown
and any conversion, so the order can show how every price was made.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from legato.domain.catalog import Dimensions, Pricelist, PricelistKind, PricePolicy, Product
from legato.domain.errors import FieldIssue, LegatoError
from legato.domain.money import DEFAULT_ROUNDING, round_amount
from legato.domain.pricing.mechanisms import Charge, ChargePart, Mechanism, PriceInputs, build

HUNDRED = Decimal(100)
ZERO = Decimal(0)

#: LineDraft.inputs keys that are not rate-card attributes
_DECIMAL_INPUTS = ("distance_km", "weight_kg")
_TIME_INPUTS = ("start", "end", "at")
_TEXT_INPUTS = ("origin", "destination")
_DIMENSIONS = ("length_cm", "width_cm", "height_cm")


@dataclass(frozen=True)
class Conversion:
    """A price converted from the base currency: the rate used (margin included) and when."""

    from_currency: str
    rate: Decimal  # 1 from_currency = rate order currency, before the margin
    as_of: date
    provider: str
    margin_percent: Decimal
    stale: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_currency,
            "rate": str(self.rate),
            "as_of": self.as_of.isoformat(),
            "provider": self.provider,
            "margin_percent": str(self.margin_percent),
            "stale": self.stale,
        }


#: (amount, from currency, to currency) -> the converted amount (margin applied) and how; None: no rate
Converter = Callable[[Decimal, str, str], tuple[Decimal, Conversion] | None]
#: (unit price, currency) -> the unit price after the price rule (e.g. 12.37 -> 12.99)
PriceRule = Callable[[Decimal, str], Decimal]


@dataclass(frozen=True)
class PricingPolicy:
    """The business's pricing settings (LEGATO_BASE_CURRENCY, LEGATO_FX_*): where converted prices
    come from, the margin and price rule applied to them, and what a stale rate means."""

    base_currency: str = "EUR"
    margin_percent: Decimal = ZERO
    price_rule: str = "minor"  # see legato.domain.fx.apply_price_rule
    stale_policy: str = "use_last"  # or "wait": an order priced on a stale rate waits on hold
    max_age_days: int = 4
    #: the loyalty programme, {"point_value": {"EUR": "0.01"}, "max_share_percent": "50"}; None: none
    loyalty: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Priced:
    """One line's price before discounts and tax."""

    unit_price: Decimal
    charge: Decimal | None  # the whole line's charge when a mechanism made it; None: quantity x unit
    source: str  # short: "contract:ACME", "channel_list:WEB-EUR", "product", "converted:EUR", "channel"
    detail: dict[str, Any] = field(default_factory=dict)
    conversion: Conversion | None = None


@dataclass(frozen=True)
class PriceBook:
    """What one order's pricing reads, loaded once per order by the service."""

    currency: str
    base_currency: str
    contract: Pricelist | None = None
    channel_list: Pricelist | None = None
    convert: Converter | None = None
    price_rule: PriceRule | None = None
    rounding: str = DEFAULT_ROUNDING


class _Unpriced(Exception):
    def __init__(self, issues: list[FieldIssue]) -> None:
        self.issues = issues


def parse_inputs(quantity: Decimal, raw: Mapping[str, str], path: str) -> PriceInputs:
    """A line's ``inputs`` (text, as received) as PriceInputs; raises with every bad field."""
    if not raw:
        return PriceInputs(quantity=quantity)
    issues: list[FieldIssue] = []
    decimals: dict[str, Decimal] = {}
    times: dict[str, datetime] = {}
    usage: dict[str, Decimal] = {}
    attributes: dict[str, str] = {}
    texts: dict[str, str] = {}
    dims: dict[str, Decimal] = {}
    for key, value in raw.items():
        text = str(value).strip()
        where = f"{path}.{key}"
        if key in _TIME_INPUTS:
            try:
                when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                issues.append(
                    FieldIssue(where, f"{key} must be an ISO 8601 date-time, not {text!r}", "invalid", text)
                )
                continue
            if when.tzinfo is None:
                issues.append(
                    FieldIssue(
                        where, f"{key} needs a UTC offset (e.g. 2026-11-23T09:00:00Z)", "invalid", text
                    )
                )
                continue
            times[key] = when
        elif key in _DECIMAL_INPUTS or key in _DIMENSIONS or key.startswith("usage."):
            try:
                number = Decimal(text)
            except InvalidOperation:
                number = Decimal("NaN")
            if not number.is_finite() or number < 0:
                issues.append(
                    FieldIssue(where, f"{key} must be a number of at least 0, not {text!r}", "invalid", text)
                )
                continue
            if key.startswith("usage."):
                usage[key.removeprefix("usage.")] = number
            elif key in _DIMENSIONS:
                dims[key] = number
            else:
                decimals[key] = number
        elif key in _TEXT_INPUTS:
            texts[key] = text
        else:
            attributes[key] = text
    if dims and len(dims) != len(_DIMENSIONS):
        issues.append(FieldIssue(path, "give all of length_cm, width_cm and height_cm, or none", "invalid"))
    if issues:
        raise _Unpriced(issues)
    return PriceInputs(
        quantity=quantity,
        start=times.get("start"),
        end=times.get("end"),
        at=times.get("at"),
        distance_km=decimals.get("distance_km"),
        weight_kg=decimals.get("weight_kg"),
        dimensions=Dimensions(dims["length_cm"], dims["width_cm"], dims["height_cm"]) if dims else None,
        origin=texts.get("origin"),
        destination=texts.get("destination"),
        usage=usage,
        attributes=attributes,
    )


def product_pricing(product: Product, currency: str) -> tuple[str, Mapping[str, Any]] | None:
    """The product's mechanism and its configuration in ``currency``, if it is priced in it."""
    if product.pricing:
        config = product.pricing.get("currencies", {}).get(currency)
        return (str(product.pricing.get("mechanism", "simple")), config) if config is not None else None
    price = product.prices.get(currency)
    return ("simple", {"price": price}) if price is not None else None


#: built mechanisms by (kind, configuration as canonical JSON): a product's configuration is
#: validated and compiled once, not on every line that meets it
_BUILT: dict[tuple[str, str], Mechanism] = {}
_BUILT_MAX = 4096
#: the same configuration object met again (the lines of one order, a benchmark): no JSON key
_BY_ID: dict[int, tuple[Mapping[str, Any], str, Mechanism]] = {}


def _mechanism(kind: str, config: Mapping[str, Any], path: str) -> Mechanism:
    same = _BY_ID.get(id(config))
    if same is not None and same[0] is config and same[1] == kind:
        return same[2]
    key = (kind, json.dumps(config, sort_keys=True, default=str))
    found = _BUILT.get(key)
    if found is None:
        found = build(kind, config, path)
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.clear()
        _BUILT[key] = found
    if len(_BY_ID) >= _BUILT_MAX:
        _BY_ID.clear()
    _BY_ID[id(config)] = (config, kind, found)  # the config is kept, so its id is not reused
    return found


def _charge(kind: str, config: Mapping[str, Any], inputs: PriceInputs, product: Product, path: str) -> Charge:
    price = config.get("price")
    if kind == "simple" and isinstance(price, Decimal):  # a list price: nothing to build
        amount = inputs.quantity * price
        return Charge(amount, "simple", (ChargePart("unit", inputs.quantity, price, amount),))
    try:
        mechanism = _mechanism(kind, config, f"{path}.pricing")
        return mechanism.price(inputs, product.weight_kg, product.dimensions)
    except LegatoError as exc:
        raise _Unpriced(
            [_under(i, path) for i in exc.issues] or [FieldIssue(path, exc.detail, exc.code)]
        ) from None


def _under(issue: FieldIssue, path: str) -> FieldIssue:
    inner = issue.path if issue.path.startswith(path) else f"{path}.{issue.path}"
    return FieldIssue(inner, issue.message, issue.code, issue.value)


def _detail(list_name: str, kind: str, charge: Charge, inputs: PriceInputs) -> dict[str, Any]:
    return {
        "list": list_name,
        "mechanism": kind,
        "rule": charge.rule,
        "inputs": dict(charge.inputs) or _inputs_text(inputs),
        "parts": [p.as_dict() for p in charge.parts],
    }


def _inputs_text(inputs: PriceInputs) -> dict[str, str]:
    return {"quantity": str(inputs.quantity)}


def _from_charge(
    charge: Charge, quantity: Decimal, currency: str, rounding: str, kind: str
) -> tuple[Decimal, Decimal | None]:
    """(unit price, line charge): a simple price stays quantity x unit; a mechanism's charge is kept."""
    if kind == "simple" and charge.parts and len(charge.parts) == 1:
        return charge.parts[0].rate, None
    return round_amount(charge.unit_price(quantity), currency, rounding), charge.amount


def _from_list(
    book: PriceBook, plist: Pricelist, label: str, product: Product, inputs: PriceInputs, on: date, path: str
) -> Priced | None:
    if plist.currency != book.currency or not plist.in_force(on):
        return None
    source = f"{label}:{plist.code}"
    fixed = plist.items.get(product.sku)
    if fixed is not None:
        part = ChargePart("unit", inputs.quantity, fixed, inputs.quantity * fixed)
        detail = {"list": plist.code, "mechanism": "simple", "rule": "fixed",
                  "inputs": _inputs_text(inputs), "parts": [part.as_dict()]}  # fmt: skip
        return Priced(fixed, None, source, detail)
    own = plist.item_pricing.get(product.sku)
    if own is not None:
        kind = str(own.get("mechanism", "simple"))
        config = {k: v for k, v in own.items() if k != "mechanism"}
        charge = _charge(kind, config, inputs, product, path)
        unit, line_charge = _from_charge(charge, inputs.quantity, book.currency, book.rounding, kind)
        return Priced(unit, line_charge, source, _detail(plist.code, kind, charge, inputs))
    if plist.kind is PricelistKind.PERCENT_OFF:
        base = _base(book, product, inputs, path)
        if base is None:
            return None
        keep = (HUNDRED - plist.percent_off) / HUNDRED
        pct = f"-{plist.percent_off.normalize():f}%"
        detail = {
            **base.detail,
            "list": plist.code,
            "rule": f"{base.detail.get('rule')} {pct} off {base.source}",
        }
        if base.charge is None:
            # a discounted unit price is a price like any other: in whole minor units
            unit = round_amount(base.unit_price * keep, book.currency, book.rounding)
            return Priced(unit, None, f"{source}:{pct}", detail, base.conversion)
        cut = base.charge * keep
        unit = round_amount(cut / inputs.quantity, book.currency, book.rounding)
        return Priced(unit, cut, f"{source}:{pct}", detail, base.conversion)
    return None


def _base(book: PriceBook, product: Product, inputs: PriceInputs, path: str) -> Priced | None:
    """The base list: the product's pricing in the order's currency, else converted."""
    own = product_pricing(product, book.currency)
    if own is not None:
        kind, config = own
        charge = _charge(kind, config, inputs, product, path)
        unit, line_charge = _from_charge(charge, inputs.quantity, book.currency, book.rounding, kind)
        return Priced(unit, line_charge, "product", _detail("base", kind, charge, inputs))
    if book.convert is None or book.currency == book.base_currency:
        return None
    base = product_pricing(product, book.base_currency)
    if base is None:
        return None
    kind, config = base
    charge = _charge(kind, config, inputs, product, path)
    if kind == "simple" and len(charge.parts) == 1:
        converted = book.convert(charge.parts[0].rate, book.base_currency, book.currency)
        if converted is None:
            raise _Unpriced([_no_rate(book, product, path)])
        unit_raw, how = converted
        unit = book.price_rule(unit_raw, book.currency) if book.price_rule else unit_raw
        unit = round_amount(unit, book.currency, book.rounding)
        detail = {
            **_detail("base", kind, charge, inputs),
            "fx": how.as_dict(),
            "converted_unit": str(unit_raw),
        }
        return Priced(unit, None, f"converted:{book.base_currency}", detail, how)
    converted = book.convert(charge.amount, book.base_currency, book.currency)
    if converted is None:
        raise _Unpriced([_no_rate(book, product, path)])
    amount, how = converted
    unit = round_amount(amount / inputs.quantity, book.currency, book.rounding)
    detail = {**_detail("base", kind, charge, inputs), "fx": how.as_dict()}
    return Priced(unit, amount, f"converted:{book.base_currency}", detail, how)


def _no_rate(book: PriceBook, product: Product, path: str) -> FieldIssue:
    msg = (
        f"product {product.sku} has no price in {book.currency}, and there is no {book.base_currency}->"
        f"{book.currency} exchange rate to convert its {book.base_currency} price"
    )
    return FieldIssue(f"{path}.sku", msg, "rate_missing", product.sku)


def resolve_price(
    book: PriceBook,
    product: Product,
    quantity: Decimal,
    *,
    inputs: Mapping[str, str],
    sent_price: Decimal | None,
    policy: PricePolicy,
    on: date,
    path: str,
) -> Priced:
    """The price of one line of ``product``; raises PricingFailed naming each problem under ``path``."""
    if policy is PricePolicy.TRUST and sent_price is not None:
        return Priced(
            sent_price,
            None,
            "channel",
            {"list": "channel", "mechanism": "simple", "rule": "sent by the channel"},
        )
    try:
        parsed = parse_inputs(quantity, inputs, f"{path}.inputs")
        for plist, label in ((book.contract, "contract"), (book.channel_list, "channel_list")):
            if plist is not None:
                found = _from_list(book, plist, label, product, parsed, on, path)
                if found is not None:
                    return found
        base = _base(book, product, parsed, path)
    except _Unpriced as exc:
        raise PricingFailed(exc.issues) from None
    if base is None:
        msg = f"product {product.sku} has no price in {book.currency}"
        raise PricingFailed([FieldIssue(f"{path}.sku", msg, "price_not_found", product.sku)])
    return base


class PricingFailed(Exception):
    """A line could not be priced; ``issues`` name each field."""

    def __init__(self, issues: list[FieldIssue]) -> None:
        super().__init__(issues[0].message if issues else "cannot price")
        self.issues = issues


__all__ = [
    "Conversion",
    "Converter",
    "PriceBook",
    "PriceRule",
    "Priced",
    "PricingFailed",
    "PricingPolicy",
    "parse_inputs",
    "product_pricing",
    "resolve_price",
]
