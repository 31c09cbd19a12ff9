"""``set_field``: set one editable field of the event's order to a fixed value.

    - action: set_field
      params: {field: notes, value: "call before delivery"}
    - action: set_field
      params:
        field: shipping_address
        value: {name: Returns desk, line1: 1 Dock Road, city: Leeds, postcode: LS1 1AA, country: GB}

The fields are the ones an order edit may change (``EDITABLE_FIELDS``): ``notes`` (text or
null), ``priority`` (-1000 to 1000), ``tags`` (a list, replacing the tags), and
``billing_address`` / ``shipping_address`` (a mapping of name, company, line1, line2, city,
region, postcode, country (ISO alpha-2), phone, email; null clears it). Any other field,
or a value of the wrong shape, is refused when the workflow is saved. Recorded on the
timeline as an ``edited`` entry by ``rule:<workflow>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from legato.domain.errors import IssueCollector
from legato.domain.order import EDITABLE_FIELDS, Address
from legato.workflow.actions import StepContext, StepResult
from legato.workflow.actions import _orders as o
from legato.workflow.actions.add_tag import MAX_TAGS
from legato.workflow.actions.set_priority import check_priority

#: each address part and its longest value, as the API accepts them
ADDRESS_PARTS = {
    "name": 200, "company": 200, "line1": 300, "line2": 300, "city": 120, "region": 120,
    "postcode": 20, "country": 2, "phone": 32, "email": 254, "pickup_location": 32,
}  # fmt: skip
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _text_ok(value: Any, longest: int) -> bool:
    return (isinstance(value, str) and 0 < len(value) <= longest
            and not any(ord(c) < 32 and c not in "\t\n" for c in value))  # fmt: skip


def _check_value(field: str, value: Any, path: str, out: IssueCollector) -> None:
    if field == "priority":
        check_priority(value, path, out)
    elif field == "notes":
        if value is not None and not _text_ok(value, 5000):
            out.add(path, "notes: a text of up to 5000 characters, or null", "invalid", value)
    elif field == "tags":
        if not isinstance(value, list) or len(value) > MAX_TAGS:
            out.add(path, f"tags: a list of up to {MAX_TAGS} tags", "invalid", value)
            return
        for i, tag in enumerate(value):
            if not _text_ok(tag, 64):
                out.add(f"{path}[{i}]", "a tag is a text of 1 to 64 characters", "invalid", tag)
    elif value is not None:  # an address
        if not isinstance(value, Mapping):
            out.add(path, f"{field}: a mapping of {', '.join(ADDRESS_PARTS)}, or null", "invalid", value)
            return
        for part, text in value.items():
            longest = ADDRESS_PARTS.get(str(part))
            if longest is None:
                msg = f"unknown address field {part!r}; one of {', '.join(ADDRESS_PARTS)}"
                out.add(f"{path}.{part}", msg, "unknown_field", part)
            elif part == "country" and not (isinstance(text, str) and _COUNTRY.match(text)):
                out.add(f"{path}.country", "an ISO 3166-1 alpha-2 code such as GB", "invalid", text)
            elif text is not None and not _text_ok(text, longest):
                out.add(f"{path}.{part}", f"a text of 1 to {longest} characters", "invalid", text)


def to_domain(field: str, value: Any) -> Any:
    """The checked value as the order holds it."""
    if field == "tags":
        return tuple(dict.fromkeys(value))
    if field in ("billing_address", "shipping_address") and value is not None:
        return Address(**{k: v for k, v in value.items() if v is not None})
    return value


class SetField:
    name: ClassVar[str] = "set_field"
    max_attempts: ClassVar[int] = 5

    def check(self, params: Mapping[str, Any], path: str) -> None:
        out = o.issues()
        o.known_keys(params, ("field", "value", "reason"), path, out)
        field = params.get("field")
        if field not in EDITABLE_FIELDS:
            msg = f"field: one of {', '.join(EDITABLE_FIELDS)} (the fields an order edit may change)"
            out.add(f"{path}.field", msg, "not_editable" if isinstance(field, str) else "required", field)
        elif "value" not in params:
            out.add(f"{path}.value", "value is required (null clears notes or an address)", "required")
        else:
            _check_value(field, params["value"], f"{path}.value", out)
        o.text(params, "reason", path, out, required=False, max_length=1000)
        out.raise_if_any()

    def run(self, ctx: StepContext, params: Mapping[str, Any]) -> StepResult:
        field = params["field"]
        o.edit(ctx, {field: to_domain(field, params["value"])}, params.get("reason"))
        return StepResult.done(field=field)


ACTION = SetField()

__all__ = ["ACTION", "ADDRESS_PARTS", "SetField", "to_domain"]
