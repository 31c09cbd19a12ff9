"""The spreadsheet reader: CSV and XLSX read as streams into orders, every bad cell named by its
row and column, formulas, merged cells, encodings and the grouping of rows into orders."""

from __future__ import annotations

import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from legato.domain.catalog import Channel, ChannelSettings, ChannelType
from legato.intake.spreadsheet import (
    FIELDS,
    TEMPLATE_ROWS,
    SheetError,
    SheetSettings,
    detect_format,
    read_orders,
    settings_of,
    to_draft,
    write_template,
)
from legato.intake.spreadsheet_cells import parse_decimal
from legato.intake.spreadsheet_map import RefIndex, RowReader, SheetOrder, resolve_columns
from legato.intake.spreadsheet_read import ReadOptions, column_letter, open_sheet, shown_decimal

FIXTURES = Path(__file__).parent.parent / "fixtures" / "spreadsheet"


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def xlsx_bytes(rows: list[list[Any]], *, merge: str | None = None, title: str = "Orders") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    if merge:
        ws.merge_cells(merge)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read(data: bytes, fmt: str = "csv", **extra: Any) -> list[SheetOrder]:
    channel = Channel("SHEETS", "Sheets", ChannelType.B2B, "spreadsheet", "GBP", ChannelSettings(extra=extra))
    return list(read_orders(io.BytesIO(data), fmt, settings_of(channel)))


def texts(orders: list[SheetOrder]) -> list[str]:
    return [i.text for o in orders for i in o.issues]


def refused(data: bytes, fmt: str = "csv", **extra: Any) -> SheetError:
    with pytest.raises(SheetError) as caught:
        read(data, fmt, **extra)
    return caught.value


# --- the template and the worked example --------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_template_holds_every_field_and_reads_back_as_one_order_of_two_lines(
    tmp_path: Path, fmt: str
) -> None:
    path = write_template(tmp_path / f"template.{fmt}", fmt)
    orders = read(path.read_bytes(), fmt)
    assert [(o.ref, len(o.rows), o.issues) for o in orders] == [("PO-1001", 2, [])]
    draft = to_draft(orders[0], "SHEETS")
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.discount) for ln in draft.lines] == [
        ("TEA-100", Decimal(12), Decimal("4.50"), Decimal(0)),
        ("MUG-200", Decimal(6), Decimal("12.00"), Decimal("1.50")),
    ]
    assert draft.customer is not None and draft.customer.code == "ACME"
    assert draft.shipping_address is not None and draft.shipping_address.postcode == "E16 1AA"
    assert draft.billing_address is not None and draft.billing_address.line1 == "2 High Street"
    assert draft.tags == ("trade", "monthly") and draft.notes == "Deliver to gate 3"
    header = path.read_text().splitlines()[0] if fmt == "csv" else None
    assert header is None or header.split(",") == list(FIELDS)
    assert set(TEMPLATE_ROWS[0]) == set(FIELDS) - {"ship_line2", "ship_region", "bill_line2", "bill_region"}


def test_the_worked_example_reads_as_three_orders_with_their_own_decimal_marks_and_rates() -> None:
    orders = read((FIXTURES / "orders.csv").read_bytes())
    assert [(o.ref, o.first_row, o.last_row, o.issues) for o in orders] == [
        ("PO-1001", 2, 3, []),
        ("PO-1002", 4, 5, []),
        ("PO-1003", 6, 6, []),
    ]
    first, _, third = (to_draft(o, "SHEETS") for o in orders)
    assert first.lines[0].tax_rate == Decimal("0.2") and first.lines[1].name == "Mug (blue)"
    assert first.currency == "EUR" and first.priority == 5
    assert third.lines[0].quantity == Decimal(1200)  # "1,200" with a thousands separator
    assert third.status.value == "pending_approval" and third.tags == ("wholesale",)


# --- cells named by row and column ------------------------------------------------------------------


