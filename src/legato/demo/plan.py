"""A realistic, deterministic demo data set, loaded through the services only.

``load_demo`` creates six channels, fifty products priced in GBP, USD, EUR and JPY,
five contracted pricelists, thirty trade accounts, five hundred orders spread over
every lifecycle status, and ten quotes. Everything goes through the use cases a real
caller uses, so every order has its timeline and its outbox events.

All randomness comes from ``random.Random(2026)`` in a pure first pass
(``demo_dataset``), so every run plans exactly the same things whatever the database
holds. Loading is idempotent: existing catalogue rows are left as they are, an order
whose external reference (``DEMO-0001`` ...) exists is not touched again, and a quote
is recognised by the key that starts its notes (``DEMO-Q01: ...``).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from legato.demo import tables
from legato.domain.catalog import (
    Account,
    Channel,
    ChannelSettings,
    ChannelType,
    Dimensions,
    OnNoMatch,
    Pricelist,
    PricelistKind,
    PricePolicy,
    Product,
)
from legato.domain.commands import (
    LineDraft,
    OrderDraft,
)
from legato.domain.lifecycle import OrderStatus
from legato.domain.matching import CustomerRef
from legato.domain.money import round_amount
from legato.domain.order import Address

SEED = 2026
ORDERS = 500
ACTOR = "demo"  # every timeline entry the demo writes names this actor
ORDER_REF = "DEMO-{:04d}"  # external reference of the n-th demo order: the idempotency key
QUOTE_PREFIX = "DEMO-Q"
QUOTE_KEY = QUOTE_PREFIX + "{:02d}"  # starts the notes of the n-th demo quote: its idempotency key
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _table(text: str) -> list[list[str]]:
    """The rows of a ``|``-separated text table (data reads best as a table)."""
    return [[cell.strip() for cell in row.split("|")] for row in text.strip().splitlines()]


# --- catalogue ---------------------------------------------------------------------------


def _channels() -> list[Channel]:
    hook = {"webhook_secret": "demo-only-webhook-secret"}
    return [
        Channel("WEB-UK", "UK web shop", ChannelType.ECOMMERCE, "shopify", "GBP",
                ChannelSettings(extra={"shop_domain": "legato-demo-uk.myshopify.com"}), secrets=dict(hook)),
        Channel("SHOP-US", "US web shop", ChannelType.ECOMMERCE, "woocommerce", "USD",
                ChannelSettings(extra={"site_url": "https://shop.legato-demo.example"}), secrets=dict(hook)),
        Channel("B2B-EU", "Trade portal (Europe)", ChannelType.B2B, "portal", "EUR",
                ChannelSettings(match_keys=("email", "code", "erp_ref"), on_no_match=OnNoMatch.REJECT)),
        Channel("POS-LDN", "London flagship store", ChannelType.RETAIL, "pos", "GBP"),
        Channel("MKT-JP", "Japan marketplace", ChannelType.MARKETPLACE, "rest", "JPY",
                ChannelSettings(price_policy=PricePolicy.TRUST, extra={"sku_map": {"MKT-881": "AUD-HP-NC"}})),
        Channel("API", "ERP and partner integrations", ChannelType.INTEGRATION, "rest", "EUR",
                ChannelSettings(match_keys=("erp_ref", "code", "email"))),
    ]  # fmt: skip


#: sku | name | category | tags | LxWxH cm | kg | GBP list price


def _list_prices(gbp: str) -> dict[str, Decimal]:
    """The GBP price as given; USD ending .99, EUR ending .95, JPY in whole tens of yen."""
    g = Decimal(gbp)
    return {
        "GBP": g,
        "USD": (g * Decimal("1.28")).to_integral_value(ROUND_CEILING) - Decimal("0.01"),
        "EUR": (g * Decimal("1.17")).to_integral_value(ROUND_CEILING) - Decimal("0.05"),
        "JPY": (g * Decimal("19.5")).to_integral_value(ROUND_HALF_UP) * 10,
    }


def _products() -> list[Product]:
    out = []
    for sku, name, category, tags, dims, kg, gbp in _table(tables.PRODUCTS):
        length, width, height = (Decimal(x) for x in dims.split("x"))
        out.append(Product(sku, name, category, (category, *tags.split()), Dimensions(length, width, height),
                           Decimal(kg), _list_prices(gbp)))  # fmt: skip
    return out


def _pricelists(products: list[Product]) -> list[Pricelist]:
    def net(currency: str, factor: str, categories: set[str]) -> dict[str, Decimal]:
        return {p.sku: round_amount(p.prices[currency] * Decimal(factor), currency)
                for p in products if p.category in categories}  # fmt: skip

    pct = PricelistKind.PERCENT_OFF
    tents = {sku: v for sku, v in net("USD", "0.55", {"outdoor"}).items() if sku.startswith("OUT-T")}
    return [
        Pricelist("HOSPITALITY-GBP", "Hospitality contract: coffee, tea, filters", "GBP",
                  items=net("GBP", "0.78", {"coffee", "tea"}) | {"BRW-FLT-100": Decimal("3.90")},
                  valid_from=date(2025, 1, 1)),
        Pricelist("EDU-GBP-15", "Education, 15 % off list", "GBP", pct, Decimal(15),
                  valid_from=date(2025, 9, 1), valid_to=date(2027, 8, 31)),
        Pricelist("TRADE-EU-12", "EU trade, 12 % off list", "EUR", pct, Decimal(12),
                  items={"COF-HSE-1KG": Decimal("19.90"), "BRW-GRD-ELE": Decimal("169.00")},
                  valid_from=date(2025, 1, 1)),
        Pricelist("WHOLESALE-USD-20", "US wholesale, 20 % off list", "USD", pct, Decimal(20), items=tents,
                  valid_from=date(2025, 4, 1)),
        Pricelist("DISTRIB-JPY", "Japan distributor net prices", "JPY",
                  items=net("JPY", "0.70", {"audio", "brewing"}), valid_from=date(2025, 1, 1)),
    ]  # fmt: skip


# --- places and people -------------------------------------------------------------------

#: country | sales region | name pool | guest phone prefix | house number | streets
#: country | city | region | postcode | tax rate (VAT; US: combined sales tax)
#: name pool | first names | surnames
_COUNTRIES = {row[0]: row[1:] for row in _table(tables.COUNTRY_TABLE)}
_CITIES = {c: [row[1:] for row in _table(tables.CITY_TABLE) if row[0] == c] for c in _COUNTRIES}
_NAMES = {
    pool: (first.split(), [n.strip() for n in last.split(",")])
    for pool, first, last in _table(tables.NAME_TABLE)
}


def _person(rng: random.Random, country: str) -> str:
    first, last = _NAMES[_COUNTRIES[country][1]]
    return f"{rng.choice(first)} {rng.choice(last)}"


def _address(rng: random.Random, country: str, name: str, company: str | None = None,
             phone: str | None = None, email: str | None = None) -> Address:  # fmt: skip
    _, _, _, house, streets = _COUNTRIES[country]
    city, region, postcode, _ = rng.choice(_CITIES[country])
    street, n = rng.choice(streets.split("; ")), rng.randint(1, 180)
    chome = f"{rng.randint(1, 6)}-{rng.randint(1, 20)}-{rng.randint(1, 15)}"  # a Japanese block address
    line1 = {"before": f"{n} {street}", "after": f"{street} {n}", "chome": f"{chome} {street}"}[house]
    line2 = rng.choice([None, None, None, f"Unit {rng.randint(1, 40)}", f"Floor {rng.randint(1, 6)}"])
    return Address(name, company, line1, line2, city, region, postcode, country, phone, email)


def _tax_rate(address: Address | None) -> Decimal:
    """The rate of the address's city; over-the-counter sales are taxed as in London."""
    if address is None:
        return Decimal("0.20")
    return next(Decimal(r[3]) for r in _CITIES[address.country or "GB"] if r[0] == address.city)


