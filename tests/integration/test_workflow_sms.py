"""The send_sms action, on both databases, run by the real engine and runner against a REAL
HTTP server on 127.0.0.1 speaking Twilio's Messages API shape: it checks the path, the basic
auth, the form fields and the idempotency header the way Twilio does, answers 201 with the
message's sid (the same sid again for a token it has seen), and can answer 500/429/400 or
time out or close for failure injection."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml
from api_helpers import order_body, place
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from tests.conftest import make_settings
from webhook_receiver import drain

from legato.bootstrap import Runtime, build
from legato.domain.errors import ValidationFailed
from legato.store import tables
from legato.store.workflow_tables import jobs, workflow_runs
from legato.workflow import definitions
from legato.workflow.outbound.sms import normalise_number

DOCS = Path(__file__).resolve().parents[2] / "docs" / "workflows"
ACCOUNT_SID, TOKEN = "AC" + "0123456789abcdef" * 2, "auth-token-42"
SENDER = "+441234567890"
AUTH = base64.b64encode(f"{ACCOUNT_SID}:{TOKEN}".encode()).decode()
CUSTOMER = {"name": "Ann Example", "email": "ann@example.com", "phone": "+44 7700 900123"}
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def twilio_error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status}  # fmt: skip


class Twilio:
    """The Messages resource: POST /2010-04-01/Accounts/{sid}/Messages.json. ``script``: one
    behaviour per request (an HTTP status, "timeout" or "close"), then 201."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []  # {"path", "headers", "form"}
        self.script: list[int | str] = []
        self.sids: dict[str, str] = {}  # idempotency token -> sid of the message it created
        twilio = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                twilio.requests.append({"path": self.path, "headers": headers, "form": form})
                behaviour = twilio.script.pop(0) if twilio.script else 201
                if behaviour == "timeout":
                    time.sleep(2.5)
                    return
                if behaviour == "close":
                    self.close_connection = True
                    return
                self.answer(*twilio.answer(int(behaviour), self.path, headers, form))

            def answer(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, status: int, path: str, headers: dict[str, str], form: dict[str, str]) -> Any:
        if path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
            return twilio_error(404, 20404, "The requested resource was not found")
        if headers.get("authorization") != "Basic " + AUTH:
            return twilio_error(401, 20003, "Authenticate")
        if status != 201:
            return twilio_error(status, {400: 21211, 429: 20429}.get(status, 20500), "Scripted failure")
        if not E164.match(form.get("To", "")):
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {form.get('To')}")
        if not form.get("Body"):
            return twilio_error(400, 21602, "Message body is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return twilio_error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        token = headers.get("i-twilio-idempotency-token", "")
        sid = self.sids.get(token) or self.sids.setdefault(token, "SM" + uuid.uuid4().hex)
        return 201, {"sid": sid, "account_sid": ACCOUNT_SID, "to": form["To"], "from": form.get("From"),
                     "messaging_service_sid": form.get("MessagingServiceSid"), "body": form["Body"],
                     "status": "queued", "num_segments": "1", "direction": "outbound-api",
                     "api_version": "2010-04-01", "error_code": None, "error_message": None}  # fmt: skip

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def twilio() -> Iterator[Twilio]:
    server = Twilio()
    yield server
    server.stop()


@pytest.fixture
def runtime(db_url: str, twilio: Twilio) -> Iterator[Runtime]:
    settings = make_settings(
        db_url, sms_base_url=twilio.base_url, sms_account_sid=ACCOUNT_SID, sms_auth_token=TOKEN,
        sms_from=SENDER, sms_timeout_seconds=1.0, workflow_backoff_base_seconds=600,
    )  # fmt: skip
    rt = build(settings)
    yield rt
    rt.close()


def yaml_blocks(path: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)]


def save(rt: Runtime, doc: dict[str, Any]) -> None:
    definitions.save(rt, definitions.from_document(doc), "test")


def sms_on_create(**params: Any) -> dict[str, Any]:
    step = {"action": "send_sms", "params": {"to": "customer", "template": "order_confirmation", **params}}
    return {"name": "text", "trigger": "order.created", "actions": [step]}


def rows(rt: Runtime, table: Any, **where: Any) -> list[Any]:
    query = select(table).order_by(table.c.id)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with rt.engine.connect() as conn:
        return list(conn.execute(query))


def notes(rt: Runtime, order_id: int) -> list[str]:
    return [e.reason for e in rows(rt, tables.order_timeline, order_id=order_id, kind="workflow")]


def move(client: Any, headers: dict[str, str], number: str, *statuses: str) -> None:
    for status in statuses:
        r = client.post(f"/api/v1/orders/{number}/transitions", json={"to": status}, headers=headers)
        assert r.status_code == 200, r.text


def test_the_documented_workflow_texts_the_customer_when_the_order_is_complete(
    runtime: Runtime, client: Any, shop: dict[str, str], twilio: Twilio
) -> None:
    save(runtime, yaml_blocks(DOCS / "notifications.md")[1])
    order = place(client, shop, order_body(customer=CUSTOMER))
    move(client, shop, order["number"], "processing", "completed")
    drain(runtime)

    [got] = twilio.requests
    [run] = rows(runtime, workflow_runs)
    assert got["form"] == {"To": "+447700900123", "From": SENDER,
                           "Body": f"Your order {order['number']} is now completed."}  # fmt: skip
    assert got["headers"]["i-twilio-idempotency-token"] == f"legato-run-{run.id}-step-0"
    assert got["headers"]["content-type"] == "application/x-www-form-urlencoded"
    [job] = rows(runtime, jobs, run_id=run.id)
    sid = twilio.sids[f"legato-run-{run.id}-step-0"]
    assert job.state == "done" and (job.result["sid"], job.result["status"]) == (sid, "queued")
    assert notes(runtime, order["id"]) == [f"text message sent to +447700900123 ({sid})"]