def test_a_bad_cell_is_named_by_row_column_letter_and_header() -> None:
    orders = read(csv_bytes("order_ref,customer_email,sku,quantity", "A,a@x.example,TEA,2", "A,,MUG,ten"))
    (issue,) = orders[0].issues
    assert issue.text == 'row 3, column D (quantity): "ten" is not a number with a decimal point (1,234.50)'
    assert issue.path == "row 3/D (quantity)" and issue.code == "not_a_number"
    assert issue.as_dict() == {
        "row": 3, "column": "D", "header": "quantity", "message": issue.message, "code": "not_a_number",
        "order_ref": "A", "value": "ten",
    }  # fmt: skip
    field = issue.field_issue()
    assert (field.path, field.message, field.code) == (issue.path, issue.text, "not_a_number")


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("0", "out_of_range"),
        ("-1", "out_of_range"),
        ("1000001", "out_of_range"),
        ("1.23456", "too_precise"),
        ("1,2", "not_a_number"),
        ("12 kg", "not_a_number"),
    ],
)
def test_quantities_out_of_bounds_are_refused_with_a_stable_code(cell: str, code: str) -> None:
    orders = read(csv_bytes("order_ref,sku,quantity", f'A,TEA,"{cell}"'))
    assert [i.code for i in orders[0].issues] == [code]


def test_every_problem_of_a_row_is_reported_not_only_the_first() -> None:
    data = csv_bytes(
        "order_ref,sku,quantity,currency,ship_country,status,priority",
        "A,,0,EURO,GBR,shipped,high",
    )
    codes = {i.letter: i.code for i in read(data)[0].issues}
    assert codes == {
        "B": "required", "C": "out_of_range", "D": "unknown_currency", "E": "invalid_country",
        "F": "invalid_status", "G": "not_a_number",
    }  # fmt: skip


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2),
    st.sampled_from([",", " ", "\u00a0", ""]),
)
def test_a_number_written_with_a_decimal_point_and_thousands_separators_reads_as_itself(
    value: Decimal, sep: str
) -> None:
    written = f"{value:,.2f}".replace(",", sep)
    assert parse_decimal(written, decimal_comma=False) == value


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2))
def test_a_number_written_with_a_decimal_comma_reads_as_itself(value: Decimal) -> None:
    written = f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")  # 1.234,50
    assert parse_decimal(written, decimal_comma=True) == value


def test_decimal_comma_files_with_semicolons_are_read_with_the_channels_setting() -> None:
    data = csv_bytes("order_ref;sku;quantity;unit_price", "A;TEA;1,5;1.234,50")
    (order,) = read(data, decimal_comma=True)
    line = to_draft(order, "SHEETS").lines[0]
    assert (line.quantity, line.unit_price) == (Decimal("1.5"), Decimal("1234.50"))
    assert [i.code for i in read(data)[0].issues] == ["not_a_number", "not_a_number"]  # without it


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999999.999"), places=3))
def test_a_float_cell_reads_as_the_decimal_the_cell_shows(value: Decimal) -> None:
    assert shown_decimal(float(value)) == value
    assert shown_decimal(float(value) * 3 / 3) == value


def test_a_float_saved_at_full_precision_reads_as_what_excel_shows() -> None:
    assert shown_decimal(0.1 + 0.2) == Decimal("0.3")
    assert shown_decimal(12.299999999999999) == Decimal("12.3")
    assert str(shown_decimal(1200.0)) == "1200"


# --- XLSX: numbers, formulas, merged cells, sheets --------------------------------------------------


def test_xlsx_numbers_are_read_as_shown_never_as_floats_and_codes_keep_their_text() -> None:
    data = xlsx_bytes(
        [["order_ref", "sku", "quantity", "unit_price", "ship_postcode"], [1001, 500123, 2, 4.1, 12345]]
    )
    (order,) = read(data, "xlsx")
    draft = to_draft(order, "SHEETS")
    assert (draft.external_reference, draft.lines[0].sku) == ("1001", "500123")
    assert draft.lines[0].unit_price == Decimal("4.1") and isinstance(draft.lines[0].quantity, Decimal)
    assert draft.shipping_address is not None and draft.shipping_address.postcode == "12345"


