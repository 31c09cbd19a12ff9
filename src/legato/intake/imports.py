"""Spreadsheet import jobs: the raw file is stored first, every row is validated, then the
orders are placed in batches.

1. ``receive_file`` (``spreadsheet_upload``) streams the upload to
   ``<import_dir>/<sha256[:2]>/<sha256>.<ext>``, hashing as it writes, fsyncs it, and only
   then records the job. The same file sent again to the same channel is the same job:
   nothing new is created (a job that left orders out, e.g. rejected for an unknown SKU, is
   queued again, so a fix to the catalogue lets them in).
2. ``run_job``, pass 1 (``validating``): reads the file as a stream and checks every row and
   its SKUs (one lookup per batch of orders). In ``all_or_nothing`` every order also goes
   through the order services themselves in a dry run (prices, customers, currencies), since
   one problem anywhere stops the file. Nothing is written.
3. Pass 2 (``importing``): reads the file again and places the valid orders, a batch of
   ``BATCH`` orders per transaction (``legato.services.bulk``), each with its timeline entry
   and outbox event. ``all_or_nothing`` places nothing if any order has a problem;
   ``valid_only`` places the valid ones and reports the rest. An order is never half-placed.
4. The report (``errors``: row, column, header, message, code, order_ref) keeps the first
   ``MAX_ERRORS`` problems and counts the rest.

A job left running by a crash is run again from its file (``ImportWorker`` finds it by its
stale progress time); the orders' idempotency on (channel, order reference) keeps them single.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from legato.bootstrap import Runtime
from legato.domain.commands import LineDraft, OrderDraft, PlaceOrder
from legato.domain.errors import FieldIssue, NotFound, ValidationFailed
from legato.intake.spreadsheet import (
    SheetError,
    SheetOrder,
    detect_format,
    issues_for,
    read_orders,
    settings_of,
    to_draft,
)
from legato.intake.spreadsheet_map import RefIndex
from legato.intake.spreadsheet_read import CellIssue
from legato.intake.spreadsheet_upload import (
    WAKE,
    ImportTooLarge,
    Stored,
    channel_of,
    receive_file,
    store_file,
)
from legato.services.bulk import LookupCache, place_many
from legato.store import imports as jobs
from legato.store.bulk import SqlBatchWriter, read_only
from legato.store.queries import reading
from legato.store.repositories import SqlProducts

log = logging.getLogger("legato.intake")

BATCH = 200  # orders per transaction
PROGRESS_EVERY = 1000  # rows between progress updates
_FAULT = "LEGATO_FAULT"  # "crash_during_import": die after the first batch (the crash test only)


# --- running a job ---------------------------------------------------------------------------------

Progress = Callable[[str, int, int | None], None]  # (state, rows done, rows in all or None)


@dataclass
class Report:
    """The validation report: the first MAX_ERRORS problems, a count of all, the refused orders."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    refused: RefIndex = field(default_factory=RefIndex)  # bounded in memory (it spills to disk)
    refused_unnamed: int = 0  # groups of rows with no order reference at all

    def add(self, issues: Iterable[CellIssue], ref: str | None, *, order: bool = True) -> None:
        for issue in issues:
            self.total += 1
            if len(self.errors) < jobs.MAX_ERRORS:
                self.errors.append(issue.as_dict())
        if not order:
            return
        if ref is None:
            self.refused_unnamed += 1
        elif ref not in self.refused:
            self.refused.put(ref, 0, 0)

    @property
    def orders_refused(self) -> int:
        return len(self.refused) + self.refused_unnamed


def run_job(
    rt: Runtime,
    job_id: int,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    stale: timedelta = jobs.STALE,
) -> jobs.ImportJob:
    """Run a queued job (or one whose process died) to its end; returns it as it ended.
    A job another process is running, or one already finished, is returned as it is."""
    if not jobs.claim(rt.engine, job_id, stale=stale):
        found = jobs.get(rt.engine, job_id)
        if found is None:
            raise NotFound(f"no import job {job_id}")
        return found
    job = jobs.get(rt.engine, job_id)
    assert job is not None
    run = _Run(rt, job, progress, stop)
    try:
        run.run()
    except KeyboardInterrupt:
        jobs.finish(rt.engine, job_id, jobs.FAILED, errors=[], errors_total=0, reason="interrupted")
        raise
    except Exception as exc:  # keep the job and its file: sending the file again runs it again
        log.exception("import job failed", extra={"import_job": job_id})
        why = f"{type(exc).__name__}: {exc}"
        jobs.finish(rt.engine, job_id, jobs.FAILED, errors=[], errors_total=0, reason=why)
    finally:
        run.report.refused.close()
    ended = jobs.get(rt.engine, job_id)
    assert ended is not None
    return ended


class _Stopped(Exception):
    pass


