"""``legato import`` as an operator uses it, as a real process, on both databases: the template,
an import with its progress and report, the exit code when rows are refused, ``show``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from api_helpers import count
from tests.conftest import TEST_SECRET

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel, ChannelType, Product
from legato.intake.spreadsheet import FIELDS, SheetSettings, read_orders
from legato.services.catalog import save_channel, save_product

FIXTURES = Path(__file__).parent.parent / "fixtures" / "spreadsheet"


@pytest.fixture
def cli(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def legato(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
        env.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, COLUMNS="200",
                   LEGATO_IMPORT_DIR=str(tmp_path / "imports"))  # fmt: skip
        command = [sys.executable, "-m", "legato.cli", "import", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)

    return legato


@pytest.fixture
def sheets(runtime: Runtime) -> None:
    save_channel(
        runtime.uow(), Channel("SHEETS", "Trade sheets", ChannelType.B2B, "spreadsheet", "GBP"), create=True
    )
    for sku, price in (("TEA-100", "4.50"), ("MUG-200", "12.00"), ("POT-300", "39.99")):
        product = Product(sku, sku.title(), prices={"GBP": Decimal(price), "EUR": Decimal(price)})
        save_product(runtime.uow(), product, create=True)


def test_the_template_is_written_as_csv_or_xlsx_and_reads_back(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name, flag in (("t.csv", []), ("t.xlsx", []), ("t.out", ["--format", "xlsx"])):
        done = cli("template", str(tmp_path / name), *flag)
        assert done.returncode == 0, done.stderr
        fmt = "xlsx" if name != "t.csv" else "csv"
        assert f"({fmt})" in done.stdout
        with (tmp_path / name).open("rb") as f:
            (order,) = read_orders(f, fmt, SheetSettings())
        assert (order.ref, len(order.rows), order.issues) == ("PO-1001", 2, [])
    assert (tmp_path / "t.csv").read_text().splitlines()[0].split(",") == list(FIELDS)
    assert cli("template", str(tmp_path / "t.txt"), "--format", "ods").returncode == 2


def test_an_import_prints_its_report_and_a_second_run_creates_nothing(
    cli,
    runtime: Runtime,
    sheets: None,  # type: ignore[no-untyped-def]
) -> None:
    done = cli("run", str(FIXTURES / "orders.csv"), "--channel", "SHEETS")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "done - 3 order(s) created, 0 already there, 0 refused; 5 of 5 row(s)" in done.stdout
    assert "importing rows" in done.stderr  # the progress bar, on stderr
    assert count(runtime, "orders") == 3
    again = cli("run", str(FIXTURES / "orders.csv"), "--channel", "SHEETS")
    assert again.returncode == 0 and "this file was imported before (import 1)" in again.stdout
    assert count(runtime, "orders") == 3 and count(runtime, "import_jobs") == 1


def test_refused_rows_are_tabled_by_row_and_column_and_the_exit_code_is_1(
    cli,
    runtime: Runtime,
    sheets: None,  # type: ignore[no-untyped-def]
) -> None:
    done = cli("run", str(FIXTURES / "orders_with_errors.csv"), "--channel", "SHEETS", "--mode", "valid_only")
    assert done.returncode == 1, done.stderr
    assert "done - 1 order(s) created, 0 already there, 5 refused" in done.stdout
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in done.stdout.splitlines()
        if line.startswith("│")
    ]
    message = '"ten" is not a number with a decimal point (1,234.50)'
    assert rows[0] == ["3", "D (quantity)", "PO-2001", message, "not_a_number"]
    assert [(r[0], r[2], r[4]) for r in rows[1:]] == [
        ("5", "PO-2002", "conflict"), ("6", "PO-2003", "unknown_sku"), ("7", "PO-2004", "invalid_country"),
        ("10", "PO-2005", "split_order"),
    ]  # fmt: skip
    shown = cli("show", "1", "--json")
    job = json.loads(shown.stdout)
    assert (job["state"], job["errors_total"], job["errors"][1]["code"]) == ("done", 5, "conflict")
    assert cli("show", "1").stdout.startswith("import 1 (orders_with_errors.csv, valid_only): done")
    assert cli("show", "42").returncode == 1


def test_an_unknown_channel_or_mode_fails_with_a_message(cli, sheets: None) -> None:  # type: ignore[no-untyped-def]
    unknown = cli("run", str(FIXTURES / "orders.csv"), "--channel", "NOPE")
    assert unknown.returncode == 2 and "no channel with code 'NOPE'" in unknown.stderr
    assert cli("run", str(FIXTURES / "orders.csv"), "--channel", "SHEETS", "--mode", "most").returncode == 2
