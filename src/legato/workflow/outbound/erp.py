"""ERP destinations and the push: an HTTP endpoint, a file drop, an SFTP server, Odoo.

Destinations are named in the setting ``LEGATO_ERP_DESTINATIONS`` (JSON; docs/workflows/erp.md)
and checked here, every problem with its path. A secret may be written ``${NAME}``: it is read
from the environment variable NAME when the destination is used, so the JSON itself can be
shared. ``push`` sends payloads with the step's idempotency key and sorts what can go wrong
into ``Retry`` (the receiver may take it later: 5xx, 408/409/425/429, timeouts, closed
connections) and ``Fail`` (it never will as configured: other 4xx, a refused login, a wrong
host key), so the runner backs off or dead-letters accordingly.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import httpx

from legato.domain.errors import FieldIssue, IssueCollector, ValidationFailed
from legato.workflow.actions import Fail, Retry
from legato.workflow.outbound.payload import to_csv

E = TypeVar("E", bound=Exception)
KINDS = ("http", "file", "sftp", "odoo")
FORMATS = ("json", "csv")
#: HTTP statuses a later attempt may turn into a success (the rest of 4xx never will)
RETRY_STATUSES = frozenset({408, 409, 425, 429})
SUMMARY_CHARS = 1000
#: options kept exactly as written (never trimmed; never shown)
SECRETS = frozenset({"password", "private_key", "private_key_passphrase", "api_key"})
_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")

# key -> default (None: optional, no default); REQUIRED: must be given
REQUIRED = object()
_KEYS: dict[str, dict[str, Any]] = {
    "http": {"url": REQUIRED, "headers": {}, "customers_url": None, "reference_pointer": "/id",
             "reference_header": None, "customer_reference_pointer": "/id", "timeout": 30},
    "file": {"dir": REQUIRED, "format": "json"},
    "sftp": {"host": REQUIRED, "port": 22, "username": REQUIRED, "password": None, "private_key": None,
             "private_key_passphrase": None, "host_key": REQUIRED, "dir": ".", "format": "json",
             "timeout": 30},
    "odoo": {"url": REQUIRED, "db": REQUIRED, "username": REQUIRED, "password": None, "api_key": None,
             "timeout": 30},
}  # fmt: skip


@dataclass(frozen=True)
class Destination:
    """One named destination, checked, with its defaults filled in."""

    name: str
    kind: str  # http | file | sftp | odoo
    options: Mapping[str, Any] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        """An option, with a ``${NAME}`` secret read from the environment now."""
        return resolve(self.options.get(key), f"{self.name}.{key}")

    @property
    def timeout(self) -> float:
        return float(self.options.get("timeout", 30))  # seconds for a socket, not money


@dataclass(frozen=True)
class PushResult:
    """The receiver's answer: its reference for the push (its order number, for one order),
    per-order references when it answers per order, and a summary kept on the job."""

    erp_reference: str | None
    response: Mapping[str, Any]
    references: Mapping[str, str] = field(default_factory=dict)  # our number -> the ERP's
    failed: Mapping[str, str] = field(default_factory=dict)  # our number -> why it was refused


def resolve(value: Any, where: str) -> Any:
    """``${NAME}`` -> the environment variable NAME (a missing one fails the step, named)."""
    if isinstance(value, str) and (m := _ENV.match(value)):
        found = os.environ.get(m.group(1))
        if found is None:
            raise Fail(f"the environment variable {m.group(1)} ({where}) is not set")
        return found
    if isinstance(value, Mapping):
        return {k: resolve(v, f"{where}.{k}") for k, v in value.items()}
    return value


def _seconds(value: Any, path: str, c: IssueCollector) -> Decimal | int:
    if isinstance(value, bool | float):
        c.add(path, 'seconds as a whole number or a decimal string ("2.5"), never a float', "invalid", value)
        return 30
    try:
        seconds = value if isinstance(value, int) else Decimal(str(value))
    except InvalidOperation:
        seconds = Decimal(0)
    if isinstance(seconds, Decimal) and not seconds.is_finite():
        seconds = Decimal(0)
    if not 0 < seconds <= 600:
        c.add(path, "seconds between 0 and 600", "out_of_range", value)
    return seconds


def _check(name: str, raw: Mapping[str, Any], path: str, c: IssueCollector) -> Destination | None:
    kind = raw.get("kind")
    if kind not in KINDS:
        c.add(f"{path}.kind", f"kind is one of {', '.join(KINDS)}", "invalid", kind)
        return None
    spec = _KEYS[kind]
    for key in sorted(set(raw) - set(spec) - {"kind"}):
        c.add(f"{path}.{key}", f"unknown option {key!r} for a {kind} destination; "
              f"options: {', '.join(sorted(spec))}", "unknown_field", key)  # fmt: skip
    opts: dict[str, Any] = {}
    for key, default in spec.items():
        value = raw.get(key)
        if value is None:
            if default is REQUIRED:
                c.add(f"{path}.{key}", f"{key} is required for a {kind} destination", "required")
            elif default is not None:
                opts[key] = default
            continue
        where = f"{path}.{key}"
        if key == "timeout":
            opts[key] = _seconds(value, where, c)
        elif key == "port":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
                c.add(where, "a port number from 1 to 65535", "invalid", value)
            opts[key] = value
        elif key == "headers":
            if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
                c.add(where, "headers are an object of text values", "invalid", value)
            opts[key] = dict(value) if isinstance(value, Mapping) else {}
        elif key == "host_key":
            keys = value if isinstance(value, list) else [value]
            found = [m.group(0) for k in keys if isinstance(k, str) and (m := _FINGERPRINT.search(k))]
            if not found or len(found) != len(keys):
                c.add(where, "the server's host key fingerprint as `ssh-keygen -lf` prints it: SHA256: "
                      "and 43 base64 characters (or a list of them)", "invalid_host_key", value)  # fmt: skip
            opts[key] = tuple(found)
        elif not isinstance(value, str) or not value.strip():
            c.add(where, f"{key} is a non-empty text", "invalid", value)
        else:
            opts[key] = value if key in SECRETS else value.strip()
    for key in ("url", "customers_url"):
        url = opts.get(key)
        if isinstance(url, str) and not _ENV.match(url) and not url.startswith(("http://", "https://")):
            c.add(f"{path}.{key}", f"{key} is an http(s) URL", "invalid", url)
    for key in ("reference_pointer", "customer_reference_pointer"):
        pointer = opts.get(key)
        if isinstance(pointer, str) and pointer and not pointer.startswith("/"):
            c.add(
                f"{path}.{key}", "a JSON pointer (RFC 6901) such as /id or /data/number", "invalid", pointer
            )
    if "format" in opts and opts["format"] not in FORMATS:
        c.add(f"{path}.format", f"format is one of {', '.join(FORMATS)}", "invalid", opts["format"])
    if kind == "sftp" and not (raw.get("password") or raw.get("private_key")):
        c.add(f"{path}.password", "set password or private_key", "required")
    if kind == "odoo" and not (raw.get("password") or raw.get("api_key")):
        c.add(f"{path}.api_key", "set api_key (or password)", "required")
    return Destination(name, kind, opts)


def parse_destinations(raw: Any, path: str = "erp_destinations") -> dict[str, Destination]:
    """Every destination in the setting, checked; ValidationFailed names each bad option."""
    c = IssueCollector()
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        c.add(path, "an object of named destinations", "invalid")
        c.raise_if_any()
    out: dict[str, Destination] = {}
    for name, spec in raw.items():
        where = f"{path}.{name}"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}", str(name)):
            c.add(where, "a destination name of letters, digits, - _ . (up to 60)", "invalid", name)
        if not isinstance(spec, Mapping):
            c.add(where, "a destination is an object with a kind", "invalid")
            continue
        dest = _check(str(name), spec, where, c)
        if dest is not None:
            out[str(name)] = dest
    c.raise_if_any()
    return out


def destination(raw: Any, name: str) -> Destination:
    """The destination called ``name`` in the setting's value ``raw``, checked (only it: a
    mistake in another destination does not stop this one)."""
    if not isinstance(raw, Mapping) or name not in raw:
        known = ", ".join(sorted(raw or {})) or "none configured (LEGATO_ERP_DESTINATIONS)"
        msg = f"no ERP destination {name!r}; known: {known}"
        raise ValidationFailed(msg, issues=[FieldIssue("destination", msg, "unknown_destination", name)])
    return parse_destinations({name: raw[name]})[name]


def file_name(idempotency_key: str, fmt: str) -> str:
    """The file a push writes: named after the step's key, so a retry overwrites, never doubles."""
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', idempotency_key)}.{fmt}"


