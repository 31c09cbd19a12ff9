"""What became of an SFTP file, and the sidecar texts left beside it for the partner.

The partner may have no access to Legato: ``<name>.result.txt`` (processed folder) lists the
orders the file made, ``<name>.error.txt`` (error folder) gives the reason and every issue, so
the file can be fixed and sent again without a phone call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from legato.domain.order import ORDER_PREFIX, format_number
from legato.intake.pipeline import Outcome
from legato.store import inbox, sftp_files


@dataclass
class Handled:
    state: str  # sftp_files.PROCESSED | ERROR | DUPLICATE
    inbox_id: int | None
    orders: list[tuple[str | None, str | None, bool]] = field(default_factory=list)  # number, ref, created
    reason: str | None = None
    issues: list[dict[str, Any]] = field(default_factory=list)  # {path, message, code, reference?}


def handled_of_outcome(out: Outcome) -> Handled:
    """A file the pipeline processed: quarantined (some parts refused) is an error file."""
    state = sftp_files.ERROR if out.state in (inbox.QUARANTINED, inbox.FAILED) else sftp_files.PROCESSED
    orders = [
        (
            o.get("number") or format_number(ORDER_PREFIX, o["id"]),
            o.get("external_reference"),
            bool(o["created"]),
        )
        for o in out.orders
    ]
    issues = [
        {"path": i.path, "message": i.message, "code": i.code, "reference": r.reference}
        for r in out.rejected
        for i in r.issues
    ]
    return Handled(state, out.inbox_id, orders, out.reason, issues)


def handled_of_entry(state: str, entry: inbox.InboxEntry | None, inbox_id: int | None) -> Handled:
    """A file whose inbox entry was finished earlier (by a poll that stopped before the move,
    or by crash recovery): its fate is the entry's."""
    if entry is None:
        return Handled(state if state in sftp_files.FINAL else sftp_files.ERROR, inbox_id)
    failed = entry.state in (inbox.QUARANTINED, inbox.FAILED, inbox.REJECTED)
    if state == sftp_files.DUPLICATE:
        final = sftp_files.DUPLICATE
    else:
        final = sftp_files.ERROR if failed else sftp_files.PROCESSED
    orders: list[tuple[str | None, str | None, bool]] = []
    if entry.order_id:
        orders.append((format_number(ORDER_PREFIX, entry.order_id), None, False))
    return Handled(final, entry.id, orders, entry.reason, list(entry.errors))


def _head(name: str, h: Handled) -> list[str]:
    lines = [f"file: {name}", f"state: {h.state}"]
    if h.inbox_id is not None:
        lines.append(f"inbox entry: {h.inbox_id}")
    if h.reason:
        lines.append(f"reason: {h.reason}")
    return lines


def _orders(h: Handled) -> list[str]:
    return [
        "  - " + " ".join(p for p in (number, ref, "created" if created else "existed already") if p)
        for number, ref, created in h.orders
    ]


def result_text(name: str, h: Handled) -> str:
    """``<name>.result.txt``: the orders the file made (or found already made)."""
    lines = _head(name, h)
    lines += ["orders:", *_orders(h)] if h.orders else ["orders: none"]
    return "\n".join(lines) + "\n"


def error_text(name: str, h: Handled) -> str:
    """``<name>.error.txt``: why the file was refused, each issue on its own line."""
    lines = _head(name, h)
    if h.issues:
        lines.append("issues:")
        for i in h.issues:
            ref = f"{i['reference']}: " if i.get("reference") else ""
            lines.append(
                f"  - {ref}{i.get('path', '$')}: {i.get('message', '')} ({i.get('code', 'invalid')})"
            )
    if h.orders:
        lines += ["orders placed from the rest of the file:", *_orders(h)]
    if h.inbox_id is not None:
        lines.append(f"after a fix, Legato replays it with: legato inbox replay {h.inbox_id}")
    return "\n".join(lines) + "\n"


__all__ = ["Handled", "error_text", "handled_of_entry", "handled_of_outcome", "result_text"]