class _Run:
    """One run of one job: pass 1 validates, pass 2 places (see the module's docstring)."""

    def __init__(
        self, rt: Runtime, job: jobs.ImportJob, progress: Progress | None, stop: threading.Event | None
    ) -> None:
        self.rt, self.job, self.progress, self.stop = rt, job, progress, stop
        self.report = Report()
        self.cache = LookupCache()
        self.rows_total: int | None = None
        self.last_row = 1
        self.valid = 0  # orders pass 1 found valid
        self.skus: dict[str, bool] = {}  # SKU -> an active product has it (valid_only's pass 1)
        self.fmt = job.format

    def _tell(self, state: str, done: int) -> None:
        if self.progress is not None:
            self.progress(state, done, self.rows_total)

    def _orders(self, state: str) -> Iterator[SheetOrder]:
        def seen(row: int) -> None:
            self.last_row = row
            if state == jobs.VALIDATING:  # pass 2 tells its progress by the orders placed
                self._tell(state, row - 1)
                jobs.update_job(self.rt.engine, self.job.id, rows_done=row - 1)
                if self.stop is not None and self.stop.is_set():
                    raise _Stopped

        with open(self.job.path, "rb") as f:
            yield from read_orders(f, self.fmt, self.settings, progress=seen, every=PROGRESS_EVERY)

    def _finish(self, state: str, reason: str | None, **counters: Any) -> None:
        r = self.report
        r.errors.sort(key=lambda e: (e["row"] or 0, len(e["column"] or ""), e["column"] or ""))
        counters.setdefault("orders_rejected", r.orders_refused)
        jobs.finish(
            self.rt.engine,
            self.job.id,
            state,
            errors=r.errors,
            errors_total=r.total,
            reason=reason,
            **counters,
        )

    def run(self) -> None:
        channel = channel_of(self.rt, self.job.channel_code)
        try:
            if channel is None or not channel.active:
                raise SheetError(
                    [CellIssue(f"channel {self.job.channel_code} is gone or inactive", "channel")]
                )
            self.channel, self.settings = channel, settings_of(channel)
            with open(self.job.path, "rb") as f:
                self.fmt = detect_format(self.job.filename, f.read(8))
            self._validate()
        except _Stopped:  # the server is stopping: queued again, resumed by the next worker
            jobs.update_job(self.rt.engine, self.job.id, state=jobs.RECEIVED)
            return
        except SheetError as exc:  # the file as a whole: every order is refused
            self.report.add(exc.issues, None, order=False)
            self._finish(jobs.REJECTED, f"the file cannot be read: {exc}")
            return
        self.rows_total = self.last_row - 1
        r, mode = self.report, self.job.mode
        if r.total and (mode == "all_or_nothing" or not self.valid):
            why = "nothing was imported (all_or_nothing)" if mode == "all_or_nothing" else "no order is valid"
            self._finish(jobs.REJECTED, f"{r.total} problem(s) in {r.orders_refused} order(s); {why}",
                         rows_total=self.rows_total)  # fmt: skip
            return
        try:
            created, existing = self._import()
        except _Stopped:  # the server is stopping: queued again, resumed by the next worker
            jobs.update_job(self.rt.engine, self.job.id, state=jobs.RECEIVED)
            return
        summary = f"{r.total} problem(s); {r.orders_refused} order(s) refused" if r.total else None
        self._finish(jobs.DONE, summary, rows_total=self.rows_total, rows_done=self.rows_total,
                     orders_created=created, orders_existing=existing)  # fmt: skip

    def _commands(self, orders: list[SheetOrder]) -> list[PlaceOrder]:
        code, sku_map = self.channel.code, self.channel.settings.extra.get("sku_map") or {}
        name = Path(self.job.filename).name
        out = []
        for o in orders:
            draft = to_draft(o, code)
            if sku_map:
                draft = _mapped(draft, sku_map)
            why = f"imported from {name} (import {self.job.id}, rows {o.first_row}-{o.last_row})"
            out.append(PlaceOrder(draft, self.job.actor, why))
        return out

    def _check(self, batch: list[SheetOrder]) -> None:
        """Pass 1 for a batch. all_or_nothing: every order through the order services in a dry
        run (SKUs, prices, customers), since one problem anywhere must stop the whole file.
        valid_only: the SKUs only (one query per batch); the order services check the rest of
        each order as it is placed, and an order they refuse is reported and left out alone."""
        if self.job.mode != "all_or_nothing":
            self._check_skus(batch)
            return
        uow = read_only(self.rt.uow())
        outcomes = place_many(
            uow, lambda: _writer(uow), self._commands(batch), cache=self.cache, dry_run=True
        )
        for order, out in zip(batch, outcomes, strict=True):
            if out.error is not None:
                self.report.add(issues_for(order, out.error), order.ref)
            else:
                self.valid += 1

    def _check_skus(self, batch: list[SheetOrder]) -> None:
        extra = self.channel.settings.extra
        sku_map = extra.get("sku_map") or {}
        review = extra.get("unknown_sku") == "review"
        wanted = {sku_map.get(r.values["sku"], r.values["sku"]) for o in batch for r in o.rows}
        missing = sorted(wanted - self.skus.keys())
        if missing:
            with reading(self.rt.engine) as conn:
                found = SqlProducts(conn, datetime.now(UTC)).get_many(missing)
            self.skus.update({s: s in found and found[s].active for s in missing})
        for order in batch:
            issues = []
            for i, r in enumerate(order.rows):
                sku = sku_map.get(r.values["sku"], r.values["sku"])
                if not review and not self.skus[sku]:
                    issues.append(
                        FieldIssue(
                            f"lines[{i}].sku", f"no active product with SKU {sku!r}", "unknown_sku", sku
                        )
                    )
            if issues:
                error = ValidationFailed(issues[0].message, issues=issues)
                self.report.add(issues_for(order, error), order.ref)
            else:
                self.valid += 1

    def _validate(self) -> None:
        batch: list[SheetOrder] = []
        for order in self._orders(jobs.VALIDATING):
            if order.issues or order.ref is None:
                if order.split and order.ref not in self.report.refused:
                    # its first part was read as a valid order: it is refused with this one
                    kept = [o for o in batch if o.ref != order.ref]
                    self.valid -= 1 if len(kept) == len(batch) else 0
                    batch = kept
                self.report.add(order.issues, order.ref)
                continue
            batch.append(order)
            if len(batch) == BATCH:
                self._check(batch)
                batch = []
        if batch:
            self._check(batch)

    def _import(self) -> tuple[int, int]:
        """Pass 2: place the valid orders, a batch per transaction."""
        jobs.update_job(
            self.rt.engine, self.job.id, state=jobs.IMPORTING, rows_done=0, rows_total=self.rows_total
        )
        created = existing = 0

        def place(batch: list[SheetOrder]) -> None:
            nonlocal created, existing
            uow = self.rt.uow()
            outcomes = place_many(uow, lambda: _writer(uow), self._commands(batch), cache=self.cache)
            for order, out in zip(batch, outcomes, strict=True):
                if out.error is not None:  # the catalogue changed since pass 1
                    self.report.add(issues_for(order, out.error), order.ref)
            created += sum(1 for o in outcomes if o.created)
            existing += sum(1 for o in outcomes if o.error is None and not o.created)
            done = batch[-1].last_row - 1
            jobs.update_job(self.rt.engine, self.job.id, rows_done=done, orders_created=created,
                            orders_existing=existing)  # fmt: skip
            self._tell(jobs.IMPORTING, done)
            if os.environ.get(_FAULT) == "crash_during_import":
                os._exit(137)
            if self.stop is not None and self.stop.is_set():
                raise _Stopped

        batch: list[SheetOrder] = []
        for order in self._orders(jobs.IMPORTING):
            if order.issues or order.ref is None or order.ref in self.report.refused:
                continue
            batch.append(order)
            if len(batch) == BATCH:
                place(batch)
                batch = []
        if batch:
            place(batch)
        self._tell(jobs.IMPORTING, self.rows_total or 0)
        return created, existing


