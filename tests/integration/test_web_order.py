"""An order's page and its actions on both databases: how each price was made, customer and
addresses, tracks, timeline, workflow runs with dead letters and retry, the original payload
(escaped), and actions offered only when the lifecycle and the role allow — and refused by the
server otherwise."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import order_body, place
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from tests.workflow_actions import order as wf_order
from tests.workflow_actions import shop as wf_shop
from tests.workflow_actions import workflow
from web_helpers import page_token, sign_in, web_client

from legato.bootstrap import Runtime
from legato.domain.lifecycle import OrderStatus, check_transition
from legato.domain.order import SalesOrder
from legato.store import approvals, inbox, queries
from legato.store import tables as t
from legato.store.job_queries import list_jobs
from legato.web.format import readable_payload
from legato.web.order_actions import ACTIONS, available, possible
from legato.web.permissions import ROLES, can
from legato.workflow import engine, runner

W = "test-host:1:web"


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


def drain(rt: Runtime, now: datetime | None = None) -> None:
    while engine.dispatch(rt, now=now) + runner.run_due(rt, W, now=now):
        pass


def status(rt: Runtime, number: str) -> str:
    found = queries.get_order(rt.engine, int(number[3:]))
    assert found is not None
    return found.status.value


def act(web: TestClient, number: str, action: str, reason: str | None = None, **kw: Any) -> Any:
    data = {"csrf_token": page_token(web), **({"reason": reason} if reason is not None else {})}
    return web.post(f"/orders/{number}/actions/{action}", data=data, **kw)


def offered(html: str) -> set[str]:
    return set(re.findall(r'action="/orders/SO-\d+/actions/(\w+)"', html))


@pytest.fixture
def contract(client: TestClient, shop: dict[str, str]) -> dict[str, Any]:
    """An order of the contracted account ACME on the trade portal, with addresses, through the API
    (so through the inbox: its raw payload is kept)."""
    address = {"name": "Acme Trading", "line1": "1 Dock Road", "city": "Rotterdam", "postcode": "3011",
               "country": "NL"}  # fmt: skip
    body = order_body("B2B", ("TEA-100", 10), ("MUG-200", 2), external_reference="PO-<b>77</b>",
                      customer={"code": "ACME"}, billing_address=address, shipping_address=address,
                      notes="<script>alert(1)</script>")  # fmt: skip
    return place(client, shop, body)


def test_the_order_page_shows_prices_customer_tracks_timeline_and_payload(
    web: TestClient, runtime: Runtime, contract: dict[str, Any], client: TestClient, shop: dict[str, str]
) -> None:
    number = contract["number"]
    paid = {"track": "payment", "to": "paid", "reason": "wire 991"}
    assert client.post(f"/api/v1/orders/{number}/tracks", json=paid, headers=shop).status_code == 200
    sign_in(web, runtime, "viewer", "vera")
    r = web.get(f"/orders/{number}")
    assert r.status_code == 200
    html = r.text
    for shown in (
        f"<h1>{number}</h1>", "B2B · Trade portal", "TEA-100", "MUG-200", "contract:ACME-2026",
        "How this price was made", "ACME · Acme Trading", "gold", "1 Dock Road", "Rotterdam",
        ">Paid<", "wire 991", "apikey:", "Not invoiced", "Unfulfilled",
    ):  # fmt: skip
        assert shown in html, shown
    line = contract["lines"][0]
    assert line["unit_price"] in html.replace("\u00a0", " ") or f"{line['unit_price']} EUR" in html
    assert "<script>alert(1)</script>" not in html and "PO-<b>77</b>" not in html  # escaped, never markup
    assert "PO-&lt;b&gt;77&lt;/b&gt;" in html
    payload = html[html.index('<pre class="payload"') :]
    payload = payload[: payload.index("</pre>")]
    assert (
        "&#34;external_reference&#34;: &#34;PO-&lt;b&gt;77&lt;/b&gt;&#34;" in payload
    )  # pretty JSON, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in payload
    assert "JSON" in html and "Inbox entry #" in html
    assert "No workflow has run for this order." in html


def test_an_unknown_order_is_a_404_page(web: TestClient, runtime: Runtime) -> None:
    sign_in(web, runtime, "admin", "ada")
    r = web.get("/orders/SO-999999")
    assert r.status_code == 404 and "There is no order SO-999999." in r.text
    assert act(web, "SO-999999", "hold", "x").status_code == 404


# --- actions offered and done ---------------------------------------------------------------


def test_hold_and_release_with_a_reason_go_on_the_timeline_as_the_user(
    web: TestClient, runtime: Runtime, contract: dict[str, Any]
) -> None:
    number = contract["number"]
    sign_in(web, runtime, "warehouse", "wendy")
    assert offered(web.get(f"/orders/{number}").text) == {"hold"}  # warehouse: no cancel, no void
    held = act(web, number, "hold", "  address   check ")
    assert (held.status_code, held.headers["location"]) == (303, f"/orders/{number}")
    page = web.get(f"/orders/{number}").text
    assert f"{number} is now on hold." in page
    assert offered(page) == {"release"}
    assert status(runtime, number) == "on_hold"
    assert act(web, number, "release", "address confirmed").status_code == 303
    assert status(runtime, number) == "created"
    found = queries.get_order(runtime.engine, contract["id"])
    assert found is not None
    assert [(e.actor, e.to_value, e.reason) for e in found.timeline if e.kind == "status_changed"] == [
        ("user:wendy", "on_hold", "address check"),
        ("user:wendy", "created", "address confirmed"),
    ]


def test_a_missing_reason_is_asked_for_next_to_the_field_and_the_typed_text_is_kept(
    web: TestClient, runtime: Runtime, contract: dict[str, Any]
) -> None:
    number = contract["number"]
    sign_in(web, runtime, "sales", "sam")
    r = act(web, number, "cancel", "   ")
    assert r.status_code == 422
    assert '<details class="action" open>' in r.text
    assert 'id="cancel-reason-error">Say why: the reason goes on the order&#39;s timeline.</p>' in r.text
    assert 'aria-invalid="true"' in r.text
    long = "x" * 1001
    r = act(web, number, "cancel", long)
    assert r.status_code == 422 and f">{long}</textarea>" in r.text and "At most 1000 characters." in r.text
    assert status(runtime, number) == "created"


def test_cancel_and_void_where_the_lifecycle_allows(
    web: TestClient, runtime: Runtime, client: TestClient, shop: dict[str, str]
) -> None:
    a = place(client, shop, order_body("WEB", external_reference="C-1"))["number"]
    b = place(client, shop, order_body("WEB", external_reference="C-2"))["number"]
    sign_in(web, runtime, "finance", "fin")
    assert offered(web.get(f"/orders/{a}").text) == {"cancel", "void"}
    assert act(web, a, "cancel", "customer called").status_code == 303
    assert act(web, b, "void", "entered twice").status_code == 303
    assert (status(runtime, a), status(runtime, b)) == ("cancelled", "voided")
    assert offered(web.get(f"/orders/{a}").text) == set()  # final: nothing left to do


def test_the_server_refuses_what_the_lifecycle_does_not_allow_now(
    web: TestClient, runtime: Runtime, client: TestClient, shop: dict[str, str]
) -> None:
    number = place(client, shop, order_body("WEB", external_reference="P-1"))["number"]
    client.post(f"/api/v1/orders/{number}/transitions", json={"to": "processing"}, headers=shop)
    sign_in(web, runtime, "admin", "ada")
    assert "void" not in offered(web.get(f"/orders/{number}").text)  # processing cannot be voided
    for action in ("void", "release", "approve", "reject"):
        r = act(web, number, action, "try anyway")
        assert r.status_code == 409, action
        assert "is not possible now" in r.text and "it may go to: cancelled, completed, on_hold" in r.text
    assert status(runtime, number) == "processing"
    assert act(web, number, "teleport", "x").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "approver", "warehouse"])
def test_the_server_refuses_what_the_role_may_not_do(
    web: TestClient, runtime: Runtime, contract: dict[str, Any], role: str
) -> None:
    number = contract["number"]
    sign_in(web, runtime, role, f"u-{role}")
    page = web.get(f"/orders/{number}").text
    assert offered(page) == {a.name for a in ACTIONS.values() if can(role, a.permission)} & {
        "hold",
        "cancel",
        "void",
    }
    for action in ("cancel", "void"):
        r = act(web, number, action, "not mine to do")
        assert r.status_code == 403 and f"needs the orders:{action} permission" in r.text
    assert status(runtime, number) == "created"


def test_an_action_without_the_csrf_token_is_refused(
    web: TestClient, runtime: Runtime, contract: dict[str, Any]
) -> None:
    sign_in(web, runtime, "admin", "ada")
    r = web.post(f"/orders/{contract['number']}/actions/hold", data={"reason": "forged"})
    assert r.status_code == 403 and "Form expired" in r.text
    assert status(runtime, contract["number"]) == "created"


def test_approve_and_reject_an_order_waiting_for_approval(
    web: TestClient, runtime: Runtime, client: TestClient, shop: dict[str, str]
) -> None:
    a = place(client, shop, order_body("WEB", external_reference="A-1", status="pending_approval"))["number"]
    b = place(client, shop, order_body("WEB", external_reference="A-2", status="pending_approval"))["number"]
    sign_in(web, runtime, "approver", "appy")
    assert offered(web.get(f"/orders/{a}").text) == {"approve", "reject"}
    assert act(web, a, "approve").status_code == 303
    assert act(web, b, "reject", "").status_code == 422  # a rejection says why
    assert act(web, b, "reject", "over budget").status_code == 303
    assert (status(runtime, a), status(runtime, b)) == ("created", "cancelled")
    found = queries.get_order(runtime.engine, int(b[3:]))
    assert found is not None and found.timeline[-1].reason == "rejected: over budget"
    assert found.timeline[-1].actor == "user:appy"


def test_a_workflow_approval_is_decided_from_the_order_page_and_its_run_goes_on(
    web: TestClient, runtime: Runtime
) -> None:
    wf_shop(runtime)
    workflow(runtime, "big-orders", "order.created", ("require_approval", {"reason": "over 5,000"}),
             ("noop", {"note": "approved, carry on"}))  # fmt: skip
    number = f"SO-{wf_order(runtime, 'WF-1'):06d}"
    drain(runtime)
    assert status(runtime, number) == "pending_approval"
    sign_in(web, runtime, "approver", "appy")
    page = web.get(f"/orders/{number}").text
    assert "Waiting for approval #1 (approver): over 5,000" in page
    assert offered(page) == {"approve", "reject"}
    done = act(web, number, "approve")
    assert done.status_code == 303
    assert "approval #1 accepted; the order is now created" in web.get(done.headers["location"]).text
    drain(runtime)
    found = approvals.get_approval(runtime.engine, 1)
    assert found is not None and (found.state, found.decided_by) == ("accepted", "user:appy")
    page = web.get(f"/orders/{number}").text
    assert "big-orders" in page and page.count(">Done<") >= 3  # the run and both its steps are done


def test_dead_letters_show_their_attempts_and_an_admin_retries_them(
    web: TestClient, runtime: Runtime
) -> None:
    wf_shop(runtime)
    workflow(runtime, "erp-push", "order.created", ("flaky", {"fail_times": 4}), ("noop", {"note": "pushed"}))
    order_id = wf_order(runtime, "WF-DEAD")
    number = f"SO-{order_id:06d}"
    now = datetime.now(UTC)
    for i in range(5):
        drain(runtime, now + timedelta(minutes=i))
    dead = list_jobs(runtime.engine, state="dead", order_id=order_id)[0]
    assert len(dead) == 1
    job = dead[0]
    with web_client(runtime) as viewer:
        sign_in(viewer, runtime, "viewer", "vera")
        page = viewer.get(f"/orders/{number}").text
        assert "erp-push" in page and "dead letter" in page and "4 attempts" in page
        assert "the receiver answered 503 (attempt 4)" in page
        assert f"/jobs/{job.id}/retry" not in page  # not offered to a viewer ...
        refused = viewer.post(
            f"/orders/{number}/jobs/{job.id}/retry", data={"csrf_token": page_token(viewer)}
        )
        assert refused.status_code == 403  # ... nor accepted
    sign_in(web, runtime, "admin", "ada")
    assert f'action="/orders/{number}/jobs/{job.id}/retry"' in web.get(f"/orders/{number}").text
    retried = web.post(f"/orders/{number}/jobs/{job.id}/retry", data={"csrf_token": page_token(web)})
    assert (retried.status_code, retried.headers["location"]) == (303, f"/orders/{number}#workflows")
    again = web.post(f"/orders/{number}/jobs/{job.id}/retry", data={"csrf_token": page_token(web)})
    assert again.status_code == 409  # queued now, not dead
    assert (
        web.post(f"/orders/{number}/jobs/999999/retry", data={"csrf_token": page_token(web)}).status_code
        == 404
    )
    drain(runtime)
    found = queries.get_order(runtime.engine, order_id)
    assert found is not None
    assert ("user:ada", "queued", f"job {job.id} retried") in [
        (e.actor, e.to_value, e.reason) for e in found.timeline
    ]


# --- the original payload -----------------------------------------------------------------------

EDI = Path(__file__).resolve().parents[1] / "fixtures" / "edi"


def test_edi_payloads_read_one_segment_a_line_and_binary_is_only_summarised() -> None:
    x12 = (EDI / "x12" / "850-4010-harbor-cancel.edi").read_bytes().replace(b"\n", b"")
    kind, text = readable_payload(x12)
    assert (
        kind == "x12"
        and text.splitlines()[:3][1].startswith("GS*PO*")
        and text.splitlines()[2] == "ST*850*0001~"
    )
    kind, text = readable_payload(
        (EDI / "edifact" / "orders_release_escapes.edi").read_bytes().replace(b"\n", b"")
    )
    lines = text.splitlines()
    assert kind == "edifact" and lines[0] == "UNA:+.? '" and lines[1].startswith("UNB+")
    assert "FTX+AAI+++Call ?+44 20 7946 0000 on arrival?: ask for O?'Brien'" in lines  # ?' is not an end
    kind, text = readable_payload((EDI / "edifact" / "orders_custom_una_comma.edi").read_bytes())
    assert (
        kind == "edifact"
        and "NAD*DP*8712345000028||9**Kaashandel de Vries#*Zonen*Goudkade 8*Gouda**2802 AA*NL~" in text
    )
    assert readable_payload(b"PK\x03\x04" + bytes(100))[0] == "binary"
    assert readable_payload(b'{"a": [1, 2]}') == ("json", '{\n  "a": [\n    1,\n    2\n  ]\n}')
    assert readable_payload(b"{not json")[0] == "text"


def test_an_x12_payload_is_shown_as_received_and_escaped(web: TestClient, runtime: Runtime) -> None:
    wf_shop(runtime)
    order_id = wf_order(runtime, "X12-1")
    isa = b"ISA*00*" + b" " * 10 + b"*00*" + b" " * 10 + b"*ZZ*A" + b" " * 14 + b"*ZZ*B" + b" " * 14
    body = isa + b"*240503*1200*U*00401*000004712*0*P*>~GS*PO*A*B*20240503*1200*4712*X*004010~"
    body += b"ST*850*0001~N1*ST*<script>alert(1)</script>~SE*3*0001~"
    with runtime.engine.begin() as conn:
        entry = inbox.store(conn, inbox.row(
            channel_id=None, channel_code="WEB", adapter="edi-x12", method="POST", path="/intake/WEB",
            query={}, headers={}, body=body, received_at=datetime.now(UTC), source="test",
        ))  # fmt: skip
        conn.execute(update(t.orders).where(t.orders.c.id == order_id).values(inbox_id=entry))
    sign_in(web, runtime, "viewer", "vera")
    html = web.get(f"/orders/SO-{order_id:06d}").text
    payload = html[html.index('<pre class="payload"') :]
    payload = payload[payload.index(">") + 1 : payload.index("</pre>")]
    assert payload.splitlines()[2:4] == ["ST*850*0001~", "N1*ST*&lt;script&gt;alert(1)&lt;/script&gt;~"]
    assert "X12" in html and f"Inbox entry #{entry}" in html


# --- the rule behind what is offered -----------------------------------------------------------

_HELD_FROM = st.sampled_from(
    [None, OrderStatus.CREATED, OrderStatus.PENDING_APPROVAL, OrderStatus.PROCESSING]
)


@given(
    state=st.sampled_from(list(OrderStatus)),
    held_from=_HELD_FROM,
    role=st.sampled_from(list(ROLES)),
    waiting=st.booleans(),
)
def test_an_offered_action_is_always_one_the_lifecycle_and_the_role_allow(
    state: OrderStatus, held_from: OrderStatus | None, role: str, waiting: bool
) -> None:
    order = SalesOrder(
        "WEB", "GBP", [], status=state, held_from=held_from if state is OrderStatus.ON_HOLD else None
    )
    targets = {"hold": OrderStatus.ON_HOLD, "cancel": OrderStatus.CANCELLED, "void": OrderStatus.VOIDED,
               "release": order.held_from or OrderStatus.CREATED}  # fmt: skip
    for action in available(order, role, waiting=waiting):
        assert can(role, action.permission)
        if action.name in targets:  # the domain accepts the step the page offers
            check_transition(order.status, targets[action.name], order.held_from)
        elif not waiting:  # approve / reject without a request: only while pending approval
            assert state is OrderStatus.PENDING_APPROVAL
    if role == "admin":  # everything the lifecycle allows is offered to an admin
        assert {a.name for a in available(order, role, waiting=waiting)} == {
            name for name in ACTIONS if possible(order, name, waiting=waiting)
        }
