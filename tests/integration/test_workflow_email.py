"""The send_email action, on both databases, run by the real engine and runner against a REAL
SMTP server (aiosmtpd) on 127.0.0.1 that records every message and can answer 451/550, hang
or drop the connection: the documented workflow, text and HTML rendered from the order, the
Message-ID stable across retries, 4xx/timeout/closed -> retried, 5xx -> dead at once,
STARTTLS and implicit TLS with a private CA and AUTH, template overrides, and save-time checks."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from api_helpers import order_body, place
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import select
from tests.conftest import make_settings
from webhook_receiver import drain

from legato.bootstrap import Runtime, build
from legato.domain.errors import ValidationFailed
from legato.store import tables
from legato.store.workflow_tables import jobs, workflow_runs
from legato.workflow import definitions
from legato.workflow.outbound import email as smtp

DOCS = Path(__file__).resolve().parents[2] / "docs" / "workflows"
SENDER = "Legato Shop <orders@shop.example>"
CUSTOMER = {"name": "Ann Example", "email": "ann@example.com", "phone": "+44 7700 900123"}


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    login: bytes | None

    @property
    def message(self) -> EmailMessage:
        parsed: EmailMessage = message_from_bytes(self.data, policy=policy.default)  # type: ignore[assignment]
        return parsed

    def part(self, kind: str) -> str:
        body = self.message.get_body((kind,))
        assert body is not None, f"no {kind} part"
        return str(body.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


class Mailbox:
    """An aiosmtpd handler: records each DATA, answers as scripted (then 250): an SMTP reply
    such as "451 4.3.0 try later", "hang" (longer than the client waits) or "drop"."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[str] = []
        self.refuse: dict[str, str] = {}  # recipient -> RCPT reply

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, tls, login)
        )
        behaviour = self.script.pop(0) if self.script else "250 2.0.0 Ok: queued as 4BdX"
        if behaviour == "hang":
            await asyncio.sleep(2.5)
            return "250 too late"
        if behaviour == "drop":
            server.transport.close()
            return "421 closing"
        return behaviour


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"legato", b"s3cret")
    return AuthResult(success=ok, handled=False, auth_data=data)  # handled=False: aiosmtpd answers 535


@dataclass
class Smtp:
    mailbox: Mailbox
    port: int


@contextmanager
def serving(**options: Any) -> Iterator[Smtp]:
    """An aiosmtpd server on 127.0.0.1 (``options``: aiosmtpd's, e.g. TLS and AUTH)."""
    server = Smtp(Mailbox(), free_port())
    controller = Controller(server.mailbox, hostname="127.0.0.1", port=server.port, **options)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[Smtp]:
    with serving() as server:
        yield server


@pytest.fixture
def runtime(db_url: str, smtp_server: Smtp) -> Iterator[Runtime]:
    settings = make_settings(
        db_url, smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_tls="none", smtp_from=SENDER,
        smtp_timeout_seconds=1.0, workflow_backoff_base_seconds=600,
    )  # fmt: skip
    rt = build(settings)
    yield rt
    rt.close()


def with_settings(rt: Runtime, **update: Any) -> Runtime:
    return Runtime(rt.settings.model_copy(update=update), rt.engine, rt.box)


def yaml_blocks(path: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)]


def save(rt: Runtime, doc: dict[str, Any]) -> None:
    definitions.save(rt, definitions.from_document(doc), "test")


def email_on_create(**params: Any) -> dict[str, Any]:
    step = {"action": "send_email", "params": {"to": "customer", "template": "order_confirmation", **params}}
    return {"name": "confirm", "trigger": "order.created", "actions": [step]}


def rows(rt: Runtime, table: Any, **where: Any) -> list[Any]:
    query = select(table).order_by(table.c.id)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with rt.engine.connect() as conn:
        return list(conn.execute(query))


def notes(rt: Runtime, order_id: int) -> list[str]:
    return [e.reason for e in rows(rt, tables.order_timeline, order_id=order_id, kind="workflow")]


