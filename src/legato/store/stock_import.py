"""The stock file (CSV): ``location,sku,quantity,unit_cost,reference`` with a header row.

Two modes: ``receive`` (each row is a receipt of ``quantity``) and ``set`` (each row is a count:
on hand is adjusted to ``quantity``). The whole file is checked first and applied in one
transaction: one bad row and nothing changes; every problem names its row and column
(``row 3, column C (quantity)``). A row with a reference applies once: importing the same file
again changes nothing (its key is the reference and the row number).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine, select

from legato.domain.errors import FieldIssue, LegatoError, ValidationFailed
from legato.store import stock
from legato.store.inventory_tables import locations

COLUMNS = ("location", "sku", "quantity", "unit_cost", "reference")
REQUIRED = ("location", "sku", "quantity")
MODES = ("receive", "set")
MAX_ROWS = 100_000


@dataclass(frozen=True)
class Row:
    row: int  # the file's row number (the header is row 1)
    location: str
    sku: str
    quantity: Decimal
    unit_cost: Decimal | None
    reference: str | None


@dataclass
class ImportResult:
    mode: str
    rows: int = 0
    applied: int = 0  # rows that moved stock
    replayed: int = 0  # rows already imported (same reference and row)
    unchanged: int = 0  # counts that matched on hand
    filled_orders: list[int] = field(default_factory=list)


def _where(row: int, header: list[str], column: str) -> str:
    letter = chr(ord("A") + header.index(column)) if column in header else "?"
    return f"row {row}, column {letter} ({column})"


def parse(text: str, mode: str) -> list[Row]:
    """The file's rows, or ``ValidationFailed`` naming every bad cell (row and column)."""
    if mode not in MODES:
        msg = f"the mode is one of {', '.join(MODES)}"
        raise ValidationFailed(msg, issues=[FieldIssue("mode", msg, "invalid", mode)])
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    issues: list[FieldIssue] = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        msg = f"the header row must name the columns {', '.join(COLUMNS)}"
        if missing:
            msg += f"; missing: {', '.join(missing)}"
        if unknown:
            msg += f"; unknown: {', '.join(unknown)}"
        raise ValidationFailed(msg, issues=[FieldIssue("row 1 (header)", msg, "invalid_header")])
    rows: list[Row] = []
    for n, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            msg = f"at most {MAX_ROWS} rows in one file"
            raise ValidationFailed(msg, issues=[FieldIssue(f"row {n}", msg, "too_many_rows")])
        v = {c: (cells[i].strip() if i < len(cells) else "") for i, c in enumerate(header)}
        for c in REQUIRED:
            if not v[c]:
                issues.append(FieldIssue(_where(n, header, c), f"{c} is required", "required"))
        qty = _number(v["quantity"], _where(n, header, "quantity"), issues)
        if qty is not None:
            if mode == "receive" and qty <= 0:
                issues.append(
                    FieldIssue(_where(n, header, "quantity"), "a receipt is more than 0", "invalid")
                )
            elif mode == "set" and qty < 0:
                issues.append(FieldIssue(_where(n, header, "quantity"), "a count is 0 or more", "invalid"))
        cost = _number(v.get("unit_cost", ""), _where(n, header, "unit_cost"), issues)
        if cost is not None and cost < 0:
            issues.append(FieldIssue(_where(n, header, "unit_cost"), "a cost is 0 or more", "invalid"))
        ref = v.get("reference") or None
        if ref is not None and len(ref) > 150:
            issues.append(FieldIssue(_where(n, header, "reference"), "at most 150 characters", "too_long"))
        rows.append(Row(n, v["location"], v["sku"], qty or Decimal(0), cost, ref))
    if not rows and not issues:
        msg = "the file has no rows under its header"
        raise ValidationFailed(msg, issues=[FieldIssue("row 2", msg, "empty")])
    if issues:
        raise ValidationFailed(f"{len(issues)} problem(s) in the file; nothing was imported", issues=issues)
    return rows


def _number(text: str, where: str, issues: list[FieldIssue]) -> Decimal | None:
    if not text:
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        d = Decimal("NaN")
    if not d.is_finite():
        issues.append(FieldIssue(where, "must be a number", "invalid", text))
        return None
    return d


def import_stock(
    engine: Engine, text: str, *, mode: str = "receive", actor: str = "import", at: datetime | None = None
) -> ImportResult:
    """Check the whole file, then apply it in one transaction (all rows or none)."""
    rows = parse(text, mode)
    at = at or datetime.now(UTC)
    header = [h.strip().lower() for h in next(csv.reader(io.StringIO(text.lstrip("\ufeff"))))]
    out = ImportResult(mode, rows=len(rows))
    with stock.transaction(engine) as conn:
        codes = sorted({r.location for r in rows})
        q = select(locations.c.code, locations.c.kind).where(locations.c.code.in_(codes))
        kinds = {r.code: r.kind for r in conn.execute(q)}
        skus = stock.known_skus(conn, [r.sku for r in rows])
        issues: list[FieldIssue] = []
        for r in rows:
            at_location = _where(r.row, header, "location")
            if r.location not in kinds:
                issues.append(FieldIssue(at_location, "no such location", "unknown_location", r.location))
            elif kinds[r.location] == "supplier":
                msg = "a dropship supplier keeps no stock"
                issues.append(FieldIssue(at_location, msg, "not_a_stock_location", r.location))
            if r.sku not in skus:
                issues.append(
                    FieldIssue(_where(r.row, header, "sku"), "no such product", "unknown_sku", r.sku)
                )
        if issues:
            raise ValidationFailed(
                f"{len(issues)} problem(s) in the file; nothing was imported", issues=issues
            )
        for r in rows:
            key = stock.movement_key(f"csv-{mode}", f"{r.reference}:{r.row}" if r.reference else None)
            try:
                if mode == "receive":
                    done = stock.receive(conn, r.location, r.sku, r.quantity, r.unit_cost, r.reference, key,
                                         actor=actor, at=at)  # fmt: skip
                else:
                    counted = stock.set_count(conn, r.location, r.sku, r.quantity, reference=r.reference,
                                              unit_cost=r.unit_cost, key=key, actor=actor, at=at)  # fmt: skip
                    if counted is None:
                        out.unchanged += 1
                        continue
                    done = counted
            except LegatoError as exc:  # e.g. a count below what is reserved: nothing is kept
                where = _where(r.row, header, "quantity")
                raise ValidationFailed(
                    f"{where}: {exc.detail}; nothing was imported",
                    issues=[FieldIssue(where, exc.detail, exc.code, str(r.quantity))],
                ) from exc
            if done.replayed:
                out.replayed += 1
            else:
                out.applied += 1
                out.filled_orders.extend(o for o in done.filled_orders if o not in out.filled_orders)
    return out


__all__ = ["COLUMNS", "MODES", "ImportResult", "Row", "import_stock", "parse"]
