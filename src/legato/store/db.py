"""Engines: SQLite (WAL, serialised writers) by default, PostgreSQL through psycopg 3."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

#: Execution option that marks a connection read-only: on SQLite it begins DEFERRED,
#: so readers never queue behind writers (WAL lets them read a consistent snapshot).
READ_ONLY = "legato_read_only"


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def write_lock(engine: Engine) -> AbstractContextManager[Any]:
    """On SQLite, one lock per engine that writers take before BEGIN IMMEDIATE.

    SQLite admits one writer at a time; a writer that finds the database locked sleeps
    in SQLite's busy handler (1, 2, 5, 10 ... ms) before trying again, so threads of
    one process queueing there lose most of their time asleep. Queueing on a Python
    lock instead hands the database over the moment the previous writer commits.
    Other processes still wait in the busy handler, as before. PostgreSQL needs no lock.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    lock = _WRITE_LOCKS.get(engine)
    if lock is None:
        lock = _WRITE_LOCKS.setdefault(engine, threading.Lock())
    return lock


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, **kw: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kw)
        _sqlite_setup(engine)
        return engine
    if "poolclass" not in kw:
        kw.setdefault("pool_size", 10)
        kw.setdefault("max_overflow", 20)
        # No pre-ping: it costs a round trip on every checkout. Recycle instead, so a
        # connection the server or a proxy dropped while idle is not handed out.
        kw.setdefault("pool_recycle", 300)
        kw.setdefault("pool_use_lifo", True)
    return create_engine(url, **kw)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front (BEGIN IMMEDIATE): a transaction that
        # read first and upgraded later could fail with "database is locked".
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def recording_statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent to the driver while the block runs (an executemany counts once):
    how the statement-count test and the benchmark see what one use case costs."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def is_retryable(exc: DBAPIError) -> bool:
    """A deadlock or a serialization failure (PostgreSQL): nothing was written, and the same
    transaction may succeed when run again."""
    try:
        from psycopg import errors as pg
    except ImportError:  # pragma: no cover - psycopg is installed with the PostgreSQL extra
        return False
    return isinstance(exc.orig, pg.DeadlockDetected | pg.SerializationFailure)