# --- accounts ----------------------------------------------------------------------------

#: code | name | country | currency | tier | contracted pricelist (- for none) | industry
_CREDIT = {"gold": 50_000, "silver": 20_000, "bronze": 5_000}  # in GBP/USD/EUR; x150 in JPY
_TERMS = {"gold": "net60", "silver": "net30", "bronze": "prepaid"}
_MANAGERS = ("Priya Shah", "Tom Hughes", "Elena Rossi", "Kenji Mori")


@dataclass
class _Customer:
    account: Account
    country: str
    address: Address  # where the account's orders go


def _accounts(rng: random.Random) -> list[_Customer]:
    out = []
    for i, (code, name, country, currency, tier, pricelist, industry) in enumerate(_table(tables.ACCOUNTS)):
        email = f"orders@{code.lower()}.example"
        phone = (
            f"{_COUNTRIES[country][2][:-2]}{1000 + i:04d}"  # the guests' prefix, then 10xx: never a guest's
        )
        tax_id = str(rng.randint(10**8, 10**9 - 1))
        props: dict[str, Any] = {"industry": industry, "account_manager": _MANAGERS[i % len(_MANAGERS)]}
        if country == "US":
            props["ein"] = f"{tax_id[:2]}-{tax_id[2:]}"
        elif country == "JP":
            props["corporate_number"] = f"{tax_id}{rng.randint(1000, 9999)}"
        else:
            props["vat_id"] = f"{country}{tax_id}"
        account = Account(
            code, name, email, phone, erp_ref=None if i % 7 == 6 else f"ERP-{10_000 + i * 37}",
            properties=props, tier=tier, region=_COUNTRIES[country][0], currency=currency,
            pricelist_code=None if pricelist == "-" else pricelist,
            credit_limit=Decimal(_CREDIT[tier] * (150 if currency == "JPY" else 1)),
            payment_terms=_TERMS[tier],
        )  # fmt: skip
        out.append(
            _Customer(account, country, _address(rng, country, _person(rng, country), name, phone, email))
        )
    return out


