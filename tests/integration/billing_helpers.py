"""What the usage billing tests share: the worked example of docs/pricing/usage.md ("Billing
runs"), a catalogue for it, readings sent as CSV."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

DOC = Path(__file__).parents[2] / "docs" / "pricing" / "usage.md"
_EXAMPLE = re.compile(r"<!-- billing: ([a-z-]+) -->\n```(json|csv)\n(.*?)```", re.S)
IOT = "IOT-SITES"
#: the IoT channel of docs/channels/iot.md, which the readings are sent to
IOT_CHANNEL = {
    "code": IOT, "name": "Site sensors", "type": "integration", "adapter": "iot", "currency": "EUR",
    "secrets": {"webhook_secret": "change-me-to-a-long-random-secret"},
    "settings": {"match_keys": ["code"], "on_no_match": "reject"},
}  # fmt: skip


@cache
def _examples() -> dict[str, tuple[str, str]]:
    return {name: (kind, body) for name, kind, body in _EXAMPLE.findall(DOC.read_text())}


def example(name: str) -> Any:
    """The example ``name`` of the page: JSON parsed (a fresh copy each call), CSV as bytes."""
    kind, body = _examples()[name]
    return json.loads(body) if kind == "json" else body.encode()


def post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def catalogue(client: TestClient, admin: dict[str, str]) -> None:
    """The documented billing channel, product and account, and the IoT channel."""
    post(client, admin, "/api/v1/channels", IOT_CHANNEL)
    for name, path in (("channel", "channels"), ("product", "products"), ("account", "accounts")):
        post(client, admin, f"/api/v1/{path}", example(name))


def send_csv(
    client: TestClient, headers: dict[str, str], body: bytes, channel: str = IOT
) -> Any:  # an httpx.Response
    return client.post(
        "/api/v1/usage-readings",
        params={"channel": channel},
        content=body,
        headers={**headers, "Content-Type": "text/csv"},
    )


def csv_of(*rows: tuple[str, str, str, str]) -> bytes:
    """A readings file: (device_id, metric, value, at) rows under the header."""
    return ("device_id,metric,value,at\n" + "".join(",".join(r) + "\n" for r in rows)).encode()
