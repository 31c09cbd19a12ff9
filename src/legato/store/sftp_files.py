"""Files seen on SFTP channels: what was listed, taken into the inbox, and what became of it.

One row per (channel, name, size, mtime) as the server listed it, so a file is taken once:
a re-listing of the same file finds its row; a file rewritten under the same name is a new
row. States:

- ``seen``: listed, not yet taken (still being written, or its download failed);
- ``taken``: its bytes are in the inbox (committed with the state change), being processed;
- ``processed`` / ``error``: done, moved to the processed or error folder;
- ``duplicate``: the same name and bytes as a file already processed: nothing was created.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from legato.store import inbox
from legato.store import tables as t
from legato.store.db import write_lock
from legato.store.queries import reading

SEEN = "seen"
TAKEN = "taken"
PROCESSED = "processed"
ERROR = "error"
DUPLICATE = "duplicate"
FINAL = (PROCESSED, ERROR, DUPLICATE)

_F = t.sftp_files


@dataclass(frozen=True)
class SftpFile:
    id: int
    channel_id: int
    name: str
    size: int
    mtime: int
    sha256: str | None
    state: str
    inbox_id: int | None
    first_seen: datetime
    updated_at: datetime

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.name, self.size, self.mtime)


def _file(r: Any) -> SftpFile:
    return SftpFile(
        r.id, r.channel_id, r.name, r.size, r.mtime, r.sha256, r.state, r.inbox_id, r.first_seen, r.updated_at
    )


def known(engine: Engine, channel_id: int, names: Iterable[str]) -> dict[tuple[str, int, int], SftpFile]:
    """The rows of these file names (every size and time seen), by (name, size, mtime)."""
    wanted = sorted(set(names))
    found: dict[tuple[str, int, int], SftpFile] = {}
    with reading(engine) as conn:
        for start in range(0, len(wanted), 500):  # keep the IN list within every driver's limits
            chunk = wanted[start : start + 500]
            rows = conn.execute(select(_F).where(_F.c.channel_id == channel_id, _F.c.name.in_(chunk)))
            for r in rows:
                f = _file(r)
                found[f.key] = f
    return found


def see(engine: Engine, channel_id: int, name: str, size: int, mtime: int) -> SftpFile:
    """Record a file as listed (state ``seen``) and forget the earlier sightings of a file of
    that name still being written (other sizes or times, never taken)."""
    now = datetime.now(UTC)
    values = dict(
        channel_id=channel_id, name=name, size=size, mtime=mtime, sha256=None, state=SEEN,
        inbox_id=None, first_seen=now, updated_at=now,
    )  # fmt: skip
    try:
        with write_lock(engine), engine.begin() as conn:
            conn.execute(
                delete(_F).where(
                    _F.c.channel_id == channel_id,
                    _F.c.name == name,
                    _F.c.state == SEEN,
                    ~and_(_F.c.size == size, _F.c.mtime == mtime),
                )
            )
            conn.execute(insert(_F).values(**values))
    except IntegrityError:  # another process recorded it first: theirs is as good
        pass
    found = get(engine, channel_id, name, size, mtime)
    assert found is not None
    return found


def get(engine: Engine, channel_id: int, name: str, size: int, mtime: int) -> SftpFile | None:
    with reading(engine) as conn:
        r = conn.execute(
            select(_F).where(
                _F.c.channel_id == channel_id, _F.c.name == name, _F.c.size == size, _F.c.mtime == mtime
            )
        ).first()
    return _file(r) if r is not None else None


def processed_twin(engine: Engine, channel_id: int, name: str, sha256: str) -> SftpFile | None:
    """A file of this name with these very bytes that was processed already (the oldest)."""
    with reading(engine) as conn:
        r = conn.execute(
            select(_F)
            .where(
                _F.c.channel_id == channel_id,
                _F.c.name == name,
                _F.c.sha256 == sha256,
                _F.c.state == PROCESSED,
            )
            .order_by(_F.c.id)
            .limit(1)
        ).first()
    return _file(r) if r is not None else None


class _Lost(Exception):
    """The row changed under us (another process took the file): roll the inbox entry back."""


def take(
    engine: Engine, file_id: int, sha256: str, entry: dict[str, Any], *, states: tuple[str, ...] = (SEEN,)
) -> int | None:
    """Store the file's bytes in the inbox and mark the file ``taken`` in ONE transaction;
    returns the inbox id, or None when another process took it first (nothing is stored)."""
    now = datetime.now(UTC)
    try:
        with write_lock(engine), engine.begin() as conn:
            entry_id = inbox.store(conn, entry)
            changed = conn.execute(
                update(_F)
                .where(_F.c.id == file_id, _F.c.state.in_(states))
                .values(state=TAKEN, sha256=sha256, inbox_id=entry_id, updated_at=now)
            ).rowcount
            if changed != 1:
                raise _Lost
    except _Lost:
        return None
    return entry_id


def settle(
    engine: Engine,
    file_id: int,
    state: str,
    *,
    sha256: str | None = None,
    inbox_id: int | None = None,
    states: tuple[str, ...] | None = None,
) -> bool:
    """Move a file to ``state`` (only from ``states`` when given); False if it was not there."""
    values: dict[str, Any] = {"state": state, "updated_at": datetime.now(UTC)}
    if sha256 is not None:
        values["sha256"] = sha256
    if inbox_id is not None:
        values["inbox_id"] = inbox_id
    query = update(_F).where(_F.c.id == file_id)
    if states is not None:
        query = query.where(_F.c.state.in_(states))
    with write_lock(engine), engine.begin() as conn:
        return bool(conn.execute(query.values(**values)).rowcount)


def recent(engine: Engine, channel_id: int, limit: int = 50) -> list[SftpFile]:
    """The channel's files, newest first (for the command line)."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(_F).where(_F.c.channel_id == channel_id).order_by(_F.c.id.desc()).limit(limit)
        )
        return [_file(r) for r in rows]


__all__ = [
    "DUPLICATE",
    "ERROR",
    "FINAL",
    "PROCESSED",
    "SEEN",
    "TAKEN",
    "SftpFile",
    "get",
    "known",
    "processed_twin",
    "recent",
    "see",
    "settle",
    "take",
]
