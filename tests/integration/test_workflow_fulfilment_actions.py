"""The create_fulfilment_orders and hold_fulfilment actions, on both databases, each as a real
step of a real run: what they create or hold, what they report, their retries and their checks."""

from __future__ import annotations

from typing import Any

import pytest
from fulfilment_helpers import ACTOR, event, fos, now, order, stocked
from wf_order_helpers import run, step

from legato.bootstrap import Runtime
from legato.domain.errors import ValidationFailed
from legato.store.allocation import allocate_order, in_transaction
from legato.workflow.actions import check_action


@pytest.fixture
def wh(runtime: Runtime, shop: dict[str, str]) -> dict[str, str]:
    stocked(runtime)
    return shop


def allocate_only(rt: Runtime, oid: int) -> None:
    in_transaction(rt.engine, lambda conn: allocate_order(conn, oid, at=now(), actor=ACTOR))


def test_create_fulfilment_orders_splits_the_allocations_once(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 1), ("MUG-200", 1), ("POT-300", 1))
    allocate_only(runtime, oid)
    ctx = step(runtime, oid, "create_fulfilment_orders")
    result = run(ctx, {})
    made = result.output["fulfilment_orders"]
    assert [(f["number"], f["location"], f["kind"]) for f in made] == [
        (f"SO-{oid:06d}-F1", "WH-LDN", "ship"),
        (f"SO-{oid:06d}-F2", "WH-MAN", "ship"),
        (f"SO-{oid:06d}-F3", "SUP-ACME", "dropship"),
    ]
    assert result.note and "SO-" in result.note
    assert run(ctx, {}, at=now()).output["fulfilment_orders"] == []  # a retry creates nothing
    assert len(fos(runtime, oid)) == 3


def test_hold_fulfilment_holds_what_has_not_left_and_reports_a_dispatched_fo(
    runtime: Runtime, client: Any, wh: dict[str, str]
) -> None:
    oid = order(client, wh, ("TEA-100", 1), ("MUG-200", 1), ("POT-300", 1))
    allocate_only(runtime, oid)
    run(step(runtime, oid, "create_fulfilment_orders"), {})
    ldn, man, acme = (f.id for f in fos(runtime, oid))
    event(runtime, ldn, "dispatched")
    event(runtime, man, "picking")
    params = {"reason": "quality flag on the batch", "only_kinds": ["ship"]}
    ctx = step(runtime, oid, "hold_fulfilment", params)
    result = run(ctx, params)
    number = f"SO-{oid:06d}"
    assert result.outcome == "done"
    assert result.output["held"] == [f"{number}-F2"]
    assert result.output["not_held"] == [
        {
            "fulfilment_order": f"{number}-F1",
            "status": "dispatched",
            "why": "already dispatched: it cannot be held",
        }
    ]
    legs = {f.id: f for f in fos(runtime, oid)}
    assert (legs[man].status, legs[man].held_from, legs[man].reason) == (
        "on_hold",
        "picking",
        params["reason"],
    )
    assert legs[acme].status == "created"  # a dropship FO: not one of only_kinds
    again = run(ctx, params, at=now())
    assert (again.output["held"], again.output["already_on_hold"]) == ([], [f"{number}-F2"])


def test_the_actions_refuse_bad_parameters_when_the_workflow_is_saved() -> None:
    check_action("hold_fulfilment", {"reason": "x"}, "actions[0]")
    with pytest.raises(ValidationFailed) as e:
        check_action("hold_fulfilment", {"only_kinds": ["boat"], "colour": 1}, "actions[0]")
    assert sorted(i.path for i in e.value.issues) == [
        "actions[0].params.colour", "actions[0].params.only_kinds", "actions[0].params.reason"
    ]  # fmt: skip
    with pytest.raises(ValidationFailed) as e:
        check_action("create_fulfilment_orders", {"split": "yes"}, "actions[0]")
    assert [i.path for i in e.value.issues] == ["actions[0].params.split"]
