"""Workflow conditions: checked against the documented context when a workflow is saved, with
the position of every refusal; evaluated to true/false, an evaluation error never escaping as
anything but ConditionError. The examples, errors and context reference of
docs/workflows/conditions.md are read from the page and checked here."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from legato.domain.errors import ValidationFailed
from legato.workflow.conditions import ConditionError, compile_condition, prepare
from legato.workflow.context import EVENT_FIELDS, Context, context_schema
from legato.workflow.model import TRIGGERS

DOC = (Path(__file__).parents[2] / "docs" / "workflows" / "conditions.md").read_text()


def _section(start: str, end: str) -> str:
    return DOC.split(start, 1)[1].split(end, 1)[0]


def _rows(text: str) -> list[list[str]]:
    rows = [r for r in text.splitlines() if r.startswith("|")][2:]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows]


def _code(cell: str) -> str:
    return cell.strip("`").replace("\\|", "|")


def _timestamps(value: Any, node: dict[str, Any]) -> Any:
    """The documented JSON with its timestamp fields (per the schema) as datetimes."""
    if node["type"] == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    if node["type"] == "map" and isinstance(value, dict):
        fields = node.get("fields", {})
        return {k: _timestamps(v, fields.get(k, {"type": "dyn"})) for k, v in value.items()}
    if node["type"] == "list" and isinstance(value, list):
        return [_timestamps(v, node["items"]) for v in value]
    return value


def example_context() -> dict[str, Any]:
    raw = json.loads(
        _section("### The example context", "## Operators").split("```json", 1)[1].split("```")[0]
    )
    schema = context_schema(raw["event"]["type"])
    return {k: _timestamps(v, schema[k]) for k, v in raw.items()}


EXAMPLES = [(_code(c), t, r) for c, t, r, _ in _rows(_section("<!-- examples -->", "<!-- /examples -->"))]
ERRORS = [(_code(c), m) for c, m in _rows(_section("<!-- errors -->", "<!-- /errors -->"))]
ISSUE = [
    'order.total > 5000 && account.tier == "gold"',
    'order.lines.exists(l, "fragile" in l.tags)',
    'order.channel.type == "b2b" && account.open_balance + order.total > account.credit_limit',
]


def refusal(expr: str, trigger: str = "order.created") -> str:
    with pytest.raises(ValidationFailed) as info:
        compile_condition(expr, trigger)
    [issue] = info.value.issues
    assert (issue.path, issue.code, issue.value) == ("condition", "invalid_condition", expr)
    return issue.message


# --- the documentation ----------------------------------------------------------------


def test_the_page_has_examples_for_every_case_the_issue_names() -> None:
    assert len(EXAMPLES) >= 20 and len(ERRORS) >= 8
    conditions = [e for e, _, _ in EXAMPLES]
    assert "order.total > 5000" in conditions
    assert any("credit_limit" in c for c in conditions) and any("is_new" in c for c in conditions)
    assert any("order.channel.code" in c for c in conditions)


@pytest.mark.parametrize(("expr", "trigger", "result"), EXAMPLES, ids=[e for e, _, _ in EXAMPLES])
def test_each_documented_example_compiles_for_its_trigger_and_gives_the_documented_result(
    expr: str, trigger: str, result: str
) -> None:
    condition = compile_condition(expr, trigger)
    if result != "—":
        assert condition.evaluate(example_context()) is (result == "true")


@pytest.mark.parametrize(("expr", "message"), ERRORS, ids=[e for e, _ in ERRORS])
def test_each_documented_refusal_is_the_message_given_with_its_position(expr: str, message: str) -> None:
    actual = refusal(expr)
    head, _, tail = message.partition("…")
    assert actual.startswith(head) and actual.endswith(tail), actual
    assert re.search(r" at line \d+ column \d+$", actual)


def _schema_rows(node: dict[str, Any], path: str, out: dict[str, tuple[str, bool]]) -> None:
    kind = node["type"]
    if kind == "list":
        inner = node["items"]["type"]
        out[path] = (f"list({inner})", node.get("optional", False))
        if inner == "map":
            for k, v in node["items"]["fields"].items():
                _schema_rows(v, f"{path}[].{k}", out)
        return
    shown = f"map(string, {node['values']['type']})" if kind == "map" and "fields" not in node else kind
    out[path] = (shown if "values" in node or kind != "map" else "map", node.get("optional", False))
    for k, v in node.get("fields", {}).items():
        _schema_rows(v, f"{path}.{k}", out)


def test_the_context_reference_on_the_page_is_the_schema_field_by_field() -> None:
    rows = _rows(_section("## The context", "### `event`")) + _rows(
        _section("### `quote`", "### The example")
    )
    documented = {_code(r[0]): (r[1], r[2] == "yes") for r in rows if len(r) == 4 and r[0].startswith("`")}
    schema: dict[str, tuple[str, bool]] = {}
    for trigger in TRIGGERS:
        for name, node in context_schema(trigger).items():
            if name != "event":
                _schema_rows(node, name, schema)
    for path, typed in schema.items():
        # the quote's fields that are the order's are documented once, under order
        alias = (
            "order" + path[len("quote") :] if path.startswith("quote.") and path not in documented else path
        )
        assert documented.get(alias) == typed, (path, documented.get(alias), typed)
    assert set(documented) <= set(schema), set(documented) - set(schema)


def test_the_event_fields_on_the_page_are_the_schema_trigger_by_trigger() -> None:
    table = {r[0]: r[1] for r in _rows(_section("### `event`", "### `quote`"))}
    for trigger, fields in EVENT_FIELDS.items():
        shown = ", ".join(
            f"`{k}` ({'list(string)' if v['type'] == 'list' else v['type']}"
            f"{', may be absent' if v.get('optional') else ''})"
            for k, v in fields.items()
        )
        assert table[trigger] == shown
    open_ = [t for t in TRIGGERS if t not in EVENT_FIELDS]
    assert table[", ".join(open_)].startswith("any field of the payload (untyped: ")


def test_the_example_context_has_exactly_the_documented_shape() -> None:
    context = example_context()
    assert set(context) == set(context_schema("order.status_changed"))
    assert isinstance(context["now"], datetime)


# --- refusals, with positions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "where"),
    [
        ("order.total >", "at line 1 column 14"),
        ('order.total > 5000 &&\n  account.tier = "gold"', "at line 2 column 16"),
        ("(order.total > 5000", "at line 1 column 20"),
        ("order..total > 1", "at line 1 column 7"),
        (
            'order.total > 5000 &&\naccount.tier == "gold" &&\n  order.lines.exists(l, l.prce > 1)',
            "at line 3 column 27",
        ),
        ("\n\n    ordr.total > 1", "at line 3 column 5"),
    ],
)
def test_syntax_errors_and_unknown_names_are_refused_with_line_and_column(expr: str, where: str) -> None:
    assert refusal(expr).endswith(where)


@pytest.mark.parametrize(
    ("expr", "trigger", "says"),
    [
        ("order.totl > 5000", "order.created", "unknown field 'totl' of order (did you mean 'total'?)"),
        ("order.channel.kind == 'b2b'", "order.created", "unknown field 'kind' of order.channel"),
        ("order.lines.exists(l, l.tgs == [])", "order.created", "unknown field 'tgs' of order.lines[]"),
        ("order.lines[0].price > 1.0", "order.created", "unknown field 'price' of order.lines[]"),
        ('order.tracks["paymnt"] == "paid"', "order.created", "unknown field 'paymnt' of order.tracks"),
        ("order.shipping_address.contry == 'DE'", "order.created", "unknown field 'contry'"),
        ("has(account.tierr)", "order.created", "unknown field 'tierr' of account"),
        ("customer.email == 'a@b.c'", "order.created", "unknown name 'customer'"),
        ('event.to == "on_hold"', "order.created", "unknown field 'to' of event"),
        ("reading.value > 1.0", "order.created", "unknown name 'reading'"),
        ("order.total > 1", "quote.accepted", "unknown name 'order'"),
        ("quote.total > 1", "order.created", "unknown name 'quote'"),
        ("order.number.foo == 1", "order.created", "order.number (a string) has no field 'foo'"),
        ("order.status.lowerAscii() == 'x'", "order.created", "unknown function 'lowerAscii'"),
        ("max(1, 2) > 1", "order.created", "unknown function 'max'"),
        (
            "order.total.startsWith('1')",
            "order.created",
            "startsWith() does not apply to order.total (a double)",
        ),
        ("order.total + 10 > 5000", "order.created", "CEL does not mix double and int in arithmetic"),
        ("l.quantity > 1.0", "order.created", "unknown name 'l'"),
        ("order.total", "order.created", "a condition must be true or false"),
        ("size(order.lines)", "order.created", "a condition must be true or false"),
        ("order.total < '5000'", "order.created", "cannot compare order.total (a double) with a string"),
        (
            "order.tags[0] == 'x' && order.tags['a'] == 'b'",
            "order.created",
            "a list is indexed by a whole number",
        ),
        ("order.priority.exists(p, true)", "order.created", "exists() needs a list or a map"),
        ("order.lines.all(l, l.total)", "order.created", "all() needs true or false"),
        ("!order.total", "order.created", "! needs true or false"),
        ("order.total > 1.0 && order.currency", "order.created", "&& needs true or false"),
        ("'x' in order.currency", "order.created", "'in' needs a list or a map"),
        ("Order{total: 1}.total > 1", "order.created", "unknown name 'Order'"),
    ],
)
def test_what_the_context_does_not_have_is_refused_before_it_can_fail(
    expr: str, trigger: str, says: str
) -> None:
    assert says in refusal(expr, trigger)


def test_what_a_trigger_does_have_is_accepted() -> None:
    assert compile_condition('event.to == "on_hold"', "order.status_changed").fields == ("event.to",)
    assert compile_condition("reading.value < reading.threshold", "sensor.breach").fields
    assert compile_condition("quote.total > 1000.0 && order.total > 1.0", "quote.converted")
    assert compile_condition("event.anything == 'x'", "stock.received")  # its payload comes later
    assert compile_condition("today.hour >= 18", "schedule")


@pytest.mark.parametrize(
    "expr",
    [
        '"order.totl > 5000" != order.status',  # names inside strings are text
        "r'order.\\d+' != order.number && '''it's \"quoted\"''' != order.number",
        "// a comment: order.totl\norder.total > 1",
        'order.lines.exists(order, order.sku == "X") || order.total > 1.0',  # a macro variable shadows
        "order.lines.map(l, l.total).exists(t, t > 100.0)",
        "order.lines.filter(l, has(l.category)).size() > 0 && size(order.tags) >= 0",
        "type(order.total) == double && dyn(order.priority) > 0",
        "now - order.created_at > duration('48h') && now.getDayOfWeek() == 1",
        "account.properties.segment == 'wholesale' && account.properties['vat'] != ''",
        ".order.total > 1 ? true : false",
        "!!!!!!!!!!" * 30 + "true",
        "order.total + 10.0 > 5000 && double(order.priority) * 2.0 > 1.0",
        "order.total == null || account.tier != null",
    ],
)
def test_valid_cel_is_not_refused_by_the_schema_check(expr: str) -> None:
    compile_condition(expr, "order.created")


def test_a_condition_is_compiled_once_per_text_and_trigger() -> None:
    a = compile_condition(ISSUE[0], "order.created")
    assert compile_condition(ISSUE[0], "order.created") is a
    assert compile_condition(ISSUE[0], "order.updated") is not a
    assert a.fields == ("account.tier", "order.total")


def test_empty_condition_always_matches_and_unknown_trigger_or_non_text_is_refused() -> None:
    assert compile_condition("  ", "order.created").evaluate({}) is True
    with pytest.raises(ValidationFailed) as info:
        compile_condition("true", "order.exploded")
    assert info.value.issues[0].path == "trigger"
    assert "at most 4000 characters" in refusal("order.total > 1.0 || " * 300 + "true")
    with pytest.raises(ValidationFailed):
        compile_condition(5000, "order.created")  # type: ignore[arg-type]


# --- evaluation ------------------------------------------------------------------------


def test_the_issue_conditions_evaluate_on_decimal_money() -> None:
    context = example_context()
    context["order"] = {**context["order"], "total": Decimal("6123.60")}
    context["account"] = {
        **context["account"],
        "credit_limit": Decimal("10000.00"),
        "open_balance": Decimal(0),
    }
    results = [compile_condition(e, "order.created").evaluate(context) for e in ISSUE]
    assert results == [True, True, False]


@settings(max_examples=200, deadline=None)
@given(
    total=st.decimals(min_value=0, max_value=10**10, places=2),
    limit=st.decimals(min_value=0, max_value=10**10, places=2),
)
def test_money_compares_as_exactly_as_decimals_do(total: Decimal, limit: Decimal) -> None:
    """Amounts with two places up to ten billion keep their order as doubles."""
    condition = compile_condition(f"order.total > {limit}", "order.created")
    assert condition.evaluate({"order": {"total": total}}) is (total > limit)
    equal = compile_condition(f"order.total == {limit}", "order.created")
    assert equal.evaluate({"order": {"total": total}}) is (total == limit)


def test_an_absent_field_is_an_error_that_counts_as_not_matching(caplog: pytest.LogCaptureFixture) -> None:
    condition = compile_condition('account.region == "EU"', "order.created")
    guest = {**example_context(), "account": {}}
    with pytest.raises(ConditionError) as info:
        condition.evaluate(guest)
    assert "no field 'region'" in info.value.detail and info.value.code == "condition_error"
    with caplog.at_level(logging.WARNING, logger="legato.workflow.conditions"):
        assert condition.matches(guest) is False
    assert "counted as not matching" in caplog.text
    assert (
        compile_condition('has(account.region) && account.region == "EU"', "order.created").matches(guest)
        is False
    )
    # && and || skip an error when the other side decides
    assert (
        compile_condition('order.total < 10.0 && account.tier == "gold"', "order.created").evaluate(guest)
        is False
    )


def test_a_value_of_the_wrong_kind_in_free_data_is_an_error_not_a_crash() -> None:
    condition = compile_condition("account.properties.vip", "order.created")  # dyn: passes the check
    with pytest.raises(ConditionError, match="not true or false"):
        condition.evaluate({"account": {"properties": {"vip": "yes"}}})
    assert condition.evaluate({"account": {"properties": {"vip": True}}}) is True


def test_the_context_is_converted_once_and_again_after_a_change() -> None:
    context = Context(example_context())
    big = compile_condition("order.total > 5000", "order.created")
    assert big.evaluate(context) is True
    first = context.compiled
    assert first is not None and prepare(context) is first
    context["order"] = {**context["order"], "total": Decimal("10.00")}
    assert context.compiled is None
    assert big.evaluate(context) is False
    assert big.evaluate(prepare(context)) is False
    context |= {"order": {**context["order"], "total": Decimal("5000.01")}}
    assert context.compiled is None and big.evaluate(context) is True


def test_a_context_that_cel_cannot_hold_is_a_condition_error() -> None:
    condition = compile_condition("order.number == 'x'", "order.created")
    with pytest.raises(ConditionError, match="cannot be given to a condition"):
        condition.evaluate({"order": {"number": "\ud800"}})


# --- property: evaluate never raises anything else --------------------------------------

_DYN = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=5),
    st.binary(max_size=3),
)


def _strategy(node: dict[str, Any], wild: bool) -> st.SearchStrategy[Any]:
    """Values of the schema's shape (``wild``: any leaf may also be of another kind)."""
    kind = node["type"]
    if kind == "map" and "fields" in node:
        fields = {k: _strategy(v, wild) for k, v in node["fields"].items() if not v.get("optional")}
        optional = {k: _strategy(v, wild) for k, v in node["fields"].items() if v.get("optional")}
        shaped: st.SearchStrategy[Any] = st.fixed_dictionaries(fields, optional=optional)
    elif kind == "map":
        shaped = st.dictionaries(st.text(max_size=5), _DYN, max_size=3)
    elif kind == "list":
        shaped = st.lists(_strategy(node["items"], wild), max_size=3)
    else:
        shaped = {
            "int": st.integers(-(2**63), 2**63 - 1),
            "double": st.decimals(
                allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12
            ),
            "string": st.text(max_size=8),
            "bool": st.booleans(),
            "timestamp": st.datetimes(timezones=st.just(UTC)),
            "dyn": _DYN,
        }[kind]
    return st.one_of(shaped, _DYN) if wild and kind not in ("map", "list") else shaped


