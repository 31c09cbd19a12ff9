"""The ``spreadsheet`` adapter: a CSV or XLSX file of orders as one delivery.

It arrives pushed to ``POST /intake/{code}`` (the body is the file, signed with the house
scheme: ``X-Legato-Signature: sha256=<hex HMAC-SHA256 of the body with the channel's
webhook_secret>``), or from an SFTP channel's folder (the ``sftp`` adapter hands the file
here). The file is read with the same reader as import jobs (``legato.intake.spreadsheet``):
every valid order becomes a PlaceDraft (its order reference is the external reference, so a
file delivered twice creates nothing new), and every order with a bad cell a Reject naming
the row and column, so the delivery is quarantined with those issues while the others are
placed. A file that cannot be read at all (an encoding error, a missing header) is
quarantined whole. Large files belong in import jobs (``POST /api/v1/imports``), which stream
them; a delivery is read from memory.
"""

from __future__ import annotations

import io
import posixpath
from typing import ClassVar

from legato.domain.catalog import Channel
from legato.intake.base import (
    Delivery,
    Ignore,
    Intent,
    Outbound,
    Placed,
    PlaceDraft,
    Reject,
    Reply,
    SignatureInvalid,
    Unparseable,
    hmac_sha256,
    require_secret,
    same,
)
from legato.intake.spreadsheet import SheetError, detect_format, read_orders, settings_of, to_draft

SIGNATURE_HEADER = "x-legato-signature"


def _unreadable(exc: SheetError) -> Unparseable:
    issues = [i.field_issue() for i in exc.issues]
    return Unparseable(issues[0].message if issues else "the file cannot be read", issues=issues)


class SpreadsheetAdapter:
    name: ClassVar[str] = "spreadsheet"

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return None

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        if delivery.method == "PULL":  # fetched by Legato over a checked connection
            return
        secret = require_secret(channel, "webhook_secret")
        presented = (delivery.header(SIGNATURE_HEADER) or "").removeprefix("sha256=")
        if not same(hmac_sha256(secret, delivery.body).hex(), presented):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} is missing or does not match the body")

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        try:
            fmt = detect_format(delivery.path, delivery.body[:8])
        except SheetError:
            fmt = "unknown"
        return f"file/{fmt}", delivery.header("idempotency-key") or delivery.header("x-request-id")

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        name = posixpath.basename(delivery.path)
        try:
            settings = settings_of(channel)
            fmt = detect_format(name, delivery.body[:8])
            orders = list(read_orders(io.BytesIO(delivery.body), fmt, settings))
        except SheetError as exc:
            raise _unreadable(exc) from None
        if not orders:
            return [Ignore(f"{name or 'the file'} holds a header and no orders")]
        by_ref: dict[str, Intent] = {}  # one intent per order reference, in file order
        for n, order in enumerate(orders):
            key = order.ref if order.ref is not None else f"\0{n}"  # rows with no reference
            issues = tuple(i.field_issue() for i in order.issues)
            earlier = by_ref.get(key)
            if not issues:
                by_ref[key] = PlaceDraft(to_draft(order, channel.code))
            elif isinstance(earlier, Reject):  # the same order again (rows not together)
                by_ref[key] = Reject(order.ref, earlier.issues + issues)
            else:
                by_ref[key] = Reject(order.ref, issues)
        return list(by_ref.values())

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | None:
        return None


ADAPTER = SpreadsheetAdapter()

__all__ = ["ADAPTER", "SpreadsheetAdapter"]
