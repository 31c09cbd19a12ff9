"""Odoo through its documented external JSON-RPC API (``POST /jsonrpc``).

``common.login(db, user, secret)`` gives the user id; every other call is
``object.execute_kw(db, uid, secret, model, method, args, kwargs)``. An order becomes a
``sale.order`` with its partner (``res.partner``, found by id / ref / email, created when
missing) and lines ``(0, 0, {product_id, product_uom_qty, price_unit ...})``, the product found
by its internal reference (``default_code`` = our SKU). Idempotent by design: before creating,
the order is searched by ``client_order_ref`` = our order number, so a retry after a crash
finds the order it made instead of making a second one.

Quantities and prices travel as JSON numbers written from the exact decimal text (never
through a binary float on our side).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from legato.workflow.actions import Fail, Retry
from legato.workflow.outbound.erp import RETRY_STATUSES, PushResult

if TYPE_CHECKING:
    from legato.workflow.outbound.erp import Destination

#: Odoo errors a retry cannot cure (access, validation, a missing record, a bad call)
_FINAL_ERRORS = ("odoo.exceptions.", "builtins.ValueError", "builtins.TypeError", "builtins.KeyError")


def encode(value: Any) -> str:
    """JSON where a Decimal is a number written from its own digits (``4.125`` stays ``4.125``)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


