"""File drops (a folder, and asyncssh's SFTP server on loopback) and batches on a schedule
(both databases): one file per key, never half a file, a retry replaces instead of doubling;
a batch is one document of the orders not exported yet, each recorded once."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from api_helpers import order_body, place
from erp_servers import PAYLOAD_SCHEMA, TOKEN, ErpServer, Fault, again, exported, run, step, timeline
from erp_servers import with_destinations as with_dests
from fastapi.testclient import TestClient
from sftp_server import SftpTestServer

from legato.bootstrap import Runtime
from legato.domain.commands import TransitionOrder
from legato.services.orders import transition_order
from legato.workflow.actions import Fail, Retry
from legato.workflow.outbound.erp import parse_destinations, push


@pytest.fixture
def sftp(tmp_path: Path) -> Iterator[SftpTestServer]:
    (tmp_path / "sftp").mkdir()
    server = SftpTestServer(tmp_path / "sftp").start()
    yield server
    server.stop()


@pytest.fixture
def rt(runtime: Runtime, tmp_path: Path, sftp: SftpTestServer) -> Runtime:
    partner = {"kind": "sftp", "host": "127.0.0.1", "port": sftp.port, "username": sftp.username,
               "password": sftp.password, "host_key": sftp.fingerprint, "dir": "/inbound/orders",
               "timeout": 5}  # fmt: skip
    return with_dests(
        runtime, drop={"kind": "file", "dir": str(tmp_path / "drop")},
        csvdrop={"kind": "file", "dir": str(tmp_path / "csv"), "format": "csv"},
        partner=partner, partner_csv={**partner, "format": "csv"},
        impostor={**partner, "host_key": "SHA256:" + "A" * 43},
        wrong_password={**partner, "password": "nope"},
    )  # fmt: skip


_refs = itertools.count(1)


def _orders(client: TestClient, shop: dict[str, str], n: int, channel: str = "B2B") -> list[int]:
    who = {"customer": {"code": "ACME"}} if channel == "B2B" else {"customer": {"email": "g@example.com"}}
    bodies = [
        order_body(channel, ("TEA-100", i + 1), external_reference=f"R-{next(_refs)}", **who)
        for i in range(n)
    ]
    return [int(place(client, shop, body)["id"]) for body in bodies]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_file_drop_writes_one_file_named_after_the_key_and_a_retry_replaces_it(
    client: TestClient, shop: dict[str, str], rt: Runtime, tmp_path: Path
) -> None:
    [oid] = _orders(client, shop, 1)
    ctx = step(rt, "push_to_erp", oid)
    result = run(ctx, "push_to_erp", {"destination": "drop"})
    name = f"{ctx.idempotency_key}.json"
    assert _files(tmp_path / "drop") == [name] and result.output["response"]["file"] == name
    doc = json.loads((tmp_path / "drop" / name).read_text())
    assert doc["number"] == "SO-000001" and list(PAYLOAD_SCHEMA.iter_errors(doc)) == []
    [row] = exported(rt)
    assert (row.kind, row.erp_reference, row.response["file"]) == ("file", None, name)
    assert timeline(rt, oid, "erp_exported")[0].reason == "exported to drop (file)"
    # a crash after the write, before the record: the retry writes the same file again, not a second one
    dest = parse_destinations(rt.settings.erp_destinations)["drop"]
    push(dest, [doc], ctx.idempotency_key)
    assert _files(tmp_path / "drop") == [name]


def test_a_batch_is_one_csv_of_the_orders_not_yet_exported_and_each_is_recorded_once(
    client: TestClient, shop: dict[str, str], rt: Runtime, tmp_path: Path
) -> None:
    b2b = _orders(client, shop, 3)
    web = _orders(client, shop, 1, channel="WEB")
    transition_order(rt.uow(), TransitionOrder(b2b[2], "cancelled", "apikey:ops"))
    run(step(rt, "push_to_erp", b2b[0], workflow="realtime"), "push_to_erp", {"destination": "csvdrop"})
    params = {"destination": "csvdrop", "filter": {"channels": ["B2B", "WEB"]}, "max": 500}
    ctx = step(rt, "push_batch_to_erp", None, workflow="nightly", event_type="schedule")
    result = run(ctx, "push_batch_to_erp", params)
    assert result.output["orders"] == 2 and result.output["batch"] == ctx.idempotency_key
    batch_file = tmp_path / "csv" / f"{ctx.idempotency_key}.csv"
    rows = list(csv.DictReader(io.StringIO(batch_file.read_text())))
    got = [(r["number"], r["channel"], r["quantity"]) for r in rows]
    assert got == [("SO-000002", "B2B", "2"), ("SO-000004", "WEB", "1")]
    rows_by_order = {r.order_id: r for r in exported(rt)}
    assert set(rows_by_order) == {b2b[0], b2b[1], web[0]}  # the cancelled order stays out
    assert rows_by_order[b2b[1]].batch == ctx.idempotency_key and rows_by_order[b2b[0]].batch is None
    assert (
        timeline(rt, web[0], "erp_exported")[0].reason
        == f"exported to csvdrop (file), batch {ctx.idempotency_key}"
    )
    # the next evening: nothing new, nothing sent; a new order: only it
    later = step(rt, "push_batch_to_erp", None, workflow="nightly", event_type="schedule")
    assert run(later, "push_batch_to_erp", params).output == {"destination": "csvdrop", "orders": 0}
    [new] = _orders(client, shop, 1, channel="WEB")
    last = step(rt, "push_batch_to_erp", None, workflow="nightly", event_type="schedule")
    assert run(last, "push_batch_to_erp", params).output["orders"] == 1
    assert (
        len(_files(tmp_path / "csv")) == 3
        and len(exported(rt)) == 4
        and new in {r.order_id for r in exported(rt)}
    )


def test_a_batch_to_an_http_erp_is_one_json_array_and_its_retry_sends_the_same_orders(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    erp = ErpServer().start()
    try:
        rt = with_dests(runtime, main={"kind": "http", "url": f"{erp.url}/orders", "timeout": 5,
                                       "headers": {"Authorization": f"Bearer {TOKEN}"}})  # fmt: skip
        first = _orders(client, shop, 2)
        erp.faults.append(Fault("500"))
        ctx = step(rt, "push_batch_to_erp", None, workflow="nightly", event_type="schedule")
        with pytest.raises(Retry):
            run(ctx, "push_batch_to_erp", {"destination": "main"})
        _orders(client, shop, 1, channel="WEB")  # arrives between the attempts: not in this batch
        result = run(again(ctx), "push_batch_to_erp", {"destination": "main"})
        assert result.output["orders"] == 2 and len(erp.requests) == 2
        bodies = [r.body for r in erp.requests]
        assert bodies[0] == bodies[1] and [d["number"] for d in bodies[1]] == ["SO-000001", "SO-000002"]
        assert {r.headers["idempotency-key"] for r in erp.requests} == {ctx.idempotency_key}
        assert sorted(r.order_id for r in exported(rt)) == first and len(erp.orders) == 2
    finally:
        erp.stop()


def test_batch_parameters_are_checked_when_the_workflow_is_saved() -> None:
    from legato.domain.errors import ValidationFailed
    from legato.workflow.actions import check_action

    with pytest.raises(ValidationFailed) as bad:
        params = {"destination": "x", "max": 0, "filter": {"statuses": ["shipped"], "zones": ["EU"]}}
        check_action("push_batch_to_erp", params, "actions[0]")
    assert {(i.path, i.code) for i in bad.value.issues} == {
        ("actions[0].params.max", "invalid"), ("actions[0].params.filter.zones", "unknown_field"),
        ("actions[0].params.filter.statuses[0]", "invalid_status"),
    }  # fmt: skip
    with pytest.raises(ValidationFailed) as mode:
        check_action("push_to_erp", {"destination": "x", "mode": "batch"}, "actions[1]")
    assert [i.path for i in mode.value.issues] == ["actions[1].params.mode"]


# --- SFTP ---------------------------------------------------------------------------------------------


def test_an_order_goes_to_the_partners_sftp_folder_and_a_retry_leaves_one_file(
    client: TestClient, shop: dict[str, str], runtime: Runtime, rt: Runtime, sftp: SftpTestServer
) -> None:
    [oid] = _orders(client, shop, 1)
    with socket.socket() as probe:  # a port where nothing listens: the partner's server is down
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    partner = dict(rt.settings.erp_destinations["partner"])
    down = with_dests(runtime, partner={**partner, "port": closed})
    ctx = step(down, "push_to_erp", oid)
    with pytest.raises(Retry, match=rf"sftp://legato@127\.0\.0\.1:{closed}"):
        run(ctx, "push_to_erp", {"destination": "partner"})
    result = run(replace(again(ctx), rt=rt), "push_to_erp", {"destination": "partner"})  # the server is back
    name = f"{ctx.idempotency_key}.json"
    assert _files(sftp.root) == [name] and result.output["response"]["dir"] == "/inbound/orders"
    doc: dict[str, Any] = json.loads((sftp.root / "inbound" / "orders" / name).read_text())
    assert doc["number"] == "SO-000001" and exported(rt)[0].kind == "sftp" and sftp.logins == ["legato"]
    # sent again under the same key (a crash before the record): the same file, replaced, and no temp file
    push(parse_destinations(rt.settings.erp_destinations)["partner"], [doc], ctx.idempotency_key)
    assert _files(sftp.root) == [name] and sftp.logins == ["legato", "legato"]


def test_sftp_refuses_a_server_whose_host_key_is_not_the_configured_one_and_a_wrong_login(
    client: TestClient, shop: dict[str, str], rt: Runtime, sftp: SftpTestServer
) -> None:
    [oid] = _orders(client, shop, 1)
    with pytest.raises(
        Fail, match=re.escape(f"host key {sftp.fingerprint} is not the configured SHA256:AAAA")
    ):
        run(step(rt, "push_to_erp", oid), "push_to_erp", {"destination": "impostor"})
    assert sftp.logins == []  # nothing, not even the password, was sent
    with pytest.raises(Fail, match="refused the login"):
        run(step(rt, "push_to_erp", oid, workflow="w2"), "push_to_erp", {"destination": "wrong_password"})
    assert _files(sftp.root) == [] and exported(rt) == []


def test_a_batch_to_sftp_is_one_csv_file(
    client: TestClient, shop: dict[str, str], rt: Runtime, sftp: SftpTestServer
) -> None:
    _orders(client, shop, 2)
    ctx = step(rt, "push_batch_to_erp", None, workflow="nightly", event_type="schedule")
    assert run(ctx, "push_batch_to_erp", {"destination": "partner_csv"}).output["orders"] == 2
    text = (sftp.root / "inbound" / "orders" / f"{ctx.idempotency_key}.csv").read_bytes().decode()
    assert text.count("\r\n") == 3 and text.startswith("version,number,channel")
