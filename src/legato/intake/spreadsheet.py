"""Spreadsheet orders (CSV and XLSX): one row per line, rows grouped into orders by the order
reference, read as a stream. Used by import jobs (``legato.intake.imports``) and by the
``spreadsheet`` intake adapter (a file from SFTP or a signed POST).

A channel's non-secret settings (``settings.extra``) shape the reading:

* ``columns``: header -> field (or null to ignore a column); headers that are field names
  (case, spaces, ``_`` and ``-`` do not matter) need no mapping. See ``FIELDS``.
* ``decimal_comma``: numbers written ``1.234,50`` (default: ``1,234.50``).
* ``encoding``: a CSV's encoding (default UTF-8, with or without a BOM; e.g. ``cp1252``).
* ``delimiter``: a CSV's delimiter (default: guessed from the header: ``,`` ``;`` tab ``|``).
* ``sheet``: the XLSX sheet to read (default: the first).

See docs/channels/spreadsheet.md.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, cast

from legato.domain.catalog import Channel
from legato.domain.commands import LineDraft, OrderDraft
from legato.domain.errors import FieldIssue, LegatoError
from legato.domain.lifecycle import OrderStatus
from legato.domain.matching import CustomerRef
from legato.domain.order import Address
from legato.intake.spreadsheet_cells import ADDRESS_PARTS, FIELDS, REQUIRED
from legato.intake.spreadsheet_map import RowReader, SheetOrder, resolve_columns
from legato.intake.spreadsheet_read import (
    CellIssue,
    ReadOptions,
    SheetError,
    check_encoding,
    open_sheet,
    sheet_error,
)

FORMATS = ("csv", "xlsx")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls


_DEFAULT_READ = ReadOptions()


@dataclass(frozen=True)
class SheetSettings:
    columns: Mapping[str, str | None] | None = None
    decimal_comma: bool = False
    read: ReadOptions = _DEFAULT_READ


def _setting_error(name: str, message: str, value: Any) -> SheetError:
    return sheet_error(f"the channel's {name} setting {message}", "bad_setting", value=repr(value)[:200])


def settings_of(channel: Channel) -> SheetSettings:
    """The channel's spreadsheet settings, checked (a wrong type names the setting)."""
    extra = channel.settings.extra
    columns = extra.get("columns")
    if columns is not None and not (
        isinstance(columns, dict)
        and all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in columns.items())
    ):
        raise _setting_error("columns", "must map header names to field names (or null)", columns)
    comma = extra.get("decimal_comma", False)
    if not isinstance(comma, bool):
        raise _setting_error("decimal_comma", "must be true or false", comma)
    encoding = extra.get("encoding", "utf-8")
    if not isinstance(encoding, str):
        raise _setting_error("encoding", "must be a text such as utf-8 or cp1252", encoding)
    check_encoding(encoding)
    delimiter = extra.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter == '"'):
        raise _setting_error("delimiter", "must be one character (, ; | or a tab)", delimiter)
    sheet = extra.get("sheet")
    if sheet is not None and not isinstance(sheet, str):
        raise _setting_error("sheet", "must be a sheet's name", sheet)
    return SheetSettings(columns, comma, ReadOptions(encoding, delimiter, sheet))


def detect_format(filename: str | None, head: bytes) -> str:
    """The format, "xlsx" or "csv": from the file's first bytes (a zip is a workbook), else its name."""
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE_MAGIC) or (filename or "").lower().endswith(".xls"):
        msg = "this is an old binary Excel file (.xls); save it as .xlsx or .csv"
        raise sheet_error(msg, "unsupported_format")
    if (filename or "").lower().endswith(".xlsx"):
        raise sheet_error("the file is named .xlsx but is not a workbook (not a zip file)", "unparseable")
    return "csv"


def read_orders(
    source: IO[bytes],
    fmt: str,
    settings: SheetSettings,
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 1000,
) -> Iterator[SheetOrder]:
    """Each order of the file as read, with its problems; raises SheetError when the file as a
    whole cannot be read (also midway, e.g. an encoding error on line 9000).

    Memory holds one order's rows at a time, and the reference and row span of every order
    seen (to catch a reference that comes back after other orders: that SheetOrder comes
    with ``split`` set, and the caller refuses the reference everywhere).
    ``progress(rows read)`` is called every ``every`` rows and at the end.
    """
    with open_sheet(source, fmt, settings.read) as sheet:
        first = next(sheet.rows, None)
        if first is None:
            raise sheet_error("the file is empty: a header row is needed on row 1", "empty_file", row=1)
        columns = resolve_columns(first[1], settings.columns)
        reader = RowReader(columns, sheet.merged, decimal_comma=settings.decimal_comma)
        rows = _counted(sheet.rows, progress, every) if progress else sheet.rows
        yield from reader.orders(rows)


def _counted(
    rows: Iterator[tuple[int, Any]], progress: Callable[[int], None], every: int
) -> Iterator[tuple[int, Any]]:
    number = 1
    for number, values in rows:
        if number % every == 0:
            progress(number)
        yield number, values
    progress(number)


def _address(order: SheetOrder, prefix: str) -> Address | None:
    parts = {p: order.value(f"{prefix}_{p}") for p in ADDRESS_PARTS}
    parts = {k: v for k, v in parts.items() if v}
    return Address(**parts) if parts else None


