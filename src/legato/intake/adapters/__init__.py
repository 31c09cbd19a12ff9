"""The adapter registry: a channel's ``adapter`` names one of these.

Adding a channel adapter: one module here that defines ``ADAPTER`` (an object meeting
``legato.intake.base.Adapter``), and one line below. Modules are imported on first use.
"""

from __future__ import annotations

import importlib
from functools import cache

from legato.intake.base import Adapter

#: adapter name -> module (webhook / push adapters)
REGISTRY: dict[str, str] = {
    "rest": "legato.intake.adapters.rest",  # the canonical JSON (POST /api/v1/orders, /intake/CODE)
    "manual": "legato.intake.adapters.rest",  # orders keyed in by a person: the same canonical JSON
    "shopify": "legato.intake.adapters.shopify",  # orders/create, orders/updated, orders/cancelled webhooks
    "woocommerce": "legato.intake.adapters.woocommerce",  # order created/updated webhooks, ping
    "whatsapp": "legato.intake.adapters.whatsapp",  # WhatsApp Cloud API: order messages
    "pos": "legato.intake.adapters.square",  # point of sale, Square Orders API webhooks
    "square": "legato.intake.adapters.square",
    "magento": "legato.intake.adapters.magento",  # pull: Magento 2 / Adobe Commerce REST API
    "usage-readings": "legato.intake.usage_readings",  # metered usage by API/CSV (replay of stored bodies)
    "spreadsheet": "legato.intake.adapters.spreadsheet",  # CSV / XLSX files of orders (POST, SFTP)
    "iot": "legato.intake.adapters.iot",  # sensor readings (signed HTTP, MQTT): replenishment rules
    "edifact": "legato.intake.adapters.edifact",  # EDIFACT ORDERS D.96A/D.01B (EANCOM); CONTRL back
    "edi-x12": "legato.intake.adapters.x12",  # X12 850 purchase orders (4010/5010); 997 and 855 back
    "sftp": "legato.intake.adapters.sftp",  # files pulled from a partner's SFTP folder (any format above)
}


class UnknownAdapter(LookupError):
    pass


@cache
def get_adapter(name: str) -> Adapter:
    module = REGISTRY.get(name)
    if module is None:
        raise UnknownAdapter(f"no intake adapter named {name!r}; known: {', '.join(sorted(REGISTRY))}")
    adapter: Adapter = importlib.import_module(module).ADAPTER
    return adapter


__all__ = ["REGISTRY", "UnknownAdapter", "get_adapter"]