def _contexts(trigger: str, wild: bool) -> st.SearchStrategy[dict[str, Any]]:
    schema = context_schema(trigger)
    roots = {k: _strategy(v, wild) for k, v in schema.items()}
    if "account" in roots:
        roots["account"] = st.one_of(st.just({}), roots["account"])
    return st.fixed_dictionaries(roots)


CONDITIONS = [
    compile_condition(e, "order.status_changed") for e in ISSUE + [e for e, t, r in EXAMPLES if r != "—"]
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(context=_contexts("order.status_changed", wild=False))
def test_evaluation_of_any_context_of_the_schema_is_a_bool_or_a_condition_error(
    context: dict[str, Any],
) -> None:
    for condition in CONDITIONS:
        with contextlib.suppress(ConditionError):
            assert isinstance(condition.evaluate(context), bool)
        assert isinstance(condition.matches(context), bool)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(context=_contexts("order.status_changed", wild=True))
def test_even_badly_typed_data_never_raises_out_of_evaluate(context: dict[str, Any]) -> None:
    for condition in CONDITIONS:
        with contextlib.suppress(ConditionError):
            condition.evaluate(Context(context))


_PIECES = st.sampled_from([
    "order", "account", "event", "now", "today", "l", ".", "total", "lines", "tags", "exists", "map", "has",
    "size", "(", ")", "[", "]", "{", "}", ",", ":", "?", "!", "-", "+", "*", "==", "<", "&&", "||", " in ",
    "1", "2.5", "3u", '"x"', "'''y'''", "b'z'", "r'\\d'", "true", "null", "int", "// c\n", " ",
])  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=14).map("".join))
def test_any_text_is_compiled_or_refused_with_a_position_never_crashing_the_check(expr: str) -> None:
    try:
        compile_condition(expr, "order.created")
    except ValidationFailed as exc:
        assert re.search(r" at line \d+ column \d+$", exc.issues[0].message) or "characters" in exc.detail
