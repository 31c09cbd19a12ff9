"""Column types that keep money exact and time zone-aware on every database.

* ``Dec``: a Decimal, read back exactly as written (``1100`` yen stays ``1100``,
  ``4.00`` stays ``4.00``). PostgreSQL stores an unconstrained NUMERIC, which keeps
  each value's own scale (a NUMERIC(28, 6) would pad every amount to six places);
  SQLite has no exact decimal type (its NUMERIC affinity turns 0.1 into a binary
  float), so there the canonical decimal string is stored. The API bounds every
  amount's digits before it gets here. Money is never a float anywhere.
* ``UTCDateTime``: always returns an aware UTC datetime, also from SQLite.
* ``JSONDoc``: JSONB on PostgreSQL, JSON text on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class Dec(TypeDecorator[Decimal]):
    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 28, scale: int = 6) -> None:
        super().__init__()
        self.precision, self.scale = precision, scale

    def __repr__(self) -> str:
        return f"Dec({self.precision}, {self.scale})"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money and quantities are Decimal, never float")
        value = Decimal(value)
        if dialect.name == "sqlite":
            return format(value, "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Legato stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
