"""The SFTP channel's pure parts: telling a file's format, reading host key fingerprints,
checking the settings, and the notes left beside processed and refused files."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato.domain.catalog import Channel, ChannelSettings, ChannelType
from legato.domain.errors import IssueCollector, ValidationFailed
from legato.intake.adapters.sftp import ADAPTER, FORMATS, detect_format
from legato.intake.base import Delivery, PlaceDraft, Reject, SignatureInvalid, Unparseable
from legato.intake.sftp_remote import config_of, fingerprints
from legato.intake.sftp_report import Handled, error_text, result_text

FINGERPRINT = "SHA256:" + base64.b64encode(bytes(range(32))).decode().rstrip("=")
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
prefixes = st.sampled_from([b"", b"\xef\xbb\xbf", b"\n", b"  \r\n"])


def channel(**extra: Any) -> Channel:
    settings = {"sftp_host": "sftp.acme.example", "sftp_username": "legato", "sftp_dir": "/in",
                "sftp_host_key": FINGERPRINT, **extra}  # fmt: skip
    return Channel("ACME-SFTP", "Acme", ChannelType.B2B, "sftp", "GBP", ChannelSettings(extra=settings),
                   secrets={"sftp_password": "pw"})  # fmt: skip


@given(name=names, prefix=prefixes, rest=st.binary(max_size=50))
def test_interchange_headers_decide_the_format_whatever_the_file_is_called(
    name: str, prefix: bytes, rest: bytes
) -> None:
    assert detect_format(name, prefix + b"ISA*00*" + rest) == "edi-x12"
    assert detect_format(name, prefix + b"UNB+UNOC:3" + rest) == "edifact"
    assert detect_format(name, prefix + b"UNA:+.? '" + rest) == "edifact"


@given(name=names, body=st.binary(max_size=50), forced=st.sampled_from(sorted(FORMATS)))
def test_the_channels_sftp_format_wins_over_everything(name: str, body: bytes, forced: str) -> None:
    assert detect_format(name, body, forced) == forced


@pytest.mark.parametrize(
    ("name", "body", "fmt"),
    [
        ("orders.csv", b"order_ref,sku,quantity\n", "spreadsheet"),
        ("orders.XLSX", b"PK\x03\x04...", "spreadsheet"),
        ("book.bin", b"PK\x03\x04...", "spreadsheet"),
        ("po.850", b"not yet an interchange", "edi-x12"),
        ("po.x12", b"", "edi-x12"),
        ("orders.json", b"", "rest"),
        ("orders", b' [{"channel": "A"}]', "rest"),
        ("orders.txt", b'{"channel": "A"}', "rest"),
    ],
)
def test_extensions_and_first_bytes_tell_the_other_formats(name: str, body: bytes, fmt: str) -> None:
    assert detect_format(name, body) == fmt


def test_an_edi_file_of_neither_standard_is_refused_naming_the_way_out() -> None:
    with pytest.raises(
        Unparseable, match=r"cannot tell the format of 'po\.edi'.*set the channel's sftp_format"
    ):
        detect_format("po.edi", b"HDR|0001")


@given(key=st.binary(min_size=32, max_size=32), bits=st.sampled_from(["256", "3072"]), comment=names)
def test_a_fingerprint_is_read_alone_or_from_the_line_ssh_keygen_prints(
    key: bytes, bits: str, comment: str
) -> None:
    fp = "SHA256:" + base64.b64encode(key).decode().rstrip("=")
    issues = IssueCollector()
    assert fingerprints(fp, "k", issues) == (fp,)
    assert fingerprints(f"{bits} {fp} {comment} (ED25519)", "k", issues) == (fp,)
    assert fingerprints([fp, f"{bits} {fp}"], "k", issues) == (fp, fp)
    assert issues.issues == []


@pytest.mark.parametrize(
    "bad", ["", "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48", "SHA256:short", 42, None]
)
def test_anything_but_a_sha256_fingerprint_is_refused(bad: Any) -> None:
    issues = IssueCollector()
    assert fingerprints(bad, "settings.sftp_host_key", issues) == ()
    assert [(i.path, i.code) for i in issues.issues] == [("settings.sftp_host_key", "invalid_host_key")]


@given(port=st.one_of(st.floats(allow_nan=True), st.integers().filter(lambda n: not 1 <= n <= 65535),
                      st.booleans(), st.text().filter(lambda s: not s.strip().isdigit())))  # fmt: skip
def test_a_port_that_is_not_a_whole_number_in_range_is_named(port: Any) -> None:
    with pytest.raises(ValidationFailed) as bad:
        config_of(channel(sftp_port=port))
    assert [i.path for i in bad.value.issues] == ["settings.sftp_port"]


def test_folders_resolve_under_the_inbound_folder_unless_absolute() -> None:
    cfg = config_of(channel(sftp_dir="/to-legato/", sftp_error_dir="/quarantine", sftp_outbound_dir="/from/"))
    assert (cfg.inbound, cfg.processed, cfg.error, cfg.outbound) == (
        "/to-legato", "/to-legato/processed", "/quarantine", "/from",
    )  # fmt: skip
    assert (cfg.port, cfg.ready, cfg.poll_seconds, cfg.timeout, cfg.format) == (
        22,
        "stable_size",
        60,
        30,
        None,
    )


def test_without_a_host_key_or_a_secret_nothing_is_configured() -> None:
    bare = channel(sftp_host_key="")
    bare.secrets = {}
    with pytest.raises(ValidationFailed) as bad:
        config_of(bare)
    assert {i.path for i in bad.value.issues} == {"settings.sftp_host_key", "secrets.sftp_password"}


def _pulled(name: str, body: bytes) -> Delivery:
    return Delivery("PULL", name, {}, {}, body, datetime.now(UTC))


def test_a_json_list_places_each_order_and_refuses_a_bad_one_by_its_index() -> None:
    good = {"channel": "ACME-SFTP", "external_reference": "PO-1", "lines": [{"sku": "T", "quantity": 1}]}
    bad = {"channel": "ACME-SFTP", "external_reference": "PO-2", "lines": [{"sku": "T", "quantity": "x"}]}
    intents = ADAPTER.parse(_pulled("batch.json", json.dumps([good, bad]).encode()), channel())
    assert isinstance(intents[0], PlaceDraft) and intents[0].draft.external_reference == "PO-1"
    assert isinstance(intents[1], Reject) and intents[1].reference == "PO-2"
    assert intents[1].issues[0].path == "$[1].lines[0].quantity"


def test_nothing_may_be_pushed_to_an_sftp_channel_but_pulled_files_need_no_signature() -> None:
    ADAPTER.verify(_pulled("a.json", b"{}"), channel())
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(Delivery("POST", "/intake/ACME-SFTP", {}, {}, b"{}", datetime.now(UTC)), channel())


def test_the_notes_list_the_orders_or_every_issue_and_how_to_replay() -> None:
    done = Handled("processed", 7, [("SO-000003", "PO-1", True), ("SO-000001", None, False)])
    assert result_text("a.json", done) == (
        "file: a.json\nstate: processed\ninbox entry: 7\norders:\n"
        "  - SO-000003 PO-1 created\n  - SO-000001 existed already\n"
    )
    issue = {"path": "$[1].lines[0].quantity", "message": "not a number", "code": "decimal_parsing"}
    reason = "1 part(s) refused (PO-2); 0 order(s) placed"
    refused = Handled("error", 8, reason=reason, issues=[{**issue, "reference": "PO-2"}])
    assert error_text("b.json", refused) == (
        "file: b.json\nstate: error\ninbox entry: 8\nreason: 1 part(s) refused (PO-2); 0 order(s) placed\n"
        "issues:\n  - PO-2: $[1].lines[0].quantity: not a number (decimal_parsing)\n"
        "after a fix, Legato replays it with: legato inbox replay 8\n"
    )
