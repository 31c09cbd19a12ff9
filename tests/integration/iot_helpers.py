"""What the IoT tests share: the examples of docs/channels/iot.md, a catalogue for them,
signed pushes of readings."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

DOC = Path(__file__).parents[2] / "docs" / "channels" / "iot.md"
SECRET = "change-me-to-a-long-random-secret"  # the documented channel's webhook secret
CODE = "IOT-SITES"
_EXAMPLE = re.compile(r"<!-- example: ([a-z-]+) -->\n```json\n(.*?)```", re.S)


@cache
def _examples() -> dict[str, str]:
    return dict(_EXAMPLE.findall(DOC.read_text()))


def example(name: str) -> Any:
    """The JSON example named ``name`` in docs/channels/iot.md (a fresh copy each call)."""
    return json.loads(_examples()[name])


def post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def catalogue(
    client: TestClient, admin: dict[str, str], secrets: dict[str, str] | None = None, **settings: Any
) -> None:
    """The documented channel (``settings`` and ``secrets`` added to its own), the account ACME
    and the products the documented rules order, priced in EUR."""
    channel = example("channel")
    channel["settings"].update(settings)
    channel["secrets"].update(secrets or {})
    post(client, admin, "/api/v1/channels", channel)
    for sku, price in (("DIESEL-L", "1.45"), ("PALLET-EUR", "9.00"), ("GLOVES-BOX", "6.50")):
        post(client, admin, "/api/v1/products", {"sku": sku, "name": sku.title(), "prices": {"EUR": price}})
    post(client, admin, "/api/v1/accounts", {"code": "ACME", "name": "Acme", "currency": "EUR"})


def signed(body: Any, secret: str = SECRET) -> dict[str, Any]:
    """The request a device makes: the JSON body, signed with the house HMAC header."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {
        "content": raw,
        "headers": {"Content-Type": "application/json", "X-Legato-Signature": f"sha256={digest}"},
    }


def level(
    device: str, *values: str | int, start: datetime | None = None, metric: str = "level"
) -> dict[str, Any]:
    """A device's readings of ``metric``, one a minute from ``start`` (an hour ago by default)."""
    t0 = start or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return {
        "device_id": device,
        "readings": [
            {"metric": metric, "value": str(v), "unit": "%", "at": (t0 + timedelta(minutes=i)).isoformat()}
            for i, v in enumerate(values)
        ],
    }


def orders(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every order of the IoT channel, oldest first, in full."""
    r = client.get("/api/v1/orders", params={"channel": CODE, "limit": 200}, headers=headers)
    assert r.status_code == 200, r.text
    numbers = [o["number"] for o in r.json()["items"]]
    return [client.get(f"/api/v1/orders/{n}", headers=headers).json() for n in reversed(numbers)]


def rule(client: TestClient, headers: dict[str, str], code: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/replenishment-rules/{code}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


# --- MQTT ---------------------------------------------------------------------------

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def publish(port: int, topic: str, payload: dict[str, Any], auth: tuple[str, str] | None = None) -> None:
    """Publish with QoS 1 until the broker acknowledges it (retrying while it is away)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        if auth:
            client.username_pw_set(*auth)
        try:
            client.connect("127.0.0.1", port, keepalive=10)
            client.loop_start()
            info = client.publish(topic, json.dumps(payload), qos=1)
            info.wait_for_publish(timeout=2)
            if info.is_published():
                return
        except (OSError, RuntimeError, ValueError):
            pass
        finally:
            client.disconnect()
            client.loop_stop()
        time.sleep(0.1)
    raise AssertionError(f"the broker on port {port} never acknowledged {payload}")


def one(value: str | int, minutes: float) -> dict[str, Any]:
    """A single reading, its device named by the topic."""
    return {
        "metric": "level",
        "value": str(value),
        "unit": "%",
        "at": (T0 + timedelta(minutes=minutes)).isoformat(),
    }
