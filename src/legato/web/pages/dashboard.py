"""The dashboard (/): for a date range and a currency view, orders and revenue by channel, orders by
status, average order value by customer tier, top products, the orders at risk, and "what are my
sales today". Every figure is a link to the order hub filtered to exactly those orders, and the
charts (the vendored Chart.js) are drawn from the same figures, embedded in the page as JSON.

Revenue is the grand total of orders that count as sales (not cancelled, not voided), summed per
currency: amounts in different currencies are never added together. Choose a currency to see
only the orders in it (the hub's ``currency`` filter), with its revenue charts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from legato.domain.money import is_currency, round_amount
from legato.store import dashboard as q
from legato.store.users import User
from legato.web.app import NavItem, render, runtime
from legato.web.auth import require

router = APIRouter()
NAV = [NavItem("Dashboard", "/", "dashboard:view", order=10)]
HELD_HOURS = 48  # an order on hold for longer is at risk
APPROVAL_HOURS = 24  # an order waiting for approval for longer is at risk
MAX_DAYS = 366


@dataclass
class View:
    start: date
    end: date  # inclusive
    currency: str  # "" = all currencies
    errors: dict[str, str]
    values: dict[str, str]

    def hub(self, *pairs: tuple[str, str], dated: bool = True) -> str:
        """A link to the hub with this view's dates and currency, plus ``pairs``."""
        base = [("from", self.start.isoformat()), ("to", self.end.isoformat())] if dated else []
        if self.currency and dated:
            base.append(("currency", self.currency))
        return "/orders?" + urlencode(list(pairs) + base)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse(params: dict[str, str], today: date) -> View:
    """The range and currency from the query string; a bad value is named and the default used."""
    errors: dict[str, str] = {}
    values = {k: params.get(k, "").strip()[:20] for k in ("from", "to", "currency")}
    start = _day(values["from"]) if values["from"] else today
    end = _day(values["to"]) if values["to"] else (start if values["from"] else today)
    if start is None:
        errors["from"], start = f"{values['from']!r} is not a date (YYYY-MM-DD)", today
    if end is None:
        errors["to"], end = f"{values['to']!r} is not a date (YYYY-MM-DD)", start
    if end < start:
        errors["to"], end = "the end date is before the start date", start
    if (end - start).days >= MAX_DAYS:
        errors["to"], end = f"at most {MAX_DAYS} days at once", start + timedelta(days=MAX_DAYS - 1)
    currency = values["currency"].upper()
    if currency and not is_currency(currency):
        errors["currency"], currency = f"{values['currency']!r} is not an ISO 4217 currency code", ""
    return View(start, end, currency, errors, values)


def _window(start: date, end: date, currency: str) -> q.Window:
    at = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return q.Window(at, at + timedelta(days=(end - start).days + 1), currency or None)


def _aov(revenue: Decimal, sales: int, currency: str) -> Decimal | None:
    return round_amount(revenue / sales, currency) if sales else None


