"""`legato billing` as an operator runs it, as a real process, on both databases: readings
imported from the documented CSV, the plans listed, October billed once, errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from billing_helpers import IOT, catalogue, example, post
from fastapi.testclient import TestClient
from test_cli import legato

pytestmark = pytest.mark.slow  # each command is a Python process


def test_readings_are_imported_the_plans_listed_and_a_period_billed_once(
    client: TestClient, admin: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    catalogue(client, admin)
    post(client, admin, "/api/v1/usage-plans", example("plan"))
    readings = tmp_path / "forklift.csv"
    readings.write_bytes(example("readings"))

    imported = legato(db_url, "billing", "usage-import", str(readings), "--channel", IOT)
    assert imported.returncode == 0, imported.stderr
    assert "processed: 5 reading(s): 5 new" in imported.stdout

    plans = legato(db_url, "billing", "plans")
    assert plans.returncode == 0, plans.stderr
    assert (
        "FORKLIFT-2" in plans.stdout and "operating_hours" in plans.stdout and "any channel" in plans.stdout
    )

    run = legato(db_url, "billing", "run", "--from", "2026-10-01", "--to", "2026-10-31")
    assert run.returncode == 0, run.stderr
    assert "1 order(s) placed, 0 already there, 0 refused" in run.stdout and "230.00 EUR" in run.stdout

    again = legato(db_url, "billing", "run", "--from", "2026-10-01", "--to", "2026-10-31", "--json")
    assert again.returncode == 0, again.stderr
    done = json.loads(again.stdout)
    assert (done["orders_created"], done["orders_existing"]) == (0, 1)
    assert done["bills"][0]["usage"] == "132" and done["created_by"].startswith("cli")


def test_bad_input_is_named_on_stderr_with_the_exit_code(
    client: TestClient, admin: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    catalogue(client, admin)
    post(client, admin, "/api/v1/products", {"sku": "CRANE", "name": "Crane", "prices": {"GBP": "900"}})
    post(client, admin, "/api/v1/usage-plans", {**example("plan"), "code": "CRANE-1", "sku": "CRANE"})
    bad = tmp_path / "bad.csv"
    bad.write_text("device_id,metric,value,at\ncrane-1,lifts,ten,2026-10-10T18:00:00Z\n")

    imported = legato(db_url, "billing", "usage-import", str(bad), "--channel", IOT)
    assert imported.returncode == 1
    assert "row 2/C (value): value is not a number: 'ten'" in imported.stderr
    assert "kept as inbox entry 1" in imported.stderr

    refused = legato(db_url, "billing", "run", "--from", "2026-10-01", "--to", "2026-10-31")
    assert refused.returncode == 1
    assert "refused CRANE-1: product CRANE has no price in EUR" in refused.stderr

    day = legato(db_url, "billing", "run", "--from", "1 October", "--to", "2026-10-31")
    assert day.returncode == 2 and "--from must be a day" in day.stderr
    early = legato(db_url, "billing", "run", "--from", "2099-10-01", "--to", "2099-10-31")
    assert early.returncode == 2 and "end: the period is not over" in early.stderr
