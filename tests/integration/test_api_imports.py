"""POST /api/v1/imports and the job endpoints, on both databases, with the ImportWorker running
as ``legato serve`` runs it: upload, 202, progress, the report; scopes, limits and problems."""

from __future__ import annotations

import hashlib
import hmac
import io
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_helpers import count, paths, problem
from fastapi.testclient import TestClient
from openpyxl import Workbook
from tests.conftest import make_settings

from legato.bootstrap import Runtime, build
from legato.domain.catalog import Channel, ChannelType, Product
from legato.intake.imports import ImportWorker
from legato.services.catalog import save_channel, save_product

FIXTURES = Path(__file__).parent.parent / "fixtures" / "spreadsheet"
LIMIT = 256 * 1024


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """The API's runtime, keeping uploads under tmp_path and taking files up to LIMIT bytes."""
    rt = build(make_settings(db_url, import_dir=tmp_path / "imports", max_intake_bytes=LIMIT))
    yield rt
    rt.close()


@pytest.fixture
def sheets(runtime: Runtime) -> Iterator[ImportWorker]:
    """Channel SHEETS with three products, and the worker ``legato serve`` runs for imports."""
    save_channel(
        runtime.uow(), Channel("SHEETS", "Trade sheets", ChannelType.B2B, "spreadsheet", "GBP"), create=True
    )
    for sku, price in (("TEA-100", "4.50"), ("MUG-200", "12.00"), ("POT-300", "39.99")):
        save_product(runtime.uow(), Product(sku, sku.title(), prices={"GBP": Decimal(price)}), create=True)
    worker = ImportWorker(runtime, every=0.2)
    worker.start()
    yield worker
    worker.stop()


def upload(
    client: TestClient, headers: dict[str, str], name: str, body: bytes | None = None, **form: str
) -> Any:
    data = body if body is not None else (FIXTURES / name).read_bytes()
    return client.post(
        "/api/v1/imports",
        files={"file": (name, data, "text/csv")},
        data={"channel": "SHEETS", **form},
        headers=headers,
    )


