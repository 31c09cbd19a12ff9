"""Notification templates: the Jinja2 files ``send_email`` and ``send_sms`` render.

Templates are files so the business can change the words without a release: the built-in
ones live beside this module (``email/<name>.txt`` + optional ``email/<name>.html``,
``sms/<name>.txt``); a file of the same path under ``LEGATO_TEMPLATES_DIR`` wins over the
built-in one (also ``email/base.html``, the layout the built-in HTML templates extend).

They are rendered in Jinja2's sandbox with the condition context (``order``, ``account``,
``event``, ``now``, ``today``; see docs/workflows/conditions.md) plus ``customer`` (name,
email, phone) and the order's full addresses, so the words can say whom and where. A field
that is absent is an error rather than an empty text (``| default('')`` for optional ones),
so a typo never sends "Dear ," to a customer. HTML is autoescaped; text is not.

An email's subject is the workflow's own, else the text template's ``{% block subject %}``,
else the text's first line (a leading ``Subject:`` is dropped); HTML templates see it as
``subject`` (for ``<title>``) and any ``subject`` block of theirs renders as nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_currency
from jinja2 import FileSystemLoader, Template, TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2 import select_autoescape as autoescape_for
from jinja2.runtime import Context as JinjaContext
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Engine, select

from legato.domain.errors import NotFound
from legato.store import tables as t
from legato.store.queries import reading
from legato.workflow.outbound.http import Absent, TemplateFailed

BUILTIN = Path(__file__).resolve().parent
KINDS = ("email", "sms")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
#: Twilio's limit for one message body (it is split into segments of 153/67 characters)
SMS_MAX_CHARS = 1600
ADDRESS_FIELDS = ("name", "company", "line1", "line2", "city", "region", "postcode", "country", "phone")


class TemplateMissing(Exception):
    """No template of that kind and name, in the override directory or the built-in ones."""


def money(amount: Any, currency: str, locale: str = "en") -> str:
    """``{{ order.total | money(order.currency) }}`` -> ``£1,234.50``: the currency's own digits."""
    if isinstance(amount, float):
        raise TypeError("money is Decimal, never a float")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount") from None
    return str(format_currency(value, currency, locale=locale))


def number(value: Any) -> str:
    """``{{ line.quantity | number }}`` -> ``2`` rather than the stored ``2.0000``."""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