def to_draft(order: SheetOrder, channel_code: str) -> OrderDraft:
    """The canonical order for a SheetOrder without issues. Lines keep the partner's item
    code as ``sku``: the pipeline's SKU map (``sku_map``) and ``unknown_sku`` rule apply."""
    lines = []
    for r in order.rows:
        v = r.values
        rate = v.get("tax_rate")
        lines.append(
            LineDraft(
                sku=v["sku"],
                quantity=v["quantity"],
                unit_price=v.get("unit_price"),
                name=v.get("line_name"),
                discount=v.get("discount", Decimal(0)),
                **({"tax_rate": rate} if rate is not None else {}),
            )
        )
    who = {k: order.value(f"customer_{k}") for k in ("name", "email", "phone", "code")}
    status = order.value("status")
    return OrderDraft(
        channel_code=channel_code,
        lines=tuple(lines),
        external_reference=order.ref,
        currency=order.value("currency"),
        customer=CustomerRef(**who) if any(who.values()) else None,
        shipping_address=_address(order, "ship"),
        billing_address=_address(order, "bill"),
        priority=order.value("priority") or 0,
        tags=order.value("tags") or (),
        notes=order.value("notes"),
        status=OrderStatus(status) if status else OrderStatus.CREATED,
    )


_LINE_PATH = re.compile(r"^\$?\.?lines\[(\d+)\]\.?([A-Za-z_]*)")
#: where a problem the order services found (by field path) shows in the sheet
_LINE_COLUMNS = {"sku": "sku", "quantity": "quantity", "unit_price": "unit_price", "discount": "discount",
                 "tax_rate": "tax_rate", "name": "line_name"}  # fmt: skip
_ORDER_COLUMNS: dict[str, tuple[str, ...]] = {
    "currency": ("currency",),
    "customer": ("customer_code", "customer_email", "customer_phone", "customer_name"),
    "status": ("status",),
    "priority": ("priority",),
    "tags": ("tags",),
    "notes": ("notes",),
    "shipping_address": tuple(f"ship_{p}" for p in ADDRESS_PARTS),
    "billing_address": tuple(f"bill_{p}" for p in ADDRESS_PARTS),
}


def issues_for(order: SheetOrder, error: LegatoError) -> list[CellIssue]:
    """An order refused by the order services (an unknown SKU, no price in the currency, no
    matching account ...), as problems at the row and column the user will fix."""
    found = error.issues or [FieldIssue("", error.detail, error.code)]
    cols = order.columns
    out = []
    for fi in found:
        row, names = order.first_row, cast(tuple[str, ...], ())
        m = _LINE_PATH.match(fi.path)
        if m and int(m[1]) < len(order.rows):
            row = order.rows[int(m[1])].number
            names = (_LINE_COLUMNS.get(m[2], "sku"),)
        else:
            names = _ORDER_COLUMNS.get(re.split(r"[.\[]", fi.path.lstrip("$."), maxsplit=1)[0], ())
        col = next((c for n in names if cols and (c := cols.column_of(n)) is not None), None)
        header = cols.header(col) if cols is not None and col is not None else None
        value = None if fi.value is None else str(fi.value)
        out.append(CellIssue(fi.message, fi.code, row, col, header, order.ref, value))
    return out


# --- the template --------------------------------------------------------------------------------

#: the template's two example rows: one order of two lines (the docs show the same)
TEMPLATE_ROWS: tuple[dict[str, Any], ...] = (
    {"order_ref": "PO-1001", "customer_code": "ACME", "customer_email": "buyer@acme.example",
     "customer_name": "Acme Trading", "customer_phone": "+44 20 7946 0018", "currency": "GBP",
     "sku": "TEA-100", "quantity": Decimal(12), "unit_price": Decimal("4.50"), "line_name": "Breakfast tea",
     "discount": Decimal(0), "tax_rate": Decimal("0.2"), "ship_name": "Acme Goods-In", "ship_company": "Acme",
     "ship_line1": "1 Dock Road", "ship_city": "London", "ship_postcode": "E16 1AA", "ship_country": "GB",
     "bill_name": "Acme Accounts", "bill_company": "Acme", "bill_line1": "2 High Street",
     "bill_city": "London", "bill_postcode": "EC1A 1BB", "bill_country": "GB",
     "notes": "Deliver to gate 3", "priority": 0, "tags": "trade,monthly", "status": "created"},
    {"order_ref": "PO-1001", "sku": "MUG-200", "quantity": Decimal(6), "unit_price": Decimal("12.00"),
     "line_name": "Mug", "discount": Decimal("1.50"), "tax_rate": Decimal("0.2")},
)  # fmt: skip


def write_template(path: Path | str, fmt: str) -> Path:
    """The default template: the header (every field) and two example rows, as CSV or XLSX."""
    target = Path(path)
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "csv":
        with target.open("w", encoding="utf-8", newline="") as out:
            w = csv.writer(out)
            w.writerow(FIELDS)
            for row in TEMPLATE_ROWS:
                w.writerow([_csv_cell(row.get(f)) for f in FIELDS])
        return target
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Orders"
    ws.append(list(FIELDS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in TEMPLATE_ROWS:
        ws.append([row.get(f) for f in FIELDS])
    ws.freeze_panes = "A2"
    wb.save(target)
    return target


def _csv_cell(value: Any) -> str:
    return "" if value is None else format(value, "f") if isinstance(value, Decimal) else str(value)


__all__ = [
    "FIELDS",
    "FORMATS",
    "REQUIRED",
    "TEMPLATE_ROWS",
    "CellIssue",
    "SheetError",
    "SheetOrder",
    "SheetSettings",
    "detect_format",
    "issues_for",
    "read_orders",
    "settings_of",
    "to_draft",
    "write_template",
]
