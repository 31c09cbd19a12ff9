"""Billing runs on both databases: meter readings stored, then a run places one usage-priced
order per plan and period, once, whatever happens to the others."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from api_helpers import count

from legato.bootstrap import Runtime
from legato.domain.catalog import Account, Channel, ChannelSettings, ChannelType, OnNoMatch, Product
from legato.domain.errors import ValidationFailed
from legato.domain.replenishment import Reading
from legato.intake.billing import add_plan, change_plan, run_billing
from legato.intake.iot import record_readings
from legato.services.catalog import save_account, save_channel, save_product
from legato.store import billing as store
from legato.store.queries import get_order, order_number_to_id

BY_CODE = ChannelSettings(match_keys=("code",), on_no_match=OnNoMatch.REJECT)
START, END = date(2026, 10, 1), date(2026, 10, 31)
FORKLIFT = {"metric": "hours", "base": "150.00", "included": "100", "overage": "2.50"}
CHARGER = {"metric": "kWh", "bands": [{"up_to": "100", "price": "0.30"}, {"up_to": None, "price": "0.25"}]}


def _usage_product(sku: str, config: dict[str, object], currency: str = "EUR") -> Product:
    return Product(sku, sku.title(), pricing={"mechanism": "usage", "currencies": {currency: config}})


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    """A billing channel RENTALS (EUR, customers by code), IoT channels SITE-A and SITE-B, the
    account DOCKSIDE, the products FORKLIFT-HIRE and CHARGING (usage-priced in EUR)."""
    save_channel(
        runtime.uow(), Channel("RENTALS", "Hire", ChannelType.B2B, "manual", "EUR", BY_CODE), create=True
    )
    for code in ("SITE-A", "SITE-B"):
        save_channel(runtime.uow(), Channel(code, code, ChannelType.INTEGRATION, "iot", "EUR"), create=True)
    save_account(runtime.uow(), Account("DOCKSIDE", "Dockside Logistics", currency="EUR"), create=True)
    save_product(runtime.uow(), _usage_product("FORKLIFT-HIRE", FORKLIFT), create=True)
    save_product(runtime.uow(), _usage_product("CHARGING", CHARGER), create=True)
    return runtime


def _plan(rt: Runtime, code: str, device: str, metric: str, sku: str, **kw: str) -> None:
    add_plan(rt, store.UsagePlan(code, kw.pop("channel", "RENTALS"), device, metric, "DOCKSIDE", sku, **kw))


def _meter(rt: Runtime, device: str, metric: str, *steps: tuple[str, str], channel: str = "SITE-A") -> None:
    """Readings (day-and-hour in 2026, value) of one meter, stored as the IoT channel stores them."""
    with rt.uow() as uow:
        found = uow.channels.get_by_code(channel, secrets=False)
    assert found is not None
    readings = [
        Reading(device, metric, D(v), datetime.fromisoformat(f"2026-{at}:00+00:00")) for at, v in steps
    ]
    record_readings(rt, found, readings, None)


def _run(rt: Runtime, start: date = START, end: date = END, **kw: str) -> store.BillingRun:
    return run_billing(rt, start, end, actor="test:billing", **kw)


def _order(rt: Runtime, number: str):  # type: ignore[no-untyped-def]
    found = get_order(rt.engine, order_number_to_id(number) or 0)
    assert found is not None
    return found


def test_a_run_places_one_usage_priced_order_per_plan_for_the_period(rt: Runtime) -> None:
    _plan(rt, "FORKLIFT-2", "forklift-2", "operating_hours", "FORKLIFT-HIRE")
    _plan(rt, "CHARGER-9", "charger-9", "energy", "CHARGING")
    _meter(
        rt, "forklift-2", "operating_hours", ("09-30T18", "1000"), ("10-15T18", "1070"), ("10-31T23", "1130")
    )
    _meter(rt, "charger-9", "energy", ("09-30T00", "5000"), ("10-31T12", "5250"), ("11-01T06", "5400"))
    run = _run(rt)
    assert (run.state, run.orders_created, run.orders_existing, run.refused) == ("done", 2, 0, [])
    bills = {b["plan"]: b for b in run.bills}
    assert (bills["FORKLIFT-2"]["usage"], D(bills["FORKLIFT-2"]["grand_total"])) == ("130", D("225.00"))
    assert (bills["CHARGER-9"]["usage"], D(bills["CHARGER-9"]["grand_total"])) == ("250", D("67.50"))
    order = _order(rt, bills["FORKLIFT-2"]["order"])
    assert (order.channel_code, order.account_code, order.currency) == ("RENTALS", "DOCKSIDE", "EUR")
    assert order.external_reference == "usage:FORKLIFT-2:2026-10-01:2026-10-31"
    assert order.tags == ("usage", "period:2026-10-01..2026-10-31", "plan:FORKLIFT-2")
    assert order.notes and "forklift-2 operating_hours went up by 130 (2 reading(s)" in order.notes
    (line,) = order.lines
    assert (line.sku, line.quantity, line.amount) == ("FORKLIFT-HIRE", 1, D("225.00"))
    assert line.detail["rule"] == "usage:overage" and line.detail["inputs"]["billable"] == "30"
    assert order.timeline[0].actor == "test:billing"
    charger = _order(rt, bills["CHARGER-9"]["order"]).lines[0]
    assert [p["amount"] for p in charger.detail["parts"]] == ["30.00", "37.50"]
    assert count(rt, "orders") == 2


def test_running_the_period_again_creates_nothing(rt: Runtime) -> None:
    _plan(rt, "FORKLIFT-2", "forklift-2", "operating_hours", "FORKLIFT-HIRE")
    _meter(rt, "forklift-2", "operating_hours", ("09-30T18", "1000"), ("10-15T18", "1070"))
    first = _run(rt)
    _meter(rt, "forklift-2", "operating_hours", ("10-20T18", "1090"))  # late: the bill is placed already
    again = _run(rt)
    assert (again.orders_created, again.orders_existing, again.refused) == (0, 1, [])
    assert again.bills[0]["order"] == first.bills[0]["order"] and again.bills[0]["created"] is False
    assert count(rt, "orders") == 1 and count(rt, "billing_runs") == 2
    assert D(_order(rt, first.bills[0]["order"]).totals.grand_total) == D("150.00")


def test_a_counter_reset_mid_period_bills_only_the_steps_up(rt: Runtime) -> None:
    _plan(rt, "FORKLIFT-2", "forklift-2", "operating_hours", "FORKLIFT-HIRE")
    steps = (
        ("09-30T18", "1000"),
        ("10-10T18", "1062"),
        ("10-20T18", "1121"),
        ("10-22T07", "4"),
        ("10-31T18", "15"),
    )
    _meter(rt, "forklift-2", "operating_hours", *steps)
    (bill,) = _run(rt).bills
    assert (bill["usage"], bill["readings"], D(bill["grand_total"])) == ("132", 4, D("230.00"))


def test_a_refused_plan_does_not_stop_the_others_and_is_billed_after_the_fix(rt: Runtime) -> None:
    save_product(rt.uow(), Product("CRANE-HIRE", "Crane", prices={"GBP": D("900")}), create=True)
    save_channel(rt.uow(), Channel("OLD", "Old", ChannelType.B2B, "manual", "EUR", BY_CODE), create=True)
    _plan(rt, "A-CRANE", "crane-1", "lifts", "CRANE-HIRE")  # no EUR price
    _plan(rt, "B-FORKLIFT", "forklift-2", "operating_hours", "FORKLIFT-HIRE")
    _plan(rt, "C-OLD", "forklift-3", "operating_hours", "FORKLIFT-HIRE", channel="OLD")
    with rt.uow() as uow:
        old = uow.channels.get_by_code("OLD")
    assert old is not None
    save_channel(rt.uow(), replace(old, active=False), create=False)
    run = _run(rt)
    assert [b["plan"] for b in run.bills] == ["B-FORKLIFT"] and run.state == "done"
    assert [(r["plan"], r["code"]) for r in run.refused] == [("A-CRANE", "price_not_found"),
                                                             ("C-OLD", "validation")]  # fmt: skip
    assert run.refused[0]["errors"][0]["path"] == "lines[0].sku"
    assert "inactive" in run.refused[1]["reason"]

    save_product(rt.uow(), Product("CRANE-HIRE", "Crane", prices={"EUR": D("990")}), create=False)
    again = _run(rt)
    assert [(b["plan"], b["created"]) for b in again.bills] == [("A-CRANE", True), ("B-FORKLIFT", False)]
    assert D(again.bills[0]["grand_total"]) == D("990.00")
    assert [r["plan"] for r in again.refused] == ["C-OLD"]


def test_zero_usage_still_bills_the_base_fee(rt: Runtime) -> None:
    _plan(rt, "SILENT", "forklift-9", "operating_hours", "FORKLIFT-HIRE")  # never reported
    _plan(rt, "PARKED", "forklift-2", "operating_hours", "FORKLIFT-HIRE")  # reported, never moved
    _meter(rt, "forklift-2", "operating_hours", ("09-30T18", "1000"), ("10-15T18", "1000"))
    bills = {b["plan"]: b for b in _run(rt).bills}
    got = [
        (bills[p]["usage"], bills[p]["readings"], D(bills[p]["grand_total"])) for p in ("SILENT", "PARKED")
    ]
    assert got == [("0", 0, D("150.00")), ("0", 1, D("150.00"))]
    notes = _order(rt, bills["SILENT"]["order"]).notes
    assert notes and "no reading in the period: billed as no usage" in notes


def test_a_plan_naming_a_readings_channel_counts_only_that_channels_readings(rt: Runtime) -> None:
    _meter(rt, "forklift-2", "operating_hours", ("09-30T18", "1000"), ("10-15T18", "1040"))
    _meter(rt, "forklift-2", "operating_hours", ("09-30T18", "5"), ("10-15T18", "7"), channel="SITE-B")
    _plan(rt, "SITE-A-ONLY", "forklift-2", "operating_hours", "FORKLIFT-HIRE", readings_channel_code="SITE-A")
    _plan(rt, "SITE-B-ONLY", "forklift-2", "operating_hours", "FORKLIFT-HIRE", readings_channel_code="SITE-B")
    bills = {b["plan"]: b["usage"] for b in _run(rt).bills}
    assert bills == {"SITE-A-ONLY": "40", "SITE-B-ONLY": "2"}


def test_consecutive_periods_bill_exactly_the_usage_of_their_union(rt: Runtime) -> None:
    _meter(rt, "forklift-2", "operating_hours", ("08-31T23", "100"), ("09-01T00", "110"), ("09-15T08", "180"),
           ("09-30T23", "181"), ("10-01T00", "190"), ("10-02T00", "3"), ("10-31T23", "40"))  # fmt: skip
    _plan(rt, "MONTHLY", "forklift-2", "operating_hours", "FORKLIFT-HIRE")
    september = _run(rt, date(2026, 9, 1), date(2026, 9, 30)).bills[0]["usage"]
    october = _run(rt, START, END).bills[0]["usage"]
    change_plan(rt, "MONTHLY", {"active": False})
    _plan(rt, "TWO-MONTHS", "forklift-2", "operating_hours", "FORKLIFT-HIRE")
    both = _run(rt, date(2026, 9, 1), END).bills[0]["usage"]
    # 110 at exactly 1 September 00:00 opens September; 190 at 1 October 00:00 closes it
    assert (september, october, both) == ("80", "37", "117")


def test_a_period_not_over_or_backwards_is_refused_and_no_run_is_recorded(rt: Runtime) -> None:
    today = datetime.now(UTC).date()
    with pytest.raises(ValidationFailed) as refused:
        _run(rt, today.replace(day=1), today)
    assert [(i.path, i.code) for i in refused.value.issues] == [("end", "period_not_over")]
    with pytest.raises(ValidationFailed) as backwards:
        _run(rt, END, START)
    assert [i.path for i in backwards.value.issues] == ["end"]
    with pytest.raises(ValidationFailed) as unknown:
        _run(rt, channel_code="NOPE")
    assert [(i.path, i.code) for i in unknown.value.issues] == [("channel", "unknown_channel")]
    assert count(rt, "billing_runs") == 0


def test_a_bill_already_placed_is_found_even_when_the_plan_could_no_longer_place_one(rt: Runtime) -> None:
    _plan(rt, "FORKLIFT-2", "forklift-2", "operating_hours", "FORKLIFT-HIRE")
    first = _run(rt)
    with rt.uow() as uow:
        channel = uow.channels.get_by_code("RENTALS")
    assert channel is not None
    by_email = replace(channel, settings=replace(channel.settings, match_keys=("email",)))
    save_channel(rt.uow(), by_email, create=False)
    again = _run(rt)
    assert [(b["order"], b["created"]) for b in again.bills] == [(first.bills[0]["order"], False)]
    september = _run(rt, date(2026, 9, 1), date(2026, 9, 30))
    assert [(r["plan"], r["errors"][0]["code"]) for r in september.refused] == [
        ("FORKLIFT-2", "channel_not_matching_by_code")
    ]
