"""Workflow conditions: CEL expressions compiled once when a workflow is saved, evaluated for
every event.

The CEL implementation is ``common-expression-language`` (the cel-rust interpreter), chosen by a
measured comparison with ``cel-python`` (bench/cel.py, figures in bench/README.md): about 40
times faster to compile and to evaluate, and right on every documented example.

When a workflow is saved, ``compile_condition`` refuses, with the line and column:

* syntax errors (as the CEL parser reports them);
* names, fields and functions the documented context (``context.context_schema``) does not
  have, so ``order.totl > 5000`` is refused rather than never matching (cel-rust does not check
  types, so ``legato.workflow.celcheck`` walks the expression against the schema);
* an expression that is not true/false, and int mixed with double in arithmetic (``order.total
  + 10``), which CEL would refuse at every evaluation.

Money: amounts are exact Decimals in Legato; a condition sees them as CEL doubles, converted
when the context is prepared, only to compare (``order.total > 5000``: CEL compares int with
double by value). Conditions decide, they never compute an amount that is kept; and a double
keeps 15 significant digits, so amounts of two decimals compare as their Decimals do (a property
test checks it up to ten billion).

Evaluation errors (a field absent without ``has()``, a type mismatch inside ``dyn`` data) raise
``ConditionError`` from ``evaluate``; ``matches`` turns them into "does not match" and logs them:
an event is never stopped by one bad condition, and the engine records the error on the run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any

import cel
from legato.domain.errors import FieldIssue, LegatoError, ValidationFailed
from legato.workflow.celcheck import CheckError, check
from legato.workflow.context import Context, schema_for

log = logging.getLogger(__name__)

MAX_LENGTH = 4000  # characters; a rule longer than this belongs in a custom-code action
_CEL_ERROR = re.compile(r"<input>:(\d+):(\d+): (.*)")
#: the parser's words -> plain ones
_PLAIN = [
    (re.compile(r"^(mismatched|extraneous) input '<EOF>'$"), "the expression ends too early"),
    (re.compile(r"^missing (.+) at '<EOF>'$"), r"missing \1 at the end"),
    (re.compile(r"^(?:mismatched|extraneous) input (.+)$"), r"unexpected \1"),
    (re.compile(r"^no viable alternative at input (.+)$"), r"unexpected \1"),
    (re.compile(r'^.*\bmsg: "([^"]+)".*$'), r"\1"),
    (re.compile(r"^token recognition error at: '(.+?)\s*'$"), r"unexpected character '\1'"),
]


class ConditionError(LegatoError):
    """A condition could not be evaluated against this context (absent field, wrong type ...)."""

    code = "condition_error"
    status = 422
    title = "The condition could not be evaluated"


@dataclass(frozen=True)
class Condition:
    """A compiled condition. ``fields``: the context fields it reads (``order.total`` ...)."""

    expr: str
    trigger: str
    fields: tuple[str, ...] = ()
    program: Any = field(default=None, repr=False, compare=False)

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        """True or false for this context; ConditionError if it cannot be evaluated.

        ``context``: ``build_context``'s result (converted once, then reused), a plain mapping
        of the same shape, or what ``prepare`` returned."""
        if self.program is None:  # the empty condition: always
            return True
        activation = prepare(context)
        try:
            result = self.program.execute(activation)
        except Exception as exc:
            raise ConditionError(f"condition {self.expr!r}: {_describe(exc)}", condition=self.expr) from None
        except BaseException as exc:  # a panic in the Rust core is a BaseException
            if type(exc).__name__ != "PanicException":
                raise
            raise ConditionError(f"condition {self.expr!r}: {exc}", condition=self.expr) from None
        if not isinstance(result, bool):
            raise ConditionError(
                f"condition {self.expr!r} gave {type(result).__name__} {result!r}, not true or false",
                condition=self.expr,
            )
        return result

    def matches(self, context: Mapping[str, Any]) -> bool:
        """``evaluate``, with an evaluation error counted as "does not match" (and logged)."""
        try:
            return self.evaluate(context)
        except ConditionError as exc:
            log.warning("workflow condition not evaluated (counted as not matching): %s", exc.detail)
            return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"the context has no field {exc.args[0]!r} here (use has() for a field that may be absent)"
    text = str(exc).split(". ", 1)[0].split("\n", 1)[0]
    return text or type(exc).__name__


def compile_condition(expr: str, trigger: str) -> Condition:
    """Check and compile a condition for workflows on ``trigger``; cached by (text, trigger).

    Raises ValidationFailed with one FieldIssue("condition", "<message> at line L column C",
    "invalid_condition", expr) for a syntax error, an unknown name, field or function, a result
    that is not true/false, or int mixed with double in arithmetic."""
    if not isinstance(expr, str):
        raise _invalid(f"a condition is CEL text, not {type(expr).__name__}", expr)
    return _compile(expr, trigger)


@lru_cache(maxsize=2048)
def _compile(expr: str, trigger: str) -> Condition:
    schema = schema_for(trigger)  # refuses an unknown trigger
    if not expr.strip():
        return Condition(expr, trigger)
    if len(expr) > MAX_LENGTH:
        raise _invalid(f"a condition is at most {MAX_LENGTH} characters, this one has {len(expr)}", expr)
    try:
        program = cel.compile(expr)
    except ValueError as exc:
        raise _invalid(_syntax_message(str(exc)), expr) from None
    try:
        fields = check(expr, schema, trigger)
    except CheckError as exc:
        raise _invalid(exc.message + _at(expr, exc.pos), expr) from None
    return Condition(expr, trigger, fields, program)


def _at(expr: str, pos: int) -> str:
    line = expr.count("\n", 0, pos) + 1
    column = pos - (expr.rfind("\n", 0, pos) + 1) + 1
    return f" at line {line} column {column}"


def _syntax_message(raw: str) -> str:
    """cel-rust's first error, without its list of expected tokens: "... at line L column C"."""
    m = _CEL_ERROR.search(raw)
    if not m:
        return f"syntax error: {raw.splitlines()[0] if raw else 'not CEL'} at line 1 column 1"
    text = re.sub(r"\s*expecting (\{.*\}|\S+)$", "", m.group(3)).replace("Syntax error: ", "")
    for pattern, plain in _PLAIN:
        text = pattern.sub(plain, text)
    return f"syntax error: {text} at line {m.group(1)} column {m.group(2)}"