# --- how each order reaches its status -----------------------------------------------------

#: The steps below, one service call each: "what=to: reason" (what: status or a track).
_STEPS = {
    "PAID": "payment=paid: payment captured at checkout",
    "TILL": "payment=paid: paid at the till",
    "TRANSFER": "payment=paid: bank transfer received",
    "REFUNDED": "payment=refunded: refunded in full",
    "REFUND": "payment=partially_refunded: refund for the returned item",
    "PARTIAL": "fulfilment=partially_fulfilled: first parcel shipped",
    "SHIPPED": "fulfilment=fulfilled: delivered by the carrier",
    "COUNTER": "fulfilment=fulfilled: handed over at the counter",
    "RETURNED": "fulfilment=partially_returned: one item returned within 30 days",
    "INVOICED": "invoice=invoiced: invoice issued",
    "CREDIT-CHECK": "status=pending_approval: customer credit check requested",
    "APPROVED": "status=created: approved by the sales manager",
    "PICK": "status=processing: picking started at the warehouse",
    "DONE": "status=completed: delivered and closed",
    "HOLD-ADDRESS": "status=on_hold: awaiting the customer's address confirmation",
    "HOLD-PO": "status=on_hold: awaiting the customer's purchase order number",
    "HOLD-STOCK": "status=on_hold: awaiting stock from the supplier",
    "HOLD-PAYMENT": "status=on_hold: payment verification",
    "RELEASED": "status=created: payment verified, released",
    "HOLD-FRAUD": "status=on_hold: fraud screening",
    "CANCEL-ASKED": "status=cancelled: customer asked to cancel before dispatch",
    "CANCEL-CREDIT": "status=cancelled: approval declined: credit limit exceeded",
    "CANCEL-STOCK": "status=cancelled: item out of stock",
    "CANCEL-FRAUD": "status=cancelled: fraud check failed",
    "VOID-DUPLICATE": "status=voided: duplicate of an order entered twice",
    "VOID-TEST": "status=voided: test order entered by mistake",
}
#: final status | channel groups (* any) | weight | placed as | steps (legal transitions only).
#: Only trade orders are invoiced on account; shops and tills take payment up front.
#: channel type -> the group its rows above are chosen from
_GROUPS = {
    "ecommerce": "shop",
    "marketplace": "shop",
    "retail": "till",
    "b2b": "trade",
    "integration": "trade",
}
#: how many of the ORDERS end in each status
_STATUS_MIX = {"completed": 200, "processing": 80, "created": 60, "cancelled": 60, "on_hold": 40,
               "pending_approval": 35, "voided": 25}  # fmt: skip
