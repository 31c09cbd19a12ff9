"""The worked examples of docs/pricing/ are data (tests/fixtures/pricing/<kind>.json): each one is
priced here, and each doc page must show the same configurations, inputs and charges, so the
documentation cannot drift from what the mechanisms do."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from legato.domain.catalog import Dimensions
from legato.domain.pricing.mechanisms import REGISTRY, Charge, PriceInputs, build

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "pricing"
DOCS = ROOT / "docs" / "pricing"
D = Decimal


def dimensions(raw: dict[str, str] | None) -> Dimensions | None:
    return None if raw is None else Dimensions(D(raw["length"]), D(raw["width"]), D(raw["height"]))


def moment(raw: str | None) -> datetime | None:
    return None if raw is None else datetime.fromisoformat(raw)


def number(raw: str | None) -> Decimal | None:
    return None if raw is None else D(raw)


def price_inputs(raw: dict[str, Any]) -> PriceInputs:
    """A fixture's ``inputs`` (JSON, decimals as strings) as the mechanism receives them."""
    return PriceInputs(
        quantity=D(raw["quantity"]),
        start=moment(raw.get("start")),
        end=moment(raw.get("end")),
        distance_km=number(raw.get("distance_km")),
        origin=raw.get("origin"),
        destination=raw.get("destination"),
        weight_kg=number(raw.get("weight_kg")),
        dimensions=dimensions(raw.get("dimensions")),
        usage={k: D(v) for k, v in raw.get("usage", {}).items()},
        attributes=dict(raw.get("attributes", {})),
        at=moment(raw.get("at")),
    )


def price_example(kind: str, example: dict[str, Any]) -> Charge:
    product = example.get("product", {})
    mechanism = build(kind, example["config"])
    return mechanism.price(
        price_inputs(example["inputs"]),
        number(product.get("weight_kg")),
        dimensions(product.get("dimensions")),
    )


def load(kind: str) -> list[dict[str, Any]]:
    examples: list[dict[str, Any]] = json.loads((FIXTURES / f"{kind}.json").read_text())
    return examples


KINDS = sorted(REGISTRY)  # every registered mechanism has its examples (checked below)
EXAMPLES = [
    pytest.param(kind, ex, id=f"{kind}[{i}]")
    for kind in KINDS
    if (FIXTURES / f"{kind}.json").is_file()
    for i, ex in enumerate(load(kind))
]


@pytest.mark.parametrize(("kind", "example"), EXAMPLES)
def test_each_worked_example_prices_to_its_expected_charge_and_breakdown(
    kind: str, example: dict[str, Any]
) -> None:
    charge = price_example(kind, example)
    expect = example["expect"]
    assert charge.amount == D(expect["amount"])
    assert charge.rule == expect["rule"]
    assert sum((p.amount for p in charge.parts), D(0)) == charge.amount  # the breakdown adds up
    if "parts" in expect:
        got = [(p.label, p.quantity, p.rate, p.amount) for p in charge.parts]
        want = [(p["label"], D(p["quantity"]), D(p["rate"]), D(p["amount"])) for p in expect["parts"]]
        assert got == want
    for key, value in expect.get("inputs", {}).items():
        assert charge.inputs[key] == value, key


def json_blocks(page: str) -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", page, re.DOTALL)]


@pytest.mark.parametrize("kind", KINDS)
def test_each_doc_page_shows_its_examples_configurations_inputs_and_charges(kind: str) -> None:
    page = (DOCS / f"{kind}.md").read_text()
    blocks = json_blocks(page)
    for example in load(kind):
        assert example["expect"]["amount"] in page
        assert example["config"] in blocks, f"{kind}: the configuration of {example['title']!r} is not shown"
        shown = {k: v for k, v in example.items() if k != "config"}
        assert shown in blocks, f"{kind}: the example {example['title']!r} is not shown as in the fixture"


def test_every_registered_mechanism_has_examples_a_page_and_a_line_in_the_index() -> None:
    index = (DOCS / "README.md").read_text()
    section = index.split("## Mechanisms", 1)[1].split("\n## ", 1)[0]
    for kind in REGISTRY:
        assert (FIXTURES / f"{kind}.json").is_file(), kind
        assert load(kind), kind
        assert (DOCS / f"{kind}.md").is_file(), kind
        assert f"({kind}.md)" in section, kind
