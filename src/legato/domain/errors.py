"""One root for every error Legato raises on purpose.

    LegatoError                      code            HTTP
    ├── ValidationFailed             validation      422  (carries FieldIssue list)
    │   ├── UnknownProduct           unknown_sku     422
    │   ├── PriceNotFound            price_not_found 422
    │   ├── UnknownCurrency          unknown_currency 422
    │   └── CustomerNotMatched       customer_not_matched 422
    ├── NotFound                     not_found       404
    ├── Conflict                     conflict        409
    │   ├── IllegalTransition        illegal_transition 409 (names the allowed targets)
    │   └── DuplicateKey             duplicate       409
    ├── Unauthorized                 unauthorized    401
    └── Forbidden                    forbidden       403

Every error carries a stable machine ``code`` that the API returns unchanged; the
HTTP status is a property of the class so the API maps errors in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldIssue:
    """One problem with one field: where (a JSON-path-like location), what and why."""

    path: str
    message: str
    code: str = "invalid"
    value: Any = None


class LegatoError(Exception):
    """Root of every deliberate error. ``code`` is stable; ``status`` maps it to HTTP."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request failed"

    def __init__(self, detail: str, *, issues: list[FieldIssue] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.issues: list[FieldIssue] = issues or []
        self.extra: dict[str, Any] = extra


class ValidationFailed(LegatoError):
    code = "validation"
    status = 422
    title = "The request is not valid"


class UnknownProduct(ValidationFailed):
    code = "unknown_sku"
    title = "Unknown product"


class PriceNotFound(ValidationFailed):
    code = "price_not_found"
    title = "No price for this product in this currency"


class UnknownCurrency(ValidationFailed):
    code = "unknown_currency"
    title = "Unknown currency"


class CustomerNotMatched(ValidationFailed):
    code = "customer_not_matched"
    title = "No account matches this customer"


class NotFound(LegatoError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(LegatoError):
    code = "conflict"
    status = 409
    title = "Conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"
    title = "This transition is not allowed"


class DuplicateKey(Conflict):
    code = "duplicate"
    title = "Already exists"


class Unauthorized(LegatoError):
    code = "unauthorized"
    status = 401
    title = "Authentication required"


class Forbidden(LegatoError):
    code = "forbidden"
    status = 403
    title = "Not allowed"


@dataclass
class IssueCollector:
    """Gathers field issues so a request reports every problem at once, not the first."""

    issues: list[FieldIssue] = field(default_factory=list)

    def add(self, path: str, message: str, code: str = "invalid", value: Any = None) -> None:
        self.issues.append(FieldIssue(path, message, code, value))

    def raise_if_any(self, error: type[ValidationFailed] = ValidationFailed) -> None:
        if not self.issues:
            return
        if len(self.issues) == 1:
            raise error(self.issues[0].message, issues=self.issues)
        raise error(f"{len(self.issues)} problems in the request", issues=self.issues)


__all__ = [
    "Conflict",
    "CustomerNotMatched",
    "DuplicateKey",
    "FieldIssue",
    "Forbidden",
    "IllegalTransition",
    "IssueCollector",
    "LegatoError",
    "NotFound",
    "PriceNotFound",
    "Unauthorized",
    "UnknownCurrency",
    "UnknownProduct",
    "ValidationFailed",
]
