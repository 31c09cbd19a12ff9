"""Money: a Decimal amount with its ISO 4217 currency, never a float.

Minor units come from CLDR through Babel, which follows how each currency is priced
in practice (CLDR gives IQD 0 digits where ISO 4217 lists 3, for instance).

Rounding happens only where the business rounds (a line total, a tax amount), to the
currency's minor unit (JPY 0 decimals, USD 2, KWD 3), half-up unless told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies

from legato.domain.errors import UnknownCurrency

#: Rounding modes a business may choose, by the name used in settings.
ROUNDING_MODES = {
    "half_up": ROUND_HALF_UP,  # 0.005 -> 0.01: what most invoices and tills do
    "half_even": ROUND_HALF_EVEN,  # banker's rounding: 0.005 -> 0.00, 0.015 -> 0.02
}
DEFAULT_ROUNDING = "half_up"

_CURRENCIES = frozenset(c for c in list_currencies() if len(c) == 3 and c.isalpha() and c.isupper())


def is_currency(code: str) -> bool:
    """True for an ISO 4217 alphabetic code Babel knows (``"EUR"``), false otherwise."""
    return code in _CURRENCIES


def check_currency(code: str) -> str:
    """Return ``code`` if it is a known ISO 4217 currency, else raise UnknownCurrency."""
    if not isinstance(code, str) or not is_currency(code):
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code")
    return code


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    """Digits after the decimal point for ``currency``: 2 for EUR, 0 for JPY, 3 for KWD."""
    check_currency(currency)
    return int(get_currency_precision(currency))


@lru_cache(maxsize=512)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_amount(amount: Decimal, currency: str, rounding: str = DEFAULT_ROUNDING) -> Decimal:
    """Round ``amount`` to the minor unit of ``currency`` with the named rounding mode."""
    return amount.quantize(_quantum(currency), rounding=ROUNDING_MODES[rounding])


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency. Arithmetic refuses to mix currencies or touch floats."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float | bool) or not isinstance(self.amount, Decimal | int):
            raise TypeError("Money needs a Decimal amount, never a float")
        if isinstance(self.amount, Decimal) and not self.amount.is_finite():
            raise ValueError(f"Money needs a finite amount, not {self.amount}")
        if isinstance(self.amount, int):
            object.__setattr__(self, "amount", Decimal(self.amount))
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, float) or not isinstance(factor, Decimal | int):
            raise TypeError("multiply Money by a Decimal or an int, never a float")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def rounded(self, rounding: str = DEFAULT_ROUNDING) -> Money:
        return Money(round_amount(self.amount, self.currency, rounding), self.currency)

    def __str__(self) -> str:
        return f"{self.rounded().amount} {self.currency}"


__all__ = [
    "DEFAULT_ROUNDING",
    "ROUNDING_MODES",
    "Money",
    "check_currency",
    "is_currency",
    "minor_units",
    "round_amount",
]
