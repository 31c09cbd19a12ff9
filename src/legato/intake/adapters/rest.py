"""The ``rest`` (and ``manual``) adapter: the canonical order JSON, signed by the sender.

Pushed to ``POST /intake/{code}`` by any system that can sign a body: header
``X-Legato-Signature: sha256=<hex HMAC-SHA256 of the raw body with the channel's
webhook_secret>``. (``POST /api/v1/orders`` takes the same JSON with an API key instead.)
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError

from legato.domain.catalog import Channel
from legato.domain.errors import FieldIssue
from legato.intake.base import (
    Delivery,
    Intent,
    Outbound,
    Placed,
    PlaceDraft,
    Reply,
    SignatureInvalid,
    Unparseable,
    hmac_sha256,
    require_secret,
    same,
)
from legato.intake.canonical import OrderIn, order_draft

SIGNATURE_HEADER = "x-legato-signature"


def issues_of(exc: ValidationError) -> list[FieldIssue]:
    """pydantic's errors as field issues with JSON paths (``$.lines[0].quantity``)."""
    out = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            loc = []
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        out.append(FieldIssue(path, str(err.get("msg", "invalid")), str(err.get("type", "invalid"))))
    return out


class RestAdapter:
    name: ClassVar[str] = "rest"

    def handshake(self, delivery: Delivery, channel: Channel) -> Reply | None:
        return None

    def verify(self, delivery: Delivery, channel: Channel) -> None:
        secret = require_secret(channel, "webhook_secret")
        presented = (delivery.header(SIGNATURE_HEADER) or "").removeprefix("sha256=")
        if not same(hmac_sha256(secret, delivery.body).hex(), presented):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} is missing or does not match the body")

    def describe(self, delivery: Delivery) -> tuple[str | None, str | None]:
        return "orders/create", delivery.header("idempotency-key") or delivery.header("x-request-id")

    def parse(self, delivery: Delivery, channel: Channel) -> list[Intent]:
        try:
            body = OrderIn.model_validate_json(delivery.body)
        except ValidationError as exc:
            issues = issues_of(exc)
            raise Unparseable(f"not a canonical order: {issues[0].message} at {issues[0].path}",
                              issues=issues) from None  # fmt: skip
        if body.channel != channel.code:
            msg = f"the body names channel {body.channel!r} but was sent to {channel.code!r}"
            raise Unparseable(msg, issues=[FieldIssue("$.channel", msg, "mismatch", body.channel)])
        return [PlaceDraft(order_draft(body))]

    def acknowledge(self, delivery: Delivery, channel: Channel, placed: Placed) -> Outbound | None:
        return None


ADAPTER = RestAdapter()
