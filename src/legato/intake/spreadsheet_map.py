"""From rows to orders: the header mapped to fields, each row read, rows grouped into orders.

One row is one line; the rows of one order share its order reference and must follow one
another. Order-level columns (customer, addresses, currency, notes ...) are read from the
order's first row; a later row of the same order may leave them empty or repeat them, but
a different value is an error naming both rows. A reference that comes back after other
orders is an error for that order (its rows are not together; reading never holds more
than one order's rows, so memory stays flat however long the file is).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import InvalidOperation
from typing import Any

from legato.intake.spreadsheet_cells import (
    FIELDS,
    LINE_FIELDS,
    MAX_LINES,
    READERS,
    REQUIRED,
    BadCell,
    as_text,
    normalise_header,
    quoted,
)
from legato.intake.spreadsheet_read import (
    CellIssue,
    ErrorCell,
    FormulaCell,
    Merge,
    SheetError,
    column_letter,
    sheet_error,
)

# --- the header --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Which column holds which field (0-based index), and the header as written."""

    fields: tuple[tuple[int, str], ...]
    headers: tuple[str, ...]
    unnamed: frozenset[int]  # columns with no header: a value there is an error on its row

    def header(self, index: int) -> str:
        return self.headers[index] if index < len(self.headers) else ""

    def column_of(self, name: str) -> int | None:
        return next((i for i, f in self.fields if f == name), None)


def resolve_columns(header_row: Sequence[Any], mapping: Mapping[str, str | None] | None) -> Columns:
    """Map the header row to fields: the channel's ``columns`` mapping first (header -> field,
    or None to ignore a column), else a header that is a field's name. Refuses an unknown
    field in the mapping, an unknown or duplicate header and a missing required one."""
    issues: list[CellIssue] = []
    wanted: dict[str, str | None] = {}
    for header, target in (mapping or {}).items():
        if target is not None and target not in READERS:
            msg = (
                f"the channel's columns mapping sends {quoted(header)} to {quoted(target)}, "
                f"which is not a field; fields: {', '.join(FIELDS)}"
            )
            issues.append(CellIssue(msg, "unknown_field", value=target))
            continue
        wanted[normalise_header(str(header))] = target
    headers = tuple(as_text(v) if v is not None else "" for v in header_row)
    if not any(headers):
        raise sheet_error("row 1 must be the header row; it is empty", "missing_header", row=1)
    fields: list[tuple[int, str]] = []
    seen_header: dict[str, int] = {}
    seen_field: dict[str, int] = {}
    unnamed: set[int] = set()
    for i, text in enumerate(headers):
        if not text:
            unnamed.add(i)
            continue
        key = normalise_header(text)
        if key in seen_header:
            msg = f"the header {quoted(text)} appears twice (also column {column_letter(seen_header[key])})"
            issues.append(CellIssue(msg, "duplicate_header", row=1, column=i, header=text))
            continue
        seen_header[key] = i
        target = wanted.get(key, key if key in READERS else "")
        if target is None:
            continue  # mapped to nothing: ignored on purpose
        if not target:
            msg = (
                f"{quoted(text)} is not a field, and the channel's columns mapping does not name it "
                "(map it to a field, or to null to ignore it)"
            )
            issues.append(CellIssue(msg, "unknown_header", row=1, column=i, header=text))
            continue
        if target in seen_field:
            msg = f"{quoted(text)} and column {column_letter(seen_field[target])} both hold {target}"
            issues.append(CellIssue(msg, "duplicate_header", row=1, column=i, header=text))
            continue
        seen_field[target] = i
        fields.append((i, target))
    for name in REQUIRED:
        if name not in seen_field:
            named = [h for h, f in (mapping or {}).items() if f == name]
            via = f" (the channel maps {', '.join(quoted(h) for h in named)} to it)" if named else ""
            msg = f"no column holds {name}{via}; the header row needs it"
            issues.append(CellIssue(msg, "missing_header", row=1))
    if issues:
        raise SheetError(issues)
    return Columns(tuple(fields), headers, frozenset(unnamed))


# --- what a pass remembers --------------------------------------------------------------------


