"""Reading a spreadsheet row by row without holding the file: CSV and XLSX.

This layer knows cells, not orders: it yields ``(row number, values)`` with the header as
row 1, as a spreadsheet program numbers them, and says where the file itself is broken
(an encoding error, a workbook that is not one, merged cells). ``spreadsheet_map`` turns
rows into orders.

* CSV is decoded line by line from the binary stream, so an encoding error is named by
  its line and byte offset; the ``csv`` module reads the decoded lines. Any encoding
  that keeps ASCII as ASCII works (UTF-8 with or without a BOM, cp1252, latin-1 ...).
* XLSX is read by openpyxl in read-only mode (the sheet XML is parsed as it is
  iterated). Read-only mode hides two things we must not miss, so the sheet's XML is
  also scanned once, as bytes, in chunks (about 20 times faster than an ``iterparse``
  that would build every cell again): ``<mergeCell ref=..>`` ranges, and whether any
  cell holds a formula. Only then is a second read-only pass over the formulas run in
  step with the values, to tell a formula without a saved value (openpyxl's
  ``data_only`` gives None for it) from an empty cell.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from typing import IO, Any

from legato.domain.errors import FieldIssue

#: what Excel shows in a cell whose formula failed
EXCEL_ERRORS = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!",
     "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#EXTERNAL!"}
)  # fmt: skip
DELIMITERS = (",", ";", "\t", "|")
_SCAN_CHUNK = 1 << 20


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: the column as a spreadsheet program labels it."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


@dataclass(frozen=True)
class CellIssue:
    """One problem, where the user will look for it: a row and a column (letter and header),
    or a line and byte of the raw file; ``order_ref`` is the order it refuses."""

    message: str
    code: str
    row: int | None = None
    column: int | None = None  # 0-based
    header: str | None = None
    order_ref: str | None = None
    value: str | None = None
    line: int | None = None  # a physical line of a CSV (encoding errors)

    @property
    def letter(self) -> str | None:
        return column_letter(self.column) if self.column is not None else None

    def _column(self) -> str:
        return f"{self.letter} ({self.header})" if self.header else f"{self.letter}"

    @property
    def path(self) -> str:
        """``row 12/D (quantity)``; ``row 12``; ``header/D (qty)``; ``line 7``; ``file``."""
        if self.row is not None:
            where = f"row {self.row}" if self.row > 1 else "header"
            return f"{where}/{self._column()}" if self.column is not None else where
        if self.line is not None:
            return f"line {self.line}"
        return f"column {self._column()}" if self.column is not None else "file"

    @property
    def text(self) -> str:
        """``row 12, column D (quantity): "ten" is not a number``."""
        if self.row is not None:
            where = f"row {self.row}"
            if self.column is not None:
                where += f", column {self._column()}"
        elif self.line is not None:
            where = f"line {self.line}"
        elif self.column is not None:
            where = f"column {self._column()}"
        else:
            return self.message
        return f"{where}: {self.message}"

    def field_issue(self) -> FieldIssue:
        return FieldIssue(self.path, self.text, self.code, self.value)

    def as_dict(self) -> dict[str, Any]:
        """The validation report's entry: ``{row, column, header, message, code, order_ref}``."""
        out: dict[str, Any] = {
            "row": self.row,
            "column": self.letter,
            "header": self.header,
            "message": self.message,
            "code": self.code,
            "order_ref": self.order_ref,
        }
        if self.value is not None:
            out["value"] = self.value
        if self.line is not None:
            out["line"] = self.line
        return out


class SheetError(Exception):
    """The file as a whole cannot be read (not the order on some row): every order is refused."""

    def __init__(self, issues: Sequence[CellIssue]) -> None:
        super().__init__(issues[0].text if issues else "the file cannot be read")
        self.issues = list(issues)


def sheet_error(message: str, code: str, **where: Any) -> SheetError:
    return SheetError([CellIssue(message, code, **where)])


@dataclass(frozen=True)
class FormulaCell:
    """A cell holding a formula whose result was never saved in the file."""

    formula: str


@dataclass(frozen=True)
class ErrorCell:
    """A cell showing a formula error (``#N/A``, ``#DIV/0!`` ...)."""

    error: str


@dataclass(frozen=True)
class Merge:
    ref: str  # "C5:C7"
    min_row: int
    min_col: int  # 0-based
    max_row: int
    max_col: int


