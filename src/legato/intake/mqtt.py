"""Sensor readings over MQTT: one subscriber per ``iot`` channel that names a broker.

A channel with ``settings.extra`` ``mqtt_url`` (``mqtt://host:port``) and ``mqtt_topic``
(a filter such as ``legato/+/readings``, whose ``+`` level names the device) is listened to
by a paho-mqtt client (MQTT 5) that:

* connects with a fixed client id (``legato-<CODE>``, or ``mqtt_client_id``) and
  ``clean_start`` off, with a session that outlives a disconnection
  (``mqtt_session_expiry_seconds``, one week by default), and subscribes with QoS 1: the
  broker keeps what is published while Legato is away and delivers it on reconnection;
* stores each message in the inbox **first** (method ``MQTT``, the topic as the path, source
  ``mqtt``) and acknowledges it (PUBACK, sent by hand) only once that is committed: a crash
  before the commit leaves the message unacknowledged, and the broker sends it again;
* then processes the stored entry through the pipeline (the ``iot`` adapter; readings are
  stored once each, so a message delivered twice changes nothing);
* reconnects on its own with a growing delay (1 s doubling to ``mqtt_reconnect_max_seconds``,
  60 by default) when the broker goes away.

If a message cannot be stored (the database is down), it and every message after it stay
unacknowledged, and the client is restarted at the next check, so the broker delivers them
again, in order. ``MqttSubscriber`` (run by ``legato serve``, and by ``legato iot listen``
for one channel) checks the channels every ``every`` seconds: a channel added, changed or
switched off is picked up without a restart. With several processes on PostgreSQL (``legato
serve --workers 4``), one of them listens to a channel at a time (an advisory lock); if it
dies, another takes over at its next check.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel
from legato.domain.errors import LegatoError
from legato.intake import pipeline
from legato.intake.adapters.iot import MQTT
from legato.intake.iot import ADAPTER
from legato.store import inbox
from legato.store import tables as t
from legato.store.queries import reading
from legato.store.repositories import SqlChannels

log = logging.getLogger("legato.intake.mqtt")

WEEK = 7 * 24 * 3600


class MqttSettingsInvalid(ValueError):
    """A channel's MQTT settings cannot work: logged once (naming the setting), not listened to."""


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    topic: str
    client_id: str
    username: str | None = None
    password: str | None = None
    session_expiry: int = WEEK
    reconnect_max: int = 60
    keepalive: int = 30


def mqtt_settings(channel: Channel) -> MqttSettings | None:
    """The channel's broker settings; None if it names no broker; MqttSettingsInvalid (with
    the setting's name) if they cannot work."""
    extra = channel.settings.extra
    url, topic = extra.get("mqtt_url"), extra.get("mqtt_topic")
    if url is None and topic is None:
        return None
    if not isinstance(url, str) or not isinstance(topic, str) or not topic:
        raise MqttSettingsInvalid("mqtt_url and mqtt_topic are both needed, as texts")
    levels = topic.split("/")
    if any(("+" in lv and lv != "+") or ("#" in lv and (lv != "#" or i < len(levels) - 1))
           for i, lv in enumerate(levels)):  # fmt: skip
        raise MqttSettingsInvalid(f"mqtt_topic {topic!r} is not an MQTT topic filter (+ and # fill a level)")
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise MqttSettingsInvalid(
            f"mqtt_url must be mqtt://host[:port], not {url!r} (TLS is not supported yet)"
        )
    try:
        port = parts.port or 1883
    except ValueError:
        raise MqttSettingsInvalid(f"mqtt_url has a bad port: {url!r}") from None
    numbers = {}
    for name, default in (("mqtt_session_expiry_seconds", WEEK), ("mqtt_reconnect_max_seconds", 60)):
        value = extra.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise MqttSettingsInvalid(f"{name} must be a whole number of seconds, 1 or more, not {value!r}")
        numbers[name] = value
    client_id = extra.get("mqtt_client_id") or f"legato-{channel.code}"
    username = extra.get("mqtt_username")
    return MqttSettings(
        parts.hostname, port, topic, str(client_id), str(username) if username else None,
        channel.secrets.get("mqtt_password") or None, numbers["mqtt_session_expiry_seconds"],
        numbers["mqtt_reconnect_max_seconds"],
    )  # fmt: skip