_PLACED_WHY = {"pending_approval": "order value above the approval threshold",
               "on_hold": "fraud screening: billing and shipping details differ"}  # fmt: skip

Step = tuple[str, str, str]  # (status | payment | fulfilment | invoice, target, reason)


def _steps(text: str) -> list[Step]:
    out = []
    for name in filter(None, (s.strip() for s in text.split(";"))):
        what, _, rest = _STEPS[name].partition("=")
        to, _, reason = rest.partition(": ")
        out.append((what, to, reason))
    return out


_PATHS = [(s, groups.split(), int(w), OrderStatus(start), _steps(steps)) for s, groups, w, start, steps in
         _table(tables.PATH_TABLE)]  # fmt: skip


def _path(status: str, channel_type: str, rng: random.Random) -> tuple[OrderStatus, list[Step]]:
    group = _GROUPS[channel_type]
    rows = [r for r in _PATHS if r[0] == status and ("*" in r[1] or group in r[1])]
    _, _, _, start, steps = rng.choices(rows, weights=[r[2] for r in rows])[0]
    return start, steps


# --- orders -------------------------------------------------------------------------------

_CHANNEL_MIX = {"WEB-UK": 30, "SHOP-US": 20, "B2B-EU": 15, "POS-LDN": 15, "MKT-JP": 10, "API": 10}
_KNOWN_CUSTOMER = {"B2B-EU": 1.0, "API": 0.7, "WEB-UK": 0.12, "SHOP-US": 0.12}  # share from an account
#: accounts each channel sees (the trade portal serves Europe; the ERP integration everyone)
_EUROPE = ("GB", "IE", "FR", "BE", "NL", "DE", "AT", "PL", "ES", "IT")
_ACCOUNT_COUNTRIES = {"WEB-UK": ("GB", "IE"), "SHOP-US": ("US",), "B2B-EU": _EUROPE}
#: a till sells on the spot: its orders end completed, or were voided or cancelled at the counter
_TILL_MIX = {"completed": 85, "voided": 10, "cancelled": 5}
_RECEIVED_VIA = {"WEB-UK": "received from the Shopify store", "SHOP-US": "received from WooCommerce",
                 "B2B-EU": "submitted on the trade portal", "POS-LDN": "rung up at the till",
                 "MKT-JP": "imported from the marketplace", "API": "pushed by the ERP"}  # fmt: skip
_GUEST_COUNTRIES = {
    "WEB-UK": "GB GB GB GB GB GB GB GB GB IE",
    "SHOP-US": "US",
    "MKT-JP": "JP",
    "API": "DE FR NL ES IT",
}
_SHIPPING = {"GBP": "4.95", "USD": "7.99", "EUR": "6.90", "JPY": "800"}
_FREIGHT = {"GBP": "20.00", "USD": "30.00", "EUR": "25.00", "JPY": "3500"}
_FREE_OVER = {"GBP": 50, "USD": 75, "EUR": 60, "JPY": 8000}
_NOTES = ("Leave with a neighbour if out", "Deliver to loading bay 3", "Gift wrap, please", "Call on arrival")