def document(payloads: Sequence[dict[str, Any]], fmt: str, *, batch: bool) -> bytes:
    """The bytes sent: one JSON object (one order), a JSON array (a batch) or one CSV."""
    if fmt == "csv":
        return to_csv(payloads)
    body: Any = list(payloads) if batch else payloads[0]
    return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")


def push(
    dest: Destination, payloads: Sequence[dict[str, Any]], idempotency_key: str, *, batch: bool = False
) -> PushResult:
    """Send order payloads to ``dest``: one order, or (``batch``) one consolidated document."""
    if not payloads:
        raise ValueError("nothing to push")
    if dest.kind == "http":
        body = document(payloads, "json", batch=batch)
        result = post_json(dest, dest.value("url"), body, idempotency_key, dest.options["reference_pointer"])
        refs = {payloads[0]["number"]: result.erp_reference} if result.erp_reference and not batch else {}
        return PushResult(result.erp_reference, result.response, refs)
    if dest.kind == "odoo":
        from legato.workflow.outbound.odoo import push_orders

        return push_orders(dest, payloads, batch=batch)
    name = file_name(idempotency_key, dest.options["format"])
    data = document(payloads, dest.options["format"], batch=batch)
    if dest.kind == "sftp":
        from legato.workflow.outbound.sftp import upload

        return PushResult(None, upload(dest, name, data))
    return PushResult(None, write_file(Path(dest.value("dir")), name, data))


