"""Currency rates and conversion, pure: rates, a table that derives any pair, price rules,
staleness, and the ECB reference-rates feed. See docs/pricing/currency.md.

A product without a price in the order's currency is priced from its base-currency price
at the day's rate, plus a margin, then rounded by a price rule (``charm:0.99`` ...). Rates
are exact Decimals; a derived rate keeps 28 significant digits and nothing is rounded
before the price rule, so the only rounding is the one the business asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from legato.domain.errors import FieldIssue, ValidationFailed
from legato.domain.money import DEFAULT_ROUNDING, ROUNDING_MODES, is_currency, minor_units

ECB, MANUAL, IDENTITY = "ecb", "manual", "identity"
#: ``use_last``: convert with the last rate even if stale (and say so); ``wait``: refuse.
STALE_POLICIES = ("use_last", "wait")
#: ECB rates are published on TARGET working days only: a Friday rate is still the
#: latest on Monday morning (3 days), and on a Tuesday after an Easter Monday (5 days).
DEFAULT_MAX_AGE_DAYS = 4
#: The daily file is ~2 KB and the 90-day history ~100 KB: anything far bigger is not the feed.
MAX_FEED_BYTES = 2 * 1024 * 1024
#: Rates are stored as Dec(24, 12): at most 12 digits before and 12 after the point.
_RATE_TEXT = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,12})?$")
_RULE_NUMBER = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,6})?$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CTX = Context(prec=28, rounding=ROUND_HALF_EVEN)  # derived rates: 28 significant digits
_ONE, _ZERO, _HUNDRED = Decimal(1), Decimal(0), Decimal(100)


class RateMissing(ValidationFailed):
    code = "rate_missing"
    title = "No exchange rate for this currency"


class RateStale(ValidationFailed):
    code = "rate_stale"
    title = "The exchange rate is too old to use"


class RatesFeedInvalid(ValidationFailed):
    code = "rates_feed_invalid"
    title = "The exchange-rate feed is not valid"


class PriceRuleInvalid(ValidationFailed):
    code = "price_rule_invalid"
    title = "Unknown or unusable price rule"


def _need_decimal(value: object, name: str) -> Decimal:
    if isinstance(value, float | bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, never a float (got {type(value).__name__})")
    value = Decimal(value)
    if not value.is_finite():
        raise ValidationFailed(f"{name} must be finite", issues=[FieldIssue(name, "not finite", "invalid")])
    return value


@dataclass(frozen=True, slots=True)
class Rate:
    """1 ``base`` = ``rate`` ``quote`` on ``as_of``, from ``provider``. A cross rate names
    the currency it went ``via``; its ``as_of`` is the older leg's."""

    base: str
    quote: str
    rate: Decimal
    as_of: date
    provider: str
    via: str | None = None

    def __post_init__(self) -> None:
        rate = _need_decimal(self.rate, "rate")
        object.__setattr__(self, "rate", rate)
        issues = [
            FieldIssue(f, f"{v!r} is not an ISO 4217 currency code", "unknown_currency", v)
            for f, v in (("base", self.base), ("quote", self.quote))
            if not isinstance(v, str) or not is_currency(v)
        ]
        if rate <= 0 or (self.base == self.quote and rate != _ONE):
            why = (
                f"1 {self.base} is always 1 {self.base}"
                if rate > 0
                else f"a rate must be positive, not {rate}"
            )
            issues.append(FieldIssue("rate", why, "invalid_rate", str(rate)))
        if issues:
            raise ValidationFailed(issues[0].message, issues=issues)
        if not isinstance(self.as_of, date):
            raise TypeError("as_of must be a date")

    def inverse(self) -> Rate:
        return Rate(self.quote, self.base, _CTX.divide(_ONE, self.rate), self.as_of, self.provider, self.via)


def manual_rate(base: str, quote: str, rate: str, as_of: date, *, latest: date | None = None) -> Rate:
    """A rate an operator typed (API or CLI), checked field by field: ``rate`` is text so
    no digit is lost to binary floating point on the way. It may apply from a future day,
    but not after ``latest``."""
    issues = [
        FieldIssue(f, f"{v!r} is not an ISO 4217 currency code", "unknown_currency", v)
        for f, v in (("base", base), ("quote", quote))
        if not is_currency(v)
    ]
    if base == quote:
        issues.append(
            FieldIssue("quote", f"1 {base} is always 1 {base}: no rate to set", "same_currency", quote)
        )
    if not isinstance(rate, str):
        raise TypeError("give the rate as decimal text (e.g. '1.0845'), never a float")
    if not _RATE_TEXT.match(rate) or Decimal(rate) <= 0:
        msg = f"{rate!r} is not a positive decimal with at most 12 digits before and 12 after the point"
        issues.append(FieldIssue("rate", msg, "invalid_rate", rate))
    if latest is not None and as_of > latest:
        issues.append(FieldIssue("as_of", f"{as_of} is later than {latest}", "too_late", as_of.isoformat()))
    if issues:
        raise ValidationFailed(issues[0].message, issues=issues)
    return Rate(base, quote, Decimal(rate), as_of, MANUAL)