@lru_cache(maxsize=16)
def environment(templates_dir: Path | None = None) -> SandboxedEnvironment:
    """The sandbox that loads from ``templates_dir`` first, then the built-in templates."""
    search = ([str(templates_dir)] if templates_dir else []) + [str(BUILTIN)]
    env = SandboxedEnvironment(
        loader=FileSystemLoader(search),
        autoescape=autoescape_for(("html", "htm"), default_for_string=False, default=False),
        undefined=Absent,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["number"] = number
    return env


def available(kind: str, templates_dir: Path | None) -> list[str]:
    """The template names of ``kind`` there are (a ``.txt`` file in either directory)."""
    names: set[str] = set()
    for base in (templates_dir, BUILTIN):
        if base is not None and (base / kind).is_dir():
            names |= {p.stem for p in (base / kind).glob("*.txt") if NAME.match(p.stem)}
    return sorted(names)


def template_problem(kind: str, name: Any, templates_dir: Path | None) -> str | None:
    """What is wrong with the template ``name`` of ``kind`` (not there, does not parse), or None."""
    if not isinstance(name, str) or not NAME.match(name):
        return "a template name: lower-case letters, digits, _ and - (e.g. status_changed)"
    env = environment(templates_dir)
    paths = [f"{kind}/{name}.txt"] + ([f"{kind}/{name}.html"] if kind == "email" else [])
    for n, path in enumerate(paths):
        try:
            env.get_template(path)
        except TemplateNotFound:
            if n == 0:
                known = ", ".join(available(kind, templates_dir)) or "none"
                return f"no {kind} template {name!r} ({path}); there are: {known}"
        except TemplateSyntaxError as exc:
            return f"{path}: template error at line {exc.lineno}: {exc.message}"
    return None


def text_problem(text: Any, max_length: int) -> str | None:
    """What is wrong with an inline template text (a subject, an SMS text), or None."""
    if not isinstance(text, str) or not text.strip() or len(text) > max_length:
        return f"a text (a Jinja2 template) of 1 to {max_length} characters"
    try:
        environment().parse(text)
    except TemplateSyntaxError as exc:
        return f"template error at line {exc.lineno}: {exc.message}"
    return None


# --- rendering -------------------------------------------------------------------------------


def _nothing(context: JinjaContext) -> Iterator[str]:
    return iter(())


def _split(template: Template, context: Mapping[str, Any]) -> tuple[str, str | None]:
    """The template's body without its ``subject`` block, and that block (None: it has none)."""
    concat, subject = "".join, None
    block = template.blocks.get("subject")
    if block is not None:
        subject = concat(block(template.new_context(dict(context))))
    body_ctx = template.new_context(dict(context))
    body_ctx.blocks["subject"] = [_nothing]  # the body does not repeat it, whichever file defines it
    return concat(template.root_render_func(body_ctx)), subject


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


def _one_line(subject: str) -> str:
    return " ".join(subject.split())


@contextmanager
def _guard(what: str) -> Iterator[None]:
    """Turn what loading or rendering a template may raise into TemplateMissing or
    TemplateFailed, naming the template."""
    try:
        yield
    except TemplateNotFound as exc:
        raise TemplateMissing(f"no template {exc.name}") from None
    except TemplateSyntaxError as exc:
        raise TemplateFailed(f"{what}: template error at line {exc.lineno}: {exc.message}") from None
    except TemplateError as exc:
        raise TemplateFailed(f"{what}: {type(exc).__name__}: {exc.message or exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateFailed(f"{what}: {type(exc).__name__}: {exc}") from None


def render_email(
    name: str, context: Mapping[str, Any], templates_dir: Path | None, subject: str | None = None
) -> RenderedEmail:
    """The email template ``name`` rendered: subject, text and (if there is one) HTML, which
    sees the subject as ``subject``. Raises TemplateMissing or TemplateFailed."""
    env = environment(templates_dir)
    with _guard(f"email/{name}.txt"):
        text, found = _split(env.get_template(f"email/{name}.txt"), context)
    if subject is not None:
        with _guard("the subject"):
            found = env.from_string(subject).render(dict(context))
    elif found is None:  # the first line of the text is the subject
        first, _, text = text.lstrip("\n").partition("\n")
        found = re.sub(r"^\s*subject:\s*", "", first, flags=re.I)
    found = _one_line(found)
    if not found:
        raise TemplateFailed(f"email/{name}: the subject is empty")
    text = text.strip("\n") + "\n"
    if not text.strip():
        raise TemplateFailed(f"email/{name}.txt: the text is empty")
    html = None
    with _guard(f"email/{name}.html"):
        try:
            html_template: Template | None = env.get_template(f"email/{name}.html")
        except TemplateNotFound:
            html_template = None
        if html_template is not None:
            html = _split(html_template, {**context, "subject": found})[0]
    return RenderedEmail(found, text, html)


def render_sms(
    name: str | None, text: str | None, context: Mapping[str, Any], templates_dir: Path | None
) -> str:
    """A text message from the template ``name`` (sms/<name>.txt) or the inline ``text``,
    trimmed; refused (TemplateFailed) when empty or longer than one message can be."""
    env = environment(templates_dir)
    what = f"sms/{name}.txt" if name else "the text"
    with _guard(what):
        template = env.get_template(what) if name else env.from_string(str(text))
        body = template.render(dict(context))
    body = "\n".join(line.rstrip() for line in body.strip().splitlines())
    if not body:
        raise TemplateFailed(f"{what}: the message is empty")
    if len(body) > SMS_MAX_CHARS:
        raise TemplateFailed(f"{what}: the message has {len(body)} characters; at most {SMS_MAX_CHARS}")
    return body


# --- what the templates see --------------------------------------------------------------------


@dataclass(frozen=True)
class Contacts:
    """Where the order's customer can be reached (each None when unknown)."""

    name: str | None = None
    email: str | None = None  # the order's customer email, else its account's, else an address's
    phone: str | None = None  # likewise
    account_email: str | None = None
    account_phone: str | None = None

    def customer(self) -> dict[str, str]:
        return {k: v for k, v in (("name", self.name), ("email", self.email), ("phone", self.phone)) if v}


def _first(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _address(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {k: str(value[k]) for k in ADDRESS_FIELDS if value.get(k)}


def contacts(engine: Engine, order_id: int | None) -> tuple[Contacts, dict[str, dict[str, str]]]:
    """The order's contacts and its full addresses (name, lines, phone ... beyond what a
    condition sees)."""
    if order_id is None:
        return Contacts(), {}
    o, a = t.orders, t.accounts
    query = (
        select(o.c.customer_name, o.c.customer_email, o.c.customer_phone, o.c.shipping_address,
               o.c.billing_address, a.c.name.label("a_name"), a.c.email.label("a_email"),
               a.c.phone.label("a_phone"))
        .select_from(o.outerjoin(a, a.c.id == o.c.account_id))
        .where(o.c.id == order_id)
    )  # fmt: skip
    with reading(engine) as conn:
        row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"order {order_id} does not exist")
    ship, bill = _address(row.shipping_address), _address(row.billing_address)
    found = Contacts(
        name=_first(row.customer_name, ship.get("name"), bill.get("name"), row.a_name),
        email=_first(row.customer_email, row.a_email,
                     (row.shipping_address or {}).get("email"), (row.billing_address or {}).get("email")),
        phone=_first(row.customer_phone, row.a_phone, ship.get("phone"), bill.get("phone")),
        account_email=_first(row.a_email),
        account_phone=_first(row.a_phone),
    )  # fmt: skip
    addresses = {k: v for k, v in (("shipping_address", ship), ("billing_address", bill)) if v}
    return found, addresses


def notification_context(
    engine: Engine, event: Mapping[str, Any], now: datetime
) -> tuple[dict[str, Any], Contacts]:
    """What a notification template sees for ``event``, and the order's contacts.
    Raises NotFound when the event's order or quote is gone."""
    from legato.workflow.context import build_context

    with reading(engine) as conn:
        context = dict(build_context(conn, event, now=now))
    order = context.get("order")
    found, addresses = contacts(engine, order["id"] if isinstance(order, Mapping) else None)
    if isinstance(order, Mapping):
        context["order"] = {**order, **addresses}
    context["customer"] = found.customer()
    return context, found


__all__ = [
    "ADDRESS_FIELDS",
    "BUILTIN",
    "KINDS",
    "NAME",
    "SMS_MAX_CHARS",
    "Contacts",
    "RenderedEmail",
    "TemplateMissing",
    "available",
    "contacts",
    "environment",
    "money",
    "notification_context",
    "number",
    "render_email",
    "render_sms",
    "template_problem",
    "text_problem",
]
