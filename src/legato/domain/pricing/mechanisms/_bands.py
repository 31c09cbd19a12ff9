"""What several mechanisms share: ascending bands (graduated or volume) and strict config reading.

Slabs price a quantity, distance prices kilometres and usage prices the metered amount above an
allowance with the same band table, so the table is read and applied here once. The small readers
below refuse unknown keys and wrong types with the field's path, so a typo in a configuration is an
error when it is saved, never a silently ignored setting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from legato.domain.pricing.mechanisms import ChargePart, PriceInputs, bad, dec

ZERO = Decimal(0)
GRADUATED = "graduated"
VOLUME = "volume"
MODES = (GRADUATED, VOLUME)

#: keys the caller may keep next to a mechanism's own settings (the envelope of a product's pricing)
ENVELOPE_KEYS = frozenset({"mechanism", "description"})


@dataclass(frozen=True)
class Band:
    """Everything above the previous band's limit up to ``up_to`` (None: no limit)."""

    up_to: Decimal | None
    price: Decimal
    flat: Decimal = ZERO


@dataclass(frozen=True)
class BandTable:
    """Ascending bands applied graduated (each band on its own share) or volume (all at one band)."""

    bands: tuple[Band, ...]
    mode: str
    unit: str = ""  # "km", "kWh": only for the breakdown's labels

    def label(self, index: int) -> str:
        low = ZERO if index == 0 else self.bands[index - 1].up_to
        high = self.bands[index].up_to
        unit = f" {self.unit}" if self.unit else ""
        if high is None:
            return f"over {text(low)}{unit}"
        if index == 0:
            return f"up to {text(high)}{unit}"
        return f"over {text(low)} up to {text(high)}{unit}"

    def apply(self, amount: Decimal) -> tuple[Decimal, tuple[ChargePart, ...]]:
        """The charge for ``amount`` (>= 0) and its parts; nothing at all for zero."""
        if amount <= 0:
            return ZERO, ()
        return self._graduated(amount) if self.mode == GRADUATED else self._volume(amount)

    def _graduated(self, amount: Decimal) -> tuple[Decimal, tuple[ChargePart, ...]]:
        parts: list[ChargePart] = []
        low = ZERO
        for index, band in enumerate(self.bands):
            if amount <= low:
                break
            share = (amount if band.up_to is None else min(amount, band.up_to)) - low
            parts.extend(self._band_parts(index, band, share))
            low = band.up_to if band.up_to is not None else amount
        return sum((p.amount for p in parts), ZERO), tuple(parts)

    def _volume(self, amount: Decimal) -> tuple[Decimal, tuple[ChargePart, ...]]:
        index = next(i for i, b in enumerate(self.bands) if b.up_to is None or amount <= b.up_to)
        parts = self._band_parts(index, self.bands[index], amount)
        return sum((p.amount for p in parts), ZERO), parts

    def _band_parts(self, index: int, band: Band, share: Decimal) -> tuple[ChargePart, ...]:
        label = self.label(index)
        unit = ChargePart(label, share, band.price, share * band.price)
        if not band.flat:
            return (unit,)
        return unit, ChargePart(f"flat fee {label}", Decimal(1), band.flat, band.flat)


def read_bands(raw: Any, path: str) -> tuple[Band, ...]:
    """Bands ``[{"up_to": "10", "price": "5.00", "flat": "2.00"}, ..., {"up_to": null, ...}]``:
    strictly ascending limits, the last one open-ended (null)."""
    items = sequence(raw, path, non_empty=True)
    bands: list[Band] = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        entry = mapping(item, where)
        check_keys(entry, {"up_to", "price", "flat"}, where)
        if "up_to" not in entry:
            raise bad(
                f"{where}.up_to", "up_to is required (null for the open-ended last band)", None, "required"
            )
        up_to = None if entry["up_to"] is None else positive(entry, "up_to", where)
        if up_to is None and i != len(items) - 1:
            raise bad(f"{where}.up_to", "only the last band may be open-ended (up_to null)", None)
        if up_to is not None and bands and bands[-1].up_to is not None and up_to <= bands[-1].up_to:
            msg = f"bands must ascend: up_to {text(up_to)} is not above {text(bands[-1].up_to)}"
            raise bad(f"{where}.up_to", msg, entry["up_to"])
        bands.append(Band(up_to, dec(entry, "price", where), dec(entry, "flat", where, default=ZERO)))
    if bands[-1].up_to is not None:
        last = f"{path}[{len(bands) - 1}].up_to"
        raise bad(last, "the last band must be open-ended (up_to null) so every amount has a price", None)
    return tuple(bands)


