"""The ``sftp`` adapter: files an SFTP channel pulled from a partner's folder.

A pulled file is not signed: the SSH server's host key, checked on every connection, is the
trust anchor, so ``verify`` has nothing to check. ``parse`` tells the file's format and hands
the file to that format's adapter (``spreadsheet``, ``edi-x12``, ``edifact``, or ``rest`` for
the canonical JSON), so an inbox entry of an SFTP channel replays through the normal
pipeline. The format is, in this order:

1. the channel's ``sftp_format`` setting, when set;
2. the file's first bytes: ``ISA`` → X12; ``UNA`` or ``UNB`` → EDIFACT; a zip (``PK``) → XLSX;
3. the file's extension: ``.csv`` ``.xlsx`` → spreadsheet; ``.x12`` ``.850`` → X12; ``.json`` → JSON;
4. the first bytes again: ``{`` or ``[`` → JSON.

A JSON file holds one canonical order, or a list of them (each placed on its own; a bad one is
refused, naming its index, while the others are placed).
"""

from __future__ import annotations

import json
import posixpath
from typing import ClassVar

from legato.domain.catalog import Channel
from legato.domain.errors import FieldIssue, LegatoError
from legato.intake.adapters import UnknownAdapter, get_adapter
from legato.intake.base import (
    Adapter,
    Delivery,
    Emit,
    Intent,
    Outbound,
    Placed,
    Reject,
    Reply,
    SignatureInvalid,
    Unparseable,
    unparseable,
)

#: the channel's sftp_format value -> the adapter that reads it
FORMATS: dict[str, str] = {
    "spreadsheet": "spreadsheet",
    "edi-x12": "edi-x12",
    "edifact": "edifact",
    "rest": "rest",
}
EXTENSIONS: dict[str, str] = {
    ".csv": "spreadsheet",
    ".xlsx": "spreadsheet",
    ".x12": "edi-x12",
    ".850": "edi-x12",
    ".json": "rest",
}
CONTENT_TYPES: dict[str, str] = {
    "spreadsheet": "text/csv",
    "edi-x12": "application/edi-x12",
    "edifact": "application/edifact",
    "rest": "application/json",
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_BOM = b"\xef\xbb\xbf"


def detect_format(name: str, body: bytes, forced: str | None = None) -> str:
    """The format of a file (a key of FORMATS), or Unparseable saying why it cannot be told."""
    if forced:
        if forced not in FORMATS:
            raise unparseable("settings.sftp_format", f"unknown sftp_format {forced!r}", forced)
        return forced
    head = body[:16].removeprefix(_BOM).lstrip()
    if head.startswith(b"ISA"):
        return "edi-x12"
    if head.startswith((b"UNA", b"UNB")):
        return "edifact"
    if body.startswith(b"PK\x03\x04"):
        return "spreadsheet"
    ext = posixpath.splitext(name)[1].lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    if head.startswith((b"{", b"[")):
        return "rest"
    raise unparseable(
        "$",
        f"cannot tell the format of {name!r}: it starts with {body[:8]!r} and {ext or 'no extension'} is "
        "not one of .csv .xlsx .x12 .850 .edi .json; set the channel's sftp_format",
        name,
    )


def content_type(fmt: str, body: bytes) -> str:
    return XLSX if body.startswith(b"PK\x03\x04") else CONTENT_TYPES.get(fmt, "application/octet-stream")


def _inner(fmt: str) -> Adapter:
    try:
        return get_adapter(FORMATS[fmt])
    except (UnknownAdapter, ImportError) as exc:
        msg = f"no adapter reads {fmt} files here ({exc}); replay the entry once it is installed"
        raise unparseable("$", msg, fmt) from None


def _json_list(delivery: Delivery, channel: Channel, rest: Adapter) -> list[Intent]:
    """A JSON list of canonical orders: each on its own, a bad one refused by its index."""
    try:
        items = json.loads(delivery.body)
    except ValueError as exc:
        raise unparseable("$", f"not JSON: {exc}") from None
    if not items:
        raise unparseable("$", "the list holds no orders")
    intents: list[Intent] = []
    for i, item in enumerate(items):
        one = Delivery(delivery.method, delivery.path, delivery.query, delivery.headers,
                       json.dumps(item).encode(), delivery.received_at)  # fmt: skip
        try:
            intents.extend(rest.parse(one, channel))
        except LegatoError as exc:
            ref = item.get("external_reference") if isinstance(item, dict) else None
            issues = tuple(
                FieldIssue(f"$[{i}]" + x.path.removeprefix("$"), x.message, x.code, x.value)
                for x in exc.issues
            ) or (FieldIssue(f"$[{i}]", exc.detail, exc.code),)
            intents.append(Reject(str(ref) if ref else f"$[{i}]", issues))
    return intents


class SftpAdapter:
    name: ClassVar[str] = "sftp"

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return None

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        """A pulled file came over a connection whose host key was checked: nothing to verify.
        Anything pushed to the channel over HTTP is refused (nobody signs for it)."""
        if delivery.method != "PULL":
            raise SignatureInvalid(
                f"channel {channel.code} takes files from its SFTP server only; nothing is pushed to it"
            )

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        try:
            fmt = detect_format(delivery.path, delivery.body)
        except Unparseable:
            fmt = "unknown"
        return f"file/{fmt}", delivery.path

    def _format(self, delivery: Delivery, channel: Channel) -> str:
        return detect_format(delivery.path, delivery.body, channel.settings.extra.get("sftp_format"))

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        fmt = self._format(delivery, channel)
        inner = _inner(fmt)
        if fmt == "rest" and delivery.body.removeprefix(_BOM).lstrip().startswith(b"["):
            return _json_list(delivery, channel, inner)
        if fmt == "rest":
            delivery = Delivery(delivery.method, delivery.path, delivery.query, delivery.headers,
                                delivery.body.removeprefix(_BOM), delivery.received_at)  # fmt: skip
        return inner.parse(delivery, channel)

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | Emit | None:
        """The format's own acknowledgement (e.g. the X12 855 of a confirmed order)."""
        ack = getattr(_inner(self._format(delivery, channel)), "acknowledge", None)
        result: Outbound | Emit | None = ack(delivery, channel, placed) if ack is not None else None
        return result


ADAPTER = SftpAdapter()

__all__ = [
    "ADAPTER",
    "CONTENT_TYPES",
    "EXTENSIONS",
    "FORMATS",
    "SftpAdapter",
    "content_type",
    "detect_format",
]
