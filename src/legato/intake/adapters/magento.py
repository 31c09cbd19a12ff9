"""The ``magento`` adapter: Magento 2 / Adobe Commerce, pulled through its REST API.

Magento is a *pull* channel: Legato asks for the orders changed since the last pull,

    GET {base_url}/rest[/{store_code}]/V1/orders
        ?searchCriteria[filter_groups][0][filters][0][field]=updated_at
        &searchCriteria[filter_groups][0][filters][0][value]=<the cursor's time>
        &searchCriteria[filter_groups][0][filters][0][condition_type]=gteq
        &searchCriteria[sortOrders][0][field]=updated_at  (direction ASC)
        &searchCriteria[sortOrders][1][field]=entity_id   (direction ASC)
        &searchCriteria[pageSize]=50&searchCriteria[currentPage]=1
    Authorization: Bearer <the integration's access token>

and every order in the answer's ``items`` becomes one inbox document, parsed later like
a webhook body. The cursor is ``"<updated_at>|<entity_id>"`` of the last document
returned: the query takes ``updated_at >= `` the cursor's time, and documents at or
before the cursor pair are dropped, so orders that share a timestamp are neither skipped
nor fetched twice. After each full page the query is anchored again on the newest time
seen (a whole page of one time steps through ``currentPage``), so an order updated while
we page cannot shift an unseen one out of reach.

Items: Magento lists a composite product's parent *and* its children.

- configurable: one line with the child's SKU (the variant that ships) and the parent's
  quantity, price, discount and tax (the child item has price 0);
- bundle with dynamic price (its children carry prices; the parent's price is their sum):
  one priced line per child, the parent dropped so nothing is counted twice;
- bundle with fixed price (its children have price 0): the parent is the priced line and
  each child follows as a zero-priced line, so the warehouse sees the components.

Order states: ``canceled`` cancels the order; ``pending_payment`` and ``payment_review``
are ignored until the payment settles (the next change is pulled again); ``closed``
(refunded in full) is ignored; ``holded`` places the order on hold; any other state
places it (idempotent: a known order is a duplicate, nothing changes). Address or note
changes of a known order are not applied (no ``UpdateOrder``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from legato.domain.catalog import Channel
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.errors import IssueCollector, LegatoError
from legato.domain.lifecycle import OrderStatus
from legato.domain.matching import CustomerRef
from legato.domain.money import is_currency
from legato.domain.order import Address
from legato.intake.base import (
    CancelOrder,
    Delivery,
    Ignore,
    Intent,
    Outbound,
    Placed,
    PlaceDraft,
    Reply,
    SignatureInvalid,
    Unparseable,
    decimal_at,
    text_at,
    unparseable,
)
from legato.services.drafting import MAX_QUANTITY

ZERO = Decimal(0)
HUNDRED = Decimal(100)
RATE_QUANTUM = Decimal("0.000001")  # tax rates are kept to six places

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
DEFAULT_TIMEOUT = 30.0  # seconds per request
MAX_REQUESTS = 200  # per pull; a longer backlog continues at the next pull from the saved cursor

# Magento order states (``state``, not the shop's own ``status`` labels) that do not place
CANCELED = "canceled"  # cancelled in Magento: cancel it here
PENDING_PAYMENT = "pending_payment"  # waiting for an online payment: ignored until it settles
PAYMENT_REVIEW = "payment_review"  # payment held for review: ignored until it settles
CLOSED = "closed"  # refunded in full: nothing to fulfil
HOLDED = "holded"  # on hold in Magento (Magento's spelling): placed on hold here

_MOMENT = "%Y-%m-%d %H:%M:%S"  # how Magento writes updated_at (UTC)
_STORE_CODE = re.compile(r"^[a-z0-9_]{1,64}$")
_LOOPBACK_NAMES = frozenset({"localhost"})


class FetchFailed(LegatoError):
    """Magento could not be read (unreachable, timed out, refused, not JSON): the cursor is kept."""

    code = "fetch_failed"
    status = 502
    title = "The channel's source could not be read"


# --- the source ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where and how to pull, from the channel's settings and secrets."""

    orders_url: str
    token: str
    page_size: int
    timeout: float
    since: str | None  # the first pull's start (no cursor yet); None: from the beginning

    @classmethod
    def of(cls, channel: Channel) -> Source:
        extra = channel.settings.extra
        problems = IssueCollector()
        base = str(extra.get("base_url") or "").strip().rstrip("/")
        if not base:
            problems.add("settings.base_url", "the shop's address is not set (e.g. https://shop.example)")
        elif not _safe_base(base):
            problems.add("settings.base_url", "must be https:// (http:// only on this machine)", value=base)
        store = extra.get("store_code")
        if store is not None and not (isinstance(store, str) and _STORE_CODE.match(store)):
            problems.add("settings.store_code", "a store code is lower-case letters, digits, _", value=store)
        size = extra.get("page_size", DEFAULT_PAGE_SIZE)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
            problems.add("settings.page_size", f"a whole number from 1 to {MAX_PAGE_SIZE}", value=size)
            size = DEFAULT_PAGE_SIZE
        timeout = extra.get("timeout_seconds", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
            problems.add("settings.timeout_seconds", "seconds, above 0 and at most 300", value=timeout)
            timeout = DEFAULT_TIMEOUT
        since = extra.get("since")
        if since is not None and _moment(since) is None:
            problems.add("settings.since", "a time like 2026-01-31 00:00:00 (UTC)", value=since)
        token = channel.secrets.get("access_token", "")
        if not token:
            problems.add("secrets.access_token", "the integration's access token is not set")
        problems.raise_if_any()
        path = f"/rest/{store}/V1/orders" if store else "/rest/V1/orders"
        return cls(base + path, token, size, float(timeout), _moment(since) if since else None)


def _safe_base(url: str) -> bool:
    """https, or http to this machine only: the token must never cross a network in clear."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if parts.hostname in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _moment(raw: Any) -> str | None:
    """A Magento time (``2026-03-01 10:00:00``, UTC) in its one canonical form, else None."""
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime(_MOMENT)


def _key(doc: dict[str, Any]) -> tuple[str, int] | None:
    """Where a document sits in the pull order: (updated_at, entity_id)."""
    moment = _moment(doc.get("updated_at"))
    raw = doc.get("entity_id")
    if moment is None or isinstance(raw, bool):
        return None
    try:
        return moment, int(str(raw))
    except ValueError:
        return None


def encode_cursor(key: tuple[str, int]) -> str:
    return f"{key[0]}|{key[1]}"


def decode_cursor(cursor: str | None) -> tuple[str, int] | None:
    if cursor is None:
        return None
    moment, _, entity = cursor.rpartition("|")
    key = _key({"updated_at": moment, "entity_id": entity}) if moment and entity.isdigit() else None
    if key is None:
        raise FetchFailed(f"the saved cursor {cursor!r} is not '<updated_at>|<entity_id>'")
    return key


def _criteria(since: str | None, page: int, size: int) -> dict[str, str | int]:
    sc = "searchCriteria"
    params: dict[str, str | int] = {}
    if since is not None:
        f = f"{sc}[filter_groups][0][filters][0]"
        params |= {f"{f}[field]": "updated_at", f"{f}[value]": since, f"{f}[condition_type]": "gteq"}
    for i, name in enumerate(("updated_at", "entity_id")):
        params |= {f"{sc}[sortOrders][{i}][field]": name, f"{sc}[sortOrders][{i}][direction]": "ASC"}
    return params | {f"{sc}[pageSize]": size, f"{sc}[currentPage]": page}


def _get_page(http: httpx.Client, src: Source, since: str | None, page: int) -> tuple[list[Any], int]:
    where = f"GET {src.orders_url} (page {page})"
    try:
        answer = http.get(src.orders_url, params=_criteria(since, page, src.page_size))
    except httpx.TimeoutException:
        raise FetchFailed(f"{where} timed out after {src.timeout:g} s", url=src.orders_url) from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{where} failed: {exc}", url=src.orders_url) from None
    status = answer.status_code
    if status != 200:
        raise FetchFailed(f"{where} answered {status}: {_said(answer)}", url=src.orders_url, status=status)
    try:
        body = answer.json()
    except ValueError:
        raise FetchFailed(
            f"{where} answered {status} with a body that is not JSON: {answer.text[:200]!r}",
            url=src.orders_url,
            status=status,
        ) from None
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FetchFailed(
            f"{where} answered {status} without a list of orders in 'items'", url=src.orders_url
        )
    total = body.get("total_count")
    return items, total if isinstance(total, int) and not isinstance(total, bool) else len(items)


def _said(answer: httpx.Response) -> str:
    """Magento's own error message (``{"message": ...}``), else the start of the body."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:300]
    return answer.text[:200] or answer.reason_phrase


# --- the adapter ------------------------------------------------------------------------------


class MagentoAdapter:
    name: ClassVar[str] = "magento"

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return None

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        """A pulled document needs no signature: Legato fetched it itself, over TLS, with the
        channel's own token. Anything pushed at a Magento channel is refused."""
        if delivery.method != "PULL":
            raise SignatureInvalid(
                f"channel {channel.code} pulls from Magento; it accepts no pushed deliveries"
            )

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        try:
            doc = json.loads(delivery.body)
        except ValueError:
            return "order", None
        return "order", text_at(doc, "increment_id") if isinstance(doc, dict) else None

    def fetch(self, channel: Channel, cursor: str | None) -> tuple[list[bytes], str | None]:
        """Every order changed after ``cursor``, oldest first, and the cursor after the last."""
        src = Source.of(channel)
        last = decode_cursor(cursor)
        since = last[0] if last else src.since
        page = 1
        documents: list[bytes] = []
        headers = {"Authorization": f"Bearer {src.token}", "Accept": "application/json"}
        with httpx.Client(timeout=src.timeout, headers=headers) as http:
            for _ in range(MAX_REQUESTS):
                items, total = _get_page(http, src, since, page)
                floor = last
                for item in items:
                    key = _key(item)
                    if key is not None and floor is not None and key <= floor:
                        continue  # the cursor's own document, or one seen on an earlier page
                    documents.append(json.dumps(item, ensure_ascii=False).encode())
                    if key is not None and (last is None or key > last):
                        last = key
                if len(items) < src.page_size or page * src.page_size >= total:
                    break
                newest = last[0] if last else since
                if newest != since:
                    since, page = newest, 1  # anchor again on the newest time seen
                else:
                    page += 1  # a whole page of one time: step through it
        return documents, encode_cursor(last) if last else cursor

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        try:
            doc = json.loads(delivery.body)
        except ValueError as exc:
            raise unparseable("$", f"not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise unparseable("$", "a Magento order is a JSON object")
        reference = text_at(doc, "increment_id")
        if reference is None:
            raise unparseable("$.increment_id", "increment_id (the order number) is missing")
        state = text_at(doc, "state") or ""
        status = text_at(doc, "status") or state
        if state == CANCELED:
            return [CancelOrder(reference, f"cancelled in Magento (status {status})")]
        if state in (PENDING_PAYMENT, PAYMENT_REVIEW):
            return [Ignore(f"order {reference} is {state} in Magento: placed once its payment settles")]
        if state == CLOSED:
            return [Ignore(f"order {reference} is closed (refunded in full) in Magento: nothing to place")]
        return [PlaceDraft(order_draft(doc, channel.code, reference), paid=_paid(doc))]

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | None:
        return None


# --- a Magento order -> OrderDraft ---------------------------------------------------------------


def order_draft(doc: dict[str, Any], channel_code: str, reference: str) -> OrderDraft:
    """The canonical draft of one Magento order; Unparseable names every bad field."""
    problems = IssueCollector()
    currency = text_at(doc, "order_currency_code")
    if currency is None:
        problems.add("$.order_currency_code", "order_currency_code is missing", "unparseable")
    elif not is_currency(currency):
        problems.add("$.order_currency_code", f"{currency!r} is not an ISO 4217 currency code",
                     "unknown_currency", currency)  # fmt: skip
    lines = _lines(doc, problems)
    shipping, shipping_rate = _shipping(doc, problems)
    if problems.issues:
        first = problems.issues[0]
        more = f" (and {len(problems.issues) - 1} more)" if len(problems.issues) > 1 else ""
        raise Unparseable(f"not a readable Magento order: {first.message} at {first.path}{more}",
                          issues=problems.issues)  # fmt: skip
    billing = _address(doc.get("billing_address"))
    return OrderDraft(
        channel_code=channel_code,
        lines=tuple(lines),
        external_reference=reference,
        currency=currency,
        customer=_customer(doc, billing),
        billing_address=billing,
        shipping_address=_address(_shipping_address(doc)),
        shipping=shipping,
        shipping_tax_rate=shipping_rate,
        notes=text_at(doc, "customer_note"),
        status=OrderStatus.ON_HOLD if text_at(doc, "state") == HOLDED else OrderStatus.CREATED,
    )


def _lines(doc: dict[str, Any], problems: IssueCollector) -> list[LineDraft]:
    items = doc.get("items")
    if not isinstance(items, list) or not items:
        problems.add("$.items", "an order needs at least one item", "empty")
        return []
    ids: set[str] = set()
    for i, item in enumerate(items):
        if isinstance(item, dict):
            ids.add(str(item.get("item_id")))
        else:
            problems.add(f"$.items[{i}]", "an item is a JSON object", "unparseable")
    children: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for i, item in enumerate(items):
        parent = item.get("parent_item_id") if isinstance(item, dict) else None
        if parent is None:
            continue
        if str(parent) not in ids:
            problems.add(f"$.items[{i}].parent_item_id", f"parent item {parent!r} is not in the order",
                         "unknown_parent", parent)  # fmt: skip
        children.setdefault(str(parent), []).append((f"$.items[{i}]", item))
    lines: list[LineDraft | None] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("parent_item_id") is not None:
            continue  # a child: read with its parent below
        path, kids = f"$.items[{i}]", children.get(str(item.get("item_id")), [])
        if item.get("product_type") == "configurable" and kids:
            lines.append(_priced(item, path, problems, variant=kids[0]))
        elif kids and any(_price_hint(kid) != ZERO for _, kid in kids):
            lines.extend(_priced(kid, kid_path, problems) for kid_path, kid in kids)  # dynamic price
        else:
            lines.append(_priced(item, path, problems))
            lines.extend(_component(kid, kid_path, problems) for kid_path, kid in kids)  # fixed price
    return [ln for ln in lines if ln is not None]


def _price_hint(item: dict[str, Any]) -> Decimal | None:
    """A child's price, only to tell a dynamic bundle from a fixed one (None: unreadable)."""
    raw = item.get("price")
    if raw is None or raw == "":
        return ZERO
    try:
        return Decimal(str(raw))
    except ArithmeticError:
        return None


def _priced(
    item: dict[str, Any],
    path: str,
    problems: IssueCollector,
    *,
    variant: tuple[str, dict[str, Any]] | None = None,
) -> LineDraft | None:
    """One priced line; a configurable's ``variant`` (its child) gives the SKU and the name."""
    sku_path, sku_item = variant or (path, item)
    sku = _sku(sku_item, sku_path, problems)
    quantity = _quantity(item, path, problems)
    price = _amount(item, "price", path, problems)
    discount = _amount(item, "discount_amount", path, problems, default=ZERO)
    percent = _amount(item, "tax_percent", path, problems, default=ZERO, most=HUNDRED)
    if sku is None or quantity is None or price is None or discount is None or percent is None:
        return None
    name = text_at(sku_item, "name") or text_at(item, "name")
    tax_rate = (percent / HUNDRED).quantize(RATE_QUANTUM, ROUND_HALF_UP)
    return LineDraft(sku, quantity, price, name, discount, tax_rate)


def _component(item: dict[str, Any], path: str, problems: IssueCollector) -> LineDraft | None:
    """A fixed-price bundle's part: its SKU and quantity at price 0 (the bundle carries the money)."""
    sku, quantity = _sku(item, path, problems), _quantity(item, path, problems)
    if sku is None or quantity is None:
        return None
    return LineDraft(sku, quantity, ZERO, text_at(item, "name"), tax_rate=ZERO)


def _sku(item: dict[str, Any], path: str, problems: IssueCollector) -> str | None:
    sku = text_at(item, "sku")
    if sku is None:
        problems.add(f"{path}.sku", "sku is missing", "unparseable")
    return sku


def _quantity(item: dict[str, Any], path: str, problems: IssueCollector) -> Decimal | None:
    quantity = _number(item, "qty_ordered", path, problems)
    if quantity is not None and not ZERO < quantity <= MAX_QUANTITY:
        problems.add(f"{path}.qty_ordered", f"qty_ordered must be above 0 and at most {MAX_QUANTITY}",
                     "out_of_range", str(quantity))  # fmt: skip
        return None
    return quantity


def _amount(
    doc: dict[str, Any],
    key: str,
    path: str,
    problems: IssueCollector,
    *,
    default: Decimal | None = None,
    most: Decimal | None = None,
) -> Decimal | None:
    """A money amount or a percentage: a number, not negative (Magento's item amounts never are)."""
    value = _number(doc, key, path, problems, default=default)
    if value is not None and (value < ZERO or (most is not None and value > most)):
        limit = f"from 0 to {most}" if most is not None else "0 or more"
        problems.add(f"{path}.{key}", f"{key} must be {limit}", "out_of_range", str(value))
        return None
    return value


def _number(
    doc: dict[str, Any], key: str, path: str, problems: IssueCollector, *, default: Decimal | None = None
) -> Decimal | None:
    try:
        return decimal_at(doc, key, path, default=default)
    except Unparseable as exc:
        problems.issues.extend(exc.issues)
        return None


def _shipping(doc: dict[str, Any], problems: IssueCollector) -> tuple[Decimal, Decimal]:
    """The shipping charge after its discount, and the rate its tax works out to."""
    amount = _amount(doc, "shipping_amount", "$", problems, default=ZERO)
    discount = _amount(doc, "shipping_discount_amount", "$", problems, default=ZERO)
    tax = _amount(doc, "shipping_tax_amount", "$", problems, default=ZERO)
    if amount is None or discount is None or tax is None:
        return ZERO, ZERO
    net = amount - discount
    if net < ZERO:
        problems.add("$.shipping_discount_amount", "the shipping discount exceeds the shipping amount",
                     "out_of_range", str(discount))  # fmt: skip
        return ZERO, ZERO
    return net, (tax / net).quantize(RATE_QUANTUM, ROUND_HALF_UP) if net else ZERO


def _shipping_address(doc: dict[str, Any]) -> Any:
    """``extension_attributes.shipping_assignments[0].shipping.address`` (none for a virtual order)."""
    ext = doc.get("extension_attributes")
    assignments = ext.get("shipping_assignments") if isinstance(ext, dict) else None
    first = assignments[0] if isinstance(assignments, list) and assignments else None
    shipping = first.get("shipping") if isinstance(first, dict) else None
    return shipping.get("address") if isinstance(shipping, dict) else None


def _address(raw: Any) -> Address | None:
    if not isinstance(raw, dict):
        return None
    street = raw.get("street")
    parts = [street] if isinstance(street, str) else street if isinstance(street, list) else []
    street_lines = [s.strip() for s in parts if isinstance(s, str) and s.strip()]
    country = text_at(raw, "country_id")
    values = {
        "name": _full_name(raw, "firstname", "middlename", "lastname"),
        "company": text_at(raw, "company"),
        "line1": street_lines[0] if street_lines else None,
        "line2": ", ".join(street_lines[1:]) or None,
        "city": text_at(raw, "city"),
        "region": text_at(raw, "region_code") or text_at(raw, "region"),
        "postcode": text_at(raw, "postcode"),
        "country": country.upper()[:2] if country else None,
        "phone": text_at(raw, "telephone"),
        "email": text_at(raw, "email"),
    }
    kept = {k: v for k, v in values.items() if v}
    return Address(**kept) if kept else None


def _full_name(doc: dict[str, Any], *keys: str) -> str | None:
    return " ".join(p for p in (text_at(doc, k) for k in keys) if p) or None


def _customer(doc: dict[str, Any], billing: Address | None) -> CustomerRef:
    """Who ordered: name, email and phone; a registered customer's Magento id as a property
    (match it with ``property:magento_customer_id``)."""
    guest = str(doc.get("customer_is_guest", "0")).lower() in ("1", "true")
    customer_id = text_at(doc, "customer_id")
    return CustomerRef(
        name=_full_name(doc, "customer_firstname", "customer_lastname")
        or (billing.name if billing else None),
        email=text_at(doc, "customer_email") or (billing.email if billing else None),
        phone=billing.phone if billing else None,
        properties={"magento_customer_id": customer_id} if customer_id and not guest else {},
    )


def _paid(doc: dict[str, Any]) -> bool:
    """Paid at the channel: Magento has recorded payments covering the grand total."""
    try:
        paid = decimal_at(doc, "total_paid", "$", default=ZERO)
        total = decimal_at(doc, "grand_total", "$")
    except Unparseable:
        return False
    return total > ZERO and paid >= total


ADAPTER = MagentoAdapter()

__all__ = [
    "ADAPTER",
    "FetchFailed",
    "MagentoAdapter",
    "Source",
    "decode_cursor",
    "encode_cursor",
    "order_draft",
]