class ChannelListener:
    """One channel's MQTT client (see the module's text)."""

    def __init__(self, rt: Runtime, channel: Channel, settings: MqttSettings) -> None:
        assert channel.id is not None
        self.rt, self.channel, self.settings = rt, channel, settings
        self.connected = threading.Event()
        self.broken = False  # a message could not be stored: restart to have it delivered again
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )  # fmt: skip
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, settings.reconnect_max)
        if settings.username:
            client.username_pw_set(settings.username, settings.password)
        self.client = client

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.session_expiry
        s = self.settings
        self.client.connect_async(s.host, s.port, s.keepalive, clean_start=False, properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()  # the session stays on the broker: what comes meanwhile waits there
        self.client.loop_stop()
        self.connected.clear()

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the connection", extra={"channel": self.channel.code,
                                                                     "reason": str(reason)})  # fmt: skip
            return
        client.subscribe(self.settings.topic, qos=1)
        self.connected.set()
        log.info(
            "MQTT connected", extra={"channel": self.channel.code, "session_present": flags.session_present}
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        log.info("MQTT disconnected", extra={"channel": self.channel.code, "reason": str(reason)})

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if self.broken:
            return  # left unacknowledged: delivered again, in order, after the restart
        try:
            entry_id = self._store(message)
        except Exception:
            self.broken = True
            log.exception("an MQTT message could not be stored; it will be delivered again",
                          extra={"channel": self.channel.code})  # fmt: skip
            return
        if message.qos > 0:
            client.ack(message.mid, message.qos)
        try:
            pipeline.replay(self.rt, entry_id)  # runs the stored entry (claims it first)
        except LegatoError as exc:
            log.info("MQTT message not processed", extra={"inbox_id": entry_id, "reason": exc.detail})
        except Exception:  # the entry is marked failed, replayable; the listener goes on
            log.exception("MQTT message processing failed", extra={"inbox_id": entry_id})

    def _store(self, message: mqtt.MQTTMessage) -> int:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = "(a topic that is not UTF-8)"
        now = datetime.now(UTC)
        headers = {"mqtt-qos": str(message.qos), "mqtt-retain": str(message.retain).lower(),
                   "mqtt-dup": str(message.dup).lower()}  # fmt: skip
        values = inbox.row(
            channel_id=self.channel.id, channel_code=self.channel.code, adapter=ADAPTER, method=MQTT,
            path=topic, query={}, headers=headers, body=bytes(message.payload), received_at=now,
            source="mqtt", topic=topic, state=inbox.RECEIVED,
        )  # fmt: skip
        with self.rt.engine.begin() as conn:
            return inbox.store(conn, values)


class ListenerLocks:
    """Which process listens to a channel's MQTT broker: one at a time, or the clients (one
    client id) would push each other off the broker. On PostgreSQL, session advisory locks
    on one dedicated connection: a process that dies drops its connection and its locks, and
    another takes over. SQLite serves one process: every lock is granted."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.held = engine, set[str]()
        self._conn: Connection | None = None

    @staticmethod
    def _key(code: str) -> int:
        return int.from_bytes(hashlib.sha256(f"legato-mqtt:{code}".encode()).digest()[:8], "big", signed=True)

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def take(self, code: str) -> bool:
        if self.engine.dialect.name != "postgresql" or code in self.held:
            return True
        sql = text("SELECT pg_try_advisory_lock(:key)")
        if self._connection().execute(sql, {"key": self._key(code)}).scalar():
            self.held.add(code)
        return code in self.held

    def release(self, code: str) -> None:
        if code in self.held and self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key(code)})
        self.held.discard(code)

    def alive(self) -> bool:
        """False if the locks were lost with their connection (their listeners must stop)."""
        if self._conn is None:
            return True
        try:
            self._conn.execute(text("SELECT 1"))
        except DBAPIError:
            self.close()
            return False
        return True

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self.held.clear()
        if conn is not None:
            conn.invalidate()  # closed for good, not returned to the pool with the locks
            conn.close()


class MqttSubscriber:
    """The MQTT listeners of every active ``iot`` channel with a broker (or of ``channels``
    only), kept in step with the channels' settings every ``every`` seconds."""

    def __init__(self, rt: Runtime, *, channels: Sequence[str] | None = None, every: float = 15.0) -> None:
        self.rt, self.only, self.every = rt, set(channels) if channels else None, every
        self.listeners: dict[str, ChannelListener] = {}
        self.locks = ListenerLocks(rt.engine)  # one process listens to a channel (PostgreSQL: many serve)
        self._complaints: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="legato-mqtt", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        for listener in self.listeners.values():
            listener.stop()
        self.listeners.clear()
        self.locks.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception:  # the subscriber outlives a bad round (the database away ...)
                log.exception("MQTT subscriber round failed")
            self._stop.wait(self.every)

    def sync(self) -> None:
        """Start, restart or stop listeners to match the channels as they are now."""
        wanted = {}
        for channel in self._channels():
            try:
                settings = mqtt_settings(channel)
            except MqttSettingsInvalid as exc:
                self._complain(channel.code, str(exc))
                continue
            if settings is not None:
                wanted[channel.code] = (channel, settings)
        alive = self.locks.alive()
        for code, listener in list(self.listeners.items()):
            same = code in wanted and wanted[code][1] == listener.settings
            if not same or listener.broken or not alive:
                listener.stop()
                del self.listeners[code]
                if not (same and listener.broken):
                    self.locks.release(code)
        for code, (channel, settings) in wanted.items():
            if code not in self.listeners and not self._stop.is_set() and self.locks.take(code):
                listener = ChannelListener(self.rt, channel, settings)
                listener.start()
                self.listeners[code] = listener

    def _channels(self) -> list[Channel]:
        c = t.channels
        now = datetime.now(UTC)
        with reading(self.rt.engine) as conn:
            query = select(c.c.code).where(c.c.adapter == ADAPTER, c.c.active.is_(True)).order_by(c.c.id)
            codes = list(conn.execute(query).scalars())
            repo = SqlChannels(conn, self.rt.box, now)
            found = [repo.get_by_code(code) for code in codes if self.only is None or code in self.only]
        return [ch for ch in found if ch is not None]

    def _complain(self, code: str, why: str) -> None:
        if self._complaints.get(code) != why:  # once per change, not every round
            self._complaints[code] = why
            log.error("channel's MQTT settings cannot work", extra={"channel": code, "reason": why})


__all__ = [
    "ChannelListener",
    "ListenerLocks",
    "MqttSettings",
    "MqttSettingsInvalid",
    "MqttSubscriber",
    "mqtt_settings",
]
