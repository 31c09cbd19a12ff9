"""Real receivers for the ERP push tests, on 127.0.0.1 (a random port, a thread each).

``ErpServer`` stands in for an ERP's HTTP API: it checks every request (JSON content type,
the bearer token, an ``Idempotency-Key``, the body against the payload's JSON Schema) and
honours the key as Stripe-style APIs do: a repeated key replays the first answer and
creates nothing. ``OdooServer`` implements the part of Odoo's external JSON-RPC API the
push uses (``common.login``; ``object.execute_kw`` on res.partner, product.product and
sale.order), refusing any call whose shape Odoo would refuse.

Both take ``faults``: the next matching request answers 500, or is processed and then
answered too late (``timeout``) or not at all (the connection closed: ``close``): the two
last are the hard cases, where the effect happened but the client never heard.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema_rs
from sqlalchemy import insert, select

from legato.bootstrap import Runtime
from legato.store import jobs
from legato.store import tables as t
from legato.store.workflow_tables import erp_exports, workflows
from legato.workflow.actions import StepContext, StepResult, get_action

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "workflows" / "erp-payload.schema.json"
PAYLOAD_SCHEMA = jsonschema_rs.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
TOKEN = "erp-test-token"


@dataclass
class Fault:
    kind: str  # "500" | "timeout" | "close" | "400" | Odoo: "error:<exception name>"
    match: str = "*"  # ERP: a path; Odoo: "model.method" or "service.method"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Receiver:
    """A threading HTTP server whose handler calls ``self.handle(path, headers, body)``."""

    delay = 1.5  # seconds a "timeout" answer waits: longer than the tests' client timeout

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                before, status, body, headers = receiver.respond(self.path, dict(self.headers.items()), raw)
                fault = before
                if fault == "close":  # processed, then the connection dropped without an answer
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "timeout":
                    time.sleep(receiver.delay)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for k, v in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting
                    self.close_connection = True

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take_fault(self, match: str) -> str | None:
        with self.lock:
            for i, f in enumerate(self.faults):
                if f.match in ("*", match):
                    return self.faults.pop(i).kind
        return None

    def respond(
        self, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[str | None, int, Any, dict[str, str]]:
        raise NotImplementedError


# --- the ERP's HTTP API ---------------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ErpServer(Receiver):
    """POST /orders (one payload, or an array: a batch) and POST /customers."""

    requests: list[Seen] = field(default_factory=list)
    orders: dict[str, Any] = field(default_factory=dict)  # ERP number -> the payload received
    customers: dict[str, Any] = field(default_factory=dict)
    replays: dict[str, tuple[int, Any, dict[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Receiver.__init__(self)

    def respond(
        self, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[str | None, int, Any, dict[str, str]]:
        h = {k.lower(): v for k, v in headers.items()}
        body = json.loads(raw) if raw else None
        with self.lock:
            self.requests.append(Seen(path, h, body))
        fault = self.take_fault(path)
        if fault in ("500", "400"):
            return None, int(fault), {"error": f"injected {fault}"}, {}
        if h.get("authorization") != f"Bearer {TOKEN}":
            return None, 401, {"error": "bad token"}, {}
        if not h.get("content-type", "").startswith("application/json"):
            return None, 415, {"error": "JSON only"}, {}
        key = h.get("idempotency-key")
        if not key:
            return None, 400, {"error": "Idempotency-Key is required"}, {}
        with self.lock:
            if key in self.replays:  # the same request again: the first answer, nothing created
                status, answer, extra = self.replays[key]
                return fault, status, answer, {**extra, "Idempotent-Replayed": "true"}
            status, answer, extra = self._create(path, body)
            if status < 300:
                self.replays[key] = (status, answer, extra)
        return fault, status, answer, extra

    def _create(self, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if path == "/customers":
            if not isinstance(body, dict) or not body.get("code") or not body.get("name"):
                return 422, {"error": "a customer needs code and name"}, {}
            ref = f"CUST-{len(self.customers) + 1}"
            self.customers[ref] = body
            return 201, {"id": ref}, {}
        if path != "/orders":
            return 404, {"error": "no such resource"}, {}
        docs = body if isinstance(body, list) else [body]
        for doc in docs:
            errors = [f"{e.instance_path}: {e.message}" for e in PAYLOAD_SCHEMA.iter_errors(doc)]
            if errors:
                return 422, {"error": "payload does not match its schema", "details": errors[:5]}, {}
        made = []
        for doc in docs:
            number = f"ERP-{1001 + len(self.orders)}"
            self.orders[number] = doc
            made.append({"order": doc["number"], "id": number})
        if isinstance(body, list):
            return 201, {"batch": f"B-{len(self.orders)}", "orders": made}, {}
        return 201, {"data": {"id": made[0]["id"]}, "order": made[0]["order"]}, {"X-Erp-Order": made[0]["id"]}


# --- Odoo's external JSON-RPC API ----------------------------------------------------------------


class OdooRefusal(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name, self.message = name, message


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _matches(record: dict[str, Any], domain: list[Any]) -> bool:
    for term in domain:
        if not (isinstance(term, list) and len(term) == 3 and isinstance(term[0], str)):
            raise OdooRefusal("builtins.ValueError", f"Invalid leaf {term!r}")
        name, op, value = term
        got = record.get(name)
        if op == "=" and got != value:
            return False
        if op == "=ilike" and (got or "").lower() != str(value).lower():
            return False
        if op == "in" and got not in value:
            return False
        if op not in ("=", "=ilike", "in"):
            raise OdooRefusal("builtins.ValueError", f"operator {op!r} not supported by this test server")
    return True


@dataclass
class OdooServer(Receiver):
    db: str = "legato-test"
    login: str = "legato@example.com"
    api_key: str = "odoo-api-key-0123"
    uid: int = 7
    partners: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    sale_orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # "model.method" / "common.login", in order
    raw: list[bytes] = field(default_factory=list)  # every request body as sent

    def __post_init__(self) -> None:
        Receiver.__init__(self)

    def add_product(self, sku: str) -> int:
        pid = 100 + len(self.products)
        self.products[pid] = {"id": pid, "default_code": sku, "name": sku.title()}
        return pid

    def respond(
        self, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[str | None, int, Any, dict[str, str]]:
        if path != "/jsonrpc":
            return None, 404, {"error": "not found"}, {}
        req = json.loads(raw)
        rid = req.get("id")
        try:
            if req.get("jsonrpc") != "2.0" or req.get("method") != "call" or rid is None:
                raise OdooRefusal("werkzeug.exceptions.BadRequest", "not a JSON-RPC 2.0 call")
            params = req.get("params") or {}
            service, method, args = params.get("service"), params.get("method"), params.get("args")
            if not isinstance(args, list):
                raise OdooRefusal("builtins.TypeError", "args must be a list")
            label = (
                f"{service}.{method}"
                if service == "common"
                else f"{args[3]}.{args[4]}"
                if len(args) > 4
                else "?"
            )
            fault = self.take_fault(label)
            if fault in ("500", "400"):
                return None, int(fault), {"error": f"injected {fault}"}, {}
            if fault and fault.startswith("error:"):  # Odoo itself refuses, with this exception
                raise OdooRefusal(fault.partition(":")[2], "injected")
            with self.lock:
                self.raw.append(raw)
                self.calls.append(label)
                result = self._dispatch(service, method, args)
            return fault, 200, {"jsonrpc": "2.0", "id": rid, "result": result}, {}
        except OdooRefusal as exc:
            data = {"name": exc.name, "message": exc.message, "arguments": [exc.message]}
            error = {"code": 200, "message": "Odoo Server Error", "data": data}
            return None, 200, {"jsonrpc": "2.0", "id": rid, "error": error}, {}

    def _dispatch(self, service: Any, method: Any, args: list[Any]) -> Any:
        if service == "common" and method == "login":
            if len(args) != 3 or not all(isinstance(a, str) for a in args):
                raise OdooRefusal("builtins.TypeError", "login(db, login, password)")
            return self.uid if args == [self.db, self.login, self.api_key] else False
        if service != "object" or method != "execute_kw":
            raise OdooRefusal("builtins.AttributeError", f"no method {service}.{method}")
        if len(args) not in (6, 7):
            raise OdooRefusal(
                "builtins.TypeError", "execute_kw(db, uid, password, model, method, args[, kwargs])"
            )
        db, uid, password, model, name, pos = args[:6]
        kw = args[6] if len(args) == 7 else {}
        if db != self.db or uid != self.uid or password != self.api_key:
            raise OdooRefusal("odoo.exceptions.AccessDenied", "Access Denied")
        if not isinstance(pos, list) or not isinstance(kw, dict):
            raise OdooRefusal("builtins.TypeError", "args is a list and kwargs an object")
        table = {
            "res.partner": self.partners,
            "product.product": self.products,
            "sale.order": self.sale_orders,
        }
        if model not in table:
            raise OdooRefusal("builtins.KeyError", repr(model))
        records = table[model]
        handler: Callable[..., Any] | None = getattr(self, f"_{name}", None)
        if handler is None:
            raise OdooRefusal("builtins.AttributeError", f"type object {model!r} has no attribute {name!r}")
        return handler(model, records, pos, kw)

    def _search(self, model: str, records: dict[int, Any], pos: list[Any], kw: dict[str, Any]) -> list[int]:
        found = [i for i, r in records.items() if _matches(r, pos[0])]
        return found[: kw["limit"]] if "limit" in kw else found

    def _search_read(
        self, model: str, records: dict[int, Any], pos: list[Any], kw: dict[str, Any]
    ) -> list[Any]:
        fields = kw.get("fields") or ["id"]
        return [
            {f: records[i].get(f) for f in {"id", *fields}} for i in self._search(model, records, pos, kw)
        ]

    def _read(self, model: str, records: dict[int, Any], pos: list[Any], kw: dict[str, Any]) -> list[Any]:
        ids = pos[0]
        if not isinstance(ids, list) or any(i not in records for i in ids):
            raise OdooRefusal("odoo.exceptions.MissingError", "Record does not exist or has been deleted.")
        return [{f: records[i].get(f) for f in {"id", *kw.get("fields", [])}} for i in ids]

    def _create(self, model: str, records: dict[int, Any], pos: list[Any], kw: dict[str, Any]) -> int:
        vals = pos[0] if len(pos) == 1 else None
        if not isinstance(vals, dict):
            raise OdooRefusal("builtins.ValueError", "create takes one values dict")
        new_id = 1 + max(records, default=40)
        if model == "res.partner":
            allowed = {"name", "email", "phone", "ref", "street", "street2", "city", "zip"}
            if not vals.get("name") or set(vals) - allowed:
                raise OdooRefusal("odoo.exceptions.ValidationError", f"bad partner values {sorted(vals)}")
            records[new_id] = {"id": new_id, **vals}
            return new_id
        if model != "sale.order":
            raise OdooRefusal("odoo.exceptions.AccessError", f"create on {model} is not allowed here")
        if vals.get("partner_id") not in self.partners or not isinstance(vals.get("client_order_ref"), str):
            raise OdooRefusal(
                "odoo.exceptions.ValidationError", "partner_id and client_order_ref are required"
            )
        for cmd in vals.get("order_line") or []:
            line = cmd[2] if isinstance(cmd, list) and len(cmd) == 3 and cmd[:2] == [0, 0] else None
            if not isinstance(line, dict) or line.get("product_id") not in self.products:
                raise OdooRefusal("odoo.exceptions.ValidationError", f"bad order line command {cmd!r}")
            if not _number(line.get("product_uom_qty")) or not _number(line.get("price_unit")):
                raise OdooRefusal("odoo.exceptions.ValidationError", "quantity and price are numbers")
        records[new_id] = {"id": new_id, "name": f"S{new_id:05d}", **vals}
        return new_id


# --- steps: a real run and job, and its StepContext ------------------------------------------------


def step(rt: Runtime, action: str, order_id: int | None, *, workflow: str = "erp-push",
         event_type: str = "order.created") -> StepContext:  # fmt: skip
    """A run of ``workflow`` with one job for ``action`` (as the engine makes them) and the
    StepContext of its first attempt."""
    now = datetime.now(UTC)
    event = {"id": None, "type": event_type, "aggregate_type": "order" if order_id else "schedule",
             "aggregate_id": order_id, "payload": {"order_id": order_id}}  # fmt: skip
    with jobs.writing(rt.engine) as conn:
        wf = conn.execute(select(workflows.c.id).where(workflows.c.name == workflow)).scalar()
        if wf is None:
            wf = conn.execute(insert(workflows).values(
                name=workflow, version=1, trigger=event_type, priority=0, active=True, created_at=now,
                updated_at=now).returning(workflows.c.id)).scalar_one()  # fmt: skip
        run_id = jobs.add_run(conn, workflow_id=wf, version=1, event=event, order_id=order_id, now=now)
        assert run_id is not None
        jobs.add_job(conn, action=action, params={}, max_attempts=10, now=now, run_id=run_id,
                     order_id=order_id, state="running")  # fmt: skip
    return StepContext(rt, run_id, 0, 1, workflow, 1, event, order_id, now)


def again(ctx: StepContext, attempt: int | None = None) -> StepContext:
    """The same step's next attempt (same idempotency key)."""
    return replace(ctx, attempt=attempt or ctx.attempt + 1, now=datetime.now(UTC))


def run(ctx: StepContext, action: str, params: dict[str, Any]) -> StepResult:
    """One attempt: the parameters checked as at save time, then the action run."""
    act = get_action(action)
    act.check(params, "actions[0].params")
    return act.run(ctx, params)


def exported(rt: Runtime) -> list[Any]:
    """Every erp_exports row, by order."""
    with rt.engine.connect() as conn:
        return list(conn.execute(select(erp_exports).order_by(erp_exports.c.order_id)))


def timeline(rt: Runtime, order_id: int, kind: str) -> list[Any]:
    tl = t.order_timeline
    with rt.engine.connect() as conn:
        query = select(tl).where(tl.c.order_id == order_id, tl.c.kind == kind).order_by(tl.c.id)
        return list(conn.execute(query))


def with_destinations(rt: Runtime, **destinations: dict[str, Any]) -> Runtime:
    """The same database, with these ERP destinations in its settings."""
    settings = rt.settings.model_copy(update={"erp_destinations": destinations})
    return Runtime(settings, rt.engine, rt.box)
