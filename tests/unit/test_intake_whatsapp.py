"""The WhatsApp Cloud API adapter: handshake, signature, parsing and the confirmation."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from legato.domain.catalog import Channel, ChannelSettings, ChannelType
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.matching import CustomerRef
from legato.intake.adapters import get_adapter
from legato.intake.adapters.whatsapp import ADAPTER, DEFAULT_CONFIRMATION
from legato.intake.base import Delivery, Ignore, Outbound, Placed, PlaceDraft, SignatureInvalid, Unparseable

FIXTURES = Path(__file__).parents[1] / "fixtures" / "intake" / "whatsapp"
APP_SECRET = "e2a4c0d1b7f3a9e6c5d8b1a2f4e7c9d0"
ORDER_ID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
MESSAGES = "$.entry[0].changes[0].value.messages[0]"
ITEMS = f"{MESSAGES}.order.product_items"


def channel(**extra: Any) -> Channel:
    return Channel(
        code="WA",
        name="WhatsApp shop",
        type=ChannelType.ECOMMERCE,
        adapter="whatsapp",
        currency="USD",
        settings=ChannelSettings(match_keys=("phone",), extra={"api_version": "v21.0", **extra}),
        secrets={"app_secret": APP_SECRET, "verify_token": "meatyhamhock", "access_token": "EAAJB-token"},
    )


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def doc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(raw(name))
    return loaded


def signed(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(body: bytes | dict[str, Any], signature: str | None = "auto", **kw: Any) -> Delivery:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if signature == "auto":
        signature = signed(data)
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return Delivery(
        method=kw.get("method", "POST"),
        path="/intake/WA",
        query=kw.get("query", {}),
        headers=headers,
        body=data,
        received_at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
    )


def verification(**query: str) -> Delivery:
    return delivery(b"", signature=None, method="GET", query=query)


def issue_path(body: bytes | dict[str, Any]) -> str:
    with pytest.raises(Unparseable) as caught:
        ADAPTER.parse(delivery(body), channel())
    assert len(caught.value.issues) == 1
    return caught.value.issues[0].path


def placed(created: bool = True) -> Placed:
    return Placed(
        order_id=7, number="SO-000007", currency="USD", grand_total=Decimal("15.98"), created=created
    )


# --- the registry and the handshake -----------------------------------------------------


def test_the_registry_names_this_adapter_whatsapp() -> None:
    assert get_adapter("whatsapp") is ADAPTER
    assert ADAPTER.name == "whatsapp"


def test_verification_with_the_right_token_answers_the_challenge_as_plain_text() -> None:
    reply = ADAPTER.handshake(
        verification(
            **{"hub.mode": "subscribe", "hub.verify_token": "meatyhamhock", "hub.challenge": "1158201444"}
        ),
        channel(),
    )
    assert reply is not None
    assert (reply.status, reply.body, reply.content_type) == (200, b"1158201444", "text/plain")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "meatyhamhock", "hub.challenge": "1158201444"},
        {},
    ],
)
def test_verification_with_a_wrong_or_missing_token_or_mode_is_forbidden(query: dict[str, str]) -> None:
    reply = ADAPTER.handshake(verification(**query), channel())
    assert reply is not None
    assert reply.status == 403
    assert b"1158201444" not in reply.body


def test_verification_is_forbidden_when_the_channel_has_no_verify_token() -> None:
    ch = channel()
    ch.secrets.pop("verify_token")
    reply = ADAPTER.handshake(
        verification(**{"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}), ch
    )
    assert reply is not None and reply.status == 403


def test_verification_without_a_challenge_is_a_bad_request() -> None:
    reply = ADAPTER.handshake(
        verification(**{"hub.mode": "subscribe", "hub.verify_token": "meatyhamhock"}), channel()
    )
    assert reply is not None and reply.status == 400


def test_a_post_is_a_delivery_not_a_handshake() -> None:
    assert ADAPTER.handshake(delivery(raw("order.json")), channel()) is None


# --- the signature ------------------------------------------------------------------------


def test_a_body_signed_with_the_app_secret_is_accepted() -> None:
    ADAPTER.verify(delivery(raw("order.json")), channel())


def test_the_signature_hex_is_compared_whatever_its_case() -> None:
    body = raw("order.json")
    ADAPTER.verify(delivery(body, signature="sha256=" + signed(body)[7:].upper()), channel())


@pytest.mark.parametrize(
    "signature",
    [
        signed(b"another body"),
        signed(raw("order.json"), secret="not-the-app-secret"),
        signed(raw("order.json"))[7:],  # no "sha256=" prefix
        "sha1=" + hashlib.sha1(raw("order.json")).hexdigest(),
        "sha256=",
        None,
    ],
    ids=["other-body", "other-secret", "no-prefix", "sha1", "empty", "missing"],
)
def test_a_wrong_or_missing_signature_is_refused(signature: str | None) -> None:
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(delivery(raw("order.json"), signature=signature), channel())


def test_a_tampered_body_is_refused() -> None:
    body = raw("order.json")
    tampered = delivery(body.replace(b'"quantity": 2', b'"quantity": 200'), signature=signed(body))
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(tampered, channel())


def test_every_delivery_is_refused_while_the_channel_has_no_app_secret() -> None:
    ch = channel()
    ch.secrets.pop("app_secret")
    with pytest.raises(SignatureInvalid, match="app_secret"):
        ADAPTER.verify(delivery(raw("order.json")), ch)


# --- describe -------------------------------------------------------------------------------


def test_describe_names_the_field_and_the_first_message_id() -> None:
    assert ADAPTER.describe(delivery(raw("order.json"))) == ("messages", ORDER_ID)
    assert ADAPTER.describe(delivery(raw("status.json"))) == ("messages", None)


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"entry": "x"}', b'{"entry": [{"changes": [7]}]}', b"[" * 100_000 + b"]" * 100_000],
    ids=["truncated", "a-list", "entry-a-string", "change-a-number", "nested-too-deeply"],
)
def test_describe_never_fails_on_a_body_it_cannot_read(body: bytes) -> None:
    assert ADAPTER.describe(delivery(body)) == (None, None)


# --- parse: what the payloads say -------------------------------------------------------------


def test_an_order_message_becomes_one_order_exactly_as_sent() -> None:
    intents = ADAPTER.parse(delivery(raw("order.json")), channel())
    assert intents == [
        PlaceDraft(
            OrderDraft(
                channel_code="WA",
                lines=(LineDraft(sku="di9ozbzfi4", quantity=Decimal(2), unit_price=Decimal("7.99")),),
                external_reference=ORDER_ID,
                currency="USD",
                customer=CustomerRef(name="Sheena Nelson", phone="+16505551234"),
                tags=("whatsapp", "catalog:194836987003835"),
                notes="Love these!",
            )
        )
    ]


def test_an_order_of_several_items_keeps_every_line_in_order() -> None:
    [intent] = ADAPTER.parse(delivery(raw("order_several_items.json")), channel())
    assert isinstance(intent, PlaceDraft)
    draft = intent.draft
    assert draft.lines == (
        LineDraft("TEA-100", Decimal(3), Decimal("4.50")),
        LineDraft("MUG-200", Decimal(1), Decimal(12)),
        LineDraft("POT-300", Decimal(2), Decimal("39.99")),
    )
    assert draft.currency == "GBP"
    assert draft.external_reference == "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQ0QkE5QzIxRjdFMzA1NkQ4OTEyMQA="
    assert draft.notes == "Please gift wrap the pot"
    assert draft.customer == CustomerRef(name="Sheena Nelson", phone="+16505551234")
    assert all(isinstance(line.unit_price, Decimal) for line in draft.lines)


def test_an_order_without_text_has_no_notes_and_without_catalog_only_the_whatsapp_tag() -> None:
    body = doc("order.json")
    order = body["entry"][0]["changes"][0]["value"]["messages"][0]["order"]
    del order["text"], order["catalog_id"]
    [intent] = ADAPTER.parse(delivery(body), channel())
    assert isinstance(intent, PlaceDraft)
    assert (intent.draft.notes, intent.draft.tags) == (None, ("whatsapp",))


def test_the_customers_name_is_the_senders_profile_and_absent_without_contacts() -> None:
    body = doc("order.json")
    del body["entry"][0]["changes"][0]["value"]["contacts"]
    [intent] = ADAPTER.parse(delivery(body), channel())
    assert isinstance(intent, PlaceDraft)
    assert intent.draft.customer == CustomerRef(name=None, phone="+16505551234")


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        (
            "text.json",
            "text message wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQ3RDVBMzI5MEU5QjFDNjJBQjE4NgA= is not an order",
        ),
        (
            "image.json",
            "image message wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQ5QjdFNkIzRDBBMTE0RkE4MkM0RQA= is not an order",
        ),
    ],
)
def test_messages_that_are_not_orders_are_ignored(fixture: str, reason: str) -> None:
    assert ADAPTER.parse(delivery(raw(fixture)), channel()) == [Ignore(reason)]


def test_statuses_are_ignored_one_by_one() -> None:
    wamid = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
    assert ADAPTER.parse(delivery(raw("status.json")), channel()) == [
        Ignore(f"status sent of message {wamid}"),
        Ignore(f"status delivered of message {wamid}"),
    ]


def test_a_batch_places_its_orders_and_ignores_the_rest() -> None:
    body = doc("order.json")
    body["entry"][0]["changes"].append(doc("status.json")["entry"][0]["changes"][0])
    body["entry"].append(doc("order_several_items.json")["entry"][0])
    intents = ADAPTER.parse(delivery(body), channel())
    assert [type(i) for i in intents] == [PlaceDraft, Ignore, Ignore, PlaceDraft]


def test_a_change_of_another_field_is_ignored() -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {}}]}],
    }
    assert ADAPTER.parse(delivery(body), channel()) == [Ignore("account_update change carries no messages")]


def test_a_delivery_with_no_changes_is_ignored() -> None:
    body = {"object": "whatsapp_business_account", "entry": []}
    assert ADAPTER.parse(delivery(body), channel()) == [Ignore("the delivery carries no messages")]


# --- parse: bad input names its path ------------------------------------------------------------


def test_truncated_json_is_unparseable_at_the_root() -> None:
    assert issue_path(raw("order.json")[:200]) == "$"


def test_missing_product_items_is_unparseable_at_the_order() -> None:
    assert issue_path(raw("order_missing_items.json")) == f"{MESSAGES}.order.product_items"


def test_a_missing_quantity_names_its_item() -> None:
    assert issue_path(raw("order_missing_quantity.json")) == f"{ITEMS}[1].quantity"


def test_an_unknown_currency_names_its_item() -> None:
    with pytest.raises(Unparseable) as caught:
        ADAPTER.parse(delivery(raw("order_unknown_currency.json")), channel())
    issue = caught.value.issues[0]
    assert (issue.path, issue.value) == (f"{ITEMS}[0].currency", "XYZ")
    assert "unknown currency" in issue.message


def test_items_in_two_currencies_name_the_item_that_differs() -> None:
    with pytest.raises(Unparseable) as caught:
        ADAPTER.parse(delivery(raw("order_mixed_currencies.json")), channel())
    issue = caught.value.issues[0]
    assert issue.path == f"{ITEMS}[1].currency"
    assert "product_items[1] is in EUR" in issue.message and "GBP" in issue.message


def _mutated(change: Any) -> dict[str, Any]:
    body = doc("order_several_items.json")
    change(body)
    return body


def _message(body: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = body["entry"][0]["changes"][0]["value"]["messages"][0]
    return found


def _item(body: dict[str, Any], n: int) -> dict[str, Any]:
    found: dict[str, Any] = _message(body)["order"]["product_items"][n]
    return found


BAD = {
    "not an object": (b"[1, 2]", "$"),
    "not utf-8": (b'{"object": "\xff"}', "$"),
    "NaN": (b'{"object": NaN}', "$"),
    "nested too deeply": (b"[" * 100_000 + b"]" * 100_000, "$"),
    "wrong object": ({"object": "page", "entry": []}, "$.object"),
    "no entry": ({"object": "whatsapp_business_account"}, "$.entry"),
    "entry not a list": ({"object": "whatsapp_business_account", "entry": {}}, "$.entry"),
    "change not an object": (
        {"object": "whatsapp_business_account", "entry": [{"changes": ["x"]}]},
        "$.entry[0].changes[0]",
    ),
    "no field": (_mutated(lambda b: b["entry"][0]["changes"][0].pop("field")), "$.entry[0].changes[0].field"),
    "no value": (_mutated(lambda b: b["entry"][0]["changes"][0].pop("value")), "$.entry[0].changes[0].value"),
    "messages not a list": (
        _mutated(lambda b: b["entry"][0]["changes"][0]["value"].update(messages={})),
        "$.entry[0].changes[0].value.messages",
    ),
    "no message id": (_mutated(lambda b: _message(b).pop("id")), f"{MESSAGES}.id"),
    "no sender": (_mutated(lambda b: _message(b).pop("from")), f"{MESSAGES}.from"),
    "sender not a number": (_mutated(lambda b: _message(b).update({"from": "sheena"})), f"{MESSAGES}.from"),
    "no order": (_mutated(lambda b: _message(b).pop("order")), f"{MESSAGES}.order"),
    "order not an object": (_mutated(lambda b: _message(b).update(order="2 teas")), f"{MESSAGES}.order"),
    "no items": (_mutated(lambda b: _message(b)["order"].update(product_items=[])), f"{ITEMS}"),
    "item not an object": (
        _mutated(lambda b: _message(b)["order"]["product_items"].append(3)),
        f"{ITEMS}[3]",
    ),
    "no sku": (_mutated(lambda b: _item(b, 2).pop("product_retailer_id")), f"{ITEMS}[2].product_retailer_id"),
    "blank sku": (
        _mutated(lambda b: _item(b, 2).update(product_retailer_id="  ")),
        f"{ITEMS}[2].product_retailer_id",
    ),
    "sku too long": (
        _mutated(lambda b: _item(b, 0).update(product_retailer_id="X" * 101)),
        f"{ITEMS}[0].product_retailer_id",
    ),
    "zero quantity": (_mutated(lambda b: _item(b, 1).update(quantity=0)), f"{ITEMS}[1].quantity"),
    "negative quantity": (_mutated(lambda b: _item(b, 1).update(quantity=-2)), f"{ITEMS}[1].quantity"),
    "fractional quantity": (_mutated(lambda b: _item(b, 1).update(quantity=1.5)), f"{ITEMS}[1].quantity"),
    "absurd quantity": (_mutated(lambda b: _item(b, 1).update(quantity=10**9)), f"{ITEMS}[1].quantity"),
    "quantity a word": (_mutated(lambda b: _item(b, 1).update(quantity="many")), f"{ITEMS}[1].quantity"),
    "quantity a flag": (_mutated(lambda b: _item(b, 1).update(quantity=True)), f"{ITEMS}[1].quantity"),
    "no price": (_mutated(lambda b: _item(b, 0).pop("item_price")), f"{ITEMS}[0].item_price"),
    "negative price": (_mutated(lambda b: _item(b, 0).update(item_price=-1)), f"{ITEMS}[0].item_price"),
    "absurd price": (_mutated(lambda b: _item(b, 0).update(item_price=10**15)), f"{ITEMS}[0].item_price"),
    "price a word": (_mutated(lambda b: _item(b, 0).update(item_price="free")), f"{ITEMS}[0].item_price"),
    "no currency": (_mutated(lambda b: _item(b, 2).pop("currency")), f"{ITEMS}[2].currency"),
    "catalog id a list": (
        _mutated(lambda b: _message(b)["order"].update(catalog_id=[1])),
        f"{MESSAGES}.order.catalog_id",
    ),
    "text too long": (
        _mutated(lambda b: _message(b)["order"].update(text="x" * 5001)),
        f"{MESSAGES}.order.text",
    ),
}


@pytest.mark.parametrize(("body", "path"), BAD.values(), ids=BAD.keys())
def test_bad_input_is_unparseable_at_its_exact_path(body: bytes | dict[str, Any], path: str) -> None:
    assert issue_path(copy.deepcopy(body)) == path


def test_issue_values_are_plain_json_values() -> None:
    with pytest.raises(Unparseable) as caught:
        ADAPTER.parse(delivery(_mutated(lambda b: _item(b, 1).update(quantity=1.5))), channel())
    assert caught.value.issues[0].value == "1.5"
    assert caught.value.code == "unparseable" and caught.value.status == 422


# --- the confirmation --------------------------------------------------------------------------


def test_a_new_order_is_confirmed_to_its_sender_in_reply_to_the_order_message() -> None:
    out = ADAPTER.acknowledge(delivery(raw("order.json")), channel(), placed())
    assert out == Outbound(
        method="POST",
        url="https://graph.facebook.com/v21.0/106540352242922/messages",
        headers={"Authorization": "Bearer EAAJB-token", "Content-Type": "application/json"},
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "context": {"message_id": ORDER_ID},
            "type": "text",
            "text": {"body": "Thank you! Your order SO-000007 is confirmed: 15.98 USD."},
        },
    )
    assert DEFAULT_CONFIRMATION.startswith("Thank you!")


def test_a_re_delivered_order_sends_no_second_confirmation() -> None:
    assert ADAPTER.acknowledge(delivery(raw("order.json")), channel(), placed(created=False)) is None


def test_no_confirmation_is_sent_without_an_access_token() -> None:
    ch = channel()
    ch.secrets.pop("access_token")
    assert ADAPTER.acknowledge(delivery(raw("order.json")), ch, placed()) is None


def test_no_confirmation_for_a_delivery_without_an_order_message() -> None:
    assert ADAPTER.acknowledge(delivery(raw("text.json")), channel(), placed()) is None
    assert ADAPTER.acknowledge(delivery(b"{"), channel(), placed()) is None


def test_the_channels_settings_choose_the_endpoint_number_and_text() -> None:
    ch = channel(
        graph_base_url="http://127.0.0.1:8999/",
        api_version="v23.0",
        phone_number_id="555000111",
        confirmation="Hi {name}, order {number}: {total} {currency} {unknown}",
    )
    yen = Placed(
        order_id=1, number="SO-000001", currency="JPY", grand_total=Decimal("2100.000000"), created=True
    )
    out = ADAPTER.acknowledge(delivery(raw("order.json")), ch, yen)
    assert out is not None
    assert out.url == "http://127.0.0.1:8999/v23.0/555000111/messages"
    assert out.json["text"] == {"body": "Hi Sheena Nelson, order SO-000001: 2100 JPY {unknown}"}


def test_the_api_version_defaults_when_the_channel_names_none() -> None:
    ch = channel()
    ch.settings.extra.pop("api_version")
    out = ADAPTER.acknowledge(delivery(raw("order.json")), ch, placed())
    assert out is not None and out.url == "https://graph.facebook.com/v21.0/106540352242922/messages"


def test_a_long_confirmation_is_cut_to_the_cloud_apis_limit() -> None:
    out = ADAPTER.acknowledge(delivery(raw("order.json")), channel(confirmation="x" * 5000), placed())
    assert out is not None and len(out.json["text"]["body"]) == 4096
