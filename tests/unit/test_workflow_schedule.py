"""Schedule slots: the latest slot of a daily time or an interval at or before a moment."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from legato.workflow.model import Trigger
from legato.workflow.schedule import latest_slot

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(moments, st.integers(min_value=60, max_value=7 * 86400))
def test_an_interval_slot_is_aligned_and_the_latest_one_at_or_before_now(now: datetime, every: int) -> None:
    slot = latest_slot(Trigger("schedule", every_seconds=every), now)
    assert slot is not None and slot <= now < slot + timedelta(seconds=every)
    assert int(slot.timestamp()) % every == 0 and slot.tzinfo == UTC


@given(moments, st.times())
def test_a_daily_slot_is_that_time_today_or_yesterday(now: datetime, at: time) -> None:
    slot = latest_slot(Trigger("schedule", at=at), now)
    assert slot is not None and slot <= now < slot + timedelta(days=1)
    assert slot.time() == at


def test_examples() -> None:
    quarter, evening = Trigger("schedule", every_seconds=900), Trigger("schedule", at=time(18, 0))
    now = datetime(2026, 11, 23, 17, 59, 59, tzinfo=UTC)
    assert latest_slot(quarter, now) == datetime(2026, 11, 23, 17, 45, tzinfo=UTC)
    assert latest_slot(evening, now) == datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    assert latest_slot(evening, now + timedelta(seconds=1)) == datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert latest_slot(Trigger("order.created"), now) is None
