"""The manual entry form as data: read from the posted fields, turned into the canonical order (the
same JSON the API takes, so the inbox keeps what was entered), and every problem keyed by its
field path (``lines[1].quantity``) so the page puts each message next to its control.

The form is its own state: every htmx update posts the whole form and gets the whole form back,
so nothing typed is ever lost, with or without JavaScript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from legato.domain.catalog import Account
from legato.domain.errors import FieldIssue, LegatoError
from legato.intake.canonical import DraftIn, OrderIn

ADDRESS_FIELDS = (
    "name",
    "company",
    "line1",
    "line2",
    "city",
    "region",
    "postcode",
    "country",
    "phone",
    "email",
)
CUSTOMER_FIELDS = ("name", "email", "phone")
MAX_LINES = 200
_PAIR = re.compile(r"^\s*([^=:\s]+)\s*[=:]\s*(.*?)\s*$")


@dataclass
class Line:
    sku: str
    quantity: str = "1"
    inputs: str = ""  # name=value pairs, one per line or separated by ";"


@dataclass
class EntryForm:
    """What the user typed, as typed (strings), and what they asked for (``intent``)."""

    channel: str = ""
    account: str = ""  # the chosen account's code ("" = a guest, or not chosen yet)
    customer: dict[str, str] = field(default_factory=lambda: dict.fromkeys(CUSTOMER_FIELDS, ""))
    currency: str = ""
    lines: list[Line] = field(default_factory=list)
    billing: dict[str, str] = field(default_factory=lambda: dict.fromkeys(ADDRESS_FIELDS, ""))
    shipping: dict[str, str] = field(default_factory=lambda: dict.fromkeys(ADDRESS_FIELDS, ""))
    same_address: bool = True
    shipping_amount: str = ""
    external_reference: str = ""
    notes: str = ""
    valid_until: str = ""
    customer_q: str = ""
    product_q: str = ""
    intent: str = (
        "price"  # price | add:SKU | remove:N | account:CODE | guest | address:N | save:order | save:quote
    )

    @property
    def verb(self) -> str:
        return self.intent.partition(":")[0]

    @property
    def argument(self) -> str:
        return self.intent.partition(":")[2]


def read(pairs: list[tuple[str, str]]) -> EntryForm:
    """The form from posted (name, value) pairs; repeated ``sku`` / ``quantity`` / ``inputs``
    are the lines in order."""
    f = EntryForm(same_address=False)
    skus: list[str] = []
    quantities: list[str] = []
    inputs: list[str] = []
    for name, value in pairs:
        if name == "sku":
            skus.append(value.strip())
        elif name == "quantity":
            quantities.append(value.strip())
        elif name == "inputs":
            inputs.append(value)
        elif name.startswith("customer_") and name[9:] in CUSTOMER_FIELDS:
            f.customer[name[9:]] = value.strip()
        elif name.startswith("billing_") and name[8:] in ADDRESS_FIELDS:
            f.billing[name[8:]] = value.strip()
        elif name.startswith("shipping_") and name[9:] in ADDRESS_FIELDS:
            f.shipping[name[9:]] = value.strip()
        elif name == "same_address":
            f.same_address = value in ("1", "on", "true")
        elif name in (
            "channel",
            "account",
            "currency",
            "shipping_amount",
            "external_reference",
            "valid_until",
            "customer_q",
            "product_q",
            "intent",
        ):
            setattr(f, name, value.strip())
        elif name == "notes":
            f.notes = value
    for i, sku in enumerate(skus[:MAX_LINES]):
        f.lines.append(
            Line(sku, quantities[i] if i < len(quantities) else "", inputs[i] if i < len(inputs) else "")
        )
    f.currency = f.currency.upper()
    f.intent = f.intent or "price"
    return f


def apply_intent(f: EntryForm, account: Account | None = None) -> None:
    """Do what a button asked that changes the form itself (add or remove a line, choose a
    customer); ``account``: the account an ``account:CODE`` intent names, looked up."""
    verb, arg = f.verb, f.argument
    if verb == "add" and arg and len(f.lines) < MAX_LINES:
        same = next((ln for ln in f.lines if ln.sku == arg and not ln.inputs), None)
        if same is not None and _whole(same.quantity):
            same.quantity = str(int(same.quantity) + 1)
        else:
            f.lines.append(Line(arg))
        f.product_q = ""
    elif verb == "remove" and arg.isdigit() and int(arg) < len(f.lines):
        del f.lines[int(arg)]
    elif verb == "account" and account is not None:
        f.account, f.customer_q = account.code, ""
        f.customer = {"name": account.name, "email": account.email or "", "phone": account.phone or ""}
    elif verb == "guest":
        f.account = ""


def use_address(f: EntryForm, address: dict[str, Any]) -> None:
    """Fill billing (and shipping, when it is the same) with one of the account's addresses."""
    for k in ADDRESS_FIELDS:
        f.billing[k] = str(address.get(k) or "")
    if not f.same_address:
        f.shipping = dict(f.billing)


