"""SFTP channels against a real SFTP server (asyncssh's, on loopback), on both databases:
files become orders once, move to processed/ or error/ with their notes, wait while they are
being written, and our documents are delivered to the partner's folder. The documented
channel, order file and notes (docs/channels/sftp.md) are the ones used here."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import count
from fastapi.testclient import TestClient
from sftp_server import INBOUND, SftpTestServer, channel_body, doc_block, drop, tree

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel, ChannelSettings, ChannelType
from legato.intake import pipeline
from legato.intake.sftp import PollResult, poll
from legato.intake.sftp_remote import config_of
from legato.store import documents, inbox, sftp_files

CODE = "ACME-SFTP"
EDI = Path(__file__).parent.parent / "fixtures" / "edi"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpTestServer]:
    root = tmp_path / "sftp"
    (root / INBOUND).mkdir(parents=True)
    srv = SftpTestServer(root).start()
    yield srv
    srv.stop()


@pytest.fixture
def acme(client: TestClient, admin: dict[str, str]) -> Any:
    """The catalogue, and a function making the documented channel with some settings changed."""
    for sku, price in (("TEA-100", "4.50"), ("MUG-200", "12.00")):
        r = client.post("/api/v1/products", json={"sku": sku, "name": sku.title(), "prices": {"GBP": price}},
                        headers=admin)  # fmt: skip
        assert r.status_code == 201, r.text

    def make(server: SftpTestServer, **settings: Any) -> dict[str, Any]:
        body = channel_body(server, **settings)
        r = client.post("/api/v1/channels", json=body, headers=admin)
        assert r.status_code == 201, r.text
        return body

    return make


def order(ref: str, *lines: tuple[str, int]) -> dict[str, Any]:
    return {"channel": CODE, "external_reference": ref, "customer": {"email": "buyer@acme.example"},
            "lines": [{"sku": s, "quantity": q} for s, q in lines]}  # fmt: skip


def channel_of(body: dict[str, Any]) -> Channel:
    settings = ChannelSettings(extra=body["settings"])
    return Channel(body["code"], body["name"], ChannelType(body["type"]), body["adapter"], body["currency"],
                   settings, secrets=body["secrets"])  # fmt: skip


def take(rt: Runtime, name: str) -> PollResult:
    """Two polls: the first sees the file, the second (same size and time) takes it."""
    first = poll(rt, CODE)
    assert name in first.waiting and not first.files, first
    return poll(rt, CODE)


def refs(rt: Runtime) -> list[str]:
    from sqlalchemy import select

    from legato.store.tables import orders

    with rt.engine.connect() as conn:
        return sorted(conn.execute(select(orders.c.external_ref)).scalars())


def test_the_documented_files_become_orders_and_their_notes_read_as_documented(
    runtime: Runtime, server: SftpTestServer, acme: Any, client: TestClient, admin: dict[str, str]
) -> None:
    documented = json.loads(doc_block("channel"))
    assert config_of(channel_of(documented)).host_keys == (documented["settings"]["sftp_host_key"],)
    acme(server)
    drop(server, "orders-20261123-0001.json", doc_block("orders-file"))
    bad = order("PO-4713", ("ACME-CUP", 1))
    drop(server, "orders-20261123-0002.json", json.dumps(bad))

    result = take(runtime, "orders-20261123-0001.json")

    assert [(f.name, f.state, f.orders) for f in result.files] == [
        ("orders-20261123-0001.json", "processed", ["SO-000001", "SO-000002"]),
        ("orders-20261123-0002.json", "error", []),
    ]
    assert refs(runtime) == ["PO-4711", "PO-4712"]
    assert tree(server) == {
        f"{INBOUND}/processed/orders-20261123-0001.json",
        f"{INBOUND}/processed/orders-20261123-0001.json.result.txt",
        f"{INBOUND}/error/orders-20261123-0002.json",
        f"{INBOUND}/error/orders-20261123-0002.json.error.txt",
    }
    root = server.root / INBOUND
    assert (root / "processed/orders-20261123-0001.json.result.txt").read_text() == doc_block("result")
    assert (root / "error/orders-20261123-0002.json.error.txt").read_text() == doc_block("error")
    # the mapped SKU: the partner's ACME-TEA is the catalogue's TEA-100
    lines = client.get("/api/v1/orders/SO-000001", headers=admin).json()["lines"]
    assert [(ln["sku"], ln["quantity"]) for ln in lines] == [("TEA-100", "10"), ("MUG-200", "2")]

    # inbox first: each file's bytes are kept as the partner sent them
    entry = inbox.get(runtime.engine, 1)
    assert entry is not None
    assert (entry.source, entry.method, entry.path, entry.adapter, entry.state) == (
        "sftp", "PULL", "orders-20261123-0001.json", "sftp", "processed",
    )  # fmt: skip
    assert entry.body == doc_block("orders-file").encode()
    size = len(entry.body)
    assert entry.delivery_id is not None and entry.delivery_id.startswith(
        f"orders-20261123-0001.json:{size}:"
    )
    refused = inbox.get(runtime.engine, 2)
    assert refused is not None and refused.state == "quarantined"

    # fixed at our end (the SKU map), the refused file replays through the same adapter
    body = channel_body(server, sku_map={"ACME-TEA": "TEA-100", "ACME-CUP": "MUG-200"})
    assert client.put(f"/api/v1/channels/{CODE}", json=body, headers=admin).status_code == 200
    replayed = pipeline.replay(runtime, 2)
    assert replayed.state == "processed" and refs(runtime) == ["PO-4711", "PO-4712", "PO-4713"]


def test_each_file_is_taken_once_and_the_next_polls_find_nothing_new(
    runtime: Runtime, server: SftpTestServer, acme: Any
) -> None:
    acme(server)
    drop(server, "a.json", json.dumps(order("PO-1", ("TEA-100", 1))))
    assert [f.state for f in take(runtime, "a.json").files] == ["processed"]
    again = poll(runtime, CODE)
    assert (again.files, again.waiting) == ([], [])
    assert count(runtime, "inbox") == 1 and count(runtime, "orders") == 1
    assert [f.state for f in sftp_files.recent(runtime.engine, 1)] == ["processed"]


def test_a_file_still_being_written_is_not_taken_until_its_size_holds(
    runtime: Runtime, server: SftpTestServer, acme: Any
) -> None:
    acme(server)
    data = json.dumps(order("PO-7", ("TEA-100", 3))).encode()
    path = drop(server, "big.json", data[:20])  # the partner's upload has only begun
    assert poll(runtime, CODE).waiting == ["big.json"]
    with path.open("ab") as f:
        f.write(data[20:])
    grown = poll(runtime, CODE)
    assert grown.waiting == ["big.json"] and grown.files == []
    assert server.faults.reads == []  # nothing was even downloaded while it grew
    done = poll(runtime, CODE)
    assert [(f.name, f.state) for f in done.files] == [("big.json", "processed")]
    assert refs(runtime) == ["PO-7"]
    # the half-written sightings were forgotten: one row, for the file as it was taken
    assert [(r.size, r.state) for r in sftp_files.recent(runtime.engine, 1)] == [(len(data), "processed")]


def test_with_done_markers_a_file_is_taken_once_its_marker_exists_and_the_marker_moves_with_it(
    runtime: Runtime, server: SftpTestServer, acme: Any
) -> None:
    acme(server, sftp_ready="done_marker")
    drop(server, "po.json", json.dumps(order("PO-9", ("MUG-200", 1))))
    assert poll(runtime, CODE).waiting == ["po.json"]
    assert poll(runtime, CODE).waiting == ["po.json"]  # a stable size is not enough here
    drop(server, "po.json.done", b"")
    result = poll(runtime, CODE)
    assert [(f.name, f.state) for f in result.files] == [("po.json", "processed")]
    assert tree(server) == {
        f"{INBOUND}/processed/po.json",
        f"{INBOUND}/processed/po.json.result.txt",
        f"{INBOUND}/processed/po.json.done",
    }


def test_the_same_file_sent_again_is_a_duplicate_and_the_same_name_with_new_content_is_a_new_file(
    runtime: Runtime, server: SftpTestServer, acme: Any
) -> None:
    acme(server)
    first = json.dumps(order("PO-1", ("TEA-100", 1)))
    drop(server, "daily.json", first)
    take(runtime, "daily.json")
    resent = drop(server, "daily.json", first)  # sent again, as is, at another time
    os.utime(resent, (1_700_000_000, 1_700_000_000))
    again = take(runtime, "daily.json")
    assert [(f.state, f.inbox_id, f.orders) for f in again.files] == [("duplicate", 1, [])]
    assert count(runtime, "inbox") == 1 and count(runtime, "orders") == 1
    assert f"{INBOUND}/processed/daily.2.json" in tree(server)
    note = (server.root / INBOUND / "processed/daily.2.json.result.txt").read_text()
    assert "state: duplicate" in note and "processed already (inbox entry 1)" in note

    drop(server, "daily.json", json.dumps(order("PO-2", ("MUG-200", 12))))  # tomorrow's orders
    new = take(runtime, "daily.json")
    assert [(f.state, f.orders) for f in new.files] == [("processed", ["SO-000002"])]
    assert refs(runtime) == ["PO-1", "PO-2"]
    assert f"{INBOUND}/processed/daily.3.json" in tree(server)


def test_a_list_with_one_bad_order_places_the_others_and_names_the_bad_one_in_the_error_note(
    runtime: Runtime, server: SftpTestServer, acme: Any
) -> None:
    acme(server)
    orders = [order("PO-1", ("TEA-100", 1)), order("PO-2", ("TEA-100", 1)), order("PO-3", ("MUG-200", 1))]
    orders[1]["lines"][0]["quantity"] = "ten"
    drop(server, "batch.json", json.dumps(orders))
    result = take(runtime, "batch.json")
    assert [(f.state, f.orders) for f in result.files] == [("error", ["SO-000001", "SO-000002"])]
    assert refs(runtime) == ["PO-1", "PO-3"]
    note = (server.root / INBOUND / "error/batch.json.error.txt").read_text()
    assert "  - PO-2: $[1].lines[0].quantity:" in note
    assert "  - SO-000001 PO-1 created\n  - SO-000002 PO-3 created" in note


def test_a_file_whose_format_cannot_be_told_goes_to_error_saying_so(
    runtime: Runtime, server: SftpTestServer, acme: Any
) -> None:
    acme(server)
    drop(server, "orders.dat", b"\x00\x01binary")
    result = take(runtime, "orders.dat")
    assert [f.state for f in result.files] == ["error"]
    note = (server.root / INBOUND / "error/orders.dat.error.txt").read_text()
    assert "cannot tell the format of 'orders.dat'" in note and "set the channel's sftp_format" in note


def test_pending_documents_are_uploaded_whole_to_the_outbound_folder_and_marked_sent(
    runtime: Runtime, server: SftpTestServer, acme: Any
) -> None:
    acme(server)
    with runtime.engine.begin() as conn:
        ids = [
            documents.add(
                conn,
                channel_id=1,
                kind="997",
                filename=f"997-ACME-{n}.x12",
                body=f"ISA*...{n}~".encode(),
                control_number=str(n),
            )
            for n in (1, 2)
        ]
    result = poll(runtime, CODE)
    assert result.sent == ["/from-legato/997-ACME-1.x12", "/from-legato/997-ACME-2.x12"]  # oldest first
    assert (server.root / "from-legato/997-ACME-2.x12").read_bytes() == b"ISA*...2~"
    assert not [p for p in tree(server) if p.endswith(".part")]
    for doc_id in ids:
        doc = documents.get(runtime.engine, doc_id)
        assert doc is not None and doc.sent_at is not None
        assert doc.destination == f"sftp://legato@127.0.0.1:{server.port}/from-legato/997-ACME-{doc_id}.x12"
    assert poll(runtime, CODE).sent == []  # delivered once


def test_an_x12_850_file_places_its_order_and_its_997_is_delivered(
    runtime: Runtime, server: SftpTestServer, acme: Any
) -> None:
    acme(server)
    drop(server, "po-1001.edi", (EDI / "x12" / "850-4010-minimal.edi").read_bytes())
    result = take(runtime, "po-1001.edi")
    assert [(f.state, f.orders) for f in result.files] == [("processed", ["SO-000001"])], result
    assert refs(runtime) == ["MIN-1001"]
    entry = inbox.get(runtime.engine, 1)
    assert entry is not None and entry.topic == "file/edi-x12"
    assert len(result.sent) >= 1 and all(p.startswith("/from-legato/") for p in result.sent)
    acks = [(server.root / p.lstrip("/")).read_bytes() for p in result.sent]
    assert any(b"ST*997*" in a for a in acks), acks  # the functional acknowledgment, delivered
    assert all(a.startswith(b"ISA") for a in acks)


ROWS = [("order_ref", "customer_email", "sku", "quantity"), ("PO-31", "buyer@acme.example", "TEA-100", 2),
        ("PO-31", "", "MUG-200", 1), ("PO-32", "buyer@acme.example", "ACME-TEA", 5)]  # fmt: skip


def _xlsx() -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    for row in ROWS:
        book.active.append(row)  # type: ignore[union-attr]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("name", ["orders.csv", "orders.xlsx", "orders-xlsx-without-extension"])
def test_a_spreadsheet_file_places_its_orders(
    runtime: Runtime, server: SftpTestServer, acme: Any, name: str
) -> None:
    acme(server)
    csv = "".join(",".join(str(v) for v in row) + "\n" for row in ROWS)
    drop(server, name, csv if name.endswith(".csv") else _xlsx())
    result = take(runtime, name)
    assert [(f.state, f.orders) for f in result.files] == [("processed", ["SO-000001", "SO-000002"])], result
    assert refs(runtime) == ["PO-31", "PO-32"]
    entry = inbox.get(runtime.engine, 1)
    assert entry is not None and entry.topic == "file/spreadsheet"


def test_an_edifact_orders_file_places_its_order_and_its_contrl_is_delivered(
    runtime: Runtime, server: SftpTestServer, acme: Any
) -> None:
    acme(server, unknown_sku="review", price_policy="trust")
    drop(server, "orders-128576.edi", (EDI / "edifact" / "orders_d96a_eancom.edi").read_bytes())
    result = take(runtime, "orders-128576.edi")
    assert [(f.state, f.orders) for f in result.files] == [("processed", ["SO-000001"])], result
    assert refs(runtime) == ["PO-128576"]
    entry = inbox.get(runtime.engine, 1)
    assert entry is not None and entry.topic == "file/edifact"
    acks = [(server.root / p.lstrip("/")).read_bytes() for p in result.sent]
    assert any(b"CONTRL" in a for a in acks), acks
