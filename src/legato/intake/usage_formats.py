"""Meter readings as JSON or CSV: what ``POST /api/v1/usage-readings`` and ``legato billing
usage-import`` read. Every problem is named, by JSON path (``$.readings[1].at``) or by CSV row
and column as a spreadsheet program numbers them (``row 3/C (value)``, the header being row
1), and a body with one bad reading gives no readings at all: the corrected file is simply
sent again. The fields are read as the IoT channel reads a sensor's (docs/channels/iot.md).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import partial
from typing import Any

from legato.domain.catalog import Channel
from legato.domain.errors import FieldIssue, LegatoError
from legato.domain.replenishment import MAX_MAGNITUDE, MAX_PLACES, Reading, places
from legato.intake.adapters.iot import DEFAULT_SKEW, EARLIEST, valid_device_id, valid_metric
from legato.intake.base import Unparseable
from legato.intake.spreadsheet_read import column_letter

COLUMNS = ("device_id", "metric", "value", "at", "unit")  # unit is optional
MAX_ISSUES = 200  # a bad file of 100 000 rows names its first problems, and counts the rest
_EXPONENT = Decimal(1).scaleb(-MAX_PLACES)


class UnsupportedMediaType(LegatoError):
    code = "unsupported_media_type"
    status = 415
    title = "The body's media type is not one this takes"


def media_kind(content_type: str | None) -> str:
    """``json`` or ``csv`` by the Content-Type; 415 for anything else."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base in ("application/json", "text/json") or base.endswith("+json"):
        return "json"
    if base in ("text/csv", "application/csv"):
        return "csv"
    raise UnsupportedMediaType(f"send application/json or text/csv, not {base or 'no Content-Type'!r}")


# --- reading the body --------------------------------------------------------------------


@dataclass
class _Issues:
    found: list[FieldIssue]
    more: int = 0

    def add(self, path: str, message: str, code: str, value: Any = None) -> None:
        if len(self.found) < MAX_ISSUES:
            self.found.append(FieldIssue(path, message, code, value))
        else:
            self.more += 1

    def raise_if_any(self) -> None:
        if not self.found:
            return
        first = self.found[0]
        count = len(self.found) + self.more
        extra = f" (and {count - 1} more problem(s))" if count > 1 else ""
        raise Unparseable(f"{first.path}: {first.message}{extra}", issues=self.found, problems=count)


def read_body(body: bytes, kind: str, *, channel: str, received_at: datetime, skew: int) -> list[Reading]:
    """Every reading of a JSON or CSV body, else Unparseable naming each bad field or cell."""
    issues = _Issues([])
    limit = received_at + timedelta(seconds=skew)
    readings = _json(body, channel, limit, issues) if kind == "json" else _csv(body, limit, issues)
    issues.raise_if_any()
    return readings


def _json(body: bytes, channel: str, limit: datetime, issues: _Issues) -> list[Reading]:
    try:
        doc = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:  # also a body that is not UTF-8, or nested too deep
        issues.add("$", f"the body is not JSON: {exc}", "unparseable")
        return []
    if not isinstance(doc, dict):
        issues.add("$", "the body must be an object with channel and readings", "unparseable")
        return []
    for key in sorted(set(doc) - {"channel", "readings"}):
        issues.add(f"$.{key}", f"unknown field {key!r}: the body has channel and readings", "unknown_field")
    named = doc.get("channel")
    if named is not None and named != channel:
        issues.add("$.channel", f"channel {named!r} differs from ?channel={channel}", "mismatch", named)
    items = doc.get("readings")
    if not isinstance(items, list) or not items:
        issues.add("$.readings", "readings must be a list of at least one reading", "required")
        return []
    readings = []
    for i, item in enumerate(items):
        path = f"$.readings[{i}]"
        if not isinstance(item, dict):
            issues.add(path, "a reading must be an object: device_id, metric, value, at, unit", "unparseable")
            continue
        for key in sorted(set(item) - set(COLUMNS)):
            issues.add(f"{path}.{key}", f"unknown field {key!r}: a reading has {', '.join(COLUMNS)}",
                       "unknown_field")  # fmt: skip
        found = _reading(item, partial(_field, path), limit, issues)
        if found is not None:
            readings.append(found)
    return readings


def _csv(body: bytes, limit: datetime, issues: _Issues) -> list[Reading]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        issues.add("$", f"the file is not UTF-8 text (byte {exc.start} is not)", "encoding")
        return []
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    readings: list[Reading] = []
    number = 0  # the row read last (the header is row 1, as a spreadsheet program numbers it)
    try:
        header = next(rows, None)
        number = 1
        if header is None or not any(h.strip() for h in header):
            issues.add(
                "$", f"the file is empty: a header row {','.join(COLUMNS[:4])} is needed", "empty_file"
            )
            return []
        index = _header(header, issues)
        if index is None:
            return []
        for number, row in enumerate(rows, 2):
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) > len(header):
                issues.add(f"row {number}", f"{len(row)} cells, but the header has {len(header)} columns",
                           "extra_cells")  # fmt: skip
                continue
            unnamed = [j for j, cell in enumerate(row) if cell.strip() and not header[j].strip()]
            for j in unnamed:
                issues.add(f"row {number}/{column_letter(j)}", "a value in a column without a header",
                           "unknown_column", row[j])  # fmt: skip
            cells = {name: row[j].strip() if j < len(row) else "" for name, j in index.items()}
            where = partial(_cell, number, index, header)
            found = _reading({k: v for k, v in cells.items() if v != ""}, where, limit, issues)
            if found is not None:
                readings.append(found)
    except csv.Error as exc:
        issues.add(f"row {number + 1}", f"the CSV cannot be read here: {exc}", "unparseable")
        return []
    if not readings and not issues.found:
        issues.add("$", "the file has a header but no readings", "empty_file")
    return readings


