"""``legato workflows`` as an operator runs it, as a real process, on both databases; and the
examples library in docs/workflows/examples, checked, loaded and tried on an order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from api_helpers import count
from sqlalchemy import select
from tests.conftest import TEST_SECRET

from legato.bootstrap import Runtime
from legato.domain.catalog import Account, Channel, ChannelType, Product
from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder
from legato.domain.matching import CustomerRef
from legato.services.catalog import save_account, save_channel, save_product
from legato.services.orders import place_order
from legato.store import tables
from legato.store.queries import reading
from legato.workflow.actions import REGISTRY
from legato.workflow.dryrun import dry_run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "workflows" / "examples"
pytestmark = pytest.mark.slow  # ten `legato` processes per database


def legato(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, COLUMNS="250")
    return subprocess.run(
        [sys.executable, "-m", "legato.cli", "workflows", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def an_order(rt: Runtime, quantity: str = "2", channel: str = "WEB", account: str | None = None) -> str:
    """An order for TEA at 4.50 GBP each on the web shop (ecommerce, guests) or the trade portal
    B2B (account ACME: in the ERP, credit limit 100 GBP)."""
    with reading(rt.engine) as conn:
        fresh = conn.execute(select(tables.channels.c.id)).first() is None
    if fresh:
        save_channel(rt.uow(), Channel("WEB", "Web", ChannelType.ECOMMERCE, "rest", "GBP"), create=True)
        save_channel(rt.uow(), Channel("B2B", "Trade", ChannelType.B2B, "portal", "GBP"), create=True)
        save_product(rt.uow(), Product("TEA", "Tea", prices={"GBP": Decimal("4.50")}), create=True)
        acme = Account("ACME", "Acme", erp_ref="ERP-7", currency="GBP", credit_limit=Decimal(100))
        save_account(rt.uow(), acme, create=True)
    customer = CustomerRef(code=account) if account else None
    draft = OrderDraft(channel, (LineDraft("TEA", Decimal(quantity)),), customer=customer)
    return place_order(rt.uow(), PlaceOrder(draft, "test")).order.number or ""


TAGGER = """\
name: tagger
description: tag every order
trigger: order.created
priority: 5
actions:
  - action: add_tag
    params: {tag: seen}
"""
HOLDER = """\
name: holder
trigger: order.created
condition: order.total > 5
actions:
  - action: set_status
    params: {to: on_hold, reason: check it}
