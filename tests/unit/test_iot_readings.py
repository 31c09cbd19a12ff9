"""The ``iot`` adapter, pure: readings read exactly, every bad field named by its JSON path,
the good readings of a batch kept, signatures checked, the device taken from the MQTT topic."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.catalog import Channel, ChannelSettings, ChannelType
from legato.domain.errors import ValidationFailed
from legato.domain.replenishment import Reading
from legato.intake.adapters import get_adapter
from legato.intake.adapters.iot import ADAPTER, MQTT, device_from_topic, parse_readings, read_readings
from legato.intake.base import Delivery, Ignore, Record, Reject, SignatureInvalid, Unparseable

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)
SECRET = "iot-secret"
CHANNEL = Channel(
    "IOT", "Sensors", ChannelType.INTEGRATION, "iot", "EUR",
    ChannelSettings(extra={"mqtt_topic": "legato/+/readings"}), secrets={"webhook_secret": SECRET},
)  # fmt: skip


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def http(raw: bytes, secret: str = SECRET) -> Delivery:
    sig = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return Delivery("POST", "/intake/IOT", {}, {"x-legato-signature": sig}, raw, NOW)


def mqtt(topic: str, raw: bytes) -> Delivery:
    return Delivery(MQTT, topic, {}, {}, raw, NOW)


def test_the_documented_body_gives_exact_readings_in_utc() -> None:
    doc = {"device_id": "tank-7", "readings": [
        {"metric": "level", "value": "12.5", "unit": "%", "at": "2026-11-23T08:00:00Z"},
        {"metric": "temperature", "value": 7.25, "at": "2026-11-23T09:00:00+01:00"},
    ]}  # fmt: skip
    assert parse_readings(body(doc), received_at=NOW) == [
        Reading("tank-7", "level", Decimal("12.5"), datetime(2026, 11, 23, 8, tzinfo=UTC), "%"),
        Reading("tank-7", "temperature", Decimal("7.25"), datetime(2026, 11, 23, 8, tzinfo=UTC)),
    ]


def test_a_gateway_reports_several_devices_in_a_list() -> None:
    doc = [
        {"device_id": "tank-1", "readings": [{"metric": "level", "value": 1, "at": "2026-11-23T08:00:00Z"}]},
        {"device_id": "tank-2", "readings": [{"metric": "level", "value": 2, "at": "2026-11-23T08:00:00Z"}]},
    ]
    assert [(r.device_id, r.value) for r in parse_readings(body(doc))] == [("tank-1", 1), ("tank-2", 2)]


def test_a_bad_reading_is_refused_at_its_path_and_the_others_are_kept() -> None:
    doc = {"device_id": "tank-7", "readings": [
        {"metric": "level", "value": "12.5", "at": "2026-11-23T08:00:00Z"},
        {"metric": "level", "value": "twelve", "at": "2026-11-23T08:01:00Z"},
        {"metric": "level", "value": True, "at": "2026-11-23T08:02:00Z"},
    ]}  # fmt: skip
    intents = ADAPTER.parse(http(body(doc)), CHANNEL)
    rejects = [i for i in intents if isinstance(i, Reject)]
    assert [(r.reference, [(x.path, x.code) for x in r.issues]) for r in rejects] == [
        ("$.readings[1]", [("$.readings[1].value", "not_a_number")]),
        ("$.readings[2]", [("$.readings[2].value", "not_a_number")]),
    ]
    assert [i.what for i in intents if isinstance(i, Record)] == ["1 reading(s)"]


AT = "2026-11-23T08:00:00Z"


@pytest.mark.parametrize(
    ("reading", "path", "code"),
    [
        ({"metric": "level", "value": "1", "at": "2026-11-23T08:00:00"}, "at", "unparseable"),
        ({"metric": "level", "value": "1", "at": "2026-11-24T08:00:00Z"}, "at", "future"),
        ({"metric": "level", "value": "1", "at": "1970-01-01T00:00:00Z"}, "at", "clock_not_set"),
        ({"metric": "level", "value": "1"}, "at", "unparseable"),
        ({"metric": "lev el", "value": "1", "at": AT}, "metric", "unparseable"),
        ({"metric": "level", "value": "NaN", "at": AT}, "value", "out_of_range"),
        ({"metric": "level", "value": "1e15", "at": AT}, "value", "out_of_range"),
        ({"metric": "level", "at": AT}, "value", "not_a_number"),
        ({"metric": "level", "value": 1, "unit": "x" * 21, "at": AT}, "unit", "unparseable"),
    ],
)
def test_every_bad_field_of_a_reading_is_named(reading: dict[str, Any], path: str, code: str) -> None:
    with pytest.raises(Unparseable) as caught:
        ADAPTER.parse(http(body({"device_id": "tank-7", "readings": [reading]})), CHANNEL)
    assert [(i.path, i.code) for i in caught.value.issues] == [(f"$.readings[0].{path}", code)]


def test_a_json_nan_constant_is_refused_not_stored() -> None:
    raw = b'{"device_id": "t", "readings": [{"metric": "level", "value": NaN, "at": "2026-11-23T08:00:00Z"}]}'
    with pytest.raises(Unparseable) as caught:
        parse_readings(raw)
    assert caught.value.issues[0].path == "$.readings[0].value"


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"not json", "$"),
        (b"[1]", "$[0]"),
        (b'{"readings": []}', "$.device_id"),
        (b'"x"', "$"),
        (b'{"device_id": "a/b", "readings": []}', "$.device_id"),
        (b'{"device_id": "t", "readings": {}}', "$.readings"),
    ],
)
def test_a_body_that_is_not_readings_is_unparseable_at_its_path(raw: bytes, path: str) -> None:
    with pytest.raises(Unparseable) as caught:
        ADAPTER.parse(http(raw), CHANNEL)
    assert caught.value.issues[0].path == path


def test_a_body_with_no_readings_is_ignored() -> None:
    assert ADAPTER.parse(http(body({"device_id": "t", "readings": []})), CHANNEL) == [
        Ignore("the delivery carries no readings")
    ]


def test_a_json_number_is_read_exactly_and_noise_past_six_places_is_rounded() -> None:
    raw = b'{"device_id": "t", "readings": [{"metric": "m", "value": 0.1, "at": "2026-11-23T08:00:00Z"},' \
          b'{"metric": "n", "value": "1.23456789", "at": "2026-11-23T08:00:00Z"}]}'  # fmt: skip
    assert [r.value for r in parse_readings(raw)] == [Decimal("0.1"), Decimal("1.234568")]


def test_over_mqtt_the_topic_names_the_device_and_a_payload_may_be_one_reading() -> None:
    one = body({"metric": "level", "value": "18", "at": "2026-11-23T08:00:00Z"})
    [record] = ADAPTER.parse(mqtt("legato/tank-9/readings", one), CHANNEL)
    assert isinstance(record, Record) and record.what == "1 reading(s)"
    readings, _ = read_readings(one, device_id="tank-9")
    assert readings[0].device_id == "tank-9"


def test_over_mqtt_a_payload_naming_another_device_than_its_topic_is_refused() -> None:
    doc = {"device_id": "tank-1", "metric": "level", "value": "18", "at": "2026-11-23T08:00:00Z"}
    with pytest.raises(Unparseable) as caught:
        ADAPTER.parse(mqtt("legato/tank-9/readings", body(doc)), CHANNEL)
    assert caught.value.issues[0].path == "$.device_id"


def test_topics_give_the_device_at_the_patterns_plus_level_or_a_set_level() -> None:
    assert device_from_topic("legato/tank-9/readings", "legato/+/readings") == "tank-9"
    assert device_from_topic("site/3/tank-9/level", "site/+/+/level", 2) == "tank-9"
    assert device_from_topic("legato/readings", "legato/#") is None


def test_http_deliveries_need_the_house_signature_and_mqtt_ones_do_not() -> None:
    raw = body({"device_id": "t", "readings": []})
    ADAPTER.verify(http(raw), CHANNEL)
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(http(raw, secret="wrong"), CHANNEL)
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(Delivery("POST", "/intake/IOT", {}, {}, raw, NOW), CHANNEL)
    ADAPTER.verify(mqtt("legato/t/readings", raw), CHANNEL)
    assert get_adapter("iot") is ADAPTER


def test_a_float_clock_skew_setting_is_a_clear_error() -> None:
    channel = Channel("IOT", "S", ChannelType.INTEGRATION, "iot", "EUR",
                      ChannelSettings(extra={"max_clock_skew_seconds": 1.5}))  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        ADAPTER.parse(http(body({"device_id": "t", "readings": []})), channel)
    assert caught.value.issues[0].path == "settings.max_clock_skew_seconds"


DEVICES = st.text(st.characters(codec="utf-8", exclude_characters="/+#"), min_size=1, max_size=120).filter(
    lambda s: all(ch.isprintable() and not ch.isspace() for ch in s)
)
VALUES = st.decimals(min_value=Decimal("-1e14"), max_value=Decimal("1e14"), places=6)
TIMES = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2026, 11, 23), timezones=st.just(UTC))


@given(DEVICES, VALUES, TIMES, st.booleans())
def test_any_reading_written_as_the_format_says_reads_back_the_same(
    device: str, value: Decimal, at: datetime, as_number: bool
) -> None:
    doc = {"device_id": device, "readings": [{"metric": "level", "value": "VALUE", "at": at.isoformat()}]}
    shown = str(value) if as_number else f'"{value}"'
    raw = json.dumps(doc).replace('"VALUE"', shown)
    [r] = parse_readings(raw.encode(), received_at=NOW + timedelta(days=1))
    assert (r.device_id, r.value, r.at) == (device, value, at)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["device_id", "readings", "metric", "value", "unit", "at", "x"]), inner, max_size=6),
    max_leaves=20,
)  # fmt: skip


@given(
    JSON | st.fixed_dictionaries({"device_id": st.text(max_size=5), "readings": st.lists(JSON, max_size=3)})
)
def test_any_json_body_is_read_or_refused_with_paths_never_a_crash(doc: Any) -> None:
    try:
        readings, rejects = read_readings(json.dumps(doc).encode(), received_at=NOW)
    except Unparseable as exc:
        assert exc.issues and all(i.path.startswith("$") for i in exc.issues)
        return
    assert all(isinstance(r, Reading) for r in readings)
    assert all(i.path.startswith("$") for r in rejects for i in r.issues)


@given(st.binary(max_size=200))
def test_any_bytes_are_read_or_refused_never_a_crash(raw: bytes) -> None:
    with contextlib.suppress(Unparseable):
        read_readings(raw)