class RefIndex:
    """Order references -> (first row, last row), in memory up to ``limit`` entries, then in a
    temporary SQLite file: what a pass remembers of every order stays bounded in memory
    however many orders a file holds (a dict costs about 200 bytes per order)."""

    def __init__(self, limit: int = 5_000) -> None:
        self.limit = limit
        self._mem: dict[str, tuple[int, int]] = {}
        self._db: sqlite3.Connection | None = None
        self._count = 0

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, str) and self.get(ref) is not None

    def __len__(self) -> int:
        return self._count

    def get(self, ref: str) -> tuple[int, int] | None:
        if self._db is None:
            return self._mem.get(ref)
        row = self._db.execute("SELECT first, last FROM refs WHERE ref = ?", (ref,)).fetchone()
        return (row[0], row[1]) if row else None

    def put(self, ref: str, first: int, last: int) -> None:
        if self._db is None:
            self._count += ref not in self._mem
            self._mem[ref] = (first, last)
            if len(self._mem) > self.limit:
                self._spill()
            return
        self._count += self.get(ref) is None
        self._db.execute("INSERT OR REPLACE INTO refs VALUES (?, ?, ?)", (ref, first, last))

    def _spill(self) -> None:
        fd, path = tempfile.mkstemp(prefix="legato-refs-", suffix=".db")
        os.close(fd)
        self._db = sqlite3.connect(path, isolation_level=None)
        os.unlink(path)  # gone from the directory at once; the open connection keeps it until closed
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE refs (ref TEXT PRIMARY KEY, first INTEGER, last INTEGER)")
        self._db.executemany(
            "INSERT INTO refs VALUES (?, ?, ?)", ((r, f, t) for r, (f, t) in self._mem.items())
        )
        self._mem.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


# --- rows and orders -----------------------------------------------------------------------------


@dataclass
class SheetRow:
    number: int
    values: dict[str, Any]  # field -> parsed value (only the cells that hold one)


@dataclass
class SheetOrder:
    """One order's rows as read, and every problem found in them (none: it can be placed)."""

    ref: str | None
    rows: list[SheetRow] = field(default_factory=list)
    issues: list[CellIssue] = field(default_factory=list)
    split: bool = False  # the reference came back after other orders: refuse every part of it
    columns: Columns | None = field(default=None, repr=False)  # where each field is, for reports
    fields: dict[str, Any] = field(default_factory=dict)  # order-level fields (from the first row)

    @property
    def first_row(self) -> int:
        return self.rows[0].number if self.rows else 0

    @property
    def last_row(self) -> int:
        return self.rows[-1].number if self.rows else 0

    def value(self, name: str) -> Any:
        """An order-level field: from the first row that has it (later rows agree or are empty)."""
        return self.fields.get(name)


