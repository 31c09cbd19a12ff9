"""Spreadsheet import jobs on both databases: the raw file kept first, all_or_nothing against
valid_only, the report by row and column, re-imports that create nothing, a crash resumed, and
bulk-placed orders stored exactly like orders placed one by one."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_helpers import count, outbox
from openpyxl import Workbook
from sqlalchemy import select
from tests.conftest import TEST_SECRET, make_settings

from legato.bootstrap import Runtime, build
from legato.domain.catalog import Account, Channel, ChannelSettings, ChannelType, Pricelist, Product
from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder
from legato.domain.errors import ValidationFailed
from legato.domain.lifecycle import OrderStatus
from legato.intake import imports
from legato.intake.spreadsheet import SheetSettings, read_orders, to_draft
from legato.services.bulk import place_many
from legato.services.catalog import save_account, save_channel, save_pricelist, save_product
from legato.services.orders import place_order
from legato.store import imports as jobs
from legato.store import tables as t
from legato.store.bulk import SqlBatchWriter

FIXTURES = Path(__file__).parent.parent / "fixtures" / "spreadsheet"
PRICES = {
    "TEA-100": {"GBP": "4.50", "EUR": "5.20"},
    "MUG-200": {"GBP": "12.00", "EUR": "13.90"},
    "POT-300": {"GBP": "39.99", "EUR": "45.00"},
}


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Any:
    runtime = build(make_settings(db_url, import_dir=tmp_path / "imports"))
    yield runtime
    runtime.close()


def catalogue(rt: Runtime, **extra: Any) -> None:
    """Channel SHEETS (GBP; customers by code, then email), three products, and ACME: an
    account in EUR with a contract price for TEA-100."""
    settings = ChannelSettings(match_keys=("code", "email"), extra=extra)
    save_channel(rt.uow(), Channel("SHEETS", "Trade sheets", ChannelType.B2B, "spreadsheet", "GBP", settings),
                 create=True)  # fmt: skip
    for sku, prices in PRICES.items():
        product = Product(sku, sku.title(), prices={c: Decimal(v) for c, v in prices.items()})
        save_product(rt.uow(), product, create=True)
    contract = Pricelist(
        code="ACME-2026", name="Acme contract", currency="EUR", items={"TEA-100": Decimal("4.00")}
    )
    save_pricelist(rt.uow(), contract, create=True)
    acme = Account(
        "ACME", "Acme Trading", email="buyer@acme.example", currency="EUR", pricelist_code="ACME-2026"
    )
    save_account(rt.uow(), acme, create=True)


def run_file(
    rt: Runtime, path: Path, mode: str = "all_or_nothing", name: str | None = None
) -> jobs.ImportJob:
    job, _ = imports.receive_file(
        rt, "SHEETS", [path.read_bytes()], name or path.name, mode=mode, actor="cli:ann"
    )
    return imports.run_job(rt, job.id)


def refs(rt: Runtime) -> list[str]:
    with rt.engine.connect() as conn:
        return list(conn.execute(select(t.orders.c.external_ref).order_by(t.orders.c.id)).scalars())


def test_the_worked_example_places_each_order_priced_matched_and_recorded(rt: Runtime) -> None:
    catalogue(rt)
    job = run_file(rt, FIXTURES / "orders.csv")
    assert (job.state, job.orders_created, job.orders_rejected, job.errors) == ("done", 3, 0, [])
    assert (job.rows_total, job.rows_done, job.finished_at is not None) == (5, 5, True)
    assert refs(rt) == ["PO-1001", "PO-1002", "PO-1003"]
    with rt.engine.connect() as conn:
        o = conn.execute(select(t.orders).where(t.orders.c.external_ref == "PO-1001")).one()
        lines = conn.execute(
            select(t.order_lines).where(t.order_lines.c.order_id == o.id).order_by("line_no")
        ).all()
        entry = conn.execute(select(t.order_timeline).where(t.order_timeline.c.order_id == o.id)).one()
    assert (o.currency, o.priority, o.notes, o.tags) == ("EUR", 5, "Deliver to gate 3", ["trade", "monthly"])
    assert [(ln.sku, ln.unit_price, ln.price_source.split(":")[0]) for ln in lines] == [
        ("TEA-100", Decimal("4.00"), "contract"),  # ACME's contract, matched by customer_code
        ("MUG-200", Decimal("13.90"), "product"),
    ]
    assert lines[1].name == "Mug (blue)" and lines[1].discount == Decimal("1.50")
    assert (entry.actor, entry.kind) == ("cli:ann", "created")
    assert entry.reason == f"imported from orders.csv (import {job.id}, rows 2-3)"
    assert outbox(rt)["order.created"] == 3
    stored = Path(jobs.get(rt.engine, job.id).path)  # type: ignore[union-attr]
    assert stored.read_bytes() == (FIXTURES / "orders.csv").read_bytes()
    assert stored.name == f"{job.sha256}.csv" and stored.is_relative_to(rt.settings.import_dir.resolve())


EXPECTED = [  # orders_with_errors.csv: (row, column, code, order)
    (3, "D", "not_a_number", "PO-2001"),
    (5, "B", "conflict", "PO-2002"),
    (6, "C", "unknown_sku", "PO-2003"),
    (7, "E", "invalid_country", "PO-2004"),
    (10, "A", "split_order", "PO-2005"),
]


def test_all_or_nothing_places_nothing_when_any_order_has_a_problem_and_names_each_one(rt: Runtime) -> None:
    catalogue(rt)
    job = run_file(rt, FIXTURES / "orders_with_errors.csv")
    assert (job.state, job.orders_created, job.orders_rejected, job.errors_total) == ("rejected", 0, 5, 5)
    assert [(e["row"], e["column"], e["code"], e["order_ref"]) for e in job.errors] == EXPECTED
    assert job.reason == "5 problem(s) in 5 order(s); nothing was imported (all_or_nothing)"
    assert count(rt, "orders") == 0 and count(rt, "outbox") == 0


def test_valid_only_places_every_valid_order_and_reports_the_rest(rt: Runtime) -> None:
    catalogue(rt)
    job = run_file(rt, FIXTURES / "orders_with_errors.csv", "valid_only")
    assert (job.state, job.orders_created, job.orders_rejected) == ("done", 1, 5)
    assert [(e["row"], e["column"], e["code"], e["order_ref"]) for e in job.errors] == EXPECTED
    assert refs(rt) == ["PO-2006"]  # PO-2005's first part (row 8) is refused with its second
    assert job.reason == "5 problem(s); 5 order(s) refused"


def test_in_all_or_nothing_a_price_the_catalogue_lacks_is_found_before_anything_is_placed(
    rt: Runtime,
) -> None:
    catalogue(rt)
    data = b"order_ref,currency,sku,quantity\nA,GBP,TEA-100,1\nB,JPY,MUG-200,1\nC,GBP,POT-300,1\n"
    path = rt.settings.import_dir.parent / "jpy.csv"
    path.write_bytes(data)
    job = run_file(rt, path)
    assert job.state == "rejected" and count(rt, "orders") == 0
    (problem,) = job.errors  # no JPY price, and no rate to convert one (the code says which)
    assert (problem["row"], problem["column"], problem["order_ref"]) == (3, "C", "B")
    assert problem["code"] in ("price_not_found", "rate_missing")


def test_importing_the_same_file_again_returns_its_job_and_creates_nothing(rt: Runtime) -> None:
    catalogue(rt)
    first = run_file(rt, FIXTURES / "orders.csv")
    before = (count(rt, "orders"), count(rt, "outbox"), count(rt, "order_timeline"))
    again, created = imports.receive_file(rt, "SHEETS", [(FIXTURES / "orders.csv").read_bytes()], "copy.csv",
                                          actor="cli:bob")  # fmt: skip
    assert (again.id, created, again.state) == (first.id, False, "done")
    assert imports.run_job(rt, again.id).state == "done"  # a finished job is not run again
    assert count(rt, "import_jobs") == 1
    assert (count(rt, "orders"), count(rt, "outbox"), count(rt, "order_timeline")) == before


def test_a_file_refused_for_a_missing_product_goes_in_when_sent_again_after_the_fix(rt: Runtime) -> None:
    catalogue(rt)
    path = rt.settings.import_dir.parent / "new.csv"
    path.write_bytes(b"order_ref,sku,quantity\nN-1,TEA-100,1\nN-2,CUP-400,2\n")
    assert run_file(rt, path).state == "rejected"
    save_product(rt.uow(), Product("CUP-400", "Cup", prices={"GBP": Decimal("3.00")}), create=True)
    job, created = imports.receive_file(rt, "SHEETS", [path.read_bytes()], "new.csv", actor="cli:ann")
    assert (created, job.state, job.attempts) == (False, "received", 1)  # the same job, queued again
    done = imports.run_job(rt, job.id)
    assert (done.state, done.orders_created, done.attempts, done.errors) == ("done", 2, 2, [])


def test_rows_of_different_orders_share_products_and_customers_across_batches(rt: Runtime) -> None:
    catalogue(rt)
    rows = [
        f"R-{i:04d},buyer@acme.example,{sku},{1 + i % 3}"
        for i in range(450)
        for sku in ("TEA-100", "MUG-200")
    ]
    path = rt.settings.import_dir.parent / "many.csv"
    path.write_text("order_ref,customer_email,sku,quantity\n" + "\n".join(rows) + "\n")
    job = run_file(rt, path, "valid_only")
    assert (job.state, job.orders_created, job.rows_total) == ("done", 450, 900)
    assert (
        count(rt, "orders") == 450 and count(rt, "order_lines") == 900 and count(rt, "order_timeline") == 450
    )
    with rt.engine.connect() as conn:
        numbers = conn.execute(select(t.orders.c.id, t.orders.c.account_id).order_by(t.orders.c.id)).all()
    assert [n.id for n in numbers] == list(range(numbers[0].id, numbers[0].id + 450))
    assert {n.account_id for n in numbers} == {numbers[0].account_id} != {None}


def test_an_xlsx_file_imports_like_its_csv(rt: Runtime) -> None:
    catalogue(rt)
    wb = Workbook()
    ws = wb.active
    for line in (FIXTURES / "orders.csv").read_text().splitlines():
        ws.append(next(iter(__import__("csv").reader([line]))))
    buf = io.BytesIO()
    wb.save(buf)
    path = rt.settings.import_dir.parent / "orders.xlsx"
    path.write_bytes(buf.getvalue())
    job = run_file(rt, path)
    assert (job.format, job.state, job.orders_created) == ("xlsx", "done", 3)


def test_a_file_over_the_limit_is_refused_and_leaves_nothing_behind(rt: Runtime) -> None:
    catalogue(rt)
    with pytest.raises(imports.ImportTooLarge):
        imports.receive_file(rt, "SHEETS", [b"x" * 600, b"y" * 600], "big.csv", actor="a", max_bytes=1000)
    assert count(rt, "import_jobs") == 0
    assert list((rt.settings.import_dir / "tmp").iterdir()) == []


def test_an_unknown_channel_or_mode_is_refused_before_anything_is_stored(rt: Runtime) -> None:
    catalogue(rt)
    for channel, mode, path in (("NOPE", "valid_only", "channel"), ("SHEETS", "some", "mode")):
        with pytest.raises(ValidationFailed) as caught:
            imports.receive_file(rt, channel, [b"x"], "x.csv", mode=mode, actor="a")
        assert caught.value.issues[0].path == path
    assert count(rt, "import_jobs") == 0


def test_a_job_whose_file_is_gone_fails_with_the_reason_and_the_worker_goes_on(rt: Runtime) -> None:
    catalogue(rt)
    broken, _ = imports.receive_file(
        rt, "SHEETS", [b"order_ref,sku,quantity\nG,TEA-100,1\n"], "g.csv", actor="a"
    )
    Path(broken.path).unlink()
    fine, _ = imports.receive_file(rt, "SHEETS", [(FIXTURES / "orders.csv").read_bytes()], "o.csv", actor="a")
    assert imports.run_pending(rt) == [broken.id, fine.id]
    failed = jobs.get(rt.engine, broken.id)
    assert failed is not None and failed.state == "failed" and "FileNotFoundError" in (failed.reason or "")
    assert jobs.get(rt.engine, fine.id).state == "done"  # type: ignore[union-attr]


def test_an_import_killed_midway_is_resumed_from_its_file_and_each_order_placed_once(
    rt: Runtime, db_url: str
) -> None:
    catalogue(rt)
    path = rt.settings.import_dir.parent / "crash.csv"
    path.write_text("order_ref,sku,quantity\n" + "".join(f"C-{i:04d},TEA-100,1\n" for i in range(450)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, LEGATO_FAULT="crash_during_import",
               LEGATO_IMPORT_DIR=str(rt.settings.import_dir))  # fmt: skip
    command = [sys.executable, "-m", "legato.cli", "import", "run", str(path), "--channel", "SHEETS"]
    died = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert died.returncode == 137, died.stderr
    (job,) = jobs.listing(rt.engine, state=None, channel=None, limit=5, cursor=None)[0]
    assert (job.state, job.orders_created) == ("importing", imports.BATCH)  # one batch committed
    assert imports.run_pending(rt, stale=timedelta(hours=1)) == []  # not stale yet: nobody takes it
    assert imports.run_pending(rt, stale=timedelta(0)) == [job.id]
    done = jobs.get(rt.engine, job.id)
    assert done is not None and (done.state, done.attempts) == ("done", 2)
    assert (done.orders_created, done.orders_existing) == (450 - imports.BATCH, imports.BATCH)
    assert count(rt, "orders") == 450 == outbox(rt)["order.created"] == count(rt, "order_timeline")


def test_a_bulk_placed_order_is_stored_exactly_like_one_placed_alone(rt: Runtime) -> None:
    catalogue(rt, unknown_sku="review")
    with (FIXTURES / "orders.csv").open("rb") as f:
        drafts = [to_draft(o, "SHEETS") for o in read_orders(f, "csv", SheetSettings())]
    drafts.append(OrderDraft("SHEETS", (LineDraft("NEW-1", Decimal(2), Decimal("3.10")),), "REVIEW"))
    drafts.append(
        OrderDraft("SHEETS", (LineDraft("TEA-100", Decimal(1)),), "HELD", status=OrderStatus.ON_HOLD)
    )
    for d in drafts:
        place_order(
            rt.uow(), PlaceOrder(replace(d, external_reference=f"ONE-{d.external_reference}"), "t", "why")
        )
    uow = rt.uow()
    commands = [
        PlaceOrder(replace(d, external_reference=f"BULK-{d.external_reference}"), "t", "why") for d in drafts
    ]
    outcomes = place_many(uow, lambda: SqlBatchWriter(uow.conn), commands)  # type: ignore[arg-type]
    assert [o.created for o in outcomes] == [True] * len(drafts)
    for d in drafts:
        one, bulk = _stored(rt, f"ONE-{d.external_reference}"), _stored(rt, f"BULK-{d.external_reference}")
        assert one == bulk, d.external_reference


def _stored(rt: Runtime, ref: str) -> list[dict[str, Any]]:
    """The order's rows in every table, without what differs by nature (ids, times, the ref)."""
    per_order = {"id", "order_id", "external_ref", "created_at", "updated_at", "at", "aggregate_id"}
    with rt.engine.connect() as conn:
        o = conn.execute(select(t.orders).where(t.orders.c.external_ref == ref)).one()
        found = [dict(o._mapping)]
        for table, key in (
            (t.order_lines, "order_id"),
            (t.order_timeline, "order_id"),
            (t.outbox, "aggregate_id"),
        ):
            rows = conn.execute(select(table).where(table.c[key] == o.id).order_by(*table.primary_key))
            found += [dict(r._mapping) for r in rows]
    for r in found:
        if isinstance(r.get("payload"), dict):
            r["payload"] = {
                k: v for k, v in r["payload"].items() if k not in ("order_id", "number", "external_reference")
            }
    return [{k: v for k, v in r.items() if k not in per_order} for r in found]


