"""SFTP channels when things go wrong, against a real SFTP server, on both databases: the
connection drops mid-download or before the move, the host key is not the configured one,
settings are wrong, a server is down while the others are polled; and the `legato sftp`
command as a real process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from api_helpers import count
from fastapi.testclient import TestClient
from sftp_server import INBOUND, SftpTestServer, channel_body, drop, tree
from tests.conftest import TEST_SECRET

from legato.bootstrap import Runtime
from legato.domain.errors import ValidationFailed
from legato.intake.sftp import LAST_ERROR, SftpWorker, poll, poll_due
from legato.intake.sftp_remote import ConnectionGone, HostKeyMismatch
from legato.store import inbox, sftp_files

CODE = "ACME-SFTP"
WRONG_KEY = "SHA256:" + "Q" * 43


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpTestServer]:
    root = tmp_path / "sftp"
    (root / INBOUND).mkdir(parents=True)
    srv = SftpTestServer(root).start()
    yield srv
    srv.stop()


@pytest.fixture
def channel(client: TestClient, admin: dict[str, str]) -> Any:
    r = client.post("/api/v1/products", json={"sku": "TEA-100", "name": "Tea", "prices": {"GBP": "4.50"}},
                    headers=admin)  # fmt: skip
    assert r.status_code == 201, r.text

    def make(server: SftpTestServer, code: str = CODE, **settings: Any) -> dict[str, Any]:
        body = {**channel_body(server, **settings), "code": code}
        if "secrets" in settings:
            body["secrets"] = body["settings"].pop("secrets")
        r = client.post("/api/v1/channels", json=body, headers=admin)
        assert r.status_code == 201, r.text
        return body

    return make


def po(ref: str, code: str = CODE) -> str:
    return json.dumps(
        {"channel": code, "external_reference": ref, "lines": [{"sku": "TEA-100", "quantity": 1}]}
    )


def test_a_connection_lost_mid_download_records_nothing_and_the_next_poll_takes_the_file_once(
    runtime: Runtime, server: SftpTestServer, channel: Any
) -> None:
    channel(server)
    drop(server, "a.json", po("PO-1"))
    assert poll(runtime, CODE).waiting == ["a.json"]
    server.faults.break_reads.add("a.json")
    cut = poll(runtime, CODE)
    assert cut.files == [] and cut.error is not None and "connection was lost" in cut.error
    assert count(runtime, "inbox") == 0 and count(runtime, "orders") == 0
    assert [r.state for r in sftp_files.recent(runtime.engine, 1)] == ["seen"]  # not taken
    assert f"{INBOUND}/a.json" in tree(server)

    retry = poll(runtime, CODE)
    assert [(f.state, f.orders) for f in retry.files] == [("processed", ["SO-000001"])]
    assert count(runtime, "inbox") == 1 and count(runtime, "orders") == 1


def test_a_connection_lost_before_the_move_moves_the_file_next_time_without_reading_it_again(
    runtime: Runtime, server: SftpTestServer, channel: Any
) -> None:
    channel(server)
    drop(server, "a.json", po("PO-1"))
    poll(runtime, CODE)
    server.faults.break_renames.add("a.json")
    cut = poll(runtime, CODE)
    assert cut.error is not None and count(runtime, "orders") == 1  # placed, then the line dropped
    assert f"{INBOUND}/a.json" in tree(server)

    again = poll(runtime, CODE)
    assert [(f.state, f.inbox_id, f.moved_to) for f in again.files] == [
        ("processed", 1, f"/{INBOUND}/processed/a.json")
    ]
    assert count(runtime, "inbox") == 1 and count(runtime, "orders") == 1  # nothing twice
    assert "SO-000001" in (server.root / INBOUND / "processed/a.json.result.txt").read_text()


def test_a_file_the_server_will_not_hand_over_or_let_move_is_reported_and_the_others_go_on(
    runtime: Runtime, server: SftpTestServer, channel: Any
) -> None:
    channel(server)
    drop(server, "a.json", po("PO-1"))
    drop(server, "b.json", po("PO-2"))
    poll(runtime, CODE)
    server.faults.deny_opens.add("a.json")
    server.faults.deny_renames.add("b.json")
    result = poll(runtime, CODE)
    assert result.error is None
    assert result.failed == ["a.json: downloading /to-legato/a.json: the test server denies this file"]
    [b] = result.files
    assert (b.name, b.state, b.moved_to) == ("b.json", "processed", None)
    assert b.reason is not None and "not moved: moving /to-legato/b.json" in b.reason
    assert count(runtime, "orders") == 1

    again = poll(runtime, CODE)  # a.json is handed over now; b.json moves without a second reading
    assert sorted((f.name, f.state, f.inbox_id) for f in again.files) == [
        ("a.json", "processed", 2), ("b.json", "processed", 1),
    ]  # fmt: skip
    assert count(runtime, "inbox") == 2 and count(runtime, "orders") == 2


def test_a_file_read_twice_after_its_record_was_lost_still_makes_its_order_once(
    runtime: Runtime, server: SftpTestServer, channel: Any
) -> None:
    channel(server)
    drop(server, "a.json", po("PO-1"))
    poll(runtime, CODE)
    poll(runtime, CODE)
    moved = server.root / INBOUND / "processed" / "a.json"
    drop(server, "a-resent.json", moved.read_bytes())  # the partner sends it again, renamed
    poll(runtime, CODE)
    result = poll(runtime, CODE)
    assert [(f.state, f.orders) for f in result.files] == [("processed", ["SO-000001"])]
    assert count(runtime, "orders") == 1 and inbox.get(runtime.engine, 2).state == "duplicate"  # type: ignore[union-attr]
    assert (
        "SO-000001 PO-1 existed already"
        in (server.root / INBOUND / "processed/a-resent.json.result.txt").read_text()
    )


def test_a_wrong_host_key_is_refused_before_logging_in_and_nothing_is_taken(
    runtime: Runtime, server: SftpTestServer, channel: Any
) -> None:
    channel(server, sftp_host_key=WRONG_KEY)
    drop(server, "a.json", po("PO-1"))
    with pytest.raises(HostKeyMismatch) as refused:
        poll(runtime, CODE)
    assert refused.value.detail == (
        f"sftp://legato@127.0.0.1:{server.port}: host key {server.fingerprint} does not match "
        f"the configured {WRONG_KEY}; refusing to connect"
    )
    assert server.logins == []  # the password never left
    assert count(runtime, "sftp_files") == 0 and count(runtime, "inbox") == 0


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="OpenSSH's ssh-keygen is not installed")
def test_the_fingerprint_line_ssh_keygen_prints_is_the_setting(
    runtime: Runtime, server: SftpTestServer, channel: Any, tmp_path: Path
) -> None:
    pub = server.public_key_file(tmp_path / "ssh_host_ed25519_key.pub")
    line = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout
    assert server.fingerprint in line  # what asyncssh computes is what OpenSSH prints
    channel(server, sftp_host_key=line.strip())
    drop(server, "a.json", po("PO-1"))
    poll(runtime, CODE)
    assert [f.state for f in poll(runtime, CODE).files] == ["processed"]


def test_a_private_key_logs_in(runtime: Runtime, tmp_path: Path, channel: Any) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    root = tmp_path / "keyed"
    (root / INBOUND).mkdir(parents=True)
    srv = SftpTestServer(root, password="not-this-one", client_key=key).start()
    try:
        pem = key.export_private_key().decode()
        channel(srv, secrets={"sftp_private_key": pem})
        drop(srv, "a.json", po("PO-1"))
        assert poll(runtime, CODE).waiting == ["a.json"]
        assert srv.logins == ["legato"]
    finally:
        srv.stop()


def test_bad_settings_are_each_named_before_anything_connects(
    runtime: Runtime, server: SftpTestServer, channel: Any
) -> None:
    channel(server, sftp_host_key=None, sftp_port=22.5, sftp_ready="soon", sftp_format="pdf", secrets={})
    with pytest.raises(ValidationFailed) as bad:
        poll(runtime, CODE)
    assert {(i.path, i.code) for i in bad.value.issues} == {
        ("settings.sftp_host_key", "required"),
        ("settings.sftp_port", "not_an_integer"),
        ("settings.sftp_ready", "invalid"),
        ("settings.sftp_format", "invalid"),
        ("secrets.sftp_password", "required"),
    }
    assert server.logins == []


def test_an_order_pushed_over_http_to_an_sftp_channel_is_refused(
    client: TestClient, server: SftpTestServer, channel: Any
) -> None:
    channel(server)
    r = client.post(
        f"/intake/{CODE}", content=po("PO-1").encode(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 401 and "takes files from its SFTP server only" in r.text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_worker_polls_each_channel_on_its_schedule_and_records_a_failing_one(
    runtime: Runtime, server: SftpTestServer, channel: Any
) -> None:
    channel(server, sftp_poll_seconds=1)
    channel(server, code="DOWN-SFTP", sftp_port=_closed_port(), sftp_poll_seconds=1)
    drop(server, "a.json", po("PO-1"))
    worker = SftpWorker(runtime, tick=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while count(runtime, "orders") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        started = time.monotonic()
        worker.stop()
        assert time.monotonic() - started < 5  # stops promptly
    assert count(runtime, "orders") == 1  # the working channel went on despite the other
    error = inbox.get_state(runtime.engine, 2, LAST_ERROR)
    assert error is not None and "connecting to sftp://" in error
    assert inbox.get_state(runtime.engine, 1, LAST_ERROR) is None


def test_a_channel_is_polled_once_per_interval_however_often_the_schedule_looks(
    runtime: Runtime, server: SftpTestServer, channel: Any
) -> None:
    channel(server, sftp_poll_seconds=3600)
    assert [r.channel for r in poll_due(runtime)] == [CODE]
    assert poll_due(runtime) == [] and poll_due(runtime) == []


def test_a_server_that_is_down_is_reported_and_nothing_is_recorded(
    runtime: Runtime, server: SftpTestServer, channel: Any
) -> None:
    channel(server, sftp_port=_closed_port())
    with pytest.raises(ConnectionGone, match=r"connecting to sftp://legato@127\.0\.0\.1"):
        poll(runtime, CODE)
    assert count(runtime, "sftp_files") == 0


def legato(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, COLUMNS="200")
    command = [sys.executable, "-m", "legato.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # four processes, each importing Legato
def test_the_command_line_polls_now_and_prints_what_was_taken(
    runtime: Runtime, db_url: str, server: SftpTestServer, channel: Any
) -> None:
    channel(server)
    drop(server, "a.json", po("PO-1"))
    first = legato(db_url, "sftp", "poll", CODE)
    assert first.returncode == 0, first.stderr
    assert "0 file(s) taken, 1 not ready yet" in first.stdout and "waiting: a.json" in first.stdout
    second = legato(db_url, "sftp", "poll", CODE, "--json")
    assert second.returncode == 0, second.stderr
    taken = json.loads(second.stdout)["files"]
    assert [(f["name"], f["state"], f["orders"]) for f in taken] == [("a.json", "processed", ["SO-000001"])]
    listed = legato(db_url, "sftp", "files", CODE)
    assert listed.returncode == 0 and "a.json" in listed.stdout and "processed" in listed.stdout

    channel(server, code="BAD-SFTP", sftp_host_key=WRONG_KEY)
    refused = legato(db_url, "sftp", "poll", "BAD-SFTP")
    assert refused.returncode == 1 and "does not match the configured" in refused.stderr