class RowReader:
    """Reads the data rows of one sheet into SheetOrders, one order at a time."""

    def __init__(
        self, columns: Columns, merged: Sequence[Merge], *, decimal_comma: bool, remember: int = 5_000
    ) -> None:
        self.columns, self.decimal_comma = columns, decimal_comma
        self.merged = [g for g in merged if g.max_row >= 2]  # a merge inside the header row is harmless
        self.ref_col = columns.column_of("order_ref")
        self.seen = RefIndex(remember)  # every finished order: ref -> (first row, last row)
        self.plan = [(col, name, READERS[name]) for col, name in columns.fields]

    def _issue(self, row: int, col: int | None, message: str, code: str, value: Any = None) -> CellIssue:
        header = self.columns.header(col) if col is not None else None
        shown = None if value is None else as_text(value)[:200]
        return CellIssue(message, code, row=row, column=col, header=header or None, value=shown)

    def parse(self, number: int, values: Sequence[Any]) -> tuple[SheetRow, list[CellIssue]] | None:
        """One data row as fields, with its problems; None for a blank row (skipped)."""
        if all(_blank(v) for v in values):
            return None
        issues: list[CellIssue] = []
        parsed: dict[str, Any] = {}
        width, comma = len(values), self.decimal_comma
        for col, name, read in self.plan:
            raw = values[col] if col < width else None
            if raw.__class__ is str and raw and not raw.isspace():  # the usual case (every CSV cell)
                try:
                    parsed[name] = read(raw, comma)
                except BadCell as exc:
                    issues.append(self._issue(number, col, str(exc), exc.code, raw))
                continue
            if isinstance(raw, FormulaCell):
                msg = (
                    f"the cell holds a formula ({raw.formula}) with no saved value; open the file in a "
                    "spreadsheet program and save it again, or paste the values"
                )
                issues.append(self._issue(number, col, msg, "formula_without_value", raw.formula))
                continue
            if isinstance(raw, ErrorCell):
                msg = f"the cell shows the error {raw.error}"
                issues.append(self._issue(number, col, msg, "cell_error", raw.error))
                continue
            if _blank(raw):
                if name in REQUIRED:
                    issues.append(self._issue(number, col, f"{name} is required", "required"))
                continue
            try:
                parsed[name] = read(raw, comma)
            except BadCell as exc:
                issues.append(self._issue(number, col, str(exc), exc.code, raw))
            except (InvalidOperation, ValueError) as exc:
                msg = f"{quoted(as_text(raw))} cannot be read: {exc}"
                issues.append(self._issue(number, col, msg, "invalid", raw))
        for col in self.columns.unnamed:
            raw = values[col] if col < width else None
            if not _blank(raw):
                msg = "a value under a column with no header"
                issues.append(self._issue(number, col, msg, "unnamed_column", raw))
        for g in self.merged:
            if g.min_row <= number <= g.max_row:
                msg = (
                    f"cells {g.ref} are merged (a merged cell keeps its value in the first cell only); "
                    "unmerge them and fill every row"
                )
                issues.append(self._issue(number, g.min_col, msg, "merged_cells", g.ref))
        return SheetRow(number, parsed), issues

    def orders(self, rows: Iterator[tuple[int, Sequence[Any]]]) -> Iterator[SheetOrder]:
        """SheetOrders in file order. A reference seen again after other orders yields a
        SheetOrder with ``split`` set: the caller refuses that reference everywhere."""
        try:
            yield from self._orders(rows)
        finally:
            self.seen.close()

    def _orders(self, rows: Iterator[tuple[int, Sequence[Any]]]) -> Iterator[SheetOrder]:
        current: SheetOrder | None = None
        for number, values in rows:
            if number == 1:
                continue  # the header
            got = self.parse(number, values)
            if got is None:
                continue
            row, issues = got
            ref = row.values.get("order_ref")
            if ref is None and current is not None:
                # a row with no (readable) reference under an order's rows may be one of its lines:
                # it is refused with that order, so an order is never imported without a line
                ref = current.ref
            if current is None or ref != current.ref:
                if current is not None:
                    yield self._finish(current)
                current = SheetOrder(ref, columns=self.columns)
                seen = self.seen.get(ref) if ref is not None else None
                if seen is not None:
                    first, last = seen
                    current.split = True
                    where = f"row {first}" if first == last else f"rows {first}-{last}"
                    msg = f"order {ref} already appeared on {where}, before other orders; "
                    msg += "an order's rows must be together"
                    current.issues.append(self._issue(number, self.ref_col, msg, "split_order", ref))
            if len(current.rows) < MAX_LINES:
                current.rows.append(row)
            elif not any(i.code == "too_many_lines" for i in current.issues):
                # the rows past the limit are not kept (memory stays bounded); the order is refused
                msg = f"order {ref} has more than {MAX_LINES} lines (from this row on)"
                current.issues.append(self._issue(number, None, msg, "too_many_lines"))
            current.issues.extend(issues)
        if current is not None:
            yield self._finish(current)

    def _finish(self, order: SheetOrder) -> SheetOrder:
        """Check that later rows agree with the first on order-level fields; remember the ref."""
        first: dict[str, tuple[Any, int]] = {}
        for r in order.rows:
            for name, v in r.values.items():
                if name in LINE_FIELDS or name == "order_ref":
                    continue
                if name not in first:
                    first[name] = (v, r.number)
                elif first[name][0] != v:
                    was, at = first[name]
                    col = self.columns.column_of(name)
                    shown = ", ".join(v) if isinstance(v, tuple) else v
                    earlier = ", ".join(was) if isinstance(was, tuple) else was
                    msg = (
                        f"{quoted(shown)} differs from row {at} ({quoted(earlier)}); "
                        f"an order's rows must agree on {name}"
                    )
                    order.issues.append(self._issue(r.number, col, msg, "conflict", shown))
        order.fields = {name: v for name, (v, _) in first.items()}
        if order.ref is not None:
            prior = self.seen.get(order.ref)
            self.seen.put(order.ref, prior[0] if prior else order.first_row, order.last_row)
        order.issues = [_with_ref(i, order.ref) for i in order.issues]
        return order


def _blank(value: Any) -> bool:
    return value is None or (value.__class__ is str and (not value or value.isspace()))


def _with_ref(issue: CellIssue, ref: str | None) -> CellIssue:
    return issue if issue.order_ref == ref else replace(issue, order_ref=ref)


__all__ = [
    "Columns",
    "RefIndex",
    "RowReader",
    "SheetOrder",
    "SheetRow",
    "resolve_columns",
]
