"""Catalogue use cases: channels, products, accounts and pricelists (create or update).

The API validates shapes; these functions hold the business checks: a known currency,
valid matching keys, an existing pricelist, one code per thing.
"""

from __future__ import annotations

from typing import Any

from legato.domain.catalog import Account, Channel, Pricelist, Product
from legato.domain.errors import DuplicateKey, FieldIssue, IssueCollector, NotFound, ValidationFailed
from legato.domain.matching import check_match_key, normalise_email, normalise_phone
from legato.domain.money import is_currency
from legato.domain.pricing.mechanisms import build
from legato.services.uow import UnitOfWork


def _check_currency(problems: IssueCollector, path: str, code: str | None) -> None:
    if code is not None and not is_currency(code):
        problems.add(path, f"{code!r} is not an ISO 4217 currency code", "unknown_currency", code)


def save_channel(uow: UnitOfWork, channel: Channel, *, create: bool) -> Channel:
    problems = IssueCollector()
    _check_currency(problems, "currency", channel.currency)
    for i, key in enumerate(channel.settings.match_keys):
        if not check_match_key(key):
            problems.add(f"settings.match_keys[{i}]", f"{key!r} is not a matching key", "invalid", key)
    problems.raise_if_any()
    with uow:
        existing = uow.channels.get_by_code(channel.code)
        if create:
            if existing is not None:
                raise _duplicate("channel", channel.code)
            uow.channels.add(channel)
        else:
            if existing is None:
                raise NotFound(f"no channel {channel.code}")
            channel.id = existing.id
            # secrets are write-only: keep stored ones unless new values were given
            channel.secrets = {**existing.secrets, **channel.secrets}
            uow.channels.update(channel)
        uow.commit()
    return channel


def save_product(uow: UnitOfWork, product: Product, *, create: bool) -> Product:
    problems = IssueCollector()
    for cur in product.prices:
        _check_currency(problems, f"prices.{cur}", cur)
    if product.pricing:
        for cur, config in product.pricing.get("currencies", {}).items():
            _check_currency(problems, f"pricing.currencies.{cur}", cur)
            _check_mechanism(
                problems, str(product.pricing.get("mechanism")), config, f"pricing.currencies.{cur}"
            )
    problems.raise_if_any()
    with uow:
        existing = uow.products.get_many([product.sku]).get(product.sku)
        if create:
            if existing is not None:
                raise _duplicate("product", product.sku, "sku")
            uow.products.add(product)
        else:
            if existing is None:
                raise NotFound(f"no product {product.sku}")
            product.id = existing.id
            uow.products.update(product)
        uow.commit()
    return product


def save_account(uow: UnitOfWork, account: Account, *, create: bool) -> Account:
    problems = IssueCollector()
    _check_currency(problems, "currency", account.currency)
    problems.raise_if_any()
    account.email = normalise_email(account.email)
    account.phone = normalise_phone(account.phone)
    with uow:
        if account.pricelist_code and uow.pricelists.get_by_code(account.pricelist_code) is None:
            msg = f"no pricelist {account.pricelist_code!r}"
            problems.add("pricelist", msg, "unknown_pricelist", account.pricelist_code)
            problems.raise_if_any()
        existing = uow.accounts.get_by_code(account.code)
        if create:
            if existing is not None:
                raise _duplicate("account", account.code)
            uow.accounts.add(account)
        else:
            if existing is None:
                raise NotFound(f"no account {account.code}")
            account.id = existing.id
            uow.accounts.update(account)
        uow.commit()
    return account


def save_pricelist(uow: UnitOfWork, pricelist: Pricelist, *, create: bool) -> Pricelist:
    problems = IssueCollector()
    _check_currency(problems, "currency", pricelist.currency)
    if pricelist.valid_from and pricelist.valid_to and pricelist.valid_to < pricelist.valid_from:
        problems.add("valid_to", "valid_to is before valid_from", "out_of_range", str(pricelist.valid_to))
    for sku, own in pricelist.item_pricing.items():
        config = {k: v for k, v in own.items() if k != "mechanism"}
        _check_mechanism(problems, str(own.get("mechanism", "simple")), config, f"item_pricing.{sku}")
    problems.raise_if_any()
    with uow:
        if pricelist.channel_code and uow.channels.get_by_code(pricelist.channel_code, secrets=False) is None:
            msg = f"no channel with code {pricelist.channel_code!r}"
            raise ValidationFailed(
                msg, issues=[FieldIssue("channel", msg, "unknown_channel", pricelist.channel_code)]
            )
        existing = uow.pricelists.get_by_code(pricelist.code)
        if create:
            if existing is not None:
                raise _duplicate("pricelist", pricelist.code)
            uow.pricelists.add(pricelist)
        else:
            if existing is None:
                raise NotFound(f"no pricelist {pricelist.code}")
            pricelist.id = existing.id
            uow.pricelists.update(pricelist)
        uow.commit()
    return pricelist


def _check_mechanism(problems: IssueCollector, kind: str, config: Any, path: str) -> None:
    """A mechanism's configuration is checked when it is saved, not when an order meets it."""
    if not isinstance(config, dict):
        problems.add(path, "the configuration must be an object", "invalid")
        return
    try:
        build(kind, config, path)
    except ValidationFailed as exc:
        for i in exc.issues:
            problems.add(i.path, i.message, i.code, i.value)


def _duplicate(kind: str, code: str, field: str = "code") -> DuplicateKey:
    msg = f"a {kind} with {field} {code!r} already exists"
    return DuplicateKey(msg, issues=[FieldIssue(field, msg, "duplicate", code)])


__all__ = ["save_account", "save_channel", "save_pricelist", "save_product"]
