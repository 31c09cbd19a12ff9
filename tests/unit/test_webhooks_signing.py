"""The pure parts of outbound webhooks and HTTP calls, as properties: signatures verify with
standardwebhooks (and only with the right secret), the address policy, URL shapes, event
patterns, and templates that keep the shape of what they render."""

from __future__ import annotations

import ipaddress
import json
import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from legato.store.webhooks import Signing, matches, new_secret
from legato.workflow.outbound.http import (
    BlockedTarget,
    TemplateFailed,
    check_target,
    refusal,
    render,
    template_issues,
    url_problem,
)
from legato.workflow.webhooks import encode, iso, message, signed_headers

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
msg_ids = st.from_regex(r"msg_[A-Za-z0-9_]{1,30}", fullmatch=True)


@given(data=json_values, msg_id=msg_ids)
def test_a_signed_message_verifies_with_its_secret_and_not_with_another(data: object, msg_id: str) -> None:
    secret, other = new_secret(), new_secret()
    body = encode(message("order.created", datetime.now(UTC), data))
    headers = signed_headers([secret], msg_id, body, datetime.now(UTC))
    sent = {"type": "order.created", "timestamp": json.loads(body)["timestamp"], "data": data}
    assert Webhook(secret).verify(body, headers) == sent
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_during_a_rotation_both_secrets_sign_until_the_overlap_ends() -> None:
    old, new = new_secret(), new_secret()
    until = datetime(2026, 11, 24, 9, tzinfo=UTC)
    keys = Signing(new, old, until)
    assert keys.at(datetime(2026, 11, 24, 8, 59, tzinfo=UTC)) == [new, old]
    assert keys.at(until) == [new]
    body = encode(message("t.x", until, {}))
    headers = signed_headers(keys.at(datetime.now(UTC).replace(year=2026, month=11, day=23)), "msg_1", body,
                             datetime.now(UTC))  # fmt: skip
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == Webhook(new).verify(body, headers)


def test_a_new_secret_is_whsec_and_the_base64_of_32_random_bytes() -> None:
    import base64

    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(s.startswith("whsec_") and len(base64.b64decode(s[6:])) == 32 for s in secrets)


def test_money_and_times_are_encoded_as_text_never_floats() -> None:
    at = datetime(2026, 11, 23, 9, 14, 3, 120511, tzinfo=UTC)
    body = json.loads(encode(message("order.created", at.isoformat(), {"total": Decimal("54.10"), "at": at})))
    assert body == {"type": "order.created", "timestamp": "2026-11-23T09:14:03.120511Z",
                    "data": {"total": "54.10", "at": "2026-11-23T09:14:03.120511Z"}}  # fmt: skip
    assert iso("2026-11-23T09:14:03") == "2026-11-23T09:14:03Z"


@given(st.ip_addresses(v=4))
def test_the_address_policy_for_every_ipv4_address(address: ipaddress.IPv4Address) -> None:
    strict, lenient = refusal(address, allow_private=False), refusal(address, allow_private=True)
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        assert strict and lenient  # never called, whatever the setting
    elif address.is_global:
        assert strict is None and lenient is None
    else:  # loopback, private, shared, reserved ...
        assert strict and (lenient is None or str(address) == "100.100.100.200")


@pytest.mark.parametrize(
    ("url", "allowed_private", "refused"),
    [
        ("http://169.254.169.254/latest/meta-data/", True, "metadata"),
        ("http://[fd00:ec2::254]/", True, "metadata"),
        ("http://[::ffff:169.254.169.254]/", True, "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", True, "metadata"),
        ("http://[fe80::1%25eth0]/", True, "link-local"),
        ("http://127.0.0.1:8080/hook", False, "loopback or private"),
        ("http://localhost/hook", False, "loopback name"),
        ("http://api.localhost/hook", False, "loopback name"),
        ("http://10.0.0.5/hook", False, "private"),
        ("http://[::1]/hook", False, "private"),
    ],
)
def test_addresses_that_are_refused_before_any_lookup(url: str, allowed_private: bool, refused: str) -> None:
    with pytest.raises(BlockedTarget, match=refused):
        check_target(url, allow_private=allowed_private, resolve=False)


def test_loopback_is_allowed_when_private_networks_are_and_a_name_that_resolves_to_it_is_not() -> None:
    check_target("http://127.0.0.1:9/x", allow_private=True, resolve=True)
    check_target("http://localhost:9/x", allow_private=True, resolve=True)
    host = socket.gethostname()  # a plain name; here it resolves to a loopback or private address
    try:
        address = ipaddress.ip_address(socket.getaddrinfo(host, None)[0][4][0])
    except OSError:
        pytest.skip(f"this machine's name {host!r} does not resolve")
    if address.is_global:
        pytest.skip(f"this machine's name {host!r} resolves to a public address")
    with pytest.raises(BlockedTarget, match=f"{host} resolves to"):
        check_target(f"http://{host}:9/x", allow_private=False, resolve=True)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://erp.example.com/hooks?x=1", None),
        ("http://127.0.0.1:8000/h", None),
        ("ftp://erp.example.com/", "http:// or https://"),
        ("erp.example.com/hooks", "http:// or https://"),
        ("https:///path", "with a host"),
        ("https://u:p@erp.example.com/", "user:password"),
        ("https://erp.example.com:99999999/", "not a valid URL"),
        ("https://erp.example.com/a b", "without spaces"),
        ("https://e.example/" + "a" * 2000, "2000"),
        (42, "absolute"),
    ],
)
def test_url_shapes(url: object, problem: str | None) -> None:
    found = url_problem(url)
    assert (found is None) if problem is None else (found is not None and problem in found)


@given(st.from_regex(r"[a-z]{1,8}\.[a-z_]{1,12}", fullmatch=True))
def test_event_patterns(event_type: str) -> None:
    prefix = event_type.split(".")[0]
    assert (
        matches(["*"], event_type)
        and matches([f"{prefix}.*"], event_type)
        and matches([event_type], event_type)
    )
    assert not matches([f"{prefix}x.*", f"{event_type}x", "other.thing"], event_type)


@given(json_values)
def test_rendering_keeps_the_shape_of_values_without_templates(value: object) -> None:
    assert render(value, {}) == value


def test_templates_render_in_place_and_absent_fields_fail_unless_defaulted() -> None:
    context = {"order": {"number": "SO-000042", "total": Decimal("54.00"), "lines": [{"sku": "TEA-100"}]}}
    tree = {
        "n": "{{ order.number }}",
        "l": ["{{ order.lines[0].sku }}", 3],
        "t": "{{ order.total | tojson }}",
        "c": "{{ order.shipping_address.country | default('none') }}",
    }
    assert render(tree, context) == {"n": "SO-000042", "l": ["TEA-100", 3], "t": '"54.00"', "c": "none"}
    for broken in ("{{ order.numbr }}", "{{ order.lines[5].sku }}", "{% if order.addr %}x{% endif %}",
                   "{{ order.__class__.__mro__ }}", "{{ 1 / 0 }}"):  # fmt: skip
        with pytest.raises(TemplateFailed):
            render(broken, context)


def test_template_syntax_errors_are_reported_with_their_path_and_line() -> None:
    issues = template_issues({"a": ["ok {{ x }}", "{% for x in y %}"], "b": "line 1\n{{ x "}, "body")
    assert [(i.path, i.code) for i in issues] == [
        ("body.a[1]", "invalid_template"),
        ("body.b", "invalid_template"),
    ]
    assert "line 1" in issues[0].message and "line 2" in issues[1].message
