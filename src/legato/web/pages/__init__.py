"""The control tower's pages: one module each, defining ``router`` (and optionally ``NAV``).

Register a page with one line here; ``legato.web.mount`` includes them in this order.
"""

#: Page modules, one line each.
PAGES: list[str] = [
    "legato.web.pages.signin",  # /login, /logout
    "legato.web.pages.hub",  # /orders: the order hub, its quick view, saved views, CSV export
    "legato.web.pages.order",  # /orders/{number}: the order's detail
    "legato.web.pages.actions",  # /orders/{number}/actions/...: approve, hold, release, cancel, void, retry
]