@dataclass
class OrderPlan:
    draft: OrderDraft
    reason: str  # why it was placed in its first status
    steps: list[Step]  # applied in order, only when this run placed the order


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _guest(rng: random.Random, country: str, *, relay: bool = False) -> tuple[CustomerRef, Address]:
    name, n = _person(rng, country), rng.randint(1, 999)
    email = (f"{rng.getrandbits(40):010x}@relay.marketplace.example" if relay
             else f"{_ascii(name.replace(' ', '.'))}{n}@example.com")  # fmt: skip
    phone = f"{_COUNTRIES[country][2]}{n % 100:02d}" if rng.random() < 0.6 else None
    return CustomerRef(name=name, email=email, phone=phone), _address(rng, country, name, None, phone, email)


Who = tuple[CustomerRef | None, Address | None, Account | None]  # as sent, where to, the account


def _customer(rng: random.Random, channel: Channel, customers: list[_Customer]) -> Who:
    """Who orders: a known account (named by one of the channel's keys), a guest, or nobody (a till sale)."""
    code = channel.code
    if rng.random() < _KNOWN_CUSTOMER.get(code, 0.0):
        countries = _ACCOUNT_COUNTRIES.get(code)
        cust = rng.choice([c for c in customers if countries is None or c.country in countries])
        acc = cust.account
        key = rng.choice([k for k in channel.settings.match_keys if k != "phone" and getattr(acc, k)])
        return CustomerRef(name=cust.address.name, **{key: getattr(acc, key)}), cust.address, acc
    if code == "POS-LDN":
        return (_guest(rng, "GB")[0] if rng.random() < 0.5 else None), None, None  # an e-receipt, or no one
    ref, address = _guest(rng, rng.choice(_GUEST_COUNTRIES[code].split()), relay=code == "MKT-JP")
    return ref, address, None


def _order(n: int, rng: random.Random, channel: Channel, status: str, products: list[Product],
           customers: list[_Customer]) -> OrderPlan:  # fmt: skip
    kind = channel.type.value
    ref, ship, account = _customer(rng, channel, customers)
    trade = account is not None and kind in ("b2b", "integration")
    currency = account.currency if account is not None and trade and account.currency else channel.currency
    promo = account is None and kind == "ecommerce" and rng.random() < 0.15
    tax, lines, estimate = _tax_rate(ship), [], Decimal(0)
    for p in rng.sample(products, rng.choices([1, 2, 3, 4, 5], weights=[35, 30, 18, 10, 7])[0]):
        qty = Decimal(rng.choice([2, 4, 6, 10, 12, 24]) if trade else rng.choices([1, 2, 3], [70, 22, 8])[0])
        price = p.prices[currency]
        sent = None  # a marketplace sends its own (sometimes promotional) price, which the channel trusts
        if channel.settings.price_policy is PricePolicy.TRUST:
            sent = round_amount(price * Decimal(rng.choice(["0.95", "1", "1"])), currency)
        discount = round_amount(qty * price / 10, currency) if promo else Decimal(0)
        estimate += qty * price
        lines.append(LineDraft(p.sku, qty, unit_price=sent, discount=discount, tax_rate=tax))
    if kind in ("retail", "marketplace"):  # carried out of the shop, or shipped free by the marketplace
        shipping = Decimal(0)
    elif trade:
        shipping = Decimal(_FREIGHT[currency])
    else:
        shipping = Decimal(0) if estimate >= _FREE_OVER[currency] else Decimal(_SHIPPING[currency])
    express = rng.random() < 0.1
    tags = [kind, *(["promo:SPRING10"] if promo else []), *(["express"] if express else []),
            *(["key-account"] if account is not None and account.tier == "gold" else [])]  # fmt: skip
    start, steps = _path(status, kind, rng)
    draft = OrderDraft(
        channel.code, tuple(lines), ORDER_REF.format(n), currency, ref, billing_address=ship,
        shipping_address=ship, shipping=shipping, shipping_tax_rate=tax if shipping else Decimal(0),
        priority=2 if express else 0, tags=tuple(tags), status=start,
        notes=rng.choice(_NOTES) if ship is not None and rng.random() < 0.15 else None,
    )  # fmt: skip
    return OrderPlan(draft, _PLACED_WHY.get(start.value, _RECEIVED_VIA[channel.code]), steps)


