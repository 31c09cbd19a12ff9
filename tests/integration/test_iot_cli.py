"""`legato iot` as an operator runs it, as a real process, on both databases: rules added and
listed, usage for billing, and `listen` subscribing to the broker in the foreground."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from api_helpers import count
from fastapi.testclient import TestClient
from iot_helpers import CODE, catalogue, example, one, publish, signed, wait_for
from test_cli import legato
from tests.conftest import TEST_SECRET

from legato.bootstrap import Runtime

pytestmark = pytest.mark.slow  # each command is a Python process


def test_rules_are_added_and_listed_and_a_bad_one_names_its_fields(
    client: TestClient, admin: dict[str, str], db_url: str
) -> None:
    catalogue(client, admin)
    rule = ["--channel", CODE, "--device", "tank-7", "--metric", "level", "--below", "20", "--rearm", "60"]
    added = legato(db_url, "iot", "rules", "add", "TANK-7", *rule, "--account", "ACME", "--sku", "DIESEL-L",
                   "--quantity", "1000")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "rule TANK-7 added, armed" in added.stdout

    shelf = ["--channel", CODE, "--device", "s", "--metric", "units", "--below", "4", "--rearm", "2"]
    order = ["--account", "NOBODY", "--sku", "GLOVES-BOX", "--par", "24"]
    refused = legato(db_url, "iot", "rules", "add", "SHELF", *shelf, *order)
    assert refused.returncode == 1
    assert "rearm:" in refused.stderr

    listed = legato(db_url, "iot", "rules", "list", "--channel", CODE)
    assert listed.returncode == 0, listed.stderr
    assert "TANK-7" in listed.stdout and "below 20" in listed.stdout and "armed" in listed.stdout


def test_usage_prints_the_documented_november_hours(
    client: TestClient, admin: dict[str, str], db_url: str
) -> None:
    catalogue(client, admin)
    assert client.post(f"/intake/{CODE}", **signed(example("usage"))).status_code == 200
    used = legato(db_url, "iot", "usage", "forklift-2", "operating_hours", "--from", "2026-11-01T00:00:00Z",
                  "--to", "2026-12-01T00:00:00Z")  # fmt: skip
    assert (used.returncode, used.stdout.strip()) == (0, "18"), used.stderr
    naive = legato(
        db_url, "iot", "usage", "forklift-2", "operating_hours", "--from", "2026-11-01", "--to", "x"
    )
    assert naive.returncode == 2 and "time zone" in naive.stderr


def test_listen_subscribes_in_the_foreground_until_interrupted(
    client: TestClient, admin: dict[str, str], runtime: Runtime, db_url: str
) -> None:
    prefix = f"legato-test/{uuid.uuid4().hex}"
    catalogue(client, admin, mqtt_url="mqtt://127.0.0.1:1883", mqtt_topic=f"{prefix}/+/readings",
              mqtt_client_id=f"legato-test-{uuid.uuid4().hex}", mqtt_session_expiry_seconds=60)  # fmt: skip
    assert (
        client.post("/api/v1/replenishment-rules", json=example("rule-tank"), headers=admin).status_code
        == 201
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, COLUMNS="200")
    process = subprocess.Popen([sys.executable, "-m", "legato.cli", "iot", "listen", CODE], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        # the same reading again until the listener has subscribed: stored once, ordered once
        deadline = time.monotonic() + 30
        while count(runtime, "orders") == 0 and time.monotonic() < deadline:
            publish(1883, f"{prefix}/tank-7/readings", one(5, 0))
            wait_for(lambda: count(runtime, "orders") > 0, 0.5)
        assert count(runtime, "orders") == 1 and count(runtime, "sensor_readings") == 1
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"listening to {prefix}/+/readings on 127.0.0.1:1883 for {CODE}" in out and "stopped" in out

    missing = legato(db_url, "iot", "listen", "NOPE")
    assert missing.returncode == 1 and "no IoT channel 'NOPE'" in missing.stderr
