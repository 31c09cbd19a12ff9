"""Readings over MQTT through real brokers, on both databases: the Mosquitto at
127.0.0.1:1883 (a unique topic and client id per test), and a private Mosquitto (password,
persistence in a temporary folder) stopped and restarted while readings are published."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import count, is_postgres
from fastapi.testclient import TestClient
from iot_helpers import CODE, catalogue, example, one, orders, post, publish, rule, wait_for
from tests.conftest import make_settings

from legato.bootstrap import Runtime, build
from legato.intake.mqtt import MqttSubscriber
from legato.store import inbox

MOSQUITTO = "/usr/sbin/mosquitto"


@pytest.fixture
def subscribers() -> Iterator[list[MqttSubscriber]]:
    started: list[MqttSubscriber] = []
    yield started
    for s in started:
        s.stop()


def listen(rt: Runtime, started: list[MqttSubscriber]) -> MqttSubscriber:
    s = MqttSubscriber(rt, channels=[CODE], every=0.2)
    started.append(s)
    s.start()
    assert wait_for(lambda: CODE in s.listeners and s.listeners[CODE].connected.is_set()), "never connected"
    return s


@pytest.fixture
def shared(client: TestClient, admin: dict[str, str]) -> str:
    """The documented channel on the broker at 127.0.0.1:1883, with a topic and client id of
    its own; its rule TANK-7. Returns the topic prefix."""
    prefix = f"legato-test/{uuid.uuid4().hex}"
    catalogue(client, admin, mqtt_url="mqtt://127.0.0.1:1883", mqtt_topic=f"{prefix}/+/readings",
              mqtt_client_id=f"legato-test-{uuid.uuid4().hex}", mqtt_session_expiry_seconds=60,
              mqtt_reconnect_max_seconds=1)  # fmt: skip
    post(client, admin, "/api/v1/replenishment-rules", example("rule-tank"))
    return prefix


def test_a_reading_published_to_the_broker_places_the_order(
    client: TestClient,
    admin: dict[str, str],
    runtime: Runtime,
    shared: str,
    subscribers: list[MqttSubscriber],
) -> None:
    listen(runtime, subscribers)
    publish(1883, f"{shared}/tank-7/readings", one(64, 0))
    publish(1883, f"{shared}/tank-7/readings", one("12.5", 1))
    assert wait_for(lambda: count(runtime, "orders") == 1), "no order"
    [order] = orders(client, admin)
    assert (order["external_reference"], set(order["tags"])) == ("iot:TANK-7:1", {"iot", "device:tank-7"})
    entry = inbox.get(runtime.engine, order["inbox_id"])
    assert entry is not None
    assert (entry.source, entry.method, entry.topic, entry.state) == (
        "mqtt", "MQTT", f"{shared}/tank-7/readings", "processed")  # fmt: skip


def test_what_is_published_while_legato_is_away_arrives_when_it_is_back(
    client: TestClient,
    admin: dict[str, str],
    runtime: Runtime,
    shared: str,
    subscribers: list[MqttSubscriber],
) -> None:
    listen(runtime, subscribers).stop()  # the session (and its subscription) stays on the broker
    publish(1883, f"{shared}/tank-7/readings", one(10, 0))
    assert count(runtime, "sensor_readings") == 0
    listen(runtime, subscribers)
    assert wait_for(lambda: count(runtime, "orders") == 1), "the reading published meanwhile was lost"
    assert rule(client, admin, "TANK-7")["state"]["breaches"] == 1


def test_an_unreadable_message_is_quarantined_and_the_listener_goes_on(
    client: TestClient,
    admin: dict[str, str],
    runtime: Runtime,
    shared: str,
    subscribers: list[MqttSubscriber],
) -> None:
    listen(runtime, subscribers)
    publish(1883, f"{shared}/tank-7/readings", one("low", 0))
    publish(1883, f"{shared}/tank-7/readings", one(5, 1))
    assert wait_for(lambda: count(runtime, "orders") == 1)
    [bad] = [
        e for e in inbox.listing(runtime.engine, state="quarantined", channel=CODE, limit=5, cursor=None)[0]
    ]
    assert bad.errors[0]["path"] == "$.value" and bad.source == "mqtt"


def test_a_channel_switched_off_is_no_longer_listened_to(
    client: TestClient,
    admin: dict[str, str],
    runtime: Runtime,
    shared: str,
    subscribers: list[MqttSubscriber],
) -> None:
    s = listen(runtime, subscribers)
    channel = client.get(f"/api/v1/channels/{CODE}", headers=admin).json()
    body = {k: channel[k] for k in ("code", "name", "type", "adapter", "currency", "settings")}
    r = client.put(f"/api/v1/channels/{CODE}", json={**body, "active": False}, headers=admin)
    assert r.status_code == 200, r.text
    assert wait_for(lambda: CODE not in s.listeners)


def test_with_several_processes_on_postgresql_one_listens_and_another_takes_over(
    client: TestClient,
    admin: dict[str, str],
    runtime: Runtime,
    shared: str,
    subscribers: list[MqttSubscriber],
) -> None:
    if not is_postgres(runtime):
        pytest.skip("SQLite serves one process")
    first = listen(runtime, subscribers)
    other = build(make_settings(runtime.engine.url.render_as_string(hide_password=False)))  # another process
    try:
        second = MqttSubscriber(other, channels=[CODE], every=0.2)
        subscribers.append(second)
        second.start()
        time.sleep(0.6)  # a few rounds: the channel is taken
        assert CODE not in second.listeners
        first.stop()  # the process listening goes away
        assert wait_for(lambda: CODE in second.listeners and second.listeners[CODE].connected.is_set())
        publish(1883, f"{shared}/tank-7/readings", one(3, 0))
        assert wait_for(lambda: count(runtime, "orders") == 1)
        second.stop()
    finally:
        other.close()


# --- a private broker, restarted while readings are published ---------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """A Mosquitto of the test's own: a password, persistence in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = _free_port(), folder
        subprocess.run(
            ["mosquitto_passwd", "-b", "-c", str(folder / "passwd"), "legato", "s3cret"], check=True
        )
        (folder / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {folder / 'passwd'}\n"
            f"persistence true\npersistence_location {folder}/\nuser root\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.folder / "mosquitto.log").open("ab")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.folder / "mosquitto.conf")], stdout=log,
                                        stderr=subprocess.STDOUT)  # fmt: skip
        assert wait_for(self._accepting, 10), "mosquitto did not start"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: it saves its sessions and queued messages
            self.process.wait(10)
            self.process = None

    def _accepting(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except OSError:
            return False
        return True


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if shutil.which("mosquitto_passwd") is None or not Path(MOSQUITTO).exists():
        pytest.fail("the tests need Mosquitto (/usr/sbin/mosquitto and mosquitto_passwd)")
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


@pytest.mark.slow
def test_a_broker_restart_mid_stream_misses_no_breach_and_doubles_none(
    client: TestClient,
    admin: dict[str, str],
    runtime: Runtime,
    broker: Broker,
    subscribers: list[MqttSubscriber],
) -> None:
    devices = [f"tank-{i}" for i in range(4)]
    url = f"mqtt://127.0.0.1:{broker.port}"
    catalogue(client, admin, secrets={"mqtt_password": "s3cret"}, mqtt_url=url, mqtt_topic="sites/+/readings",
              mqtt_username="legato", mqtt_reconnect_max_seconds=1)  # fmt: skip
    for device in devices:
        post(client, admin, "/api/v1/replenishment-rules", {**example("rule-tank"), "code": device.upper(),
                                                             "device_id": device})  # fmt: skip
    listen(runtime, subscribers)

    # each tank: full, low (a breach), lower, refilled (re-armed), low again while its order is open
    levels = [80, 15, 12, 70, 10]
    stream = [(d, v, i) for i, v in enumerate(levels) for d in devices]
    published = threading.Event()

    def publisher() -> None:
        for n, (device, value, minute) in enumerate(stream):
            publish(broker.port, f"sites/{device}/readings", one(value, minute), auth=("legato", "s3cret"))
            if n == len(stream) // 3:
                published.set()

    worker = threading.Thread(target=publisher)
    worker.start()
    assert published.wait(30)
    broker.stop()  # mid-stream: the publisher retries, the subscriber reconnects with backoff
    time.sleep(1.0)
    broker.start()
    worker.join(60)
    assert not worker.is_alive()

    assert wait_for(lambda: count(runtime, "sensor_readings") == len(stream), 40), (
        f"{count(runtime, 'sensor_readings')} of {len(stream)} readings arrived")  # fmt: skip
    placed = sorted(o["external_reference"] for o in orders(client, admin))
    assert placed == sorted(f"iot:{d.upper()}:1" for d in devices)
    for device in devices:
        state = rule(client, admin, device.upper())["state"]
        assert (state["breaches"], state["armed"], state["open_order"] is not None) == (1, True, True)