DOC = Path(__file__).parent.parent.parent / "docs" / "channels" / "spreadsheet.md"


def test_the_docs_show_the_worked_example_file_and_the_report_a_real_import_gives(rt: Runtime) -> None:
    page = DOC.read_text()
    block = page.split("```csv\n", 1)[1].split("```", 1)[0]
    assert block == (FIXTURES / "orders.csv").read_text()
    catalogue(rt)
    job = run_file(rt, FIXTURES / "orders_with_errors.csv", "valid_only")
    table = page.split("| row | column | order | code | message |\n| --- | --- | --- | --- | --- |\n", 1)[1]
    documented = [line.strip("|").split(" | ") for line in table.split("\n\n", 1)[0].splitlines()]
    actual = [[str(e["row"]), f"{e['column']} ({e['header']})", e["order_ref"], e["code"], e["message"]]
              for e in job.errors]  # fmt: skip
    assert [[cell.strip() for cell in row] for row in documented] == actual


def test_a_job_stopped_between_batches_is_queued_again_and_finishes_where_it_left_off(rt: Runtime) -> None:
    catalogue(rt)
    path = rt.settings.import_dir.parent / "stop.csv"
    path.write_text("order_ref,sku,quantity\n" + "".join(f"S-{i:04d},MUG-200,1\n" for i in range(450)))
    job, _ = imports.receive_file(rt, "SHEETS", [path.read_bytes()], "stop.csv", actor="a")
    stop = threading.Event()

    def progress(state: str, done: int, total: int | None) -> None:
        if state == "importing":
            stop.set()  # as ImportWorker.stop() does while the first batch is being placed

    stopped = imports.run_job(rt, job.id, progress=progress, stop=stop)
    assert (stopped.state, stopped.orders_created, count(rt, "orders")) == (
        "received",
        imports.BATCH,
        imports.BATCH,
    )
    done = imports.run_job(rt, job.id)
    assert (done.state, done.orders_created, done.orders_existing) == (
        "done",
        450 - imports.BATCH,
        imports.BATCH,
    )
    assert count(rt, "orders") == 450
