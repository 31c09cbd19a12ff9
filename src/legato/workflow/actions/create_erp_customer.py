"""``create_erp_customer``: make sure the ERP knows the order's customer before its order
arrives there (docs/workflows/actions/create_erp_customer.md).

    - action: create_erp_customer
      params: {destination: main}
    - action: push_to_erp
      params: {destination: main}

The event's order's account is created (or found) in the ERP, and the ERP's reference
becomes the account's ``erp_ref`` (so customer matching by ``erp_ref`` works from then on,
and the order payload carries it). HTTP: a POST of the customer document to the
destination's ``customers_url`` with the step's ``Idempotency-Key``; Odoo: the
``res.partner`` found by id, ref or email, or created. An account that already has an
``erp_ref`` is taken as known to the ERP: nothing is sent. A guest order (no account) has
no one to create: the step is done and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from legato.domain.errors import IssueCollector, LegatoError
from legato.services.catalog import save_account
from legato.services.orders import get_order
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _erp as e
from legato.workflow.outbound.erp import create_customer
from legato.workflow.outbound.payload import customer_payload

ERP_REF_LENGTH = 64  # the accounts.erp_ref column


class CreateErpCustomer:
    name: ClassVar[str] = "create_erp_customer"
    max_attempts: ClassVar[int] = 10

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = IssueCollector()
        e.check_params(params, path, (), out)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        if ctx.order_id is None:
            raise Fail("create_erp_customer needs an order event: the customer is the order's account")
        try:
            order = get_order(ctx.rt.uow(), ctx.order_id)
            with ctx.rt.uow() as uow:
                account = uow.accounts.get_by_code(order.account_code) if order.account_code else None
        except LegatoError as exc:
            raise Fail(exc.detail) from None
        if account is None:
            return StepResult.done(skipped="the order has no customer account (a guest order)")
        if account.erp_ref:
            return StepResult.done(
                skipped="the account already has an ERP reference", erp_ref=account.erp_ref
            )
        dest = e.destination_of(ctx, params)
        result = create_customer(dest, customer_payload(account), ctx.idempotency_key)
        ref = result.erp_reference or ""
        if len(ref) > ERP_REF_LENGTH:
            raise Fail(
                f"the ERP's customer reference is longer than {ERP_REF_LENGTH} characters: {ref[:80]}..."
            )
        with ctx.rt.uow() as uow:  # read again just before the write: keep what changed meanwhile
            current = uow.accounts.get_by_code(account.code)
        if current is None:
            raise Fail(f"account {account.code} no longer exists")
        if not current.erp_ref:
            current.erp_ref = ref
            save_account(ctx.rt.uow(), current, create=False)
        verb = "created" if result.response.get("created", True) else "found"
        reason = f"customer {account.code} {verb} in the ERP {dest.name}: reference {current.erp_ref}"
        data = {"destination": dest.name, "account": account.code, "erp_ref": current.erp_ref}
        e.note_on_order(ctx, ctx.order_id, "erp_customer", reason, data)
        return StepResult.done(destination=dest.name, account=account.code, erp_ref=current.erp_ref,
                               response=dict(result.response))  # fmt: skip


ACTION = CreateErpCustomer()

__all__ = ["ACTION", "CreateErpCustomer"]