@dataclass(frozen=True)
class ReadOptions:
    encoding: str = "utf-8"
    delimiter: str | None = None  # None: guessed from the header line
    sheet: str | None = None  # None: the first worksheet


@dataclass
class Sheet:
    """An open sheet: merged ranges (XLSX) and the rows, each ``(row number, values)``."""

    rows: Iterator[tuple[int, Sequence[Any]]]
    merged: list[Merge] = field(default_factory=list)
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for c in self.closers:
            c.close()

    def __enter__(self) -> Sheet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sheet(source: IO[bytes], fmt: str, options: ReadOptions) -> Sheet:
    """The rows of ``source`` (``fmt``: "csv" or "xlsx"); raises SheetError for a broken file.

    A CSV may also raise SheetError while it is iterated (an encoding error on line 9000).
    """
    if fmt == "csv":
        return Sheet(_csv_rows(source, options))
    if fmt == "xlsx":
        return _xlsx(source, options)
    raise sheet_error(f"{fmt!r} is not a spreadsheet format Legato reads (csv, xlsx)", "unsupported_format")


# --- CSV ---------------------------------------------------------------------------------------


def check_encoding(name: str) -> str:
    """The codec's canonical name, if it reads ASCII as ASCII (lines split on the byte \\n)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise sheet_error(f"encoding {name!r} is not one Python knows (e.g. utf-8, cp1252, latin-1)",
                          "bad_setting", value=name) from None  # fmt: skip
    if info.name == "utf-8-sig":
        return "utf-8"
    try:
        ascii_safe = "a,;\t\n".encode(info.name) == b"a,;\t\n"
    except UnicodeError:
        ascii_safe = False
    if not ascii_safe:
        raise sheet_error(f"encoding {name!r} does not keep ASCII as ASCII; save the file as UTF-8",
                          "bad_setting", value=name)  # fmt: skip
    return info.name


def _decoded_lines(source: IO[bytes], encoding: str) -> Iterator[str]:
    """Each line of the file decoded on its own, so a bad byte is named by line and offset."""
    offset = 0
    for number, raw in enumerate(source, 1):
        if number == 1 and encoding == "utf-8" and raw.startswith(codecs.BOM_UTF8):
            offset, raw = 3, raw[3:]
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1]
            hint = (
                "; the file is probably in another encoding (Windows or an older ERP: cp1252): "
                "set the channel's `encoding` setting, or save the file as UTF-8"
                if encoding == "utf-8"
                else ""
            )
            at = offset + exc.start
            msg = f"byte {at} (0x{bad.hex()}) is not valid {encoding}{hint}"
            raise sheet_error(msg, "encoding", line=number, value=f"0x{bad.hex()}") from None
        offset += len(raw)


def guess_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(source: IO[bytes], options: ReadOptions) -> Iterator[tuple[int, Sequence[Any]]]:
    encoding = check_encoding(options.encoding)
    lines = _decoded_lines(source, encoding)
    first = next(lines, None)
    if first is None or not first.strip():
        raise sheet_error("the file is empty: a header row is needed on row 1", "empty_file", row=1)
    delimiter = options.delimiter or guess_delimiter(first)
    reader = csv.reader(chain([first], lines), delimiter=delimiter, strict=True)
    number = 0
    try:
        for number, record in enumerate(reader, 1):
            yield number, record
    except csv.Error as exc:
        raise sheet_error(f"not readable as CSV: {exc}", "unparseable", line=reader.line_num,
                          row=number + 1) from None  # fmt: skip


# --- XLSX --------------------------------------------------------------------------------------


_MERGE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def _scan(archive: zipfile.ZipFile, part: str) -> tuple[list[Merge], bool]:
    """Merged ranges and whether any cell has a formula, from the sheet's XML read in chunks."""
    merges: list[Merge] = []
    formulas = False

    def look(data: bytes) -> None:
        nonlocal formulas
        formulas = formulas or _FORMULA.search(data) is not None
        for m in _MERGE.finditer(data):
            c1, r1, c2, r2 = (g.decode() if g else None for g in m.groups())
            assert c1 is not None and r1 is not None
            ref = f"{c1}{r1}" + (f":{c2}{r2}" if c2 else "")
            merges.append(Merge(ref, int(r1), column_index(c1), int(r2 or r1), column_index(c2 or c1)))

    tail = b""
    with archive.open(part) as raw:
        while chunk := raw.read(_SCAN_CHUNK):
            data = tail + chunk
            cut = data.rfind(b"<")  # a tag may be cut in two here: keep it for the next chunk
            cut = cut if cut > 0 else len(data)
            look(data[:cut])
            tail = data[cut:]
    look(tail)
    return sorted(merges, key=lambda g: (g.min_row, g.min_col)), formulas