def _field(path: str, name: str) -> str:
    return f"{path}.{name}"


def _cell(row: int, index: Mapping[str, int], header: list[str], name: str) -> str:
    """``row 3/C (value)``: where the user will look for it in a spreadsheet program."""
    column = index[name]
    return f"row {row}/{column_letter(column)} ({header[column].strip()})"


def _header(header: list[str], issues: _Issues) -> dict[str, int] | None:
    index: dict[str, int] = {}
    for j, raw in enumerate(header):
        name = raw.strip().lower()
        where = f"header/{column_letter(j)} ({raw.strip()})"
        if not name:
            continue  # a trailing separator; a value under it is refused on its row
        if name not in COLUMNS:
            issues.add(where, f"unknown column {raw.strip()!r}: the columns are {', '.join(COLUMNS)}",
                       "unknown_column", raw)  # fmt: skip
        elif name in index:
            issues.add(where, f"the column {name} is there twice", "duplicate_column", raw)
        else:
            index[name] = j
    missing = [c for c in COLUMNS[:4] if c not in index]
    if missing:
        issues.add(
            "row 1 (header)", f"missing column(s): {', '.join(missing)}", "missing_column", ", ".join(missing)
        )
    return None if issues.found else index


def _reading(
    fields: Mapping[str, Any], where: Callable[[str], str], limit: datetime, issues: _Issues
) -> Reading | None:
    before = len(issues.found) + issues.more
    device, metric, unit = fields.get("device_id"), fields.get("metric"), fields.get("unit")
    if device is None:
        issues.add(where("device_id"), "device_id is required", "required")
    elif not valid_device_id(device):
        issues.add(where("device_id"), "device_id must be 1-120 characters without spaces, / + #", "invalid",
                   device)  # fmt: skip
    if metric is None:
        issues.add(where("metric"), "metric is required", "required")
    elif not valid_metric(metric):
        issues.add(where("metric"), "metric must be 1-60 letters, digits or _ . : -", "invalid", metric)
    if unit is not None and not (isinstance(unit, str) and len(unit) <= 20 and unit.isprintable()):
        issues.add(where("unit"), "unit must be a text of at most 20 characters", "invalid", unit)
    value = _value(fields.get("value"), where("value"), issues)
    at = _time(fields.get("at"), where("at"), limit, issues)
    if len(issues.found) + issues.more > before or value is None or at is None:
        return None
    return Reading(str(device), str(metric), value, at, unit or None)


def _value(raw: Any, path: str, issues: _Issues) -> Decimal | None:
    if raw is None:
        issues.add(path, "value is required", "required")
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        issues.add(path, f"value must be a number, not {raw!r}", "not_a_number", raw)
        return None
    try:
        value = Decimal(raw.strip() if isinstance(raw, str) else raw)
    except InvalidOperation:
        issues.add(path, f"value is not a number: {raw!r}", "not_a_number", raw)
        return None
    if not value.is_finite() or abs(value) >= MAX_MAGNITUDE:
        issues.add(path, "value must be a finite number below 10^15", "out_of_range", str(raw))
        return None
    return value.quantize(_EXPONENT, rounding=ROUND_HALF_EVEN) if places(value) > MAX_PLACES else value


def _time(raw: Any, path: str, limit: datetime, issues: _Issues) -> datetime | None:
    if raw is None:
        issues.add(path, "at is required", "required")
        return None
    if not isinstance(raw, str):
        issues.add(path, "at must be an ISO 8601 time text", "invalid", raw)
        return None
    try:
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        issues.add(path, f"at is not an ISO 8601 time: {raw!r}", "invalid", raw)
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        issues.add(path, "at must carry its time zone (Z or +01:00)", "invalid", raw)
        return None
    try:
        at = at.astimezone(UTC)
    except OverflowError:
        at = EARLIEST - timedelta(days=1)  # out of any calendar: refused just below
    if at < EARLIEST:
        issues.add(path, "at is before 2000: is the meter's clock set?", "clock_not_set", raw)
        return None
    if at > limit:
        issues.add(path, "at is in the future", "future", raw)
        return None
    return at


def clock_skew(channel: Channel) -> int:
    """How far ahead of its receipt a reading may be: the channel's max_clock_skew_seconds."""
    raw = channel.settings.extra.get("max_clock_skew_seconds", DEFAULT_SKEW)
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else DEFAULT_SKEW


__all__ = ["COLUMNS", "MAX_ISSUES", "UnsupportedMediaType", "clock_skew", "media_kind", "read_body"]