def test_the_documented_workflow_emails_the_customer_at_a_status_change(
    runtime: Runtime, client: Any, shop: dict[str, str], smtp_server: Smtp
) -> None:
    save(runtime, yaml_blocks(DOCS / "notifications.md")[0])
    order = place(client, shop, order_body("WEB", ("TEA-100", 3), customer=CUSTOMER))
    r = client.post(f"/api/v1/orders/{order['number']}/transitions", json={"to": "processing"}, headers=shop)
    assert r.status_code == 200, r.text
    drain(runtime)

    [got] = smtp_server.mailbox.received
    msg = got.message
    [run] = rows(runtime, workflow_runs)
    assert (got.mail_from, got.rcpt_tos) == ("orders@shop.example", ["ann@example.com"])
    assert msg["Message-ID"] == f"<legato-run-{run.id}-step-0@shop.example>"
    assert msg["Subject"] == f"Your order {order['number']} is now processing"
    assert (msg["From"], msg["To"], msg["Auto-Submitted"]) == (SENDER, "ann@example.com", "auto-generated")
    text, html = got.part("plain"), got.part("html")
    assert "Hello Ann Example," in text and f"your order {order['number']} is being prepared." in text
    assert "Order total: £13.50" in text
    assert f"<title>Your order {order['number']} is now processing</title>" in html
    assert "3</td>" in html and "£13.50" in html
    shown = re.findall(r"```\n(From: .*?)```", (DOCS / "notifications.md").read_text(), re.S)[0]
    head, _, body = shown.partition("\n\n")  # the page shows this very email (a fresh database: SO-000001)
    assert dict(line.split(": ", 1) for line in head.splitlines()) == {k: msg[k] for k in (
        "From", "To", "Subject", "Message-ID", "Auto-Submitted")} and body == text  # fmt: skip
    [job] = rows(runtime, jobs, run_id=run.id)
    assert job.state == "done" and job.result["message_id"] == msg["Message-ID"]
    assert job.result["reply"].startswith("250 ")
    assert notes(runtime, order["id"]) == ["email 'status_changed' sent to ann@example.com"]


def test_a_451_is_retried_with_the_same_message_id_and_the_order_confirmation_lists_the_lines(
    runtime: Runtime, client: Any, shop: dict[str, str], smtp_server: Smtp
) -> None:
    save(runtime, email_on_create())
    smtp_server.mailbox.script = ["451 4.3.0 try again later"]
    order = place(client, shop, order_body("WEB", ("TEA-100", 2), ("MUG-200", 1), customer=CUSTOMER,
                                           shipping_address={"name": "Ann Example", "line1": "1 Tea Lane",
                                                             "city": "York", "country": "GB"}))  # fmt: skip
    drain(runtime)
    [job] = rows(runtime, jobs)
    assert (job.state, job.attempts) == ("queued", 1) and "451 4.3.0 try again later" in job.last_error
    drain(runtime, now=datetime.now(UTC) + timedelta(hours=1))

    first, second = smtp_server.mailbox.received
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert second.message["Subject"] == f"Thank you for your order {order['number']}"
    text = second.part("plain")
    assert "2 x Tea-100 (TEA-100): £9.00" in text and "1 x Mug-200 (MUG-200): £12.00" in text
    assert "1 Tea Lane" in text and "Total: £21.00" in text
    assert [j.state for j in rows(runtime, jobs)] == ["done"]


def test_a_550_for_the_recipient_is_dead_at_once_with_the_reason_on_the_timeline(
    runtime: Runtime, client: Any, shop: dict[str, str], smtp_server: Smtp
) -> None:
    save(runtime, email_on_create())
    smtp_server.mailbox.refuse["ann@example.com"] = "550 5.1.1 no such user"
    order = place(client, shop, order_body(customer=CUSTOMER))
    drain(runtime)
    [job] = rows(runtime, jobs)
    assert (job.state, job.attempts) == ("dead", 1)
    assert "550 5.1.1 no such user" in job.last_error
    assert any("550 5.1.1 no such user" in n for n in notes(runtime, order["id"]))
    assert smtp_server.mailbox.received == []


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [("drop", "closed the connection"), ("hang", "no answer"), ("refused", "cannot reach the SMTP server")],
)
def test_a_dropped_or_hanging_or_refused_connection_is_retried(
    runtime: Runtime, client: Any, shop: dict[str, str], smtp_server: Smtp, behaviour: str, error: str
) -> None:
    rt = with_settings(runtime, smtp_port=free_port()) if behaviour == "refused" else runtime
    save(rt, email_on_create())
    smtp_server.mailbox.script = [behaviour]
    place(client, shop, order_body(customer=CUSTOMER))
    drain(rt)
    [job] = rows(rt, jobs)
    assert (job.state, job.attempts) == ("queued", 1) and error in job.last_error


