"""Roles and what each may see and do: the ONE permission map of the control tower.

Pages check a permission with ``require("orders:hold")`` (a dependency: the server refuses)
and templates with ``can("orders:hold")`` (what a role may not do is not shown). A role is
a set of permissions; nothing else in the web layer names a role.
"""

from __future__ import annotations

#: Every permission, with what it allows (shown by ``legato user roles``).
PERMISSIONS: dict[str, str] = {
    "dashboard:view": "see the dashboard",
    "orders:view": "see orders: the hub, the quick view, an order's detail and its original payload",
    "orders:export": "download the hub's current view as CSV",
    "orders:create": "enter orders and quotes by hand",
    "orders:approve": "approve or reject orders that wait for approval",
    "orders:hold": "hold and release orders",
    "orders:cancel": "cancel orders",
    "orders:void": "void orders entered in error",
    "orders:allocate": "reserve stock for an order and split it into fulfilment orders",
    "fulfilment:manage": "hold and release an order's fulfilment orders before dispatch",
    "quotes:view": "see quotes",
    "quotes:manage": "send, accept, decline and convert quotes",
    "operations:view": "see the operations board (backlog, late risk, held orders)",
    "workflows:view": "see workflows, their runs and jobs",
    "workflows:manage": "edit, enable and disable workflows",
    "jobs:retry": "retry dead workflow jobs",
    "inbox:view": "see received payloads and why they were quarantined",
    "inbox:replay": "replay a quarantined, rejected or failed delivery",
}

_READ = {"dashboard:view", "orders:view", "quotes:view"}

#: What each role may do. ``admin`` may do everything.
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "sales": frozenset(
        _READ
        | {"orders:export", "orders:create", "orders:hold", "orders:cancel", "quotes:manage", "inbox:view"}
    ),
    "approver": frozenset(_READ | {"orders:approve", "workflows:view"}),
    "warehouse": frozenset(
        _READ | {"orders:hold", "operations:view", "orders:allocate", "fulfilment:manage"}
    ),
    "finance": frozenset(_READ | {"orders:export", "orders:cancel", "orders:void", "operations:view"}),
    "viewer": frozenset(_READ | {"operations:view", "workflows:view", "inbox:view"}),
}

ROLE_HELP: dict[str, str] = {
    "admin": "everything, including workflows, job retries and inbox replays",
    "sales": "enters orders and quotes, holds, releases and cancels orders",
    "approver": "approves or rejects orders that wait for approval",
    "warehouse": "works the operations board; allocates stock; holds and releases orders and legs",
    "finance": "exports, cancels and voids orders",
    "viewer": "sees everything a reader may; changes nothing",
}


def can(role: str | None, permission: str) -> bool:
    """May ``role`` do ``permission``? An unknown permission is a programming error."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}; add it to legato.web.permissions.PERMISSIONS")
    return role is not None and permission in ROLES.get(role, frozenset())


__all__ = ["PERMISSIONS", "ROLES", "ROLE_HELP", "can"]
