"""Reading the ECB euro reference-rates XML: the daily file, the 90-day history, and every
way a hostile or broken feed is refused whole, never half-read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.fx import MAX_FEED_BYTES, Rate, RatesFeedInvalid, parse_ecb

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fx"
HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"'
    b' xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">'
    b"<gesmes:subject>Reference rates</gesmes:subject>"
)


def feed(cubes: str) -> bytes:
    return HEAD + f"<Cube>{cubes}</Cube></gesmes:Envelope>".encode()


def refused(body: bytes) -> RatesFeedInvalid:
    with pytest.raises(RatesFeedInvalid) as bad:
        parse_ecb(body)
    assert bad.value.code == "rates_feed_invalid" and bad.value.status == 422
    return bad.value


def test_the_daily_file_gives_every_currency_against_the_euro_for_its_day() -> None:
    rates = parse_ecb((FIXTURES / "eurofxref-daily.xml").read_bytes())
    assert len(rates) == 29
    assert rates[0] == Rate("EUR", "USD", Decimal("1.0845"), date(2026, 11, 20), "ecb")
    gbp = next(r for r in rates if r.quote == "GBP")
    assert str(gbp.rate) == "0.87120"  # exactly as published, trailing zero included
    assert {r.base for r in rates} == {"EUR"} and {r.as_of for r in rates} == {date(2026, 11, 20)}


def test_the_ninety_day_history_gives_each_day_its_own_rates() -> None:
    rates = parse_ecb((FIXTURES / "eurofxref-hist-90d.xml").read_bytes())
    days = sorted({r.as_of for r in rates})
    assert days == [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    usd = {r.as_of: r.rate for r in rates if r.quote == "USD"}
    assert usd == {
        date(2026, 11, 18): Decimal("1.0831"),
        date(2026, 11, 19): Decimal("1.0868"),
        date(2026, 11, 20): Decimal("1.0845"),
    }


@pytest.mark.parametrize(
    ("fixture", "code", "words"),
    [
        ("not-xml.txt", "dtd_forbidden", "DOCTYPE"),
        ("truncated.xml", "not_xml", "not XML"),
        ("billion-laughs.xml", "dtd_forbidden", "DOCTYPE or entities"),
        ("external-entity.xml", "dtd_forbidden", "DOCTYPE or entities"),
    ],
)
def test_a_feed_that_is_not_plain_xml_is_refused_before_anything_is_read(
    fixture: str, code: str, words: str
) -> None:
    bad = refused((FIXTURES / fixture).read_bytes())
    assert words in bad.detail
    assert [(i.path, i.code) for i in bad.issues] == [("$", code)]


def test_a_day_without_a_time_is_refused_naming_the_place() -> None:
    bad = refused((FIXTURES / "no-time.xml").read_bytes())
    assert [(i.path, i.code) for i in bad.issues] == [("Cube.Cube[0].time", "missing")]
    assert "no time attribute" in bad.detail


def test_every_bad_rate_is_named_and_the_good_ones_are_not_returned() -> None:
    bad = refused((FIXTURES / "bad-rate.xml").read_bytes())
    assert [(i.path, i.value) for i in bad.issues] == [
        ("Cube.Cube[0].Cube[1].rate", "-162.37"),
        ("Cube.Cube[0].Cube[2].rate", "N/A"),
    ]
    assert "the JPY rate on 2026-11-20, '-162.37', is not a positive decimal (and 1 more)" in bad.detail


def test_an_unknown_currency_code_refuses_the_feed() -> None:
    bad = refused((FIXTURES / "unknown-currency.xml").read_bytes())
    assert [(i.path, i.code, i.value) for i in bad.issues] == [
        ("Cube.Cube[0].Cube[1].currency", "unknown_currency", "ZZQ")
    ]


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        (b"Service Unavailable", "$", "not XML"),
        (b"", "$", "not XML"),
        (b"<rss><channel/></rss>", "$", "root element is <rss>"),
        (HEAD + b"</gesmes:Envelope>", "Cube", "found 0"),
        (feed(""), "Cube", "no day of rates"),
        (feed("<Cube time='2026-11-20'></Cube>"), "Cube.Cube[0]", "has no rates"),
        (
            feed("<Cube time='20/11/2026'><Cube currency='USD' rate='1.1'/></Cube>"),
            "Cube.Cube[0].time",
            "date",
        ),
        (
            feed("<Cube time='2026-02-30'><Cube currency='USD' rate='1.1'/></Cube>"),
            "Cube.Cube[0].time",
            "date",
        ),
        (feed("<Cube time='20261120'><Cube currency='USD' rate='1.1'/></Cube>"), "Cube.Cube[0].time", "date"),
        (
            feed("<Cube time='2026-11-20'>" + "<Cube currency='USD' rate='1.1'/>" * 2 + "</Cube>"),
            "Cube.Cube[0].Cube[1].currency",
            "given twice",
        ),
        (
            feed("<Cube time='2026-11-20'><Cube currency='USD' rate='1.1'/></Cube>" * 2),
            "Cube.Cube[1].time",
            "given twice",
        ),
        (
            feed("<Cube time='2026-11-20'><Cube currency='EUR' rate='1'/></Cube>"),
            "Cube.Cube[0].Cube[0].currency",
            "EUR",
        ),
        (
            feed("<Cube time='2026-11-20'><Cube currency='USD'/></Cube>"),
            "Cube.Cube[0].Cube[0].rate",
            "positive",
        ),
        (
            feed("<Cube time='2026-11-20'><Cube rate='1.1'/></Cube>"),
            "Cube.Cube[0].Cube[0].currency",
            "ISO 4217",
        ),
        (
            feed("<Cube time='2026-11-20'><Cube currency='USD' rate='1e3'/></Cube>"),
            "Cube.Cube[0].Cube[0].rate",
            "positive",
        ),
        (
            feed("<Cube time='2026-11-20'><Cube currency='USD' rate='NaN'/></Cube>"),
            "Cube.Cube[0].Cube[0].rate",
            "positive",
        ),
        (
            feed("<Cube time='2026-11-20'><Cube currency='USD' rate='0'/></Cube>"),
            "Cube.Cube[0].Cube[0].rate",
            "positive",
        ),
        (feed("<Rate time='2026-11-20'/>"), "Cube.Cube[0].time", "is a <Rate>"),
    ],
)
def test_each_malformed_feed_is_refused_with_the_place_and_the_reason(
    body: bytes, path: str, words: str
) -> None:
    bad = refused(body)
    assert bad.issues[0].path == path
    assert words in bad.issues[0].message


def test_a_huge_document_is_refused_unread() -> None:
    body = feed("<Cube time='2026-11-20'><Cube currency='USD' rate='1.1'/></Cube>") + b" " * MAX_FEED_BYTES
    bad = refused(body)
    assert bad.issues[0].code == "too_large"


def test_a_feed_without_the_namespaces_of_a_mirror_is_still_read() -> None:
    day = b"<Cube time='2026-11-20'><Cube currency='USD' rate='1.0845'/></Cube>"
    body = b"<Envelope><Cube>" + day + b"</Cube></Envelope>"
    assert parse_ecb(body) == [Rate("EUR", "USD", Decimal("1.0845"), date(2026, 11, 20), "ecb")]


rate_text = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("999999"), places=6).map(
    lambda d: format(d, "f")
)


@given(
    rates=st.dictionaries(st.sampled_from(["USD", "JPY", "GBP", "CHF", "SEK", "IDR"]), rate_text, min_size=1)
)
def test_any_well_formed_day_is_read_back_exactly(rates: dict[str, str]) -> None:
    cubes = "".join(f"<Cube currency='{c}' rate='{r}'/>" for c, r in rates.items())
    parsed = parse_ecb(feed(f"<Cube time='2026-11-20'>{cubes}</Cube>"))
    assert {r.quote: str(r.rate) for r in parsed} == rates  # the very digits published
