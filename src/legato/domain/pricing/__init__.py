"""Pricing: the mechanisms (``mechanisms``) and price resolution (``engine``).

See ``engine`` for the resolution order (channel, contract, channel list, base list,
converted) and docs/pricing/ for each mechanism, currency conversion, promotions and tax.
"""

from legato.domain.pricing.engine import (
    Conversion,
    PriceBook,
    Priced,
    PricingFailed,
    PricingPolicy,
    resolve_price,
)

__all__ = ["Conversion", "PriceBook", "Priced", "PricingFailed", "PricingPolicy", "resolve_price"]