class Odoo:
    """A logged-in session on one Odoo database."""

    def __init__(self, dest: Destination) -> None:
        self.dest = dest
        self.url = str(dest.value("url")).rstrip("/") + "/jsonrpc"
        self.db, self.user = dest.value("db"), dest.value("username")
        self.secret = dest.value("api_key") or dest.value("password")
        self._ids = itertools.count(1)
        self._http = httpx.Client(timeout=dest.timeout, follow_redirects=False)
        self.calls = 0
        try:
            uid = self.call("common", "login", [self.db, self.user, self.secret])
        except BaseException:
            self._http.close()
            raise
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            self._http.close()
            raise Fail(f"Odoo at {self.url} refused the login of {self.user!r} on database {self.db!r}")
        self.uid = uid

    def __enter__(self) -> Odoo:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def call(self, service: str, method: str, args: list[Any]) -> Any:
        body = {"jsonrpc": "2.0", "method": "call", "id": next(self._ids),
                "params": {"service": service, "method": method, "args": args}}  # fmt: skip
        self.calls += 1
        try:
            r = self._http.post(self.url, content=encode(body).encode("utf-8"),
                                headers={"Content-Type": "application/json"})  # fmt: skip
        except httpx.TimeoutException:
            raise Retry(f"Odoo {service}.{method}: no answer within {self.dest.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise Retry(f"Odoo {service}.{method}: the connection failed or was closed ({exc})") from None
        if r.status_code != 200:
            msg = f"Odoo {service}.{method}: HTTP {r.status_code}: {r.text[:300]}"
            raise Retry(msg) if r.status_code >= 500 or r.status_code in RETRY_STATUSES else Fail(msg)
        try:
            answer = r.json()
        except ValueError:
            raise Retry(f"Odoo {service}.{method}: the answer is not JSON: {r.text[:200]}") from None
        error = answer.get("error") if isinstance(answer, dict) else None
        if error:
            data = error.get("data") or {}
            name, text = str(data.get("name", "")), data.get("message") or error.get("message")
            msg = f"Odoo {service}.{method} refused: {name or error.get('code')}: {text}"
            raise Fail(msg) if name.startswith(_FINAL_ERRORS) else Retry(msg)
        return answer.get("result") if isinstance(answer, dict) else None

    def execute(
        self, model: str, method: str, args: list[Any], kwargs: Mapping[str, Any] | None = None
    ) -> Any:
        full = [self.db, self.uid, self.secret, model, method, args, dict(kwargs or {})]
        return self.call("object", "execute_kw", full)

    def search(self, model: str, domain: list[Any]) -> int | None:
        ids = self.execute(model, "search", [domain], {"limit": 1})
        return ids[0] if isinstance(ids, list) and ids else None

    def create(self, model: str, values: Mapping[str, Any]) -> int:
        created = self.execute(model, "create", [dict(values)])
        created = created[0] if isinstance(created, list) and created else created
        if not isinstance(created, int) or isinstance(created, bool):
            raise Retry(f"Odoo {model}.create answered {created!r}, not a record id")
        return created


def partner(odoo: Odoo, account: Mapping[str, Any] | None, customer: Mapping[str, Any],
            address: Mapping[str, Any] | None = None) -> tuple[int, bool]:  # fmt: skip
    """The res.partner for an account (or a guest): by id (a numeric erp_ref), by ref (the
    erp_ref, then our code), by email; created when none matches. -> (id, created)."""
    account = account or {}
    erp_ref, code = account.get("erp_ref"), account.get("code")
    email = customer.get("email") or account.get("email")
    domains: list[list[Any]] = []
    if erp_ref and str(erp_ref).isdigit():
        domains.append([["id", "=", int(erp_ref)]])
    domains += [[["ref", "=", ref]] for ref in dict.fromkeys((erp_ref, code)) if ref]
    if email:
        domains.append([["email", "=ilike", email]])
    for domain in domains:
        found = odoo.search("res.partner", domain)
        if found is not None:
            return found, False
    name = account.get("name") or customer.get("name") or email
    if not name:
        raise Fail("the order has neither an account nor a customer name or email to make an Odoo partner")
    values: dict[str, Any] = {"name": name, "email": email, "phone": customer.get("phone")}
    if code:
        values["ref"] = code
    a = address or {}
    for ours, theirs in (("line1", "street"), ("line2", "street2"), ("city", "city"), ("postcode", "zip")):
        if a.get(ours):
            values[theirs] = a[ours]
    return odoo.create("res.partner", {k: v for k, v in values.items() if v is not None}), True


def _sale_order(odoo: Odoo, p: Mapping[str, Any]) -> dict[str, Any]:
    number = p["number"]
    existing = odoo.execute("sale.order", "search_read", [[["client_order_ref", "=", number]]],
                            {"fields": ["id", "name"], "limit": 1})  # fmt: skip
    if existing:
        return {"number": number, "id": existing[0]["id"], "name": existing[0]["name"], "existing": True}
    skus = sorted({ln["sku"] for ln in p["lines"]})
    products = odoo.execute("product.product", "search_read", [[["default_code", "in", skus]]],
                            {"fields": ["id", "default_code"]})  # fmt: skip
    by_sku = {row["default_code"]: row["id"] for row in products or []}
    missing = [s for s in skus if s not in by_sku]
    if missing:
        raise Fail(f"{number}: no Odoo product with internal reference {', '.join(missing)}")
    partner_id, _ = partner(odoo, p["account"], p["customer"], p["billing_address"] or p["shipping_address"])
    lines = []
    for ln in p["lines"]:
        values: dict[str, Any] = {"product_id": by_sku[ln["sku"]], "name": ln["name"],
                                  "product_uom_qty": Decimal(ln["quantity"]),
                                  "price_unit": Decimal(ln["unit_price"])}  # fmt: skip
        amount, discount = Decimal(ln["amount"]), Decimal(ln["discount"])
        if discount and amount:  # Odoo's discount is a percentage of the line
            values["discount"] = (discount * 100 / amount).quantize(Decimal("0.0001"))
        lines.append([0, 0, values])
    origin = f"Legato {p['channel']['code']}"
    order_id = odoo.create("sale.order", {"partner_id": partner_id, "client_order_ref": number,
                                          "origin": origin, "order_line": lines})  # fmt: skip
    read = odoo.execute("sale.order", "read", [[order_id]], {"fields": ["name"]})
    name = read[0]["name"] if isinstance(read, list) and read else str(order_id)
    return {"number": number, "id": order_id, "name": name, "partner_id": partner_id, "existing": False}


def push_orders(
    dest: Destination, payloads: Sequence[Mapping[str, Any]], *, batch: bool = False
) -> PushResult:
    """Each order as a sale.order (one call sequence per order, each idempotent). In a batch an
    order Odoo refuses is reported in ``failed`` and the others go on; a Retry stops the lot
    (the retry finds the orders already made by their client_order_ref)."""
    done: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    with Odoo(dest) as odoo:
        for p in payloads:
            try:
                done.append(_sale_order(odoo, p))
            except Fail as exc:
                if not batch:
                    raise
                failed[p["number"]] = str(exc).removeprefix(f"{p['number']}: ")
    refs = {d["number"]: str(d["name"]) for d in done}
    single = refs.get(payloads[0]["number"]) if not batch else None
    return PushResult(single, {"orders": done, "failed": failed, "calls": odoo.calls}, refs, failed)


def ensure_customer(dest: Destination, customer: Mapping[str, Any]) -> PushResult:
    """The account's res.partner, found or created; its id becomes the account's erp_ref."""
    with Odoo(dest) as odoo:
        account = {"code": customer.get("code"), "erp_ref": customer.get("erp_ref"),
                   "name": customer.get("name"), "email": customer.get("email")}  # fmt: skip
        partner_id, created = partner(odoo, account, {"phone": customer.get("phone")})
    return PushResult(str(partner_id), {"partner_id": partner_id, "created": created, "calls": odoo.calls})


__all__ = ["Odoo", "encode", "ensure_customer", "partner", "push_orders"]