def _invalid(message: str, expr: Any) -> ValidationFailed:
    return ValidationFailed(message, issues=[FieldIssue("condition", message, "invalid_condition", expr)])


# --- the context as CEL values -----------------------------------------------------------


def prepare(context: Mapping[str, Any]) -> Any:
    """The context converted for CEL once (Decimal -> double, tuples -> lists; and, for values
    cel-rust does not take, date -> "YYYY-MM-DD", sets -> lists ...); kept on a ``Context`` so
    the next condition reuses it."""
    if isinstance(context, cel.Context):
        return context
    if isinstance(context, Context) and context.compiled is not None:
        return context.compiled
    try:
        activation = cel.Context(dict(context))  # cel-rust converts what build_context makes
    except (ValueError, TypeError, OverflowError):
        try:
            activation = cel.Context({str(k): _cel(v) for k, v in context.items()})
        except (ValueError, TypeError, OverflowError) as exc:
            raise ConditionError(f"the context cannot be given to a condition: {exc}") from None
    if isinstance(context, Context):
        context.compiled = activation
    return activation


def _cel(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | bytes | timedelta):
        return value
    if isinstance(value, str):
        return str(value.value) if isinstance(value, Enum) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _cel(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_cel(v) for v in value]
    if isinstance(value, Enum):
        return _cel(value.value)
    return str(value)


__all__ = ["MAX_LENGTH", "Condition", "ConditionError", "compile_condition", "prepare"]
