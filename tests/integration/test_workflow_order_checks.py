"""validate_before_erp and run_custom, run directly with a real StepContext on both databases."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_helpers import order_body, place
from fastapi.testclient import TestClient
from wf_order_helpers import run, status, step, timeline

from legato.bootstrap import Runtime
from legato.config import get_settings
from legato.domain.commands import ChangeTrack
from legato.domain.errors import ValidationFailed
from legato.services.orders import change_track
from legato.store import locations, stock
from legato.store.allocation import allocate_order, in_transaction
from legato.workflow.actions import Fail, check_action, get_action

ALL = ["customer_exists", "within_credit", "payment_method_valid"]


@pytest.fixture
def bigco(client: TestClient, shop: dict[str, str]) -> dict[str, str]:
    """An account buying in EUR on 30 days' terms with a credit limit of 1,000.00 EUR."""
    body = {"code": "BIGCO", "name": "Big Co", "email": "ap@bigco.example", "currency": "EUR",
            "credit_limit": "1000.00", "payment_terms": "NET30"}  # fmt: skip
    assert client.post("/api/v1/accounts", json=body, headers=shop).status_code == 201
    return shop


def _b2b(client: TestClient, headers: dict[str, str], qty: int, **extra: Any) -> int:
    """A B2B order of Big Co: TEA-100 at 5.20 EUR each."""
    body = order_body("B2B", ("TEA-100", qty), customer={"code": "BIGCO"}, **extra)
    return int(place(client, headers, body)["id"])


