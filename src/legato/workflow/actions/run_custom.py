"""``run_custom``: call a Python function of your own, for logic beyond a condition.

    - action: run_custom
      params: {function: "acme_rules.credit:score_order", args: {threshold: "0.8"}}

Only functions in modules the operator allowed may run: ``LEGATO_WORKFLOW_CUSTOM_MODULES``
is a comma-separated list of module prefixes (``acme_rules`` allows ``acme_rules`` and
``acme_rules.credit``, not ``acme_rules2``); anything else is refused when the workflow is
saved, and again when it runs (the setting may have changed since).

The function is called as ``function(ctx, context, args)``: the step's ``StepContext``
(``ctx.rt``, ``ctx.order_id``, ``ctx.actor``, ``ctx.idempotency_key`` ...), the same context
a condition sees (``order``, ``account``, ``event``, ``now`` ...) and ``args`` (a dict, ``{}``
when absent). Its return decides the step: ``None`` or ``True``: done; ``False``: stop the
run here (successfully); a dict: done, kept as the step's output (JSON values). Raising
``Fail`` dead-letters the step at once; any other exception is retried with backoff.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from legato.config import get_settings
from legato.domain.errors import IssueCollector
from legato.workflow.actions import Fail, StepContext, StepResult
from legato.workflow.actions import _orders as o

_TARGET = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)$")


def allowed_prefixes(setting: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in setting.split(",") if p.strip())


def is_allowed(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def resolve(target: str, prefixes: tuple[str, ...]) -> Callable[..., Any]:
    """The function ``package.module:function`` names; ValueError saying why it cannot be had."""
    m = _TARGET.match(target)
    if m is None:
        raise ValueError(f"{target!r} is not package.module:function")
    module, name = m.groups()
    if not is_allowed(module, prefixes):
        allowed = ", ".join(prefixes) or "none (set LEGATO_WORKFLOW_CUSTOM_MODULES)"
        raise ValueError(f"module {module!r} is not allowed; allowed prefixes: {allowed}")
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError as exc:
        raise ValueError(f"module {module!r} cannot be imported: {exc}") from None
    if not callable(found):
        raise ValueError(f"{module} has no function {name!r}")
    return found  # type: ignore[no-any-return]


def _check(params: Mapping[str, Any], path: str, out: IssueCollector) -> None:
    o.known_keys(params, ("function", "args"), path, out)
    target = params.get("function")
    if not isinstance(target, str):
        out.add(f"{path}.function", "function is required: package.module:function", "required", target)
    else:
        try:
            resolve(target, allowed_prefixes(get_settings().workflow_custom_modules))
        except ValueError as exc:
            out.add(f"{path}.function", str(exc), "not_allowed", target)
    args = params.get("args", {})
    if not isinstance(args, Mapping):
        out.add(f"{path}.args", "args is a mapping of names to values", "invalid", args)
    else:
        try:
            json.dumps(args)
        except (TypeError, ValueError):
            out.add(f"{path}.args", "args must be plain JSON values", "invalid")


def context_for(ctx: StepContext) -> dict[str, Any]:
    """What a condition sees for this step's event."""
    from legato.workflow.context import build_context

    with ctx.rt.engine.connect() as conn:
        return build_context(conn, ctx.event, now=ctx.now)


class RunCustom:
    name: ClassVar[str] = "run_custom"
    max_attempts: ClassVar[int] = 3

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        _check(params, path, out)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        try:
            function = resolve(params["function"], allowed_prefixes(ctx.rt.settings.workflow_custom_modules))
        except ValueError as exc:
            raise Fail(str(exc)) from None
        result = function(ctx, context_for(ctx), dict(params.get("args") or {}))
        if result is None or result is True:
            return StepResult.done()
        if result is False:
            return StepResult.stop(f"{params['function']} ended the run")
        if isinstance(result, Mapping):
            try:
                output = json.loads(json.dumps(dict(result)))
            except (TypeError, ValueError):
                raise Fail(f"{params['function']} returned a dict that is not plain JSON values") from None
            return StepResult("done", output)
        raise Fail(
            f"{params['function']} returned {type(result).__name__}; expected None, True, False or a dict"
        )


ACTION = RunCustom()

__all__ = ["ACTION", "RunCustom", "allowed_prefixes", "is_allowed", "resolve"]