def read_table(config: Mapping[str, Any], path: str, unit: str, *, default_mode: str | None) -> BandTable:
    """``bands`` with the ``mode`` that says how they apply."""
    mode = choice(config, "mode", path, MODES, default=default_mode)
    return BandTable(read_bands(config.get("bands"), f"{path}.bands"), mode, unit)


# --- strict configuration reading ---------------------------------------------------------------


def mapping(raw: Any, path: str) -> Mapping[str, Any]:
    if raw is None:
        raise bad(path, "is required", None, "required")
    if not isinstance(raw, Mapping):
        raise bad(path, f"must be an object, not {type(raw).__name__}", raw, "type")
    return raw


def sequence(raw: Any, path: str, *, non_empty: bool = False) -> Sequence[Any]:
    if raw is None:
        raise bad(path, "is required", None, "required")
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise bad(path, f"must be a list, not {type(raw).__name__}", raw, "type")
    if non_empty and not raw:
        raise bad(path, "must not be empty", raw)
    return raw


def check_keys(config: Mapping[str, Any], allowed: Iterable[str], path: str, *, top: bool = False) -> None:
    """Refuse a key the mechanism does not know: a misspelt setting must not be ignored."""
    known = set(allowed) | (ENVELOPE_KEYS if top else set())
    for key in config:
        if key not in known:
            msg = f"unknown setting {key!r}; expected one of: {', '.join(sorted(known))}"
            raise bad(f"{path}.{key}", msg, config[key], "unknown_field")


def choice(config: Mapping[str, Any], key: str, path: str, options: Sequence[str], *,
           default: str | None = None) -> str:  # fmt: skip
    raw = config.get(key, default)
    if raw is None:
        raise bad(f"{path}.{key}", f"{key} is required: one of {', '.join(options)}", None, "required")
    if raw not in options:
        raise bad(f"{path}.{key}", f"{key} must be one of {', '.join(options)}, not {raw!r}", raw)
    return str(raw)


def identifier(raw: Any, path: str) -> str:
    """A non-empty string (a zone, a metric, a variable)."""
    if not isinstance(raw, str) or not raw.strip():
        raise bad(path, f"must be a non-empty string, not {raw!r}", raw, "type")
    return raw.strip()


def positive(config: Mapping[str, Any], key: str, path: str) -> Decimal:
    value = dec(config, key, path)
    if value <= 0:
        raise bad(f"{path}.{key}", f"{key} must be greater than 0", config.get(key), "out_of_range")
    return value


def exclusive(config: Mapping[str, Any], keys: tuple[str, str], path: str) -> str:
    """Exactly one of two alternative settings; returns the one given."""
    given = [k for k in keys if config.get(k) is not None]
    if len(given) != 1:
        msg = f"give exactly one of {keys[0]} or {keys[1]}"
        raise bad(f"{path}.{keys[0]}", msg, None, "required" if not given else "invalid")
    return given[0]


# --- inputs and results -------------------------------------------------------------------------


def quantity(inputs: PriceInputs, *, whole: bool = False, what: str = "units") -> Decimal:
    q = inputs.quantity
    if not q.is_finite() or q < 0:
        raise bad("inputs.quantity", f"quantity must be zero or more, not {q}", str(q), "out_of_range")
    if whole and q != q.to_integral_value():
        raise bad("inputs.quantity", f"quantity counts {what}: it must be a whole number, not {q}", str(q))
    return q


def non_negative_input(value: Decimal, name: str) -> Decimal:
    if not value.is_finite() or value < 0:
        raise bad(f"inputs.{name}", f"{name} must be zero or more, not {value}", str(value), "out_of_range")
    return value


def scaled(parts: Iterable[ChargePart], factor: Decimal) -> tuple[ChargePart, ...]:
    """Parts for ``factor`` identical units (trips, machines, parcels), so they still add up."""
    if factor == 1:
        return tuple(parts)
    return tuple(ChargePart(p.label, p.quantity * factor, p.rate, p.amount * factor) for p in parts)


def text(value: Decimal | None) -> str:
    """A decimal as people write it: ``10`` not ``1E+1``, ``2.5`` not ``2.50``."""
    if value is None:
        return ""
    normal = value.normalize()
    return f"{normal:f}"


__all__ = [
    "ENVELOPE_KEYS",
    "GRADUATED",
    "MODES",
    "VOLUME",
    "Band",
    "BandTable",
    "check_keys",
    "choice",
    "exclusive",
    "identifier",
    "mapping",
    "non_negative_input",
    "positive",
    "quantity",
    "read_bands",
    "read_table",
    "scaled",
    "sequence",
    "text",
]
