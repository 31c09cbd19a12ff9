"""The examples of docs/pricing/tax.md are what the code does: its rates, its look-ups and its
worked lines."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from legato.domain.tax import TaxRate, TaxRules, line_tax

PAGE = (Path(__file__).parents[2] / "docs" / "pricing" / "tax.md").read_text()


def example(name: str) -> Any:
    found = re.search(rf"<!-- example: {name} -->\s*```json\n(.*?)```", PAGE, re.S)
    assert found, f"no example {name!r} in the page"
    return json.loads(found.group(1))


RULES = TaxRules(
    TaxRate(r["region"], r["tax_class"], Decimal(r["rate"]), r["name"]) for r in example("rates")
)


def test_the_page_looks_rates_up_as_the_rules_do() -> None:
    lookups = example("lookups")
    assert len(lookups) >= 5
    for case in lookups:
        found = RULES.resolve(case["country"], case["region"], case["tax_class"])
        assert (found.name, found.rate) == (case["name"], Decimal(case["rate"])), case
        if case["name"] == "no rate":
            assert RULES.rate_for(case["country"], case["region"], case["tax_class"] or "standard") is None


def test_the_page_worked_lines_are_what_line_tax_computes() -> None:
    for case in example("lines"):
        got = line_tax(
            Decimal(case["amount"]),
            Decimal(case["rate"]),
            inclusive=case["inclusive"],
            currency=case["currency"],
        )
        assert got == tuple(Decimal(case[k]) for k in ("net", "tax", "gross")), case
        assert str(got.tax) == case["tax"]  # and printed to the currency's minor unit
