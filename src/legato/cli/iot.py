"""``legato iot``: listen to a channel's MQTT broker, manage replenishment rules, read usage."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from legato.cli.common import console, err, fail, runtime

if TYPE_CHECKING:
    from legato.store.iot import StoredRule

app = typer.Typer(help="IoT readings and replenishment rules (docs/channels/iot.md).", no_args_is_help=True)
rules_app = typer.Typer(help="Replenishment rules: one order per breach.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


def _decimal(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        fail(f"--{name} must be a decimal number, not {value!r}", 2)
    if not number.is_finite():
        fail(f"--{name} must be a finite number, not {value!r}", 2)
    return number


def _time(value: str, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--{name} must be an ISO 8601 time such as 2026-11-01T00:00:00Z, not {value!r}", 2)
    if at.tzinfo is None:
        fail(f"--{name} must carry its time zone (Z or +01:00)", 2)
    return at


@app.command("listen")
def listen(
    code: str,
    every: Annotated[float, typer.Option(help="seconds between checks of the channel's settings")] = 15.0,
) -> None:
    """Subscribe to channel CODE's MQTT broker in the foreground until Ctrl-C (legato serve
    does the same for every IoT channel)."""
    from legato.intake.mqtt import MqttSettingsInvalid, MqttSubscriber, mqtt_settings
    from legato.store.queries import reading
    from legato.store.repositories import SqlChannels

    rt = runtime()
    with reading(rt.engine) as conn:
        channel = SqlChannels(conn, rt.box, datetime.now(UTC)).get_by_code(code)
    if channel is None or channel.adapter != "iot":
        fail(f"no IoT channel {code!r}", 1)
    try:
        settings = mqtt_settings(channel)
    except MqttSettingsInvalid as exc:
        fail(f"channel {code}: {exc}", 1)
    if settings is None:
        fail(f"channel {code} has no mqtt_url and mqtt_topic settings", 1)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    subscriber = MqttSubscriber(rt, channels=[code], every=every)
    subscriber.start()
    console.print(
        f"listening to {settings.topic} on {settings.host}:{settings.port} for {code} (Ctrl-C stops)"
    )
    done.wait()
    subscriber.stop()
    rt.close()
    console.print("stopped")


@rules_app.command("add")
def rules_add(
    code: str,
    channel: Annotated[str, typer.Option(help="the IoT channel the readings come from")],
    device: Annotated[str, typer.Option(help="the device id")],
    metric: Annotated[str, typer.Option(help="the metric watched, e.g. level")],
    account: Annotated[str, typer.Option(help="the account the order is for")],
    sku: Annotated[str, typer.Option(help="the product ordered")],
    rearm: Annotated[str, typer.Option(help="re-arm once a reading recovers past this")],
    below: Annotated[str | None, typer.Option(help="breach when the value drops under this")] = None,
    above: Annotated[str | None, typer.Option(help="breach when the value climbs over this")] = None,
    quantity: Annotated[str | None, typer.Option(help="order this much (fixed)")] = None,
    par: Annotated[
        str | None, typer.Option(help="order up to this level (par - reading, rounded up)")
    ] = None,
    ship_to: Annotated[str | None, typer.Option(help='the delivery address as JSON: {"line1": ...}')] = None,
) -> None:
    """Add rule CODE: order SKU for ACCOUNT once each time DEVICE's METRIC breaches."""
    from legato.domain.errors import LegatoError
    from legato.domain.order import Address
    from legato.domain.replenishment import Comparison, QuantityMode, Rule
    from legato.intake.iot import add_rule

    if (below is None) == (above is None):
        fail("give exactly one of --below and --above", 2)
    if (quantity is None) == (par is None):
        fail("give exactly one of --quantity (fixed) and --par (up to par)", 2)
    address = None
    if ship_to is not None:
        try:
            address = Address(**json.loads(ship_to))
        except (ValueError, TypeError) as exc:
            fail(f"--ship-to must be a JSON address object: {exc}", 2)
    threshold = _decimal(below if below is not None else above, "below" if below is not None else "above")
    rearm_at = _decimal(rearm, "rearm")
    assert threshold is not None and rearm_at is not None
    rule = Rule(
        code=code, device_id=device, metric=metric,
        comparison=Comparison.BELOW if below is not None else Comparison.ABOVE,
        threshold=threshold, rearm=rearm_at, account_code=account, sku=sku,
        quantity_mode=QuantityMode.FIXED if quantity is not None else QuantityMode.UP_TO_PAR,
        quantity=_decimal(quantity, "quantity"), par_level=_decimal(par, "par"), shipping_address=address,
    )  # fmt: skip
    rt = runtime()
    try:
        stored = add_rule(rt, channel, rule)
    except LegatoError as exc:
        for issue in exc.issues:
            err.print(f"{issue.path}: {issue.message}", highlight=False)
        fail(exc.detail, 1)
    finally:
        rt.close()
    console.print(f"rule {stored.rule.code} added, armed", highlight=False)


def _row(s: StoredRule) -> list[str]:
    from legato.domain.order import ORDER_PREFIX, format_number

    r = s.rule
    order = f"{r.quantity}" if r.quantity is not None else f"up to {r.par_level}"
    state = "armed" if s.state.armed else "disarmed"
    if s.state.order_open and s.open_order_id:
        state += f", {format_number(ORDER_PREFIX, s.open_order_id)} open"
    what = f"{order} x {r.sku} for {r.account_code}"
    breach = f"{r.comparison.value} {r.threshold}"
    status = state if r.active else "inactive"
    return [
        r.code,
        s.channel_code,
        r.device_id,
        r.metric,
        breach,
        str(r.rearm),
        what,
        status,
        str(s.state.breaches),
    ]


@rules_app.command("list")
def rules_list(
    channel: Annotated[str | None, typer.Option(help="only this channel's rules")] = None,
    device: Annotated[str | None, typer.Option(help="only this device's rules")] = None,
    limit: int = 100,
) -> None:
    """Rules with their state, newest first."""
    from legato.store import iot as store
    from legato.store.queries import reading

    rt = runtime()
    with reading(rt.engine) as conn:
        items, _ = store.list_rules(
            conn, channel_code=channel, device_id=device, limit=max(1, min(limit, 500))
        )
    rt.close()
    table = Table("code", "channel", "device", "metric", "breach", "rearm", "orders", "state", "breaches")
    for s in items:
        table.add_row(*_row(s))
    console.print(table)


@app.command("usage")
def usage(
    device: str,
    metric: str,
    start: Annotated[str, typer.Option("--from", help="the start, e.g. 2026-11-01T00:00:00Z")],
    end: Annotated[str, typer.Option("--to", help="the end, e.g. 2026-12-01T00:00:00Z")],
) -> None:
    """How much DEVICE's counter METRIC went up from --from to --to (for usage billing)."""
    from legato.store import iot as store
    from legato.store.queries import reading

    lo, hi = _time(start, "from"), _time(end, "to")
    rt = runtime()
    with reading(rt.engine) as conn:
        used = store.usage_between(conn, device, metric, lo, hi)
    rt.close()
    print(used)