def write_file(folder: Path, name: str, data: bytes) -> dict[str, Any]:
    """Write to a hidden temporary name, then rename: a reader never sees half a file, and a
    retry replaces the same file (``os.replace`` is atomic on one file system)."""
    tmp = folder / f".{name}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
    except PermissionError as exc:
        raise Fail(f"cannot write {folder / name}: {exc.strerror}") from None
    except OSError as exc:  # a full disk or a lost mount may come back
        raise Retry(f"cannot write {folder / name}: {exc.strerror or exc}") from None
    return {"file": name, "dir": str(folder), "bytes": len(data)}


def logged(exc: E, request: Mapping[str, Any], response: Mapping[str, Any] | None = None) -> E:
    """The failure, carrying what was sent and answered: the runner logs both on the attempt."""
    setattr(exc, "request", dict(request))  # noqa: B010 (an attribute Exception does not declare)
    setattr(exc, "response", dict(response) if response is not None else None)  # noqa: B010
    return exc


def pointer(doc: Any, ptr: str) -> Any:
    """The value at a JSON pointer (RFC 6901), or None when there is none."""
    if ptr == "":
        return doc
    for token in ptr.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, Mapping) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            return None
    return doc


def post_json(dest: Destination, url: str, body: bytes, idempotency_key: str, ref_pointer: str) -> PushResult:
    """POST a JSON body with the key; 2xx -> the reference from the header or the JSON pointer."""
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "Legato",
               "Idempotency-Key": idempotency_key, **dest.value("headers")}  # fmt: skip
    request = {"method": "POST", "url": url, "idempotency_key": idempotency_key, "bytes": len(body)}
    try:
        with httpx.Client(timeout=dest.timeout, follow_redirects=False) as client:
            r = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        raise logged(Retry(f"POST {url}: no answer within {dest.timeout:g} s"), request) from None
    except httpx.TransportError as exc:
        msg = f"POST {url}: the connection failed or was closed ({type(exc).__name__}: {exc})"
        raise logged(Retry(msg), request) from None
    text = r.text[:SUMMARY_CHARS]
    summary: dict[str, Any] = {"status": r.status_code, "body": text}
    if not 200 <= r.status_code < 300:
        msg = f"POST {url} answered {r.status_code}: {text[:300]}"
        retry = r.status_code >= 500 or r.status_code in RETRY_STATUSES
        raise logged(Retry(msg) if retry else Fail(msg), request, summary)
    ref: Any = None
    header = dest.options.get("reference_header")
    if header:
        ref = r.headers.get(header)
    if ref is None and ref_pointer:
        try:
            ref = pointer(r.json(), ref_pointer)
        except ValueError:
            ref = None
    reference = str(ref) if isinstance(ref, str | int) and not isinstance(ref, bool) and str(ref) else None
    summary["reference"] = reference
    return PushResult(reference, summary)


def create_customer(dest: Destination, customer: dict[str, Any], idempotency_key: str) -> PushResult:
    """Create (or find) a customer in the ERP; the result's reference becomes the account's erp_ref."""
    if dest.kind == "odoo":
        from legato.workflow.outbound.odoo import ensure_customer

        return ensure_customer(dest, customer)
    if dest.kind != "http":
        raise Fail(f"destination {dest.name} is a {dest.kind} drop: it cannot create customers "
                   "(use an http or odoo destination)")  # fmt: skip
    url = dest.value("customers_url")
    if not url:
        raise Fail(f"destination {dest.name} has no customers_url to create customers at")
    body = json.dumps(customer, ensure_ascii=False).encode("utf-8")
    result = post_json(dest, url, body, idempotency_key, dest.options["customer_reference_pointer"])
    if result.erp_reference is None:
        where = dest.options.get("reference_header") or dest.options["customer_reference_pointer"]
        raise Fail(f"the ERP created the customer but its answer has no reference at {where}: "
                   f"{str(result.response.get('body'))[:200]}")  # fmt: skip
    return result


__all__ = [
    "FORMATS",
    "KINDS",
    "Destination",
    "PushResult",
    "create_customer",
    "destination",
    "document",
    "file_name",
    "logged",
    "parse_destinations",
    "pointer",
    "post_json",
    "push",
    "resolve",
    "write_file",
]
