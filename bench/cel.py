"""Workflow conditions: the two CEL implementations on PyPI, measured on Legato's conditions.

    python -m bench.cel [--rounds N]

``common-expression-language`` (import ``cel``: the cel-rust interpreter behind PyO3) against
``cel-python`` (import ``celpy``: pure Python on lark, with its interpreted and its transpiled
runner). For each: compile time, the time to convert one event's context (once per event), the
evaluation time of realistic conditions on that context, 1,000 conditions against one order
(the issue's target: under 1 ms), and what each says for a syntax error and an unknown field.
The context and the conditions are the ones docs/workflows/conditions.md documents (the test
suite evaluates the same ones), plus the three of the issue. Results: bench/results/cel.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import celpy
from rich.console import Console
from rich.table import Table

import cel
from bench.core import ROOT
from legato.workflow.conditions import compile_condition, prepare

DOC = ROOT / "docs" / "workflows" / "conditions.md"
ISSUE = [
    'order.total > 5000 && account.tier == "gold"',
    'order.lines.exists(l, "fragile" in l.tags)',
    'order.channel.type == "b2b" && account.open_balance + order.total > account.credit_limit',
]
SYNTAX = 'order.total > 5000 &&\n  account.tier = "gold"'
UNKNOWN = 'order.totl > 5000 && account.tier == "gold"'
TARGET_MS = 1.0
console = Console(width=140)


def example_context() -> dict[str, Any]:
    """The documented example context, with its timestamps as datetimes."""
    text = DOC.read_text()
    block = text.split("### The example context", 1)[1].split("```json", 1)[1].split("```", 1)[0]

    def times(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: times(x) for k, x in v.items()}
        if isinstance(v, list):
            return [times(x) for x in v]
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:]+Z", v):
            return datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(UTC)
        return v

    return dict(times(json.loads(block)))


def documented_conditions() -> dict[str, bool]:
    """The examples table's conditions that are evaluated on the example context, and their result."""
    table = DOC.read_text().split("<!-- examples -->", 1)[1].split("<!-- /examples -->", 1)[0]
    out = {}
    for row in [r for r in table.splitlines() if r.startswith("|")][2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        if len(cells) == 4 and cells[2] != "—":
            out[cells[0].strip("`").replace("\\|", "|")] = cells[2] == "true"
    return out


class Impl:
    """One implementation: compile, convert a context, evaluate."""

    def __init__(self, name: str, compile_: Callable[[str], Any], convert: Callable[[dict[str, Any]], Any],
                 run: Callable[[Any, Any], Any]) -> None:  # fmt: skip
        self.name, self.compile, self.convert, self.run = name, compile_, convert, run


def _celpy(runner: type[celpy.Runner]) -> tuple[Callable[[str], Any], Callable[[dict[str, Any]], Any]]:
    env = celpy.Environment(runner_class=runner)

    def convert(ctx: dict[str, Any]) -> dict[str, Any]:
        return {k: celpy.json_to_cel(v) for k, v in ctx.items()}

    return (lambda expr: env.program(env.compile(expr))), convert


def implementations() -> list[Impl]:
    # celpy keeps one lark parser per process, built with the first runner's tree class: the
    # transpiler's trees (a subclass) serve both runners, so that one comes first
    celpy.CELParser.CEL_PARSER = None
    transp, convert = _celpy(celpy.CompiledRunner)
    interp, _ = _celpy(celpy.InterpretedRunner)
    return [
        Impl("cel (cel-rust)", cel.compile, lambda ctx: cel.Context(ctx), lambda p, a: p.execute(a)),
        Impl("celpy interpreted", interp, convert, lambda p, a: p.evaluate(a)),
        Impl("celpy transpiled", transp, convert, lambda p, a: p.evaluate(a)),
    ]


def _us(fn: Callable[[], Any], n: int) -> float:
    """Median over 5 batches of n calls, in microseconds per call."""
    batches = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        batches.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(batches)


def _error(fn: Callable[[], Any]) -> str:
    try:
        result = fn()
    except Exception as exc:
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:150]}"
    return f"no error: {result!r}"[:150]


