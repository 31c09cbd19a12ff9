"""The operations board (/operations): where the day is stuck, at a glance.

* the backlog by stage: open orders per status, and how many have not moved for over 4 h, 24 h,
  72 h (cumulative, so each figure is one hub link: ``status=S&idle=H``);
* orders at risk of shipping late: processing and unchanged for over N hours (``?late=N``);
* unshipped demand: open orders whose fulfilment track is unfulfilled or partially fulfilled, and
  per SKU the units they need, how many are reserved, shipped, backordered and not yet allocated,
  beside the units available to promise;
* held orders by the reason of their latest hold, from the timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from legato.store import dashboard as q
from legato.store.users import User
from legato.web.app import NavItem, render, runtime
from legato.web.auth import require

router = APIRouter()
NAV = [NavItem("Operations", "/operations", "operations:view", order=40)]
AGES = (4, 24, 72)  # hours, the backlog's "unchanged for over" columns
LATE_DEFAULT = 48


def hub(*pairs: tuple[str, str]) -> str:
    return "/orders?" + urlencode(pairs)


@router.get("/operations")
def operations(request: Request, user: User = Depends(require("operations:view"))) -> HTMLResponse:
    raw = request.query_params.get("late", "").strip()
    late, error = LATE_DEFAULT, None
    if raw:
        if raw.isdigit() and 1 <= int(raw) <= 24 * 366:
            late = int(raw)
        else:
            error = "a whole number of hours from 1 to 8784"
    now = datetime.now(UTC)
    with q.aggregating(runtime(request).engine) as conn:
        backlog = q.backlog(conn, now, AGES)
        late_count = q.idle_count(conn, "processing", now - timedelta(hours=late))
        late_orders = q.oldest(conn, "processing", now - timedelta(hours=late))
        demand_counts, demand = q.open_demand(conn, limit=15)
        supply = q.supply_for(conn, [d.sku for d in demand])
        holds = q.holds_by_reason(conn)
    unshipped = [("fulfilment", s) for s in q.UNSHIPPED]
    open_statuses = [("status", s) for s in q.OPEN]
    context = {
        "ages": AGES,
        "backlog": [
            {
                "status": status,
                "counts": counts,
                "links": [hub(("status", status))]
                + [hub(("status", status), ("idle", str(h))) for h in AGES],
            }
            for status, counts in backlog.items()
        ],
        "late": late,
        "late_raw": raw,
        "late_error": error,
        "late_count": late_count,
        "late_orders": late_orders,
        "late_link": hub(("status", "processing"), ("idle", str(late))),
        "demand_counts": [
            {"state": s, "orders": demand_counts.get(s, 0), "link": hub(*open_statuses, ("fulfilment", s))}
            for s in q.UNSHIPPED
        ],
        "demand": [
            {
                "d": d,
                "s": supply[d.sku],
                "unallocated": supply[d.sku].unallocated(d.quantity),
                "link": hub(*open_statuses, *unshipped, ("sku", d.sku)),
            }
            for d in demand
        ],
        "holds": holds,
        "held_link": hub(("status", "on_hold")),
    }
    return render(request, "operations/index.html", context)


__all__ = ["AGES", "NAV", "router"]