"""


def test_check_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "tagger.yaml").write_text(TAGGER)
    (tmp_path / "holder.yaml").write_text(
        HOLDER.replace("order.total", "order.totl").replace("on_hold", "held")
    )
    checked = legato(f"sqlite:///{tmp_path}/unused.db", "check", str(tmp_path))
    assert checked.returncode == 1
    errors = [line for line in checked.stderr.splitlines() if line.startswith(str(tmp_path))]
    assert [line.split(": ")[0:2] for line in errors] == [
        [f"{tmp_path}/holder.yaml:3", "condition"],
        [f"{tmp_path}/holder.yaml:6", "actions[0].params.to"],
    ]
    assert "unknown field 'totl'" in errors[0] and "'held' is not an order status" in errors[1]
    assert "2 problem(s)" in checked.stderr


def test_load_refuses_a_bad_folder_whole_then_saves_versions_that_list_show_and_dry_run(
    runtime: Runtime, db_url: str, tmp_path: Path
) -> None:
    number = an_order(runtime)
    (tmp_path / "tagger.yaml").write_text(TAGGER)
    (tmp_path / "holder.yaml").write_text(HOLDER.replace("order.total", "order.totl"))
    refused = legato(db_url, "load", str(tmp_path))
    assert refused.returncode == 1 and "nothing saved" in refused.stderr
    assert count(runtime, "workflows") == 0  # the valid file was not saved either

    (tmp_path / "holder.yaml").write_text(HOLDER)
    loaded = legato(db_url, "load", str(tmp_path))
    assert loaded.returncode == 0, loaded.stderr
    assert "created    holder (version 1)" in loaded.stdout and "2 created" in loaded.stdout
    (tmp_path / "tagger.yaml").write_text(TAGGER.replace("tag: seen", "tag: seen-again"))
    again = legato(db_url, "load", str(tmp_path))
    assert "updated    tagger (version 2)" in again.stdout and "unchanged  holder (version 1)" in again.stdout

    listed = json.loads(legato(db_url, "list", "--json").stdout)["items"]
    assert [(w["name"], w["version"], w["trigger"], w["fired"]) for w in listed] == [
        ("holder", 1, "order.created", 0),
        ("tagger", 2, "order.created", 0),
    ]
    shown = legato(db_url, "show", "tagger")
    assert shown.returncode == 0 and shown.stdout.startswith("# tagger version 2 of 2")
    assert yaml.safe_load(shown.stdout)["actions"] == [{"action": "add_tag", "params": {"tag": "seen-again"}}]
    old = legato(db_url, "show", "tagger", "--version", "1", "--json")
    assert json.loads(old.stdout)["actions"][0]["params"] == {"tag": "seen"}

    tried = legato(db_url, "test", "--order", number)
    assert tried.returncode == 0, tried.stderr
    lines = tried.stdout.splitlines()
    assert lines[0] == f"{number}, event order.created (outbox event 1)"
    assert lines[1].startswith("MATCH    tagger (v2, priority 5): no condition")
    assert lines[2].strip() == '1. add_tag {"tag": "seen-again"}'
    assert lines[3].startswith("MATCH    holder (v1, priority 0): the condition 'order.total > 5' is true")
    assert lines[-1] == "2 of 2 workflow(s) would run; nothing was run"

    assert "holder is now disabled" in legato(db_url, "disable", "holder").stdout
    one = json.loads(legato(db_url, "test", "holder", "--order", number, "--json").stdout)
    assert [(w["name"], w["reason"]) for w in one["workflows"]] == [("holder", "inactive")]
    assert count(runtime, "workflow_runs") == 0 and count(runtime, "workflow_versions") == 3


def _actions_used() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for file in sorted(EXAMPLES.glob("*.yaml")):
        for step in yaml.safe_load(file.read_text())["actions"]:
            used.setdefault(step["action"], []).append(file.name)
    return used


def test_the_examples_library_checks_loads_and_matches_an_order(runtime: Runtime, db_url: str) -> None:
    missing = {name: files for name, files in _actions_used().items() if name not in REGISTRY}
    assert not missing, f"actions the examples use that are not registered yet: {missing}"
    if "sqlite" in db_url:  # checking touches no database: once is enough
        checked = legato(db_url, "check", str(EXAMPLES))
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout.strip() == f"8 workflow(s) valid in {EXAMPLES}"
    loaded = legato(db_url, "load", str(EXAMPLES))
    assert loaded.returncode == 0 and "8 created" in loaded.stdout, loaded.stderr

    big = an_order(runtime, quantity="1200")  # 5,400.00 GBP on an ecommerce channel, a guest
    out = dry_run(runtime, int(big.removeprefix("SO-")))
    assert [v.name for v in out.matched] == ["high-value-approval", "erp-routing-shops"]
    reasons = {v.name: v.reason for v in out.verdicts}
    assert reasons["customer-status-emails"] == reasons["low-stock-restock"] == "other_trigger"
    assert reasons["erp-routing-b2b"] == reasons["new-customer-erp"] == "condition_false"

    # a trade customer known to the ERP, over its credit limit
    trade = an_order(runtime, quantity="30", channel="B2B", account="ACME")  # 135.00 GBP > 100
    out = dry_run(runtime, int(trade.removeprefix("SO-")))
    assert [v.name for v in out.matched] == ["credit-limit-hold", "erp-routing-b2b"]
    assert [s.action for s in out.matched[0].actions] == ["add_tag", "set_status", "send_email"]
    paid = dry_run(runtime, int(trade.removeprefix("SO-")), "payment.received")
    assert {v.name: v.reason for v in paid.verdicts}["credit-limit-release"] == "condition_false"