def finished(client: TestClient, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/imports/{job_id}", headers=headers).json()
        if job["state"] in ("done", "rejected", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} did not finish: {job}")


def test_an_upload_is_stored_queued_with_202_and_imported_by_the_worker(
    client: TestClient, writer: dict[str, str], reader: dict[str, str], sheets: ImportWorker
) -> None:
    r = upload(client, writer, "orders_with_errors.csv", mode="valid_only")
    assert r.status_code == 202, r.text
    queued = r.json()
    assert r.headers["location"] == f"/api/v1/imports/{queued['id']}"
    assert (queued["channel"], queued["filename"], queued["mode"], queued["actor"]) == (
        "SHEETS", "orders_with_errors.csv", "valid_only", "apikey:orders:write",
    )  # fmt: skip
    assert queued["size"] == len((FIXTURES / "orders_with_errors.csv").read_bytes())
    job = finished(client, reader, queued["id"])
    assert (job["state"], job["orders_created"], job["orders_rejected"], job["errors_total"]) == (
        "done",
        1,
        5,
        5,
    )
    assert (job["rows_total"], job["rows_done"]) == (9, 9)
    first = job["errors"][0]
    assert first == {
        "row": 3, "column": "D", "header": "quantity", "code": "not_a_number", "order_ref": "PO-2001",
        "message": '"ten" is not a number with a decimal point (1,234.50)', "value": "ten", "line": None,
    }  # fmt: skip
    placed = client.get("/api/v1/orders?channel=SHEETS", headers=reader).json()["items"]
    assert [o["external_reference"] for o in placed] == ["PO-2006"]


def test_all_or_nothing_is_the_default_and_a_rejected_job_says_why(
    client: TestClient, writer: dict[str, str], sheets: ImportWorker
) -> None:
    job = finished(client, writer, upload(client, writer, "orders_with_errors.csv").json()["id"])
    assert (job["mode"], job["state"], job["orders_created"]) == ("all_or_nothing", "rejected", 0)
    assert job["reason"] == "5 problem(s) in 5 order(s); nothing was imported (all_or_nothing)"
    assert [e["code"] for e in job["errors"]] == [
        "not_a_number", "conflict", "unknown_sku", "invalid_country", "split_order",
    ]  # fmt: skip


def test_the_same_file_again_answers_200_with_its_job_and_creates_nothing(
    client: TestClient, runtime: Runtime, writer: dict[str, str], sheets: ImportWorker
) -> None:
    body = b"order_ref,sku,quantity\nX-1,TEA-100,2\nX-2,MUG-200,1\n"
    first = finished(client, writer, upload(client, writer, "x.csv", body).json()["id"])
    assert (first["state"], first["orders_created"]) == ("done", 2)
    again = upload(client, writer, "renamed.csv", body)
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert count(runtime, "import_jobs") == 1 and count(runtime, "orders") == 2


def test_jobs_are_listed_newest_first_with_filters_and_a_cursor(
    client: TestClient, writer: dict[str, str], reader: dict[str, str], sheets: ImportWorker
) -> None:
    bodies = {n: f"order_ref,sku,quantity\n{n},TEA-100,1\n".encode() for n in ("L-1", "L-2", "L-3")}
    ids = [upload(client, writer, f"{n}.csv", body).json()["id"] for n, body in bodies.items()]
    for job_id in ids:
        finished(client, reader, job_id)
    page = client.get("/api/v1/imports?limit=2&state=done&channel=SHEETS", headers=reader).json()
    assert [j["id"] for j in page["items"]] == ids[::-1][:2] and "errors" not in page["items"][0]
    rest = client.get(f"/api/v1/imports?limit=2&cursor={page['next_cursor']}", headers=reader).json()
    assert ([j["id"] for j in rest["items"]], rest["next_cursor"]) == ([ids[0]], None)
    assert client.get("/api/v1/imports?state=rejected", headers=reader).json()["items"] == []


def test_a_file_over_the_limit_is_refused_with_413_and_nothing_is_kept(
    client: TestClient, runtime: Runtime, writer: dict[str, str], sheets: ImportWorker
) -> None:
    big = b"order_ref,sku,quantity\n" + b"B,TEA-100,1\n" * (LIMIT // 10)
    body = problem(upload(client, writer, "big.csv", big), 413, "payload_too_large")
    assert str(LIMIT) in body["detail"]
    assert count(runtime, "import_jobs") == 0
    tmp = runtime.settings.import_dir / "tmp"  # refused before or while streaming: nothing kept
    assert not tmp.exists() or list(tmp.iterdir()) == []


def test_bad_uploads_are_problems_naming_the_field(
    client: TestClient, writer: dict[str, str], sheets: ImportWorker
) -> None:
    r = client.post("/api/v1/imports", files={"file": ("a.csv", b"x", "text/csv")}, data={"channel": "NOPE"},
                    headers=writer)  # fmt: skip
    body = problem(r, 422, "validation")
    assert paths(body) == ["$.channel"] and body["errors"][0]["code"] == "unknown_channel"
    bad_mode = upload(client, writer, "orders.csv", mode="sometimes")
    assert paths(problem(bad_mode, 422, "validation")) == ["$.mode"]
    missing = client.post("/api/v1/imports", data={"channel": "SHEETS"}, headers=writer)
    assert "file" in paths(problem(missing, 422, "validation"))[0]


def test_uploading_takes_the_orders_write_scope_and_reading_the_read_scope(
    client: TestClient, writer: dict[str, str], reader: dict[str, str], sheets: ImportWorker
) -> None:
    assert problem(upload(client, {}, "orders.csv"), 401, "unauthorized")
    assert problem(upload(client, reader, "orders.csv"), 403, "forbidden")["required_scope"] == "orders:write"
    job_id = upload(client, writer, "orders.csv").json()["id"]
    assert client.get(f"/api/v1/imports/{job_id}", headers=reader).status_code == 200
    assert problem(client.get(f"/api/v1/imports/{job_id}"), 401, "unauthorized")
    problem(client.get("/api/v1/imports/999999", headers=reader), 404, "not_found")


# --- the spreadsheet intake adapter: a signed file POSTed to /intake/{code} ---------------------------

SECRET = "sheets-webhook-secret"


@pytest.fixture
def pushed(runtime: Runtime) -> str:
    """Channel PUSH: adapter spreadsheet, with the house webhook secret; three products."""
    channel = Channel("PUSH", "Pushed sheets", ChannelType.B2B, "spreadsheet", "GBP",
                      secrets={"webhook_secret": SECRET})  # fmt: skip
    save_channel(runtime.uow(), channel, create=True)
    for sku, price in (("TEA-100", "4.50"), ("MUG-200", "12.00")):
        save_product(runtime.uow(), Product(sku, sku.title(), prices={"GBP": Decimal(price)}), create=True)
    return "PUSH"


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Legato-Signature": f"sha256={digest}", "Content-Type": "text/csv"}


def test_a_signed_file_places_its_valid_orders_and_quarantines_the_refused_ones_by_row(
    client: TestClient, runtime: Runtime, reader: dict[str, str], pushed: str
) -> None:
    body = b"order_ref,sku,quantity\nP-1,TEA-100,2\nP-2,MUG-200,two\nP-3,MUG-200,1\n"
    r = client.post(f"/intake/{pushed}", content=body, headers=signed(body))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["state"] == "quarantined" and [o["created"] for o in out["orders"]] == [True, True]
    assert out["reason"] == "1 part(s) refused (P-2); 2 order(s) placed"
    entry = client.get(f"/api/v1/inbox/{out['inbox_id']}", headers=reader).json()
    assert [(e["path"], e["code"], e["reference"]) for e in entry["errors"]] == [
        ("row 3/C (quantity)", "not_a_number", "P-2")
    ]
    again = client.post(f"/intake/{pushed}", content=body, headers=signed(body))
    assert [o["created"] for o in again.json()["orders"]] == [False, False]
    assert count(runtime, "orders") == 2


def test_a_pushed_xlsx_is_read_and_an_unsigned_or_unreadable_file_is_refused(
    client: TestClient, runtime: Runtime, pushed: str
) -> None:
    wb = Workbook()
    wb.active.append(["order_ref", "sku", "quantity"])
    wb.active.append(["X-1", "TEA-100", 3])
    buf = io.BytesIO()
    wb.save(buf)
    xlsx = buf.getvalue()
    placed = client.post(f"/intake/{pushed}", content=xlsx, headers=signed(xlsx))
    assert placed.status_code == 201 and placed.json()["state"] == "processed"
    problem(
        client.post(f"/intake/{pushed}", content=xlsx, headers=signed(xlsx, "wrong")),
        401,
        "signature_invalid",
    )
    latin = "order_ref,sku,quantity,line_name\nL-1,TEA-100,1,Thé\n".encode("cp1252")
    body = problem(client.post(f"/intake/{pushed}", content=latin, headers=signed(latin)), 422, "unparseable")
    (issue,) = body["errors"]
    assert (issue["path"], issue["code"], issue["value"]) == ("line 2", "encoding", "0xe9")
    assert issue["message"].startswith("line 2: byte 49 (0xe9) is not valid utf-8")
    assert count(runtime, "orders") == 1