class RateTable:
    """Known rates, looked up directly, inverted, or crossed through a currency both sides
    are quoted against (ECB quotes everything against EUR: GBP->USD = EUR->USD / EUR->GBP).
    Given several rates for one pair, the newest wins (on a tie, the first given)."""

    def __init__(self, rates: Iterable[Rate]) -> None:
        self._pairs: dict[tuple[str, str], Rate] = {}
        self._links: dict[str, set[str]] = {}
        for r in rates:
            held = self._pairs.get((r.base, r.quote))
            if held is None or r.as_of > held.as_of:
                self._pairs[(r.base, r.quote)] = r
            self._links.setdefault(r.base, set()).add(r.quote)
            self._links.setdefault(r.quote, set()).add(r.base)

    @property
    def rates(self) -> tuple[Rate, ...]:
        """The stored rates (not the derived ones), one per pair."""
        return tuple(self._pairs.values())

    def _leg(self, a: str, b: str) -> Rate | None:
        found = self._pairs.get((a, b))
        if found is not None:
            return found
        back = self._pairs.get((b, a))
        return back.inverse() if back is not None else None

    def rate(self, from_ccy: str, to_ccy: str) -> Rate | None:
        """1 ``from_ccy`` = ``rate`` ``to_ccy``; None when no path of at most two legs exists."""
        if from_ccy == to_ccy:  # an identity is never stale
            return Rate(from_ccy, to_ccy, _ONE, date.max, IDENTITY)
        direct = self._leg(from_ccy, to_ccy)
        if direct is not None:
            return direct
        best: Rate | None = None
        pivots = self._links.get(from_ccy, set()) & self._links.get(to_ccy, set())
        for pivot in sorted(pivots):
            first, second = self._leg(from_ccy, pivot), self._leg(pivot, to_ccy)
            assert first is not None and second is not None
            providers = dict.fromkeys((first.provider, second.provider))
            cross = Rate(
                from_ccy,
                to_ccy,
                _CTX.multiply(first.rate, second.rate),
                min(first.as_of, second.as_of),
                "+".join(providers),
                pivot,
            )
            if best is None or cross.as_of > best.as_of:  # the freshest path; then alphabetical
                best = cross
        return best


@dataclass(frozen=True, slots=True)
class Converted:
    """An amount converted, unrounded, with the rate and margin that made it."""

    amount: Decimal
    rate: Rate
    margin_percent: Decimal


def convert(
    amount: Decimal, from_ccy: str, to_ccy: str, table: RateTable, *, margin_percent: Decimal = _ZERO
) -> Converted:
    """``amount`` in ``from_ccy`` as ``to_ccy``, plus ``margin_percent`` (the cost of the
    currency risk; none for the same currency). Unrounded: apply a price rule after."""
    amount = _need_decimal(amount, "amount")
    margin = _need_decimal(margin_percent, "margin_percent")
    if margin <= -_HUNDRED:
        msg = f"a margin of {margin}% would make every price zero or negative"
        raise ValidationFailed(msg, issues=[FieldIssue("margin_percent", msg, "invalid", str(margin))])
    rate = table.rate(from_ccy, to_ccy)
    if rate is None:
        msg = f"no exchange rate from {from_ccy} to {to_ccy}: set one or fetch the rates"
        raise RateMissing(msg, issues=[FieldIssue("currency", msg, "rate_missing", to_ccy)])
    if rate.provider == IDENTITY:
        return Converted(amount, rate, _ZERO)
    factor = _CTX.multiply(rate.rate, _CTX.add(_ONE, _CTX.divide(margin, _HUNDRED)))
    return Converted(_CTX.multiply(amount, factor), rate, margin)