def _with_cached_value(data: bytes, cell: str, value: str, kind: str = "") -> bytes:
    """The workbook as Excel saves it: the formula of ``cell`` followed by its computed value
    (``kind`` "e": the value is an error)."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = re.sub(rb'<c r="' + cell.encode() + rb'"([^>]*)>(<f>[^<]*</f>)(<v></v>|<v/>)?',
                              rb'<c r="' + cell.encode() + rb'"\1' + (f' t="{kind}"' if kind else "").encode()
                              + rb">\2<v>" + value.encode() + b"</v>", body)  # fmt: skip
            dst.writestr(item, body)
    return out.getvalue()


def test_a_formula_without_a_saved_value_is_named_and_one_with_a_value_is_read() -> None:
    rows = [["order_ref", "sku", "quantity"], ["A", "TEA", "=2*6"], ["B", "MUG", "=1+1"]]
    data = xlsx_bytes(rows)  # openpyxl saves formulas without values, like a generator would
    orders = read(_with_cached_value(data, "C3", "2"), "xlsx")
    (issue,) = orders[0].issues
    assert issue.text.startswith(
        "row 2, column C (quantity): the cell holds a formula (=2*6) with no saved value"
    )
    assert issue.code == "formula_without_value"
    assert orders[1].issues == [] and to_draft(orders[1], "SHEETS").lines[0].quantity == Decimal(2)


def test_a_cell_showing_a_formula_error_is_named() -> None:
    data = xlsx_bytes([["order_ref", "sku", "quantity"], ["A", "TEA", "=1/0"]])
    orders = read(_with_cached_value(data, "C2", "#DIV/0!", "e"), "xlsx")
    assert [(i.code, i.value) for i in orders[0].issues] == [("cell_error", "#DIV/0!")]


def test_merged_cells_over_data_rows_are_named_by_their_range_on_every_row_they_cover() -> None:
    rows = [
        ["order_ref", "customer_email", "sku", "quantity"],
        ["A", "a@x.example", "TEA", 1],
        ["A", None, "MUG", 2],
    ]
    orders = read(xlsx_bytes(rows, merge="B2:B3"), "xlsx")
    assert [(i.row, i.letter, i.code, i.value) for i in orders[0].issues] == [
        (2, "B", "merged_cells", "B2:B3"),
        (3, "B", "merged_cells", "B2:B3"),
    ]
    assert "cells B2:B3 are merged" in orders[0].issues[0].text
    title = [["order_ref", "sku", "quantity", None], ["A", "TEA", 1, None]]
    assert read(xlsx_bytes(title, merge="C1:D1"), "xlsx")[0].issues == []  # only the header row


def test_the_channel_can_name_the_sheet_and_an_unknown_one_is_refused_with_the_sheets_it_has() -> None:
    wb = Workbook()
    wb.active.append(["notes"])
    orders = wb.create_sheet("Orders")
    orders.append(["order_ref", "sku", "quantity"])
    orders.append(["A", "TEA", 3])
    out = io.BytesIO()
    wb.save(out)
    assert [o.ref for o in read(out.getvalue(), "xlsx", sheet="Orders")] == ["A"]
    err = refused(out.getvalue(), "xlsx", sheet="Lines")
    assert err.issues[0].code == "unknown_sheet" and "'Sheet', 'Orders'" in err.issues[0].text


def test_empty_rows_inside_a_sheet_keep_the_row_numbers_the_user_sees() -> None:
    rows = [
        ["order_ref", "sku", "quantity"],
        ["A", "TEA", 1],
        [None, None, None],
        [None, None, None],
        ["B", "MUG", "x"],
    ]
    orders = read(xlsx_bytes(rows), "xlsx")
    assert [(o.ref, o.first_row) for o in orders] == [("A", 2), ("B", 5)]
    assert orders[1].issues[0].row == 5


def test_a_file_that_says_xlsx_but_is_not_a_workbook_and_an_old_xls_are_refused() -> None:
    assert refused(b"PK\x03\x04not really a zip", "xlsx").issues[0].code == "unparseable"
    with pytest.raises(SheetError, match="old binary Excel"):
        detect_format("orders.xls", b"\xd0\xcf\x11\xe0rest")
    assert detect_format("orders.txt", b"order_ref,sku") == "csv"
    assert detect_format(None, b"PK\x03\x04...") == "xlsx"


# --- CSV: encodings ---------------------------------------------------------------------------------


def test_a_csv_that_is_not_utf8_is_refused_naming_the_line_and_byte() -> None:
    data = "order_ref,sku,quantity,line_name\nA,TEA,1,Tea\nB,TEA,1,Café\n".encode("cp1252")
    err = refused(data)
    (issue,) = err.issues
    assert issue.path == "line 3" and issue.code == "encoding"
    at = data.index(b"\xe9")
    assert issue.text.startswith(f"line 3: byte {at} (0xe9) is not valid utf-8")
    assert "encoding" in issue.text and "cp1252" in issue.text
    (_, order) = read(data, encoding="cp1252")
    assert to_draft(order, "S").lines[0].name == "Café"


def test_a_utf8_bom_is_not_part_of_the_first_header() -> None:
    data = "\ufefforder_ref,sku,quantity\nA,TEA,1\n".encode()
    assert [o.ref for o in read(data)] == ["A"]


def test_an_encoding_that_is_not_ascii_compatible_is_refused_as_a_setting() -> None:
    assert refused(b"x", encoding="utf-16").issues[0].code == "bad_setting"
    assert refused(b"x", encoding="klingon").issues[0].code == "bad_setting"


# --- the header -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code", "fragment"),
    [
        (b"", "empty_file", "the file is empty"),
        (b"\n\n", "empty_file", "the file is empty"),
        (csv_bytes("order_ref,sku"), "missing_header", "no column holds quantity"),
        (
            csv_bytes("order_ref,sku,quantity,SKU"),
            "duplicate_header",
            'header "SKU" appears twice (also column B)',
        ),
        (csv_bytes("order_ref,sku,quantity,colour"), "unknown_header", '"colour" is not a field'),
        (csv_bytes(",,"), "missing_header", "row 1 must be the header row"),
    ],
)
def test_a_broken_header_is_refused_precisely(data: bytes, code: str, fragment: str) -> None:
    err = refused(data)
    assert code in [i.code for i in err.issues]
    assert any(fragment in i.text for i in err.issues), [i.text for i in err.issues]


def test_headers_match_fields_whatever_their_case_spaces_and_dashes() -> None:
    (order,) = read(csv_bytes("Order Ref,SKU,Quantity,Ship-Country", "A,TEA,2,gb"))
    assert order.issues == [] and to_draft(order, "S").shipping_address.country == "GB"  # type: ignore[union-attr]


def test_the_channels_columns_mapping_names_a_partners_headers_and_can_ignore_a_column() -> None:
    data = csv_bytes("PO Number,Item,Qty,Comment", "PO-9,TEA,3,call first")
    mapping = {"PO Number": "order_ref", "item": "sku", "QTY": "quantity", "Comment": None}
    (order,) = read(data, columns=mapping)
    assert (order.ref, order.issues, to_draft(order, "S").lines[0].quantity) == ("PO-9", [], Decimal(3))
    err = refused(data, columns={"PO Number": "order_ref", "Item": "item_code", "Qty": "quantity"})
    assert {i.code for i in err.issues} == {"unknown_field", "unknown_header", "missing_header"}
    assert any("the channel maps" not in i.text and "no column holds sku" in i.text for i in err.issues)


def test_a_mapped_required_header_missing_from_the_file_says_which_header_the_channel_expects() -> None:
    err = refused(csv_bytes("order_ref,Qty", "A,1"), columns={"Item": "sku", "Qty": "quantity"})
    assert [i.text for i in err.issues] == [
        'row 1: no column holds sku (the channel maps "Item" to it); the header row needs it'
    ]


def test_bad_settings_are_named() -> None:
    assert refused(b"x", columns=["order_ref"]).issues[0].text.startswith("the channel's columns setting")
    assert refused(b"x", decimal_comma="yes").issues[0].code == "bad_setting"
    assert refused(b"x", delimiter=";;").issues[0].code == "bad_setting"


# --- grouping rows into orders --------------------------------------------------------------------


def test_later_rows_may_leave_order_columns_empty_but_a_different_value_names_both_rows() -> None:
    data = csv_bytes(
        "order_ref,customer_email,sku,quantity",
        "A,ann@example.com,TEA,1",
        "A,,MUG,1",
        "A,ann@example.com,POT,1",
        "A,bob@example.com,TEA,2",
    )
    (order,) = read(data)
    assert texts([order]) == [
        'row 5, column B (customer_email): "bob@example.com" differs from row 2 ("ann@example.com"); '
        "an order's rows must agree on customer_email"
    ]


def test_an_order_whose_rows_are_not_together_is_refused_naming_where_it_appeared() -> None:
    data = csv_bytes("order_ref,sku,quantity", "A,TEA,1", "A,MUG,1", "B,TEA,1", "A,POT,1", "C,TEA,1")
    orders = read(data)
    assert [(o.ref, o.split, o.first_row) for o in orders] == [
        ("A", False, 2), ("B", False, 4), ("A", True, 5), ("C", False, 6),
    ]  # fmt: skip
    assert texts(orders) == [
        "row 5, column A (order_ref): order A already appeared on rows 2-3, before other orders; "
        "an order's rows must be together"
    ]


def test_a_row_without_an_order_reference_refuses_the_order_above_it_never_half_of_it() -> None:
    orders = read(csv_bytes("order_ref,sku,quantity", "A,TEA,1", ",MUG,1", "B,TEA,1"))
    assert [(o.ref, [i.code for i in o.issues]) for o in orders] == [("A", ["required"]), ("B", [])]
    first_has_none = read(csv_bytes("order_ref,sku,quantity", ",TEA,1", "B,TEA,1"))
    assert [(o.ref, len(o.issues)) for o in first_has_none] == [(None, 1), ("B", 0)]


def test_blank_rows_are_skipped_and_a_value_under_no_header_is_refused() -> None:
    orders = read(csv_bytes("order_ref,sku,quantity,", "A,TEA,1,", ",,,", "", "B,TEA,1,oops"))
    assert [(o.ref, [i.code for i in o.issues]) for o in orders] == [("A", []), ("B", ["unnamed_column"])]
    assert orders[1].issues[0].path == "row 5/D"


def test_an_order_of_more_than_a_thousand_lines_is_refused_once_without_keeping_the_rest() -> None:
    data = csv_bytes("order_ref,sku,quantity", *(["A,TEA,1"] * 1003), "B,TEA,1")
    a, b = read(data)
    assert len(a.rows) == 1000 and [i.code for i in a.issues] == ["too_many_lines"]
    assert a.issues[0].row == 1002 and b.issues == []


def test_reading_reports_progress_by_rows() -> None:
    seen: list[int] = []
    data = csv_bytes("order_ref,sku,quantity", *(f"R{i},TEA,1" for i in range(25)))
    list(read_orders(io.BytesIO(data), "csv", SheetSettings(), progress=seen.append, every=10))
    assert seen == [10, 20, 26]


def test_column_letters_go_past_z() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 51, 701, 702)] == ["A", "Z", "AA", "AZ", "ZZ", "AAA"]
    assert ReadOptions().encoding == "utf-8"


def test_the_references_a_pass_remembers_move_to_disk_past_the_bound_and_answer_the_same() -> None:
    index = RefIndex(limit=2)
    for i in range(5):
        index.put(f"R{i}", i + 2, i + 2)
    index.put("R1", 3, 9)
    assert len(index) == 5 and index._db is not None  # spilled
    assert (index.get("R1"), index.get("R4"), index.get("R9")) == ((3, 9), (6, 6), None)
    assert "R0" in index and "R9" not in index and None not in index
    index.close()


def test_a_split_order_is_caught_after_the_remembered_references_have_moved_to_disk() -> None:
    data = csv_bytes("order_ref,sku,quantity", *(f"R{i},TEA,1" for i in range(10)), "R3,MUG,1")
    with open_sheet(io.BytesIO(data), "csv", ReadOptions()) as sheet:
        header = next(sheet.rows)[1]
        reader = RowReader(resolve_columns(header, None), [], decimal_comma=False, remember=4)
        orders = list(reader.orders(sheet.rows))
    assert [(o.ref, o.split) for o in orders if o.issues] == [("R3", True)]
    assert "already appeared on row 5" in orders[-1].issues[0].text
