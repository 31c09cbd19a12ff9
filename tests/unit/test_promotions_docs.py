"""The worked examples of docs/pricing/promotions.md are what the code computes: the page's
promotions, voucher, loyalty policy and order, run through discount_order, give the page's
table and adjustments to the penny."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from legato.domain.promotions import (
    DiscountLine,
    Discounts,
    PointsExceeded,
    Promotion,
    Voucher,
    discount_order,
    loyalty_policy,
)

PAGE = (Path(__file__).parents[2] / "docs" / "pricing" / "promotions.md").read_text()


def example(name: str) -> Any:
    found = re.search(rf"<!-- example: {name} -->\s*```json\n(.*?)```", PAGE, re.S)
    assert found, f"no example {name!r} in the page"
    return json.loads(found.group(1))


def promotion(body: dict[str, Any]) -> Promotion:
    """A promotion from its API body (the same JSON the API tests post)."""
    kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in body.items()}
    for key in ("value", "min_subtotal"):
        if key in kw:
            kw[key] = Decimal(kw[key])
    for key in ("valid_from", "valid_to"):
        if key in kw:
            kw[key] = date.fromisoformat(kw[key])
    return Promotion(**kw)


def run(points: int | None = None, balance: int | None = None) -> Discounts:
    order = example("order")
    pair = example("voucher")
    voucher = Voucher(
        pair["voucher"]["code"],
        promotion(pair["promotion"]),
        pair["voucher"]["usage_limit"],
        0,
        pair["voucher"]["per_account_limit"],
    )
    assert order["voucher"] == voucher.code
    lines = [
        DiscountLine(
            ln["line_no"],
            ln["sku"],
            ln["category"],
            (),
            Decimal(ln["quantity"]),
            Decimal(ln["unit_price"]),
            Decimal(ln["quantity"]) * Decimal(ln["unit_price"]),
        )
        for ln in order["lines"]
    ]
    return discount_order(
        lines,
        order["currency"],
        channel_code=order["channel"],
        on=date.fromisoformat(order["on"]),
        promotions=[promotion(p) for p in example("promotions")],
        voucher=voucher,
        points=order["points"] if points is None else points,
        points_balance=order["points_balance"] if balance is None else balance,
        loyalty=loyalty_policy(example("loyalty")),
    )


def test_the_worked_example_gives_the_adjustments_the_page_shows() -> None:
    got = [
        {
            "kind": a.kind,
            "code": a.code,
            "amount": str(a.amount),
            **({"points": a.points} if a.points else {}),
        }
        for a in run().adjustments
    ]
    assert got == example("adjustments")


def test_the_worked_example_gives_the_per_line_table_the_page_shows() -> None:
    table = PAGE.split("<!-- example: per-line -->", 1)[1].strip().splitlines()
    rows = [[c.strip() for c in row.strip("|").split("|")] for row in table[2:] if row.startswith("|")]
    d = run()
    assert len(rows) == len(d.per_line) == 3
    for row in rows:
        x = d.per_line[int(row[0])]
        amount, promo, voucher, points, net = (Decimal(c) for c in row[2:])
        assert (x.promotion, x.voucher, x.points) == (promo, voucher, points), row
        assert amount - x.total == net, row


def test_points_over_the_allowed_share_are_refused_with_the_message_the_page_quotes() -> None:
    quoted = re.search(r"`(points may pay at most .*? points)`", PAGE.replace("\n", " "))
    assert quoted
    with pytest.raises(PointsExceeded) as err:
        run(points=4000, balance=4000)
    assert err.value.detail == quoted.group(1)