def _whole(text: str) -> bool:
    return text.isdigit() and 0 < int(text) < 1_000_000


def _present(values: dict[str, str]) -> dict[str, str] | None:
    kept = {k: v for k, v in values.items() if v}
    if "country" in kept:
        kept["country"] = kept["country"].upper()
    return kept or None


def _inputs(text: str, path: str, issues: list[FieldIssue]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in re.split(r"[;\n]", text))):
        m = _PAIR.match(part)
        if m is None:
            issues.append(FieldIssue(path, f"write each input as name=value, not {part!r}", "invalid", part))
            continue
        out[m.group(1)] = m.group(2)
    return out


def body(f: EntryForm, kind: str, account: Account | None) -> tuple[dict[str, Any], list[FieldIssue]]:
    """The canonical order (``kind`` "order") or quote body, and problems found while building it."""
    issues: list[FieldIssue] = []
    lines: list[dict[str, Any]] = []
    for i, ln in enumerate(f.lines):
        line: dict[str, Any] = {"sku": ln.sku, "quantity": ln.quantity}
        if ln.inputs.strip():
            line["inputs"] = _inputs(ln.inputs, f"lines[{i}].inputs", issues)
        lines.append(line)
    out: dict[str, Any] = {"channel": f.channel, "lines": lines}
    if f.currency:
        out["currency"] = f.currency
    if account is not None:
        customer = {
            "code": account.code,
            "name": account.name,
            "email": account.email,
            "phone": account.phone,
            "erp_ref": account.erp_ref,
        }
        out["customer"] = {k: v for k, v in customer.items() if v}
    elif (typed := _present(f.customer)) is not None:
        out["customer"] = typed
    billing = _present(f.billing)
    if billing:
        out["billing_address"] = billing
    shipping = billing if f.same_address else _present(f.shipping)
    if shipping:
        out["shipping_address"] = shipping
    if f.shipping_amount:
        out["shipping"] = f.shipping_amount
    if f.notes.strip():
        out["notes"] = f.notes.strip()
    if kind == "order" and f.external_reference:
        out["external_reference"] = f.external_reference
    return out, issues


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


def validate(raw: dict[str, Any], kind: str) -> tuple[OrderIn | DraftIn | None, list[FieldIssue]]:
    """The body checked as the API checks it: (model, []) or (None, every problem by path)."""
    model = OrderIn if kind == "order" else DraftIn
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        return None, [
            FieldIssue(_path(tuple(e["loc"])), e["msg"], e["type"], None)
            for e in exc.errors(include_url=False)
        ]


def valid_until(f: EntryForm) -> tuple[date | None, list[FieldIssue]]:
    if not f.valid_until:
        return None, []
    try:
        return date.fromisoformat(f.valid_until), []
    except ValueError:
        msg = f"{f.valid_until!r} is not a date (YYYY-MM-DD)"
        return None, [FieldIssue("valid_until", msg, "invalid", f.valid_until)]


def issues_of(exc: LegatoError) -> list[FieldIssue]:
    return list(exc.issues) or [FieldIssue("$", exc.detail, exc.code)]


def anchor(path: str) -> str:
    """The id of the control a problem at ``path`` belongs to (the error summary links to it)."""
    m = re.match(r"^lines\[(\d+)\]", path)
    if m:
        return f"qty-{m.group(1)}"
    head, _, rest = path.partition(".")
    if head in ("billing_address", "shipping_address") and rest.split(".")[0] in ADDRESS_FIELDS:
        return f"{head.split('_')[0]}_{rest.split('.')[0]}"
    if head == "customer":
        return "customer_name" if rest in CUSTOMER_FIELDS else "customer_q"
    return {"lines": "product_q", "shipping": "shipping_amount", "$": "entry-errors"}.get(
        head,
        head
        if head in ("channel", "currency", "notes", "external_reference", "valid_until")
        else "entry-errors",
    )


@dataclass
class Errors:
    """Problems by field path, for the template: ``at(path)`` for one control, ``under(prefix)``
    for a group (a line), ``all`` for the summary at the top."""

    issues: list[FieldIssue] = field(default_factory=list)

    def at(self, *paths: str) -> str:
        return "; ".join(i.message for i in self.issues if i.path in paths)

    def under(self, prefix: str) -> str:
        """Every problem at ``prefix`` or below it; below the SKU and quantity, named by where."""
        texts = []
        for i in self.issues:
            if i.path != prefix and not i.path.startswith((prefix + ".", prefix + "[")):
                continue
            where = i.path[len(prefix) :].lstrip(".")
            texts.append(i.message if where in ("", "sku", "quantity") else f"{where}: {i.message}")
        return "; ".join(texts)

    def __bool__(self) -> bool:
        return bool(self.issues)


__all__ = [
    "ADDRESS_FIELDS",
    "CUSTOMER_FIELDS",
    "EntryForm",
    "Errors",
    "Line",
    "anchor",
    "apply_intent",
    "body",
    "issues_of",
    "read",
    "use_address",
    "valid_until",
    "validate",
]
