"""A channel's MQTT settings: what the subscriber connects with, and a precise refusal of
settings that cannot work (named, so the operator knows what to fix)."""

from __future__ import annotations

from typing import Any

import pytest

from legato.domain.catalog import Channel, ChannelSettings, ChannelType
from legato.intake.mqtt import WEEK, MqttSettings, MqttSettingsInvalid, mqtt_settings


def channel(secrets: dict[str, str] | None = None, **extra: Any) -> Channel:
    return Channel("IOT", "Sensors", ChannelType.INTEGRATION, "iot", "EUR", ChannelSettings(extra=extra),
                   secrets=secrets or {})  # fmt: skip


def test_a_channel_naming_no_broker_has_no_mqtt_settings() -> None:
    assert mqtt_settings(channel()) is None


def test_the_documented_settings_give_a_fixed_client_id_and_a_week_long_session() -> None:
    found = mqtt_settings(channel(mqtt_url="mqtt://broker.local", mqtt_topic="legato/+/readings"))
    assert found == MqttSettings("broker.local", 1883, "legato/+/readings", "legato-IOT", session_expiry=WEEK)


def test_a_login_takes_the_user_from_the_settings_and_the_password_from_the_secrets() -> None:
    extra = {"mqtt_username": "legato", "mqtt_client_id": "plant-1", "mqtt_reconnect_max_seconds": 5}
    found = mqtt_settings(
        channel({"mqtt_password": "pw"}, mqtt_url="mqtt://h:1884", mqtt_topic="t/#", **extra)
    )
    assert found is not None
    assert (found.port, found.client_id, found.username, found.password, found.reconnect_max) == (
        1884, "plant-1", "legato", "pw", 5)  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"mqtt_url": "mqtt://h"}, "both needed"),
        ({"mqtt_url": "mqtts://h", "mqtt_topic": "t"}, "TLS is not supported"),
        ({"mqtt_url": "http://h", "mqtt_topic": "t"}, "mqtt://host"),
        ({"mqtt_url": "mqtt://h:99999", "mqtt_topic": "t"}, "bad port"),
        ({"mqtt_url": "mqtt://h", "mqtt_topic": "a/#/b"}, "not an MQTT topic filter"),
        ({"mqtt_url": "mqtt://h", "mqtt_topic": "a/b+"}, "not an MQTT topic filter"),
        ({"mqtt_url": "mqtt://h", "mqtt_topic": "t", "mqtt_session_expiry_seconds": 1.5}, "whole number"),
        ({"mqtt_url": "mqtt://h", "mqtt_topic": "t", "mqtt_reconnect_max_seconds": 0}, "1 or more"),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_the_problem(extra: dict[str, Any], words: str) -> None:
    with pytest.raises(MqttSettingsInvalid, match=words):
        mqtt_settings(channel(**extra))
