"""Customer matching: find the account an incoming order belongs to.

The channel says which keys to try and in which order (``email``, ``code``, ``phone``,
``erp_ref`` or ``property:<name>``); the first key that the order carries *and* that
matches exactly one candidate wins. Emails compare case-insensitively, phones by
their digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from legato.domain.catalog import MATCH_KEYS, Account

_NON_DIGITS = re.compile(r"[^\d]")


def normalise_email(value: str | None) -> str | None:
    return value.strip().lower() or None if value else None


def normalise_phone(value: str | None) -> str | None:
    """``+44 (20) 7946-0018`` -> ``+442079460018``; leading ``00`` reads as ``+``."""
    if not value:
        return None
    raw = value.strip()
    digits = _NON_DIGITS.sub("", raw)
    if not digits:
        return None
    if raw.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return digits


@dataclass(frozen=True)
class CustomerRef:
    """How an incoming order names its customer: any of these may be present."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    code: str | None = None
    erp_ref: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def value_for(self, key: str) -> Any:
        return _value(self, key)


def _value(obj: CustomerRef | Account, key: str) -> Any:
    if key.startswith("property:"):
        v = obj.properties.get(key.split(":", 1)[1])
        return str(v) if v is not None and v != "" else None
    raw = getattr(obj, key)
    if key == "email":
        return normalise_email(raw)
    if key == "phone":
        return normalise_phone(raw)
    return raw or None


def check_match_key(key: str) -> bool:
    return key in MATCH_KEYS or (key.startswith("property:") and len(key) > len("property:"))


def match_account(ref: CustomerRef, keys: Sequence[str], candidates: Iterable[Account]) -> Account | None:
    """The account ``ref`` belongs to, trying ``keys`` in order; None when nothing matches.

    A key that matches several accounts is ambiguous and skipped, so a shared phone
    number never attaches an order to the wrong customer.
    """
    pool = list(candidates)
    for key in keys:
        wanted = ref.value_for(key)
        if wanted is None:
            continue
        hits = [a for a in pool if _value(a, key) == wanted]
        if len(hits) == 1:
            return hits[0]
    return None


__all__ = ["CustomerRef", "check_match_key", "match_account", "normalise_email", "normalise_phone"]