def measure(impl: Impl, ctx: dict[str, Any], conditions: dict[str, bool], rounds: int) -> dict[str, Any]:
    fast = impl.name.startswith("cel ")
    n = rounds if fast else max(rounds // 100, 3)
    activation = impl.convert(ctx)
    programs, wrong = [], {}
    for expr, expected in conditions.items():  # what the documentation says each one gives
        try:
            program = impl.compile(expr)
            got = impl.run(program, activation)
        except Exception as exc:
            wrong[expr] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
            continue
        if got != expected:
            wrong[expr] = f"gave {got!r}, not {expected}"
        else:
            programs.append(program)
    compile_us = statistics.median(_us(lambda e=e: impl.compile(e), n) for e in ISSUE)  # type: ignore[misc]
    convert_us = _us(lambda: impl.convert(ctx), n)
    issue = {e: impl.compile(e) for e in ISSUE}
    each = {e: _us(lambda p=p: impl.run(p, activation), n * 5) for e, p in issue.items()}  # type: ignore[misc]
    thousand = [programs[i % len(programs)] for i in range(1000)]

    def all_of_them() -> None:
        act = impl.convert(ctx)
        for p in thousand:
            impl.run(p, act)

    batch_ms = _us(all_of_them, 3 if fast else 1) / 1000
    syntax = _error(lambda: impl.run(impl.compile(SYNTAX), activation))
    unknown = _error(lambda: impl.run(impl.compile(UNKNOWN), activation))
    return {
        "compile_us": compile_us, "convert_us": convert_us, "eval_us": each,
        "eval_median_us": statistics.median(each.values()), "thousand_ms": batch_ms,
        "right": len(programs), "wrong": wrong, "syntax_error": syntax, "unknown_field": unknown,
    }  # fmt: skip


def legato_figures(ctx: dict[str, Any], conditions: dict[str, bool], rounds: int) -> dict[str, Any]:
    """What Legato adds on top of cel-rust: the schema check at compile, the wrapper at evaluate."""
    from legato.workflow import conditions as mod

    compile_us = statistics.median(
        _us(lambda e=e: mod._compile.__wrapped__(e, "order.created"), rounds // 10)  # type: ignore[misc]
        for e in ISSUE
    )
    compiled = [compile_condition(e, "order.status_changed") for e in conditions]
    thousand = [compiled[i % len(compiled)] for i in range(1000)]
    simple = [compile_condition(ISSUE[0], "order.created")] * 1000

    def run(batch: list[Any]) -> Callable[[], None]:
        def go() -> None:
            act = prepare(ctx)
            for c in batch:
                c.evaluate(act)

        return go

    return {"compile_us": compile_us, "thousand_ms": _us(run(thousand), 3) / 1000,
            "thousand_simple_ms": _us(run(simple), 3) / 1000,
            "syntax_error": _error(lambda: compile_condition(SYNTAX, "order.created")),
            "unknown_field": _error(lambda: compile_condition(UNKNOWN, "order.created"))}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cel", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2000, help="calls per measurement (cel-rust)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    ctx = example_context()
    conditions = documented_conditions()
    results = {i.name: measure(i, ctx, conditions, args.rounds) for i in implementations()}
    legato = legato_figures(ctx, conditions, args.rounds)
    table = Table(title=f"CEL implementations: {len(conditions)} documented conditions on one order")
    columns = ("compile µs", "context µs", "eval µs (1)", "(2)", "(3)", "1,000 conditions ms", "documented")
    table.add_column("implementation")
    for col in columns:
        table.add_column(col, justify="right")
    for name, r in results.items():
        table.add_row(name, f"{r['compile_us']:.1f}", f"{r['convert_us']:.1f}",
                      *(f"{r['eval_us'][e]:.2f}" for e in ISSUE), f"{r['thousand_ms']:.2f}",
                      f"{r['right']}/{len(conditions)} right")  # fmt: skip
    console.print(table)
    for i, e in enumerate(ISSUE, 1):
        console.print(f"  ({i}) {e}")
    rust, best_py = (
        results["cel (cel-rust)"],
        min((r for n, r in results.items() if n.startswith("celpy")), key=lambda r: r["thousand_ms"]),
    )
    ratios = [best_py[k] / rust[k] for k in ("compile_us", "eval_median_us", "thousand_ms")]
    console.print(
        "cel-rust against the faster celpy: compile x{:.0f}, evaluation x{:.0f} (median of the three), "
        "1,000 conditions x{:.0f} faster".format(*ratios)
    )
    for name, r in results.items():
        console.print(
            f"[bold]{name}[/]\n  syntax error: {r['syntax_error']}\n  unknown field: {r['unknown_field']}"
        )
        for expr, why in r["wrong"].items():
            console.print(f"  [red]wrong[/] {expr}: {why}")
    ok = legato["thousand_ms"] < TARGET_MS
    console.print(
        f"[bold]Legato[/] (cel-rust + schema check): compile {legato['compile_us']:.0f} µs; 1,000 documented "
        f"conditions {legato['thousand_ms']:.2f} ms, 1,000 x the first issue condition "
        f"{legato['thousand_simple_ms']:.2f} ms "
        f"(target < {TARGET_MS} ms: {'met' if ok else 'not met for this mix'})\n"
        f"  syntax error: {legato['syntax_error']}\n  unknown field: {legato['unknown_field']}"
    )
    out = ROOT / "bench" / "results" / "cel.json"
    out.parent.mkdir(exist_ok=True)
    load = (load_before, os.getloadavg()[0])
    console.print(
        f"load average (1 min) before and after: {load[0]:.1f}, {load[1]:.1f} on {os.cpu_count()} cores"
    )
    machine = {"python": platform.python_version(), "machine": platform.machine(), "load": load,
               "versions": {p: version(p) for p in ("common-expression-language", "cel-python")}}  # fmt: skip
    out.write_text(json.dumps({"machine": machine, "implementations": results, "legato": legato}, indent=2))
    console.print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
