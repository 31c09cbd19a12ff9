"""``require_approval``: the order waits until a person with the ``approver`` scope decides.

    - action: require_approval
      params: {role: approver, reason: "order over 5,000"}

The step asks once (an ``approvals`` row: pending, role, the step's job) and answers
``wait()`` with no time: the run stays parked until the decision, taken through
``POST /api/v1/approvals/{id}/accept`` or ``/reject``, resumes the step. Run again, the step
reads the decision: accepted -> done (the run goes on); rejected -> stop (the run ends).
What the request and the decision do to the order is in ``legato.store.approvals``: a
``created`` order moves to ``pending_approval``; a ``processing`` one is put ``on_hold``
(the lifecycle has no way from processing to pending_approval); accept moves it back
(``created``, or released from the hold), reject cancels it.

``role`` (default ``approver``) names who should decide (for routing and ``?role=``); any key
with the ``approver`` (or ``admin``) scope may decide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from legato.domain.errors import LegatoError
from legato.store.approvals import request_approval
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _orders as o

ROLE = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")


class RequireApproval:
    name: ClassVar[str] = "require_approval"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        o.known_keys(params, ("role", "reason"), path, out)
        role = params.get("role", "approver")
        if not isinstance(role, str) or not ROLE.match(role):
            out.add(
                f"{path}.role", "a role name of lower-case letters, digits, - _ . (up to 40)", "invalid", role
            )
        o.text(params, "reason", path, out, required=False, max_length=1000)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        job_id, _ = o.job_started(ctx)
        role = params.get("role", "approver")
        try:  # asks once: run again (resumed, or retried), it finds the step's own request
            req = request_approval(ctx.rt.uow(), order_id=o.order_of(ctx), job_id=job_id, role=role,
                                   reason=params.get("reason"), actor=ctx.actor)  # fmt: skip
        except LegatoError as exc:
            raise Fail(exc.detail) from None
        a = req.approval
        if a.state == "accepted":
            return StepResult.done(approval_id=a.id, state=a.state, decided_by=a.decided_by)
        if a.state == "rejected":
            return StepResult.stop(f"approval #{a.id} was rejected by {a.decided_by}; the run ends here")
        note = None
        if req.created and not req.parked:  # the order was left as it was: say why nothing moved
            note = f"approval #{a.id} requested ({role}); the order stays {a.order_status}"
        return StepResult.wait(note=note, approval_id=a.id, parked=req.parked)


ACTION = RequireApproval()

__all__ = ["ACTION", "ROLE", "RequireApproval"]
