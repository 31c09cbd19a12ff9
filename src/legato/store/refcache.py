"""A short-lived, per-database cache of reference data every order reads: tax rules, the
automatic promotions, the day's exchange rates.

Placing an order reads them each time; they change a few times a day. Each value is kept
for ``TTL`` seconds per engine, and every write through this process (the promotions, tax
and rates stores) clears the engine's cache at once, so this process sees its own changes
immediately and other processes within ``TTL`` seconds.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import Engine

TTL = 2.0
T = TypeVar("T")

_CACHES: weakref.WeakKeyDictionary[Engine, dict[Hashable, tuple[float, Any]]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def cached(engine: Engine, key: Hashable, load: Callable[[], T]) -> T:
    """The value under ``key`` if loaded less than TTL seconds ago, else ``load()``'s."""
    now = time.monotonic()
    with _LOCK:
        cache = _CACHES.setdefault(engine, {})
        hit = cache.get(key)
    if hit is not None and now - hit[0] < TTL:
        value: T = hit[1]
        return value
    value = load()
    with _LOCK:
        cache[key] = (now, value)
    return value


def invalidate(engine: Engine) -> None:
    """Forget what was cached for ``engine`` (called by every write of reference data)."""
    with _LOCK:
        _CACHES.pop(engine, None)


__all__ = ["TTL", "cached", "invalidate"]
