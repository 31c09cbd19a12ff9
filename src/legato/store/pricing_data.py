"""What pricing reads beyond the catalogue, for one unit of work: exchange rates, tax rules,
promotions, vouchers and loyalty points (``legato.services.uow.PricingData``).

The reference data (rates, tax rules, automatic promotions) comes through ``refcache``;
vouchers and points are read and written in the order's own transaction.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from legato.domain.fx import RateTable
from legato.domain.promotions import Promotion, Voucher
from legato.domain.tax import TaxRules
from legato.store.fx import SqlRates
from legato.store.promotions import SqlPromotions
from legato.store.refcache import cached


class SqlPricingData:
    def __init__(self, conn: Connection, provider: str) -> None:
        self.conn, self.provider = conn, provider
        self._promos = SqlPromotions(conn)

    def rates(self, on: date) -> RateTable:
        return cached(self.conn.engine, ("rates", self.provider, on),
                      lambda: SqlRates(self.conn, self.provider).table(on))  # fmt: skip

    def tax_rules(self) -> TaxRules:
        return cached(self.conn.engine, "tax_rules", self._promos.tax_rules)

    def promotions(self, on: date, channel_code: str) -> list[Promotion]:
        return cached(self.conn.engine, ("promotions", on, channel_code),
                      lambda: self._promos.active(on, channel_code))  # fmt: skip

    def voucher(self, code: str) -> Voucher | None:
        return self._promos.voucher(code)

    def voucher_uses(self, code: str, account_id: int) -> int:
        return self._promos.voucher_uses(code, account_id)

    def points_balance(self, account_id: int) -> int:
        return self._promos.points_balance(account_id)

    def redeem(self, voucher_code: str, order_id: int, account_id: int | None) -> None:
        self._promos.redeem(voucher_code, order_id, account_id)

    def spend_points(self, account_id: int, points: int, order_id: int) -> None:
        self._promos.spend_points(account_id, points, order_id)


__all__ = ["SqlPricingData"]