@dataclass(frozen=True)
class Certs:
    ca: Path  # what Legato is told to trust (LEGATO_SMTP_CA_FILE)
    cert: Path  # the server's certificate for 127.0.0.1, signed by the CA
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def _certificate(subject: str, key: Any, issuer: str, signer: Any, *, ca: bool) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )  # fmt: skip
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key())
    builder = builder.add_extension(aki, critical=False)
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A private CA and a server certificate it signed, as an operator's internal relay has."""
    d = tmp_path_factory.mktemp("smtp-tls")
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Legato test CA", ca_key, "Legato test CA", ca_key, ca=True)
    cert = _certificate("127.0.0.1", key, "Legato test CA", ca_key, ca=False)
    found = Certs(d / "ca.pem", d / "cert.pem", d / "key.pem")
    found.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    found.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))  # fmt: skip
    return found


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_with_a_private_ca_and_a_login_delivers_and_a_bad_password_is_dead(
    runtime: Runtime, client: Any, shop: dict[str, str], certs: Certs, mode: str
) -> None:
    starttls = {"tls_context": certs.server_context(), "require_starttls": True}
    # aiosmtpd counts only STARTTLS as TLS for AUTH, so on implicit TLS it is told AUTH is fine;
    # LOGIN is left out: smtplib's LOGIN (with an initial response) and aiosmtpd's do not agree
    tls = {"ssl_context": certs.server_context(), "auth_require_tls": False} if mode == "ssl" else starttls
    with serving(authenticator=authenticate, auth_exclude_mechanism=["LOGIN"], **tls) as server:
        rt = with_settings(runtime, smtp_port=server.port, smtp_tls=mode, smtp_ca_file=certs.ca,
                           smtp_username="legato", smtp_password="s3cret")  # fmt: skip
        save(rt, email_on_create())
        place(client, shop, order_body(customer=CUSTOMER))
        drain(rt)
        [got] = server.mailbox.received
        assert got.tls and got.login == b"legato"
        place(client, shop, order_body(customer=CUSTOMER))
        drain(with_settings(rt, smtp_password="wrong"))
        done, dead = rows(rt, jobs)
        assert done.state == "done" and (dead.state, dead.attempts) == ("dead", 1), dead.last_error
        assert "535" in dead.last_error and len(server.mailbox.received) == 1


def test_a_certificate_not_trusted_is_dead_at_once(
    runtime: Runtime, client: Any, shop: dict[str, str], certs: Certs
) -> None:
    with serving(tls_context=certs.server_context()) as server:
        rt = with_settings(runtime, smtp_port=server.port, smtp_tls="starttls")  # the system CAs only
        save(rt, email_on_create())
        place(client, shop, order_body(customer=CUSTOMER))
        drain(rt)
        [job] = rows(rt, jobs)
        assert (job.state, job.attempts) == ("dead", 1) and "cannot be trusted" in job.last_error
        assert server.mailbox.received == []


def test_the_documented_block_is_the_example_file_and_the_approval_email_goes_to_and_cc(
    runtime: Runtime, client: Any, shop: dict[str, str], smtp_server: Smtp
) -> None:
    block = re.findall(r"```yaml\n(.*?)```", (DOCS / "notifications.md").read_text(), re.S)[0]
    assert block == (DOCS / "examples" / "customer-status-emails.yaml").read_text()
    [doc] = yaml_blocks(DOCS / "actions" / "send_email.md")
    save(runtime, doc)
    place(client, shop, order_body("WEB", ("TEA-100", 1)))  # under 5,000: no email
    order = place(client, shop, order_body("WEB", ("POT-300", 130)))
    drain(runtime)
    [got] = smtp_server.mailbox.received
    assert got.rcpt_tos == ["approvals@shop.example", "sales@shop.example"]
    assert (got.message["To"], got.message["Cc"]) == ("approvals@shop.example", "sales@shop.example")
    assert got.message["Subject"] == f"Approve {order['number']}: £5,198.70"
    assert "130 x Pot-300 (POT-300): £5,198.70" in got.part("plain")
    assert "Customer: a guest" in got.part("plain")