@pytest.mark.parametrize("failure", [500, 429, "timeout", "close"])
def test_a_5xx_429_timeout_or_closed_connection_is_retried_with_the_same_idempotency_token(
    runtime: Runtime, client: Any, shop: dict[str, str], twilio: Twilio, failure: int | str
) -> None:
    save(runtime, sms_on_create())
    twilio.script = [failure]
    order = place(client, shop, order_body(customer=CUSTOMER))
    drain(runtime)
    [job] = rows(runtime, jobs)
    assert (job.state, job.attempts) == ("queued", 1)
    drain(runtime, now=datetime.now(UTC) + timedelta(hours=1))

    first, second = twilio.requests
    token = first["headers"]["i-twilio-idempotency-token"]
    assert second["headers"]["i-twilio-idempotency-token"] == token and len(twilio.sids) == 1
    body = f"Thank you for your order {order['number']} (£4.50). We will text you when it moves on."
    assert second["form"]["Body"] == body
    [job] = rows(runtime, jobs)
    assert (job.state, job.attempts, job.result["sid"]) == ("done", 2, twilio.sids[token])


@pytest.mark.parametrize(("token", "answer", "reason"), [
    (TOKEN, 400, "21211 Scripted failure (https://www.twilio.com/docs/errors/21211)"),
    ("wrong-token", 201, "the SMS provider answered 401: 20003 Authenticate"),
])  # fmt: skip
def test_a_400_with_twilios_code_or_bad_credentials_are_dead_at_once(
    runtime: Runtime, client: Any, shop: dict[str, str], twilio: Twilio, token: str, answer: int, reason: str
) -> None:
    rt = Runtime(runtime.settings.model_copy(update={"sms_auth_token": token}), runtime.engine, runtime.box)
    save(rt, sms_on_create())
    twilio.script = [answer]
    order = place(client, shop, order_body(customer=CUSTOMER))
    drain(rt)
    [job] = rows(rt, jobs)
    assert (job.state, job.attempts) == ("dead", 1) and reason in job.last_error
    assert any(reason in n for n in notes(rt, order["id"])) and len(twilio.requests) == 1


def test_the_documented_inline_text_goes_through_a_messaging_service_for_marketplace_orders_only(
    runtime: Runtime, client: Any, shop: dict[str, str], twilio: Twilio
) -> None:
    service = "MG" + "ab" * 16
    rt = Runtime(runtime.settings.model_copy(update={"sms_from": service}), runtime.engine, runtime.box)
    [doc] = yaml_blocks(DOCS / "actions" / "send_sms.md")
    save(rt, doc)
    place(client, shop, order_body("WEB"))
    order = place(client, shop, order_body("MKT", ("TEA-100", 2)))
    drain(rt)
    [got] = twilio.requests
    assert got["form"] == {"To": "+15005550006", "MessagingServiceSid": service,
                           "Body": f"New MKT order {order['number']}: ¥1,600"}  # fmt: skip


@pytest.mark.parametrize(("if_missing", "state"), [("skip", "done"), ("fail", "dead")])
def test_an_order_without_a_phone_number_is_noted_or_dead_as_asked(
    runtime: Runtime, client: Any, shop: dict[str, str], twilio: Twilio, if_missing: str, state: str
) -> None:
    save(runtime, sms_on_create(if_missing=if_missing))
    order = place(client, shop, order_body(customer={"name": "Bob", "phone": "07700 900123"}))
    drain(runtime)
    [job] = rows(runtime, jobs)
    reason = "the phone number of the order's customer ('07700900123') is not an international (E.164) one"
    assert job.state == state and twilio.requests == []
    assert notes(runtime, order["id"]) == [f"text message not sent: {reason}"]


def test_bad_steps_are_refused_when_saved_with_their_paths() -> None:
    doc = {"name": "bad", "trigger": "order.created", "actions": [
        {"action": "send_sms", "params": {"to": "07700 900123", "template": "nope"}},
        {"action": "send_sms", "params": {"to": "customer", "text": "{{ order.number", "extra": 1}},
        {"action": "send_sms", "params": {"to": "customer", "template": "status_changed", "text": "x",
                                          "if_missing": "maybe"}},
    ]}  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        definitions.from_document(doc)
    found = {i.path: i.message for i in caught.value.issues}
    assert set(found) == {"actions[0].params.to", "actions[0].params.template", "actions[1].params.text",
                          "actions[1].params.extra", "actions[2].params.text",
                          "actions[2].params.if_missing"}  # fmt: skip
    assert "no sms template 'nope'" in found["actions[0].params.template"]
    assert "line 1" in found["actions[1].params.text"]


@given(
    country=st.sampled_from(["1", "44", "49", "353", "81"]),
    digits=st.text("0123456789", min_size=7, max_size=11),
    style=st.sampled_from(["{c} {d}", "00{c}{d}", "+{c} ({d})", "{c}-{d}"]),
)
def test_a_written_international_number_reads_as_its_e164_form(country: str, digits: str, style: str) -> None:
    written = ("+" if not style.startswith("00") else "") + style.format(c=country, d=digits)
    written = written.replace("++", "+")
    expected = f"+{country}{digits}"
    assert normalise_number(written) == (expected if E164.match(expected) else None)
