"""The quote lifecycle: its transition table, its final states and the events it emits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato.domain.errors import IllegalTransition
from legato.domain.quote import QUOTE_TRANSITIONS, Quote, QuoteStatus

Q = QuoteStatus
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

#: The quote table as documented, written out by hand.
DOCUMENTED = {
    Q.DRAFT: {Q.SENT, Q.ACCEPTED, Q.DECLINED, Q.EXPIRED},
    Q.SENT: {Q.ACCEPTED, Q.DECLINED, Q.EXPIRED, Q.DRAFT},
    Q.ACCEPTED: {Q.CONVERTED, Q.EXPIRED},
    Q.DECLINED: set(),
    Q.EXPIRED: set(),
    Q.CONVERTED: set(),
}
FINAL = [Q.DECLINED, Q.EXPIRED, Q.CONVERTED]


def new_quote(status: QuoteStatus = Q.DRAFT) -> Quote:
    return Quote(channel_code="PORTAL", currency="GBP", lines=[], id=3, status=status)


def test_every_quote_status_has_a_row_and_the_rows_are_as_documented() -> None:
    assert QUOTE_TRANSITIONS == DOCUMENTED


@pytest.mark.parametrize("final", FINAL)
@pytest.mark.parametrize("target", list(QuoteStatus))
def test_declined_expired_and_converted_quotes_are_final(final: QuoteStatus, target: QuoteStatus) -> None:
    quote = new_quote(final)
    with pytest.raises(IllegalTransition) as caught:
        quote.transition(target, "user:alice", AT)
    assert caught.value.extra["allowed"] == []
    assert quote.status is final and quote.new_events == []


def test_only_an_accepted_quote_can_be_converted() -> None:
    for status in (Q.DRAFT, Q.SENT):
        with pytest.raises(IllegalTransition):
            new_quote(status).transition(Q.CONVERTED, "system", AT)
    quote = new_quote(Q.ACCEPTED)
    quote.transition(Q.CONVERTED, "system", AT)
    assert quote.status is Q.CONVERTED


def test_an_illegal_quote_transition_names_the_allowed_targets() -> None:
    with pytest.raises(IllegalTransition) as caught:
        new_quote(Q.ACCEPTED).transition(Q.DECLINED, "user:alice", AT)
    err = caught.value
    assert err.code == "illegal_transition"
    assert err.extra == {"allowed": ["converted", "expired"], "current": "accepted", "requested": "declined"}


def test_a_sent_quote_can_go_back_to_draft_for_changes() -> None:
    quote = new_quote(Q.SENT)
    quote.transition(Q.DRAFT, "user:alice", AT, "customer asked for more units")
    assert quote.status is Q.DRAFT


def test_a_transition_emits_one_status_changed_event() -> None:
    quote = new_quote()
    quote.transition(Q.SENT, "user:alice", AT, "emailed")
    [event] = quote.new_events
    assert (event.type, event.aggregate_type, event.aggregate_id) == ("quote.status_changed", "quote", 3)
    assert event.payload == {
        "quote_id": 3,
        "number": "Q-000003",
        "from": "draft",
        "to": "sent",
        "actor": "user:alice",
        "reason": "emailed",
    }
    assert quote.updated_at == AT


@pytest.mark.parametrize("start", [Q.DRAFT, Q.SENT])
def test_accepting_a_quote_emits_quote_accepted_beside_the_status_change(start: QuoteStatus) -> None:
    quote = new_quote(start)
    quote.transition(Q.ACCEPTED, "portal:bob", AT)
    assert [e.type for e in quote.new_events] == ["quote.status_changed", "quote.accepted"]
    assert quote.new_events[1].payload["actor"] == "portal:bob"
    assert quote.new_events[1].payload["quote_id"] == 3


def test_creation_emits_quote_created() -> None:
    quote = new_quote()
    quote.created(AT)
    [event] = quote.new_events
    assert (event.type, event.payload["channel"], event.payload["status"]) == (
        "quote.created",
        "PORTAL",
        "draft",
    )


@settings(max_examples=200, deadline=None)
@given(requests=st.lists(st.sampled_from(list(QuoteStatus)), max_size=20))
def test_no_sequence_of_requests_takes_a_quote_where_the_table_forbids(requests: list[QuoteStatus]) -> None:
    quote = new_quote()
    for to in requests:
        before, events = quote.status, len(quote.new_events)
        try:
            quote.transition(to, "user:prop", AT)
        except IllegalTransition:
            assert to not in DOCUMENTED[before]
            assert quote.status is before and len(quote.new_events) == events
        else:
            assert to in DOCUMENTED[before]
            added = [e.type for e in quote.new_events[events:]]
            expected = ["quote.status_changed"] + (["quote.accepted"] if to is Q.ACCEPTED else [])
            assert added == expected
            assert quote.status is to


def test_a_quote_expires_the_day_after_its_validity_date() -> None:
    quote = new_quote()
    quote.valid_until = date(2026, 3, 31)
    assert not quote.expired_on(date(2026, 3, 31))
    assert quote.expired_on(date(2026, 4, 1))


def test_a_quote_without_a_validity_date_never_expires() -> None:
    assert not new_quote().expired_on(date(2999, 1, 1))