def test_a_template_of_your_own_from_the_templates_dir_with_its_subject_on_the_first_line(
    runtime: Runtime, client: Any, shop: dict[str, str], smtp_server: Smtp, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from legato.config import get_settings

    workflow = email_on_create(template="on_its_way")
    with pytest.raises(ValidationFailed, match="no email template 'on_its_way'"):
        definitions.from_document(workflow)
    [own] = re.findall(r"```jinja\n(.*?)```", (DOCS / "notifications.md").read_text(), re.S)
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "on_its_way.txt").write_text(own)
    monkeypatch.setenv("LEGATO_TEMPLATES_DIR", str(tmp_path))  # what `legato workflows load` would see
    get_settings.cache_clear()
    try:
        rt = with_settings(runtime, templates_dir=tmp_path)
        save(rt, workflow)
        york = {"city": "York", "country": "GB"}
        order = place(
            client, shop, order_body("WEB", ("TEA-100", 2), customer=CUSTOMER, shipping_address=york)
        )
        drain(rt)
    finally:
        get_settings.cache_clear()
    [got] = smtp_server.mailbox.received
    assert got.message["Subject"] == f"{order['number']} is on its way to York"
    assert not got.message.is_multipart()  # no HTML file: text only
    assert got.part("plain") == "Dear Ann Example,\n\n- 2 x Tea-100\n\nKind regards, the Tea Shop\n"


@pytest.mark.parametrize(("if_missing", "state"), [("skip", "done"), ("fail", "dead")])
def test_a_guest_order_without_an_email_is_noted_or_dead_as_asked(
    runtime: Runtime, client: Any, shop: dict[str, str], smtp_server: Smtp, if_missing: str, state: str
) -> None:
    save(runtime, email_on_create(if_missing=if_missing))
    order = place(client, shop, order_body(customer={"name": "Bob"}))
    drain(runtime)
    [job] = rows(runtime, jobs)
    assert job.state == state and smtp_server.mailbox.received == []
    expected = "email 'order_confirmation' not sent: the order's customer has no email address"
    assert notes(runtime, order["id"]) == [expected]


def test_bad_steps_are_refused_when_saved_with_their_paths() -> None:
    doc = {"name": "bad", "trigger": "order.created", "actions": [
        {"action": "send_email", "params": {"to": ["customer", "not-an-address"], "template": "Nope!"}},
        {"action": "send_email", "params": {"to": "a@shop.example\nBcc: x@evil.example", "cc": [],
                                            "template": "status_changed", "subject": "{{ order.number"}},
        {"action": "send_email", "params": {"template": "status_changed", "if_missing": "maybe", "bcc": "x"}},
    ]}  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        definitions.from_document(doc)
    assert {i.path for i in caught.value.issues} == {
        "actions[0].params.to[1]", "actions[0].params.template", "actions[1].params.to",
        "actions[1].params.cc", "actions[1].params.subject", "actions[2].params.to",
        "actions[2].params.if_missing", "actions[2].params.bcc",
    }  # fmt: skip


_LINE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=60)


@given(_LINE.map(lambda s: " ".join(s.split())).filter(bool), st.lists(_LINE, min_size=1, max_size=5))
@examples(max_examples=60, deadline=None)
def test_any_subject_and_text_survive_the_trip_through_mime(subject: str, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    message = smtp.Email(SENDER, ("ann@example.com",), subject, text, "<p>hi</p>",
                         smtp.message_id("legato-run-7-step-2", SENDER), datetime.now(UTC))  # fmt: skip
    back = Received("", [], smtp.build(message).as_bytes(policy=policy.SMTP), False, None)
    assert back.message["Subject"] == subject and back.part("plain") == text
    assert back.message["Message-ID"] == "<legato-run-7-step-2@shop.example>"