def test_failed_checks_hold_the_order_with_every_reason_in_one_entry_and_stop_the_run(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = int(place(client, shop, order_body("WEB"))["id"])  # a guest, unpaid
    before = len(timeline(runtime, oid))
    result = run(step(runtime, oid, "validate_before_erp", workflow="erp-gate"), {"checks": ALL})
    assert result.outcome == "stop" and result.output["held"] is True
    assert status(runtime, oid) == "on_hold"
    entries = timeline(runtime, oid)[before:]
    assert len(entries) == 1
    hold = entries[0]
    assert (hold.actor, hold.to_value) == ("rule:erp-gate", "on_hold")
    assert hold.reason == (
        "validate_before_erp: 3 of 3 checks not met: "
        "customer_exists: the order has no customer account (a guest order); "
        "within_credit: not checked: the order has no customer account to hold a credit limit; "
        "payment_method_valid: unpaid and a guest has no payment terms"
    )


def test_an_order_within_credit_on_terms_passes_and_the_next_one_over_the_limit_is_held(
    client: TestClient, bigco: dict[str, str], runtime: Runtime
) -> None:
    first = _b2b(client, bigco, 100)  # 520.00 EUR
    ok = run(step(runtime, first, "validate_before_erp"), {"checks": ALL})
    assert ok.outcome == "done" and status(runtime, first) == "created"
    assert ok.note == "checks passed: customer_exists, within_credit, payment_method_valid"
    assert ok.output["checks"]["within_credit"] == {
        "outcome": "passed", "detail": "open balance 520.00 EUR within the credit limit 1,000.00 EUR",
    }  # fmt: skip
    second = _b2b(client, bigco, 100)
    held = run(step(runtime, second, "validate_before_erp"), {"checks": ALL})
    assert held.outcome == "stop" and status(runtime, second) == "on_hold"
    assert timeline(runtime, second)[-1].reason == (
        "validate_before_erp: 1 of 3 checks not met: within_credit: "
        "open balance 1,040.00 EUR exceeds the credit limit 1,000.00 EUR of BIGCO"
    )


def test_paid_orders_do_not_use_credit(client: TestClient, bigco: dict[str, str], runtime: Runtime) -> None:
    first = _b2b(client, bigco, 100)
    change_track(runtime.uow(), ChangeTrack(first, "payment", "paid", "apikey:till"))
    second = _b2b(client, bigco, 100)
    assert run(step(runtime, second, "validate_before_erp"), {"checks": ["within_credit"]}).outcome == "done"


def test_an_open_order_in_a_currency_without_a_rate_leaves_the_credit_undecided_and_holds(
    client: TestClient, bigco: dict[str, str], runtime: Runtime
) -> None:
    _b2b(client, bigco, 10, currency="USD")  # 57.50 USD: no USD->EUR rate is known
    oid = _b2b(client, bigco, 10)
    result = run(step(runtime, oid, "validate_before_erp"), {"checks": ["within_credit"]})
    assert result.outcome == "stop" and status(runtime, oid) == "on_hold"
    assert "within_credit: not checked: no exchange rate USD->EUR" in timeline(runtime, oid)[-1].reason


def test_stock_without_any_record_fails_and_never_passes_silently(
    client: TestClient, bigco: dict[str, str], runtime: Runtime
) -> None:
    held = _b2b(client, bigco, 1)
    out = run(step(runtime, held, "validate_before_erp"), {"checks": ["stock_available"]})
    assert out.outcome == "stop" and status(runtime, held) == "on_hold"
    assert timeline(runtime, held)[-1].reason.endswith("stock_available: TEA-100: no stock record")


def test_stock_counts_what_the_order_holds_then_what_is_available(
    client: TestClient, bigco: dict[str, str], runtime: Runtime
) -> None:
    locations.save(runtime.engine, {"code": "WH-1", "name": "Main", "kind": "warehouse", "priority": 1},
                   create=True)  # fmt: skip
    stock.receive(runtime.engine, "WH-1", "TEA-100", Decimal(5), actor="test")
    big = _b2b(client, bigco, 10)
    out = run(step(runtime, big, "validate_before_erp"), {"checks": ["stock_available"]})
    assert out.outcome == "stop"
    assert timeline(runtime, big)[-1].reason.endswith("stock_available: TEA-100: 10 needed, 5 available")
    mine = _b2b(client, bigco, 4)
    in_transaction(runtime.engine, lambda c: allocate_order(c, mine, at=datetime.now(UTC), actor="test"))
    # 4 reserved for it, 1 left for anyone: the reserved units count as the order's own
    done = run(step(runtime, mine, "validate_before_erp"), {"checks": ["stock_available"]})
    assert done.outcome == "done", done.note
    verdict = done.output["checks"]["stock_available"]
    assert verdict["detail"] == "every line is held for the order or available"
    other = _b2b(client, bigco, 2)
    out = run(step(runtime, other, "validate_before_erp"), {"checks": ["stock_available"]})
    assert out.outcome == "stop"
    assert timeline(runtime, other)[-1].reason.endswith("stock_available: TEA-100: 2 needed, 1 available")


def test_an_order_already_on_hold_is_not_moved_but_the_run_still_stops_with_the_reasons(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = int(place(client, shop, order_body("WEB", status="on_hold"))["id"])
    result = run(step(runtime, oid, "validate_before_erp"), {"checks": ["customer_exists"]})
    assert (result.outcome, result.output["held"]) == ("stop", False)
    assert result.note is not None and "customer_exists: the order has no customer account" in result.note


@pytest.mark.parametrize(
    ("params", "path", "code"),
    [
        ({"checks": []}, "actions[0].params.checks", "required"),
        ({"checks": ["customer_exists", "credit_ok"]}, "actions[0].params.checks[1]", "unknown_check"),
        ({"checks": ["within_credit", "within_credit"]}, "actions[0].params.checks[1]", "duplicate"),
        ({"checks": ["within_credit"], "on_undecided": "pass"}, "actions[0].params.on_undecided", "invalid"),
    ],
)
def test_validate_before_erp_refuses_unknown_checks_at_save_time(
    params: dict[str, Any], path: str, code: str
) -> None:
    with pytest.raises(ValidationFailed) as bad:
        check_action("validate_before_erp", params, "actions[0]")
    assert [(i.path, i.code) for i in bad.value.issues] == [(path, code)]


# --- run_custom ----------------------------------------------------------------------------


@pytest.fixture
def allowed(monkeypatch: pytest.MonkeyPatch, runtime: Runtime) -> Iterator[Runtime]:
    """The environment allows the tests' own module; a runtime whose settings say the same."""
    monkeypatch.setenv("LEGATO_WORKFLOW_CUSTOM_MODULES", "wf_custom_rules, acme")
    get_settings.cache_clear()
    settings = runtime.settings.model_copy(update={"workflow_custom_modules": "wf_custom_rules, acme"})
    yield Runtime(settings, runtime.engine, runtime.box)
    get_settings.cache_clear()


def test_run_custom_calls_the_function_with_the_step_the_condition_context_and_args(
    client: TestClient, shop: dict[str, str], allowed: Runtime
) -> None:
    order = place(client, shop, order_body("WEB", ("TEA-100", 2)))
    ctx = step(allowed, int(order["id"]), "run_custom", workflow="scoring")
    result = run(ctx, {"function": "wf_custom_rules:score", "args": {"over": 5}})
    assert (result.outcome, dict(result.output)) == (
        "done", {"order": order["number"], "big": True, "actor": "rule:scoring"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("function", "outcome"), [("wf_custom_rules:halt", "stop"), ("wf_custom_rules:nothing", "done")]
)
def test_run_custom_false_stops_the_run_and_none_is_done(
    client: TestClient, shop: dict[str, str], allowed: Runtime, function: str, outcome: str
) -> None:
    oid = int(place(client, shop, order_body("WEB"))["id"])
    assert run(step(allowed, oid, "run_custom"), {"function": function}).outcome == outcome


def test_run_custom_fails_on_a_return_it_cannot_read_and_lets_an_exception_be_retried(
    client: TestClient, shop: dict[str, str], allowed: Runtime
) -> None:
    oid = int(place(client, shop, order_body("WEB"))["id"])
    with pytest.raises(Fail, match="returned int; expected None, True, False or a dict"):
        run(step(allowed, oid, "run_custom"), {"function": "wf_custom_rules:answer"})
    with pytest.raises(RuntimeError, match="scoring service is down"):
        run(step(allowed, oid, "run_custom"), {"function": "wf_custom_rules:broken"})


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("os:system", "module 'os' is not allowed; allowed prefixes: wf_custom_rules, acme"),
        ("acmeco.rules:go", "module 'acmeco.rules' is not allowed"),
        ("wf_custom_rules.nope:go", "cannot be imported"),
        ("wf_custom_rules:NOT_A_FUNCTION", "has no function 'NOT_A_FUNCTION'"),
        ("wf_custom_rules.score", "is not package.module:function"),
    ],
)
@pytest.mark.usefixtures("allowed")
def test_run_custom_refuses_functions_outside_the_allow_list_at_save_time(
    function: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as bad:
        check_action("run_custom", {"function": function}, "actions[3]")
    (issue,) = bad.value.issues
    assert issue.path == "actions[3].params.function" and message in issue.message


def test_run_custom_refuses_at_run_time_what_the_settings_no_longer_allow(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    oid = int(place(client, shop, order_body("WEB"))["id"])
    ctx = step(runtime, oid, "run_custom")  # saved while allowed; the setting has changed since
    with pytest.raises(Fail, match="not allowed; allowed prefixes: none"):
        get_action("run_custom").run(ctx, {"function": "wf_custom_rules:nothing"})


def test_the_run_custom_page_example_installs_saves_and_runs(
    client: TestClient,
    shop: dict[str, str],
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs/workflows/actions/run_custom.md").read_text()
    code = re.search(r"```python\n# acme_rules/credit.py\n(.*?)```", page, re.S)
    step_doc = yaml.safe_load(re.search(r"```yaml\n(.*?)```", page, re.S).group(1))[0]  # type: ignore[union-attr]
    assert code is not None
    (tmp_path / "acme_rules").mkdir()
    (tmp_path / "acme_rules" / "__init__.py").write_text("")
    (tmp_path / "acme_rules" / "credit.py").write_text(code.group(1))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LEGATO_WORKFLOW_CUSTOM_MODULES", "acme_rules")
    get_settings.cache_clear()
    try:
        check_action(step_doc["action"], step_doc["params"], "actions[0]")
        rt = Runtime(runtime.settings.model_copy(update={"workflow_custom_modules": "acme_rules"}),
                     runtime.engine, runtime.box)  # fmt: skip
        small = int(place(client, shop, order_body("WEB", ("TEA-100", 2)))["id"])
        big = int(place(client, shop, order_body("WEB", ("POT-300", 200)))["id"])  # 7,998.00 GBP
        assert dict(run(step(rt, small, "run_custom"), step_doc["params"]).output) == {}
        assert dict(run(step(rt, big, "run_custom"), step_doc["params"]).output) == {"score": "0.93"}
    finally:
        get_settings.cache_clear()
        sys.modules.pop("acme_rules.credit", None)
        sys.modules.pop("acme_rules", None)