def is_stale(rate: Rate, today: date, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> bool:
    """More than ``max_age_days`` old. ECB publishes on TARGET working days only, so allow
    for weekends: a Friday rate read on Monday is 3 days old (the default, 4, allows a
    Monday holiday too; Easter, Thursday to Tuesday, is 5)."""
    return (today - rate.as_of).days > max_age_days


def check_fresh(rate: Rate, today: date, max_age_days: int, policy: str) -> bool:
    """Whether ``rate`` is stale; under the ``wait`` policy a stale rate raises RateStale
    (the order waits for fresh rates) instead of being used."""
    if policy not in STALE_POLICIES:
        raise ValueError(f"unknown stale policy {policy!r}; choose from {', '.join(STALE_POLICIES)}")
    stale = is_stale(rate, today, max_age_days)
    if stale and policy == "wait":
        msg = (
            f"the {rate.base}->{rate.quote} rate is from {rate.as_of} ({(today - rate.as_of).days} days), "
            f"older than {max_age_days} days, and the policy is to wait for a fresh one"
        )
        raise RateStale(msg, issues=[FieldIssue("currency", msg, "rate_stale", rate.quote)])
    return stale


# --- price rules ---------------------------------------------------------------------------

_RULE_FORMS = "minor, whole, charm:<ending below 1> (e.g. charm:0.99) or step:<size> (e.g. step:0.05)"


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    value: Decimal | None = None


def _rule_error(rule: str, message: str) -> PriceRuleInvalid:
    return PriceRuleInvalid(message, issues=[FieldIssue("rule", message, "price_rule_invalid", rule)])


def _one_rule(text: str, whole: str) -> _Rule:
    kind, _, arg = text.partition(":")
    if kind in ("minor", "whole") and not arg:
        return _Rule(kind)
    if kind in ("charm", "step") and _RULE_NUMBER.match(arg):
        value = Decimal(arg)
        if kind == "charm" and value >= _ONE:
            raise _rule_error(whole, f"{text!r}: a charm ending is below one unit (e.g. charm:0.99)")
        if kind == "step" and value <= 0:
            raise _rule_error(whole, f"{text!r}: a step must be positive (e.g. step:0.05)")
        return _Rule(kind, value)
    raise _rule_error(whole, f"unknown price rule {text!r}; use {_RULE_FORMS}")


@lru_cache(maxsize=64)
def _parse_rules(rule: str) -> tuple[_Rule, dict[str, _Rule]]:
    if not isinstance(rule, str):
        raise TypeError("a price rule is text, e.g. 'charm:0.99'")
    default: _Rule | None = None
    overrides: dict[str, _Rule] = {}
    for part in (p.strip() for p in rule.split(",")):
        currency, eq, text = part.rpartition("=")
        if eq:
            currency = currency.strip()
            if not is_currency(currency) or currency in overrides:
                raise _rule_error(rule, f"{part!r}: {currency!r} is not a currency or is given twice")
            overrides[currency] = _one_rule(text.strip(), rule)
        elif default is not None:
            raise _rule_error(rule, f"{rule!r} has two default rules; give others as CCY=rule")
        else:
            default = _one_rule(part, rule)
    return default or _Rule("minor"), overrides


def check_price_rule(rule: str) -> str:
    """Return ``rule`` if valid, else raise PriceRuleInvalid naming the bad part. A rule is
    one default, optionally followed by per-currency overrides: ``charm:0.99, JPY=whole``."""
    _parse_rules(rule)
    return rule


def apply_price_rule(amount: Decimal, currency: str, rule: str, rounding: str = DEFAULT_ROUNDING) -> Decimal:
    """Round a converted price the way the business prices in ``currency``:

    * ``minor``: to the currency's minor unit (12.345 EUR -> 12.35, JPY 1234.5 -> 1235);
    * ``whole``: to the nearest whole unit (12.49 -> 12.00);
    * ``charm:0.99``: the smallest X.99 at or above the amount (12.20 -> 12.99,
      12.99 -> 12.99, 13.00 -> 13.99): never below the converted price;
    * ``step:0.05``: the nearest multiple of the step (CHF 12.32 -> 12.30).

    Ties follow ``rounding`` (half_up or half_even). The result has the currency's scale.
    """
    amount = _need_decimal(amount, "amount")
    default, overrides = _parse_rules(rule)
    chosen = overrides.get(currency, default)
    quantum = _ONE.scaleb(-minor_units(currency))
    mode = ROUNDING_MODES[rounding]
    if chosen.value is not None and chosen.value.quantize(quantum) != chosen.value:
        msg = (
            f"{chosen.kind}:{chosen.value} needs more decimals than {currency} has "
            f"({minor_units(currency)}); add an override for it, e.g. '{rule}, {currency}=whole'"
        )
        raise PriceRuleInvalid(msg, issues=[FieldIssue("currency", msg, "price_rule_invalid", rule)])
    if chosen.kind == "whole":
        result = amount.to_integral_value(rounding=mode)
    elif chosen.kind == "charm":
        assert chosen.value is not None
        result = (amount - chosen.value).to_integral_value(rounding=ROUND_CEILING) + chosen.value
    elif chosen.kind == "step":
        assert chosen.value is not None
        result = (amount / chosen.value).to_integral_value(rounding=mode) * chosen.value
    else:
        result = amount
    return result.quantize(quantum, rounding=mode)


# --- the ECB feed --------------------------------------------------------------------------


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _feed_error(message: str, path: str = "$", code: str = "rates_feed_invalid") -> RatesFeedInvalid:
    return RatesFeedInvalid(message, issues=[FieldIssue(path, message, code)])


def _envelope(xml: bytes) -> Element:
    if not isinstance(xml, bytes):
        raise TypeError("parse_ecb reads the feed's bytes")
    if len(xml) > MAX_FEED_BYTES:
        raise _feed_error(f"the feed is {len(xml)} bytes, more than {MAX_FEED_BYTES}", code="too_large")
    try:
        root: Element = fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        what = f"{type(exc).__name__} {getattr(exc, 'name', '')}".strip()
        msg = f"the feed has a DOCTYPE or entities ({what}), never in the ECB's XML: an HTML page or worse"
        raise _feed_error(msg, code="dtd_forbidden") from exc
    except ParseError as exc:
        raise _feed_error(f"the feed is not XML: {exc}", code="not_xml") from exc
    if _local(root.tag) != "Envelope":
        raise _feed_error(f"the root element is <{_local(root.tag)}>, not the ECB's gesmes:Envelope")
    return root


def parse_ecb(xml: bytes) -> list[Rate]:
    """Every rate in an ECB euro reference-rates file: the daily one (eurofxref-daily.xml)
    or the 90-day history (several dated Cubes). All or nothing: any bad day, currency or
    rate refuses the whole feed with RatesFeedInvalid, naming each problem by its place
    (``Cube.Cube[0].Cube[3].rate``). DTDs and entities are refused (defusedxml)."""
    outer = [c for c in _envelope(xml) if _local(c.tag) == "Cube"]
    if len(outer) != 1:
        raise _feed_error(f"expected one Cube under the Envelope, found {len(outer)}", "Cube", "missing")
    issues: list[FieldIssue] = []
    rates: list[Rate] = []
    days: set[date] = set()
    for i, day in enumerate(outer[0]):
        path, when = f"Cube.Cube[{i}]", day.get("time")
        if _local(day.tag) != "Cube" or when is None:
            what = "has no time attribute" if _local(day.tag) == "Cube" else f"is a <{_local(day.tag)}>"
            issues.append(FieldIssue(f"{path}.time", f"a day's Cube {what}", "missing"))
            continue
        try:
            as_of = date.fromisoformat(when) if _ISO_DATE.match(when) else None
        except ValueError:
            as_of = None
        if as_of is None or as_of in days:
            why = "is given twice" if as_of else "is not a date (YYYY-MM-DD)"
            issues.append(FieldIssue(f"{path}.time", f"time {when!r} {why}", "invalid_date", when))
            continue
        days.add(as_of)
        seen: set[str] = set()
        for j, cube in enumerate(day):
            here, ccy, text = f"{path}.Cube[{j}]", cube.get("currency") or "", cube.get("rate") or ""
            if not is_currency(ccy) or ccy == "EUR" or ccy in seen:
                why = "is given twice" if ccy in seen else "is not an ISO 4217 currency quoted against EUR"
                msg = f"{ccy!r} on {as_of} {why}"
                issues.append(FieldIssue(f"{here}.currency", msg, "unknown_currency", ccy))
            elif not _RATE_TEXT.match(text) or Decimal(text) <= 0:
                msg = f"the {ccy} rate on {as_of}, {text!r}, is not a positive decimal"
                issues.append(FieldIssue(f"{here}.rate", msg, "invalid_rate", text))
            else:
                rates.append(Rate("EUR", ccy, Decimal(text), as_of, ECB))
            seen.add(ccy)
        if not seen:
            issues.append(FieldIssue(path, f"the day {as_of} has no rates", "missing"))
    if not days and not issues:
        issues.append(FieldIssue("Cube", "the feed has no <Cube time=...>: no day of rates", "missing"))
    if issues:
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        raise RatesFeedInvalid(f"the rates feed is not valid: {issues[0].message}{more}", issues=issues[:50])
    return rates


__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "ECB",
    "IDENTITY",
    "MANUAL",
    "MAX_FEED_BYTES",
    "STALE_POLICIES",
    "Converted",
    "PriceRuleInvalid",
    "Rate",
    "RateMissing",
    "RateStale",
    "RateTable",
    "RatesFeedInvalid",
    "apply_price_rule",
    "check_fresh",
    "check_price_rule",
    "convert",
    "is_stale",
    "manual_rate",
    "parse_ecb",
]
