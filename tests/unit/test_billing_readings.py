"""The pure parts of usage billing: reading meter readings from CSV and JSON (every bad cell
named by its row and column), the billing period's bounds, the line input a usage is given as."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.catalog import Product
from legato.domain.replenishment import Reading
from legato.intake.base import Unparseable
from legato.intake.billing import period_bounds, reference, usage_input
from legato.intake.usage_formats import UnsupportedMediaType, media_kind, read_body

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
_ID = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=20)
_VALUE = st.decimals(min_value=D("-1e9"), max_value=D("1e9"), places=3, allow_nan=False, allow_infinity=False)
_AT = st.datetimes(datetime(2000, 1, 2), datetime(2026, 11, 22), timezones=st.just(UTC)).map(
    lambda t: t.replace(microsecond=0)
)
_READING = st.builds(Reading, _ID, _ID, _VALUE, _AT, st.sampled_from([None, "h", "kWh"]))


def _csv(readings: list[Reading]) -> bytes:
    rows = ["device_id,metric,value,at,unit"]
    rows += [f"{r.device_id},{r.metric},{r.value},{r.at.isoformat()},{r.unit or ''}" for r in readings]
    return "\n".join(rows).encode()


def _read(body: bytes, kind: str = "csv") -> list[Reading]:
    return read_body(body, kind, channel="IOT", received_at=NOW, skew=300)


@given(st.lists(_READING, min_size=1, max_size=20))
def test_any_readings_written_as_csv_read_back_the_same(readings: list[Reading]) -> None:
    assert _read(_csv(readings)) == readings


@given(st.lists(_READING, min_size=1, max_size=20))
def test_any_readings_written_as_json_read_back_the_same(readings: list[Reading]) -> None:
    items = [{"device_id": r.device_id, "metric": r.metric, "value": str(r.value), "at": r.at.isoformat(),
              **({"unit": r.unit} if r.unit else {})} for r in readings]  # fmt: skip
    assert _read(json.dumps({"channel": "IOT", "readings": items}).encode(), "json") == readings


@given(st.lists(_READING, min_size=1, max_size=10), st.data())
def test_a_bad_cell_is_named_by_its_row_and_column_and_fails_the_whole_file(
    readings: list[Reading], data: st.DataObject
) -> None:
    row = data.draw(st.integers(0, len(readings) - 1))
    column, letter, bad = data.draw(st.sampled_from([("value", "C", "ten"), ("at", "D", "2026-10-01 08:00")]))
    lines = _csv(readings).decode().split("\n")
    cells = lines[row + 1].split(",")
    cells["CD".index(letter) + 2] = bad
    lines[row + 1] = ",".join(cells)
    with pytest.raises(Unparseable) as refused:
        _read("\n".join(lines).encode())
    assert [i.path for i in refused.value.issues] == [f"row {row + 2}/{letter} ({column})"]


def test_a_file_of_many_bad_rows_names_the_first_ones_and_counts_them_all() -> None:
    body = ("device_id,metric,value,at\n" + "m,x,ten,2026-10-01T00:00:00Z\n" * 500).encode()
    with pytest.raises(Unparseable) as refused:
        _read(body)
    assert len(refused.value.issues) == 200 and refused.value.extra["problems"] == 500
    assert "and 499 more" in refused.value.detail


def test_future_and_unset_clocks_and_values_past_the_sixth_place() -> None:
    future = (NOW + timedelta(seconds=301)).isoformat()
    body = f"device_id,metric,value,at\nm,x,1,{future}\nm,x,1,1970-01-01T00:00:00Z\n".encode()
    with pytest.raises(Unparseable) as refused:
        _read(body)
    assert [i.code for i in refused.value.issues] == ["future", "clock_not_set"]
    (r,) = _read(b"device_id,metric,value,at\nm,x,1.12345678,2026-10-01T00:00:00+02:00\n")
    assert (r.value, r.at) == (D("1.123457"), datetime(2026, 9, 30, 22, tzinfo=UTC))


@given(st.dates(date(2000, 1, 1), date(2026, 5, 1)), st.integers(0, 90), st.integers(0, 90))
def test_consecutive_periods_meet_exactly_at_midnight_utc(first: date, days: int, more: int) -> None:
    end = first + timedelta(days=days)
    lo, hi = period_bounds(first, end, now=NOW)
    nxt_lo, _ = period_bounds(end + timedelta(days=1), end + timedelta(days=1 + more), now=NOW)
    assert hi == nxt_lo and hi - lo == timedelta(days=days + 1)
    assert (lo.hour, lo.tzinfo) == (0, UTC)
    assert reference("P", first, end) == f"usage:P:{first.isoformat()}:{end.isoformat()}"


def test_the_usage_goes_to_the_products_own_usage_metric_else_the_plans() -> None:
    usage = Product(
        "HIRE", "Hire", pricing={"mechanism": "usage", "currencies": {"EUR": {"metric": "hours"}}}
    )
    assert usage_input(usage, "EUR", "operating_hours") == "usage.hours"
    assert usage_input(usage, "GBP", "operating_hours") == "usage.hours"  # converted from another currency
    assert usage_input(Product("FEE", "Fee", prices={"EUR": D(5)}), "EUR", "kWh") == "usage.kWh"
    assert usage_input(None, None, "kWh") == "usage.kWh"


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [("application/json", "json"), ("application/json; charset=utf-8", "json"), ("text/csv", "csv"),
     ("Text/CSV; header=present", "csv"), ("application/vnd.api+json", "json")],
)  # fmt: skip
def test_the_media_type_chooses_the_reader(content_type: str, kind: str) -> None:
    assert media_kind(content_type) == kind


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/xml"])
def test_any_other_media_type_is_refused(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        media_kind(content_type)
