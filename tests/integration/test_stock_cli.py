"""`legato stock` as an operator runs it, as a real process, on both databases."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from test_cli import legato

from legato.bootstrap import Runtime
from legato.domain.catalog import Product
from legato.services.catalog import save_product
from legato.store import locations

pytestmark = pytest.mark.slow  # each command is a Python process
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _site(rt: Runtime) -> None:
    for code in ("WH-LON", "WH-MAN"):
        locations.save(rt.engine, {"code": code, "name": code, "kind": "warehouse"}, create=True)
    locations.save(rt.engine, {"code": "DS-1", "name": "Dropship", "kind": "supplier"}, create=True)
    for sku in ("TEA-100", "MUG-200", "POT-300"):
        save_product(rt.uow(), Product(sku, sku, prices={"GBP": Decimal("1.00")}), create=True)


def _levels(db_url: str) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    out = legato(db_url, "stock", "levels", "--json")
    assert out.returncode == 0, out.stderr
    return {(x["location"], x["sku"]): (Decimal(x["on_hand"]), Decimal(x["available"]))
            for x in json.loads(out.stdout)["items"]}  # fmt: skip


def test_stock_is_received_adjusted_and_listed_from_the_command_line(runtime: Runtime, db_url: str) -> None:
    _site(runtime)
    got = legato(
        db_url, "stock", "receive", "WH-LON", "TEA-100", "12", "--cost", "1.10", "--reference", "PO-9"
    )
    assert got.returncode == 0, got.stderr
    assert "WH-LON TEA-100: receipt of 12; on hand 12" in got.stdout
    again = legato(db_url, "stock", "receive", "WH-LON", "TEA-100", "12", "--reference", "PO-9")
    assert again.returncode == 0 and "already applied" in again.stdout  # the same delivery note once

    down = legato(db_url, "stock", "adjust", "WH-LON", "TEA-100", "-2", "--reason", "damaged")
    assert down.returncode == 0, down.stderr
    assert _levels(db_url) == {("WH-LON", "TEA-100"): (Decimal(10), Decimal(10))}

    listed = legato(db_url, "stock", "locations", "--json")
    assert [(x["code"], x["kind"]) for x in json.loads(listed.stdout)["items"]] == [
        ("WH-LON", "warehouse"), ("WH-MAN", "warehouse"), ("DS-1", "supplier")]  # fmt: skip
    table = legato(db_url, "stock", "levels", "--location", "WH-LON")
    assert table.returncode == 0 and "TEA-100" in table.stdout

    refused = legato(db_url, "stock", "receive", "DS-1", "TEA-100", "1")
    assert refused.returncode == 1 and "location:" in refused.stderr
    too_many = legato(db_url, "stock", "adjust", "WH-LON", "TEA-100", "-11", "--reason", "count")
    assert too_many.returncode == 1
    assert "on hand" in too_many.stderr
    assert legato(db_url, "stock", "receive", "WH-LON", "TEA-100", "ten").returncode == 2


def test_the_documented_stock_file_imports_and_a_bad_one_names_row_and_column(
    runtime: Runtime, db_url: str, tmp_path: Path
) -> None:
    _site(runtime)
    done = legato(db_url, "stock", "import", str(DOCS / "examples" / "stock.csv"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["applied"] == 4
    assert _levels(db_url)[("WH-MAN", "TEA-100")] == (Decimal(80), Decimal(80))

    bad = tmp_path / "bad.csv"
    bad.write_text("location,sku,quantity\nWH-LON,TEA-100,5\nWH-LON,GHOST,5\n")
    out = legato(db_url, "stock", "import", str(bad))
    assert out.returncode == 1
    assert "row 3, column B (sku)" in out.stderr
    counted = tmp_path / "count.csv"
    counted.write_text("location,sku,quantity\nWH-LON,TEA-100,100\n")
    assert legato(db_url, "stock", "import", str(counted), "--mode", "set").returncode == 0
    assert _levels(db_url)[("WH-LON", "TEA-100")] == (Decimal(100), Decimal(100))