def _writer(uow: Any) -> SqlBatchWriter:
    assert uow.conn is not None
    return SqlBatchWriter(uow.conn)


def _mapped(draft: OrderDraft, sku_map: dict[str, str]) -> OrderDraft:
    """The channel's item codes -> catalogue SKUs (its ``sku_map``), as the intake pipeline does."""
    lines = tuple(replace(ln, sku=sku_map.get(ln.sku, ln.sku)) if isinstance(ln, LineDraft) else ln
                  for ln in draft.lines)  # fmt: skip
    return replace(draft, lines=lines)


def run_pending(
    rt: Runtime, *, stop: threading.Event | None = None, stale: timedelta = jobs.STALE
) -> list[int]:
    """Run every queued job, and every job whose process died; returns their ids."""
    done = []
    for job_id in jobs.pending(rt.engine, stale=stale):
        if stop is not None and stop.is_set():
            break
        run_job(rt, job_id, stop=stop, stale=stale)
        done.append(job_id)
    return done


class ImportWorker:
    """Runs the API's queued import jobs in the serving process (``BACKGROUND``), and resumes
    jobs whose process died. One daemon thread; woken at once by a new upload; stopping
    interrupts a job between two batches and queues it again for the next worker."""

    def __init__(self, rt: Runtime, every: float = 10.0, stale: timedelta = jobs.STALE) -> None:
        self.rt, self.every, self.stale = rt, every, stale
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="legato-imports", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        WAKE.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            WAKE.clear()
            try:
                ran = run_pending(self.rt, stop=self._stop, stale=self.stale)
                if ran:
                    log.info("import jobs run", extra={"import_jobs": ran})
            except Exception:  # the worker outlives a bad round (e.g. the database restarting)
                log.exception("import round failed")
            WAKE.wait(self.every)


__all__ = [
    "BATCH",
    "ImportTooLarge",
    "ImportWorker",
    "Report",
    "Stored",
    "receive_file",
    "run_job",
    "run_pending",
    "store_file",
]
