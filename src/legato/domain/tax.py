"""Tax rates by region and tax class, and the tax of one line, rounded per line.

A rate is configured for a region (a country, ``GB``, or a subdivision, ``US-CA``) and a tax
class (``standard``, ``reduced``, ``zero`` ...). The most specific region wins: ``US-CA``, then
``US``. There is no fallback from one class to another: a ``reduced`` product in a region that
only has a ``standard`` rate has no rate, and its line records that (tax 0, "no rate") rather
than being taxed at a rate nobody configured for it.

Prices may include tax (a channel whose ``prices_include_tax`` is set) or not; either way the
line's net + tax = gross exactly, each rounded to the currency's minor unit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from legato.domain.errors import FieldIssue, IssueCollector, ValidationFailed
from legato.domain.money import DEFAULT_ROUNDING, round_amount

ZERO = Decimal(0)
NO_RATE = "no rate"  # the name a line records when no rate is configured for it
DEFAULT_TAX_CLASS = "standard"  # the class of a product that names none
_REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")  # ISO 3166-1 alpha-2, or an ISO 3166-2 subdivision
_TAX_CLASS = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class TaxRate:
    region: str  # "GB", "DE", "US-CA"
    tax_class: str  # "standard", "reduced", "zero" ...
    rate: Decimal  # 0.20 for 20 %
    name: str  # what an invoice prints: "VAT 20%"

    def __post_init__(self) -> None:
        problems = IssueCollector()
        if not _REGION.match(self.region):
            msg = 'region must be a country ("GB") or a country and subdivision ("US-CA")'
            problems.add("region", msg, "invalid", self.region)
        if not _TAX_CLASS.match(self.tax_class):
            msg = "tax_class must be lower-case letters, digits, - or _ (up to 40)"
            problems.add("tax_class", msg, "invalid", self.tax_class)
        if isinstance(self.rate, Decimal) and self.rate.is_finite():
            if not ZERO <= self.rate <= 1:
                problems.add("rate", "rate must be between 0 and 1 (0.20 for 20 %)", "out_of_range",
                             str(self.rate))  # fmt: skip
        else:
            problems.add("rate", f'rate must be a decimal such as "0.20", not {self.rate!r}', "invalid",
                         repr(self.rate))  # fmt: skip
        if not self.name.strip():
            problems.add("name", "name must not be empty", "required")
        problems.raise_if_any()


class TaxRules:
    """The configured rates, looked up by country, region and tax class."""

    def __init__(self, rates: Iterable[TaxRate] = ()) -> None:
        self._rates: dict[tuple[str, str], TaxRate] = {}
        for i, r in enumerate(rates):
            key = (r.region, r.tax_class)
            if key in self._rates:
                msg = f"two rates for {r.region} {r.tax_class}"
                raise ValidationFailed(msg, issues=[FieldIssue(f"rates[{i}]", msg, "duplicate")])
            self._rates[key] = r

    @property
    def rates(self) -> list[TaxRate]:
        return [self._rates[k] for k in sorted(self._rates)]

    def rate_for(self, country: str, region: str | None, tax_class: str) -> TaxRate | None:
        """The rate for ``tax_class`` in the subdivision (``region``: "CA" or "US-CA"), else in the
        country; None when neither has one (no fallback to another class)."""
        country = country.strip().upper()
        tried = []
        if region:
            sub = region.strip().upper()
            tried.append(sub if sub.startswith(f"{country}-") else f"{country}-{sub}")
        tried.append(country)
        for place in tried:
            found = self._rates.get((place, tax_class))
            if found is not None:
                return found
        return None

    def resolve(self, country: str, region: str | None, tax_class: str | None) -> TaxRate:
        """As ``rate_for`` (a product with no class is ``standard``), but a zero rate named
        "no rate" instead of None, so the line records why it carries no tax."""
        cls = tax_class or DEFAULT_TAX_CLASS
        found = self.rate_for(country, region, cls)
        return found if found is not None else TaxRate(country.strip().upper(), cls, ZERO, NO_RATE)


class TaxedAmount(NamedTuple):
    net: Decimal
    tax: Decimal
    gross: Decimal


def line_tax(
    net_or_gross: Decimal, rate: Decimal, *, inclusive: bool, currency: str, rounding: str = DEFAULT_ROUNDING
) -> TaxedAmount:
    """Net, tax and gross of one line, each rounded to the minor unit, net + tax == gross.

    Exclusive prices: tax = round(net * rate). Inclusive prices: tax = round(gross * rate / (1 +
    rate)) and net = gross - tax (the tax is taken out of the price, never added on top)."""
    amount = round_amount(net_or_gross, currency, rounding)
    if inclusive:
        tax = round_amount(amount * rate / (1 + rate), currency, rounding)
        return TaxedAmount(amount - tax, tax, amount)
    tax = round_amount(amount * rate, currency, rounding)
    return TaxedAmount(amount, tax, amount + tax)


__all__ = ["DEFAULT_TAX_CLASS", "NO_RATE", "TaxRate", "TaxRules", "TaxedAmount", "line_tax"]
