"""``validate_before_erp``: check an order before it is pushed to the ERP; hold it if not fit.

    - action: validate_before_erp
      params:
        checks: [customer_exists, within_credit, stock_available, payment_method_valid]
        on_undecided: hold        # or: continue (a check that cannot be decided is noted, not passed)

Each check passes, fails, or is *not checked* when Legato cannot decide it (no stock records
before inventory exists; no exchange rate to add up a balance; a guest order has no credit
limit). Any failure (and, with ``on_undecided: hold``, the default, any undecided check) puts
the order ``on_hold`` with ALL the reasons in that one timeline entry, and stops the run:
the rest of the workflow (the ERP push) does not happen. A person releases the order when
it is fixed; a workflow on ``order.status_changed`` may push it then. When every check
passes, the step is done with a short note listing them.

The checks (see ``_checks.CHECKS``) run on one snapshot, read in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from legato.domain.errors import IssueCollector
from legato.domain.lifecycle import OrderStatus
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _checks as c
from legato.workflow.actions import _orders as o

UNDECIDED = ("hold", "continue")


def _check(params: Mapping[str, Any], path: str, out: IssueCollector) -> None:
    o.known_keys(params, ("checks", "on_undecided"), path, out)
    checks = params.get("checks")
    if not isinstance(checks, list) or not checks:
        out.add(
            f"{path}.checks", f"checks: a list of one or more of {', '.join(c.CHECKS)}", "required", checks
        )
    else:
        for i, name in enumerate(checks):
            if name not in c.CHECKS:
                out.add(f"{path}.checks[{i}]", f"unknown check {name!r}; one of {', '.join(c.CHECKS)}",
                        "unknown_check", name)  # fmt: skip
            elif checks.index(name) != i:
                out.add(f"{path}.checks[{i}]", f"{name} is listed twice", "duplicate", name)
    undecided = params.get("on_undecided", "hold")
    if undecided not in UNDECIDED:
        out.add(f"{path}.on_undecided", "on_undecided: hold or continue", "invalid", undecided)


def evaluate(ctx: StepContext, checks: Sequence[str]) -> list[c.Verdict]:
    """Run the named checks on one snapshot of the order and what they need."""
    with ctx.rt.uow() as uow:
        order = uow.orders.get(o.order_of(ctx))
        if order is None:
            raise Fail(f"no order {ctx.order_id}")
        account = uow.accounts.get_by_code(order.account_code) if order.account_code else None
        assert uow.conn is not None
        verdicts = []
        for name in checks:
            if name == "customer_exists":
                verdicts.append(c.customer_exists(order, account))
            elif name == "within_credit":
                owed = c.open_orders(uow.conn, account.code) if account is not None else []
                rates = uow.pricing_data.rates(uow.now().date())
                verdicts.append(c.within_credit(order, account, owed, rates, ctx.rt.settings.base_currency))
            elif name == "stock_available":
                verdicts.append(c.stock_available(order, uow.conn))
            else:
                verdicts.append(c.payment_method_valid(order, account))
    return verdicts


class ValidateBeforeErp:
    name: ClassVar[str] = "validate_before_erp"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        _check(params, path, out)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        verdicts = evaluate(ctx, params["checks"])
        stopping = {c.FAILED} | ({c.NOT_CHECKED} if params.get("on_undecided", "hold") == "hold" else set())
        bad = [v for v in verdicts if v.outcome in stopping]
        summary = {v.check: {"outcome": v.outcome, "detail": v.detail} for v in verdicts}
        if not bad:
            undecided = [v.line() for v in verdicts if v.outcome == c.NOT_CHECKED]
            note = "checks passed: " + ", ".join(v.check for v in verdicts if v.outcome == c.PASSED)
            return StepResult.done("; ".join([note, *undecided]), checks=summary)
        reason = f"validate_before_erp: {len(bad)} of {len(verdicts)} checks not met: " + "; ".join(
            v.line() for v in bad
        )
        try:  # False: it was on hold already
            held = o.transition(ctx, OrderStatus.ON_HOLD, reason)
        except Fail:  # final: nothing to hold, but the run still stops
            held = False
        # held: the hold's timeline entry carries every reason; else the note must
        note = "the run stops: the order is held" if held else f"{reason} (the order was not held)"
        return StepResult("stop", {"checks": summary, "held": held}, None, note)


ACTION = ValidateBeforeErp()

__all__ = ["ACTION", "UNDECIDED", "ValidateBeforeErp", "evaluate"]
