"""The control tower's pages: one module each, defining ``router`` (and optionally ``NAV``).

Register a page with one line here; ``legato.web.mount`` includes them in this order.
"""

#: Page modules, one line each.
PAGES: list[str] = [
    "legato.web.pages.signin",  # /login, /logout
    "legato.web.pages.hub",  # /orders: the order hub, its quick view, saved views, CSV export
    "legato.web.pages.order",  # /orders/{number}: the order's detail
    "legato.web.pages.actions",  # /orders/{number}/actions/...: approve, hold, release, cancel, void, retry
    "legato.web.pages.fulfilment",  # /orders/{number}/allocate, .../fulfilment/{leg}/hold|release
    "legato.web.pages.entry",  # /orders/new: manual order and quote entry, priced live
    "legato.web.pages.quotes",  # /quotes: list, detail, send, accept, decline, convert
    "legato.web.pages.dashboard",  # /: the dashboard (figures link to the hub), charts from live data
    "legato.web.pages.operations",  # /operations: backlog by stage, late risk, unshipped demand, holds
    "legato.web.pages.inbox",  # /inbox: deliveries by channel and state, payloads, replay
    "legato.web.pages.workflows",  # /workflows: list, edit with live check and dry run, versions
    "legato.web.pages.jobs",  # /jobs: workflow jobs and dead letters, retry
]
