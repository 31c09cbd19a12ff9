"""Fuzz the whole OpenAPI with schemathesis, on both databases: no input, valid or
not, may produce a 5xx, and every response must match the documented status codes,
content types and schemas (problem+json included).

Schemathesis's pytest plugin does not run under pytest 9, so the operations are
walked here and each one is driven by a Hypothesis ``@given`` of its own.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from legato.api.app import create_app
from legato.bootstrap import Runtime

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 30


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str], calls: list[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        calls.append(1)
        case.call_and_validate(headers={**(case.headers or {}), **headers}, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise  # an operation without parameters has no invalid input: nothing to fuzz


def test_no_input_produces_a_server_error_or_an_undocumented_response(
    runtime: Runtime, shop: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime))
    failures: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, shop, calls)
            except Exception as exc:  # collect every operation's failure, not just the first
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
    assert len(calls) > 20 * len(operations)
