"""Manual order entry (/orders/new): a channel, a customer found by any property, products found
by SKU or name, priced live by the same drafting the services use (nothing saved until the user
says so), the account's known addresses, then saved as an order or a quote.

An order is saved like every channel's: its canonical JSON goes to the inbox first, then through
the pipeline (``receive_canonical``), so the order page shows what was entered and a refused entry
is kept, quarantined, replayable. A quote is created by ``services.quotes.create_quote``. Either way
the actor is ``user:<name>``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from legato.bootstrap import Runtime
from legato.domain.catalog import Account
from legato.domain.commands import CreateQuote
from legato.domain.errors import FieldIssue, LegatoError
from legato.intake import pipeline
from legato.intake.canonical import OrderIn, order_draft, to_draft
from legato.services.drafting import Drafted, draft_lines
from legato.services.quotes import create_quote
from legato.store import lookups, queries
from legato.store.users import User
from legato.web.app import NavItem, is_htmx, redirect, render, runtime
from legato.web.auth import require
from legato.web.pages import entry_form as ef

router = APIRouter()
NAV = [NavItem("New order", "/orders/new", "orders:create", order=25)]
PERMISSION = "orders:create"
ADDRESS_LABELS = {
    "line1": "Address line 1",
    "line2": "Address line 2",
    "postcode": "Postcode",
    "email": "E-mail",
    "country": "Country (2 letters)",
}


def _account(rt: Runtime, code: str) -> Account | None:
    return queries.get_account(rt.engine, code) if code and len(code) <= 40 else None


def preview(rt: Runtime, f: ef.EntryForm, account: Account | None) -> tuple[Drafted | None, list[FieldIssue]]:
    """The draft priced as placing it would price it (customer matched by the channel's keys,
    the contract, the currency, tax, promotions), in a unit of work that is rolled back."""
    if not f.channel or not f.lines:
        return None, []
    raw, issues = ef.body(f, "order", account)
    model, problems = ef.validate(raw, "order")
    if issues or model is None:
        return None, issues + problems
    assert isinstance(model, OrderIn)
    try:
        with rt.uow() as uow:  # never committed: a priced draft, nothing written
            return draft_lines(uow, order_draft(model)), []
    except LegatoError as exc:
        return None, ef.issues_of(exc)


def _context(
    rt: Runtime, f: ef.EntryForm, issues: list[FieldIssue], drafted: Drafted | None
) -> dict[str, Any]:
    account = _account(rt, f.account)
    return {
        "f": f,
        "errors": ef.Errors(issues),
        "channels": lookups.active_channels(rt.engine),
        "account": account,
        "addresses": lookups.account_addresses(rt.engine, account.code) if account else [],
        "customer_hits": lookups.find_accounts(rt.engine, f.customer_q)
        if f.customer_q and not account
        else [],
        "product_hits": lookups.find_products(rt.engine, f.product_q) if f.product_q else [],
        "drafted": drafted,
        "priced": {ln.line_no - 1: ln for ln in drafted.lines} if drafted else {},
        "address_fields": ef.ADDRESS_FIELDS,
        "address_labels": ADDRESS_LABELS,
        "mechanisms": lookups.mechanisms(rt.engine, [ln.sku for ln in f.lines]),
        "min_search": lookups.MIN_SEARCH,
        "anchor": ef.anchor,
    }


def _show(
    request: Request, f: ef.EntryForm, issues: list[FieldIssue], drafted: Drafted | None, status: int = 200
) -> HTMLResponse:
    context = _context(runtime(request), f, issues, drafted)
    if is_htmx(request):  # htmx swaps 2xx answers only: errors come back as 200 with their messages
        return render(request, "entry/_form.html", context)
    return render(request, "entry/new.html", context, status_code=status)


@router.get("/orders/new")
def new_order(request: Request, user: User = Depends(require(PERMISSION))) -> HTMLResponse:
    """The empty form; ``?channel=`` and ``?account=`` preselect them."""
    rt = runtime(request)
    f = ef.EntryForm(channel=request.query_params.get("channel", "")[:32])
    account = _account(rt, request.query_params.get("account", ""))
    if account is not None:
        f.intent = f"account:{account.code}"
        ef.apply_intent(f, account)
    return _show(request, f, [], None)


@router.get("/orders/new/customers")
def customer_search(request: Request, user: User = Depends(require(PERMISSION))) -> HTMLResponse:
    """Live search: accounts by code, name, e-mail, phone, ERP reference or any custom property."""
    q = request.query_params.get("customer_q", "")[:100]
    hits = lookups.find_accounts(runtime(request).engine, q)
    return render(
        request, "entry/_customers.html", {"customer_hits": hits, "q": q, "min_search": lookups.MIN_SEARCH}
    )


@router.get("/orders/new/products")
def product_search(request: Request, user: User = Depends(require(PERMISSION))) -> HTMLResponse:
    """Live search: active products by SKU or name."""
    q = request.query_params.get("product_q", "")[:100]
    hits = lookups.find_products(runtime(request).engine, q)
    return render(
        request, "entry/_products.html", {"product_hits": hits, "q": q, "min_search": lookups.MIN_SEARCH}
    )


@router.post("/orders/new")
async def post_entry(request: Request, user: User = Depends(require(PERMISSION))) -> Response:
    """Every button of the form: change it (add, remove, choose a customer, use an address, price
    it again) and show it back, or save it as an order or a quote."""
    form = await request.form()
    f = ef.read([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    return await run_in_threadpool(_handle, request, f, user)


def _handle(request: Request, f: ef.EntryForm, user: User) -> Response:
    rt = runtime(request)
    issues: list[FieldIssue] = []
    chosen = _account(rt, f.argument) if f.verb == "account" else None
    if f.verb == "account" and chosen is None:
        issues.append(FieldIssue("customer", f"no account {f.argument!r}", "not_found"))
    ef.apply_intent(f, chosen)
    account = _account(rt, f.account)
    if f.account and account is None:
        issues.append(
            FieldIssue("customer", f"no account {f.account!r} (it may have been removed)", "not_found")
        )
        f.account = ""
    if f.verb == "address" and account is not None:
        known = lookups.account_addresses(rt.engine, account.code)
        if f.argument.isdigit() and int(f.argument) < len(known):
            ef.use_address(f, known[int(f.argument)])
    if f.verb == "save" and f.argument in ("order", "quote") and not issues:
        return _save(request, rt, f, account, user, f.argument)
    drafted, problems = preview(rt, f, account)
    return _show(request, f, issues + problems, drafted)


def _save(
    request: Request, rt: Runtime, f: ef.EntryForm, account: Account | None, user: User, kind: str
) -> Response:
    issues: list[FieldIssue] = []
    if not f.channel:
        issues.append(FieldIssue("channel", "choose the channel the order is entered on", "required"))
    if not f.lines:
        issues.append(FieldIssue("lines", "add at least one product", "required"))
    raw, built = ef.body(f, kind, account)
    until, bad_date = ef.valid_until(f) if kind == "quote" else (None, [])
    model, problems = ef.validate(raw, kind)
    issues += built + bad_date + [p for p in problems if p.path not in {i.path for i in issues}]
    if issues or model is None:
        return _show(request, f, issues, preview(rt, f, account)[0], status=422)
    try:
        if kind == "quote":
            quote = create_quote(rt.uow(), CreateQuote(to_draft(model), user.actor, until))
            return redirect(
                request, f"/quotes/{quote.number}", flash=f"Quote {quote.number} saved as a draft."
            )
        assert isinstance(model, OrderIn)
        payload = json.dumps(raw, ensure_ascii=False).encode()
        headers = {"content-type": "application/json", "x-legato-entered-by": user.actor}
        out = pipeline.receive_canonical(
            rt, model.channel, payload, headers, user.actor, order_draft(model), f"web:{user.username}"
        )
    except LegatoError as exc:
        found = ef.issues_of(exc)
        if "inbox_id" in exc.extra:
            kept = f"the entry is kept in the inbox as #{exc.extra['inbox_id']} (quarantined, replayable)"
            found.append(FieldIssue("$", f"{exc.detail}; {kept}", exc.code))
        return _show(request, f, found, None, status=422)
    placed = out.orders[0]
    number = placed["number"]
    said = (
        f"Order {number} placed." if placed["created"] else f"{number} already has this external reference."
    )
    return redirect(request, f"/orders/{number}", flash=said)


__all__ = ["NAV", "preview", "router"]
