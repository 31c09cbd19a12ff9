"""The ``allocate`` action through the workflow engine on both databases: an order placed through
the service is allocated by its workflow, its fulfilment order created; bad params are refused
when the workflow is saved; a step run again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from tests.integration.alloc_helpers import D, allocs, level, location, receive, writing
from tests.integration.alloc_helpers import waiting as backordered
from tests.integration.wf_order_helpers import run, step
from tests.workflow_actions import order, shop, workflow

from legato.bootstrap import Runtime
from legato.domain.errors import ValidationFailed
from legato.store import job_queries as jq
from legato.store.inventory_tables import fulfilment_orders
from legato.workflow import engine, runner
from legato.workflow.actions import Fail

W = "test-host:1:worker"


def drain(rt: Runtime) -> None:
    while engine.dispatch(rt) + runner.run_due(rt, W):
        pass


def _stock(rt: Runtime, qty: int) -> int:
    with writing(rt.engine) as conn:
        wh = location(conn, "WH1")
        receive(conn, wh, "TEA", qty)
    return wh


def test_a_workflow_allocates_the_new_order_and_creates_its_fulfilment_order(runtime: Runtime) -> None:
    shop(runtime)
    wh = _stock(runtime, 5)
    workflow(runtime, "allocate-new", "order.created", ("allocate", {"strategy": "priority"}))
    oid = order(runtime, "A-1", quantity=7)
    drain(runtime)
    with runtime.engine.connect() as conn:
        assert [(ln, loc, q, s) for ln, loc, _sku, q, s in allocs(conn, oid)] == [(1, wh, D(5), "priority")]
        assert backordered(conn, oid) == {1: D(2)}
        assert level(conn, wh, "TEA") == (D(5), D(5))
        fos = conn.execute(select(fulfilment_orders.c.location_id).where(fulfilment_orders.c.order_id == oid))
        assert fos.scalars().all() == [wh]
    (job,) = jq.list_jobs(runtime.engine, kind="step", limit=10)[0]
    assert job.state == "done"
    out: dict[str, Any] = dict(job.result or {})
    assert out["allocated"] == [{"line_no": 1, "location_id": wh, "sku": "TEA", "quantity": "5"}]
    assert out["backordered"] == [{"line_no": 1, "sku": "TEA", "quantity": "2"}]
    assert len(out["fulfilment_orders"]) == 1


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"strategy": "cheapest"}, "actions[0].params.strategy"),
        ({"strategy": "priority", "params": {"x": 1}}, "actions[0].params.params.x"),
        (
            {"strategy": "rule", "params": {"categories": {"sofa": 1}}},
            "actions[0].params.params.categories.sofa",
        ),
        ({"create_fulfilment": "yes"}, "actions[0].params.create_fulfilment"),
        ({"colour": "red"}, "actions[0].params.colour"),
    ],
)
def test_bad_params_are_refused_when_the_workflow_is_saved(
    runtime: Runtime, params: dict[str, Any], path: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        workflow(runtime, "bad-allocate", "order.created", ("allocate", params))
    assert path in [i.path for i in exc.value.issues], exc.value.issues


def test_the_step_run_again_changes_nothing(runtime: Runtime) -> None:
    shop(runtime)
    wh = _stock(runtime, 1)
    oid = order(runtime, "A-2", quantity=3)
    ctx = step(runtime, oid, "allocate", {"create_fulfilment": False})
    first = run(ctx, {"create_fulfilment": False})
    again = run(ctx, {"create_fulfilment": False}, at=datetime.now(UTC))
    assert first.output["allocated"] and first.output["backordered"]
    assert (again.output["allocated"], again.output["backordered"]) == ([], [])
    assert again.output["allocations"] == first.output["allocations"]
    with runtime.engine.connect() as conn:
        assert level(conn, wh, "TEA") == (D(1), D(1)) and backordered(conn, oid) == {1: D(2)}


def test_an_event_about_no_order_fails_the_step(runtime: Runtime) -> None:
    ctx = step(runtime, None, "allocate")
    with pytest.raises(Fail, match="not about an order"):
        run(ctx, {})