def _by_currency(figures: list[q.Figure]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in figures:
        c = out.setdefault(f.currency, {"orders": 0, "sales": 0, "revenue": Decimal(0)})
        c["orders"] += f.orders
        c["sales"] += f.sales
        c["revenue"] += f.revenue
    for currency, c in out.items():
        c["aov"] = _aov(c["revenue"], c["sales"], currency)
    return dict(sorted(out.items()))


def _channels(v: View, figures: list[q.Figure]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    sales = [("status", s) for s in q.SALES]
    for f in figures:
        code, kind = f.key
        row = rows.setdefault(
            code,
            {
                "code": code,
                "type": kind,
                "orders": 0,
                "sales": 0,
                "revenue": {},
                "link": v.hub(("channel", code)),
            },
        )
        row["orders"] += f.orders
        row["sales"] += f.sales
        if f.sales:
            row["revenue"][f.currency] = {
                "amount": f.revenue,
                "link": v.hub(("channel", code), ("currency", f.currency), *sales)
                if not v.currency
                else v.hub(("channel", code), *sales),
            }
    return sorted(rows.values(), key=lambda r: (-r["orders"], r["code"]))


def _tiers(v: View, figures: list[q.Figure]) -> list[dict[str, Any]]:
    rows = []
    for f in sorted(figures, key=lambda f: (f.key[0] is None, f.key[0] or "", f.currency)):
        tier = f.key[0]
        pairs = [("tier", tier)] if tier else []
        link = (
            (v.hub(*pairs, ("currency", f.currency)) if not v.currency else v.hub(*pairs)) if tier else None
        )
        rows.append(
            {
                "tier": tier,
                "currency": f.currency,
                "orders": f.orders,
                "sales": f.sales,
                "revenue": f.revenue,
                "aov": _aov(f.revenue, f.sales, f.currency),
                "link": link,
            }
        )
    return rows


def figures(request: Request, v: View, now: datetime) -> dict[str, Any]:
    """Everything the page shows, read on one connection."""
    today = now.date()
    w = _window(v.start, v.end, v.currency)
    with q.aggregating(runtime(request).engine) as conn:
        channels = q.by_channel(conn, w)
        statuses = q.by_status(conn, w)
        tiers = q.by_tier(conn, w)
        products = q.top_products(conn, w)
        todays = (
            channels
            if (v.start, v.end) == (today, today)
            else q.by_channel(conn, _window(today, today, v.currency))
        )
        held = q.idle_count(conn, "on_hold", now - timedelta(hours=HELD_HOURS))
        waiting = q.idle_count(conn, "pending_approval", now - timedelta(hours=APPROVAL_HOURS))
        overdue_count, overdue = q.unpaid_past_terms(conn, now, limit=10)
        currencies = q.currencies(conn)
    today_view = View(today, today, v.currency, {}, {})
    return {
        "today": {
            "date": today,
            "link": today_view.hub(),
            "orders": sum(f.orders for f in todays),
            "by_currency": _by_currency(todays),
        },
        "totals": {
            "orders": sum(f.orders for f in channels),
            "by_currency": _by_currency(channels),
            "link": v.hub(),
        },
        "channels": _channels(v, channels),
        "statuses": [
            {"status": s, "orders": n, "link": v.hub(("status", s))}
            for s, n in sorted(statuses.items(), key=lambda kv: -kv[1])
        ],
        "tiers": _tiers(v, tiers),
        "products": [{"p": p, "link": v.hub(("sku", p.sku))} for p in products],
        "risk": {
            "held": {
                "count": held,
                "hours": HELD_HOURS,
                "link": v.hub(("status", "on_hold"), ("idle", str(HELD_HOURS)), dated=False),
            },
            "waiting": {
                "count": waiting,
                "hours": APPROVAL_HOURS,
                "link": v.hub(("status", "pending_approval"), ("idle", str(APPROVAL_HOURS)), dated=False),
            },
            "overdue": {"count": overdue_count, "orders": overdue},
        },
        "currencies": sorted(set(currencies) | ({v.currency} if v.currency else set())),
    }


def chart_data(data: dict[str, Any], v: View) -> dict[str, Any]:
    """The charts' series: labels, values (as decimal text: the page shows them exactly; the
    chart only scales bars by them) and the hub link of each bar."""
    channels, products = data["channels"], data["products"]
    out: dict[str, Any] = {
        "channels": {
            "labels": [c["code"] for c in channels],
            "values": [c["orders"] for c in channels],
            "links": [c["link"] for c in channels],
            "label": "Orders",
        },
        "statuses": {
            "labels": [s["status"].replace("_", " ") for s in data["statuses"]],
            "values": [s["orders"] for s in data["statuses"]],
            "links": [s["link"] for s in data["statuses"]],
            "label": "Orders",
        },
        "products": {
            "labels": [p["p"].sku for p in products],
            "values": [str(p["p"].quantity) for p in products],
            "links": [p["link"] for p in products],
            "label": "Units",
        },
    }
    if v.currency:
        revenue = [c for c in channels if v.currency in c["revenue"]]
        out["revenue"] = {
            "labels": [c["code"] for c in revenue],
            "label": f"Revenue ({v.currency})",
            "values": [str(c["revenue"][v.currency]["amount"]) for c in revenue],
            "links": [c["revenue"][v.currency]["link"] for c in revenue],
        }
        tiers = [t for t in data["tiers"] if t["aov"] is not None and t["link"]]
        out["tiers"] = {
            "labels": [t["tier"] for t in tiers],
            "values": [str(t["aov"]) for t in tiers],
            "links": [t["link"] for t in tiers],
            "label": f"Average order value ({v.currency})",
        }
    return out


def ranges(today: date, currency: str) -> list[tuple[str, str]]:
    """Quick ranges: (label, link)."""
    first = today.replace(day=1)
    spans = [
        ("Today", today, today),
        ("Yesterday", today - timedelta(days=1), today - timedelta(days=1)),
        ("Last 7 days", today - timedelta(days=6), today),
        ("Last 30 days", today - timedelta(days=29), today),
        ("This month", first, today),
    ]
    extra = [("currency", currency)] if currency else []
    return [
        (label, "/?" + urlencode([("from", a.isoformat()), ("to", b.isoformat()), *extra]))
        for label, a, b in spans
    ]


@router.get("/")
def dashboard(request: Request, user: User = Depends(require("dashboard:view"))) -> HTMLResponse:
    now = datetime.now(UTC)
    v = parse(dict(request.query_params), now.date())
    data = figures(request, v, now)
    context = {
        "v": v,
        "d": data,
        "charts": chart_data(data, v),
        "ranges": ranges(now.date(), v.currency),
        "tiers_by_currency": _group(data["tiers"]),
    }
    return render(request, "dashboard/index.html", context)


def _group(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["currency"]].append(r)
    return dict(out)


__all__ = ["NAV", "View", "chart_data", "figures", "parse", "ranges", "router"]