# --- quotes -------------------------------------------------------------------------------

#: the final status of each demo quote, and the steps that reach it ("convert": one call)
_QUOTES = ["draft", "sent", "accepted", "converted", "declined", "converted", "sent", "expired", "draft",
           "converted"]  # fmt: skip
_QUOTE_STEPS = {"draft": [], "sent": ["sent"], "accepted": ["sent", "accepted"],
                "declined": ["sent", "declined"], "expired": ["sent", "expired"],
                "converted": ["sent", "accepted", "convert"]}  # fmt: skip


@dataclass
class QuotePlan:
    key: str  # DEMO-Q01: starts the quote's notes, so a second run finds it
    draft: OrderDraft
    valid_days: int  # valid until this many days from today (negative: already lapsed)
    steps: list[str]


def _quotes(rng: random.Random, products: list[Product], customers: list[_Customer]) -> list[QuotePlan]:
    out = []
    for n, status in enumerate(_QUOTES, start=1):
        cust = rng.choice([c for c in customers if c.country in _EUROPE])  # quoted on the trade portal
        acc, addr, key = cust.account, cust.address, QUOTE_KEY.format(n)
        currency = acc.currency or "EUR"
        lines = tuple(LineDraft(p.sku, Decimal(rng.choice([10, 20, 50, 100])), tax_rate=_tax_rate(addr))
                      for p in rng.sample(products, rng.randint(2, 5)))  # fmt: skip
        draft = OrderDraft(
            "B2B-EU", lines, currency=currency, customer=CustomerRef(code=acc.code), billing_address=addr,
            shipping_address=addr, shipping=Decimal(_FREIGHT[currency]), shipping_tax_rate=_tax_rate(addr),
            notes=f"{key}: volume quote for {acc.name}",
        )  # fmt: skip
        out.append(QuotePlan(key, draft, -5 if status == "expired" else 30 + n, _QUOTE_STEPS[status]))
    return out


# --- the data set and the loader -----------------------------------------------------------


@dataclass
class DemoDataset:
    channels: list[Channel]
    products: list[Product]
    pricelists: list[Pricelist]
    accounts: list[Account]
    orders: list[OrderPlan]
    quotes: list[QuotePlan]


def _statuses(rng: random.Random, channels: list[Channel]) -> list[str]:
    """The final status of each order: exactly ``_STATUS_MIX``, tills first from ``_TILL_MIX``."""
    left = dict(_STATUS_MIX)
    out: list[str | None] = [None] * len(channels)
    for i, channel in enumerate(channels):
        if channel.type is ChannelType.RETAIL:
            status = rng.choices(list(_TILL_MIX), list(_TILL_MIX.values()))[0]
            left[status] -= 1
            out[i] = status
    rest = [status for status, count in left.items() for _ in range(count)]
    rng.shuffle(rest)
    it = iter(rest)
    return [status or next(it) for status in out]


def demo_dataset(seed: int = SEED) -> DemoDataset:
    """Everything the demo loads, planned from one seeded generator, with no I/O."""
    rng = random.Random(seed)
    channels, products = _channels(), _products()
    customers = _accounts(rng)
    by_code = {c.code: c for c in channels}
    picked = [
        by_code[code] for code in rng.choices(list(_CHANNEL_MIX), list(_CHANNEL_MIX.values()), k=ORDERS)
    ]
    plans = zip(picked, _statuses(rng, picked), strict=True)
    orders = [
        _order(n, rng, channel, status, products, customers) for n, (channel, status) in enumerate(plans, 1)
    ]
    return DemoDataset(channels, products, _pricelists(products), [c.account for c in customers], orders,
                       _quotes(rng, products, customers))  # fmt: skip


__all__ = [
    "ACTOR",
    "QUOTE_PREFIX",
    "DemoDataset",
    "OrderPlan",
    "Progress",
    "QuotePlan",
    "Step",
    "demo_dataset",
]