def _xlsx(source: IO[bytes], options: ReadOptions) -> Sheet:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        values_book = load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # a zip that is not a workbook, a corrupt part ...
        raise sheet_error(f"not an XLSX workbook: {type(exc).__name__}: {exc}", "unparseable") from None
    closers: list[Any] = [values_book]
    try:
        names = values_book.sheetnames
        if options.sheet is not None and options.sheet not in names:
            listed = ", ".join(repr(n) for n in names)
            raise sheet_error(f"the workbook has no sheet {options.sheet!r}; it has {listed}",
                              "unknown_sheet", value=options.sheet)  # fmt: skip
        if not values_book.worksheets:
            raise sheet_error("the workbook has no worksheet", "empty_file")
        ws = values_book[options.sheet] if options.sheet else values_book.worksheets[0]
        part = ws._worksheet_path  # the sheet's XML in the zip (openpyxl keeps it for read-only sheets)
        merged, has_formulas = _scan(values_book._archive, part)
        ws.reset_dimensions()  # some writers declare a wrong <dimension>; read every cell there is
        values = ws.iter_rows(values_only=True)
        formulas: Iterator[Sequence[Any]] | None = None
        if has_formulas:
            source.seek(0)
            formula_book = load_workbook(source, read_only=True, data_only=False)
            closers.append(formula_book)
            fws = formula_book[ws.title]
            fws.reset_dimensions()
            formulas = fws.iter_rows(values_only=True)
    except BaseException:
        for c in closers:
            c.close()
        raise
    return Sheet(_xlsx_rows(values, formulas), merged, closers)


def _xlsx_rows(
    values: Iterator[Sequence[Any]], formulas: Iterator[Sequence[Any]] | None
) -> Iterator[tuple[int, Sequence[Any]]]:
    number = 0
    try:
        for number, row in enumerate(values, 1):
            yield number, _shown(row, next(formulas, ()) if formulas is not None else ())
    except Exception as exc:  # a cell openpyxl cannot read (a corrupt value, a broken part)
        msg = f"the workbook cannot be read past row {number}: {type(exc).__name__}: {exc}"
        raise sheet_error(msg, "unparseable", row=number + 1) from None


def _shown(row: Sequence[Any], f_row: Sequence[Any]) -> list[Any]:
    """A row's values, with a formula that has no saved value and an error cell marked."""
    shown = list(row)
    for i, v in enumerate(shown):
        if v is None:
            f = f_row[i] if i < len(f_row) else None
            if isinstance(f, str) and f.startswith("="):
                shown[i] = FormulaCell(f)
            elif f is not None and not isinstance(f, str | int | float):
                shown[i] = FormulaCell(str(getattr(f, "text", f)))  # array and table formulas
        elif v.__class__ is str and v in EXCEL_ERRORS:
            shown[i] = ErrorCell(v)
    return shown


def shown_decimal(value: float) -> Decimal:
    """A float cell as the decimal the cell shows: Excel keeps 15 significant digits, so
    ``12.299999999999999`` (a sum saved at full precision) is the 12.3 the user typed."""
    d = Decimal(repr(value))
    digits = len(d.as_tuple().digits)
    if d.is_finite() and digits > 15:
        d = d.quantize(Decimal(1).scaleb(d.adjusted() - 14))
    if d == d.to_integral_value():
        return d.quantize(Decimal(1))
    return d.normalize()


__all__ = [
    "EXCEL_ERRORS",
    "CellIssue",
    "ErrorCell",
    "FormulaCell",
    "Merge",
    "ReadOptions",
    "Sheet",
    "SheetError",
    "check_encoding",
    "column_index",
    "column_letter",
    "guess_delimiter",
    "open_sheet",
    "sheet_error",
    "shown_decimal",
]
