"""SFTP channels: poll a partner's folder, take each file once, deliver our documents back.

One poll of a channel (``poll``):

1. list the inbound folder (``sftp_dir``); a file is *ready* when its size and time are the
   same as at the previous poll (``stable_size``) or when ``<name>.done`` exists
   (``done_marker``): a file still being written is never taken;
2. download a ready file whole (its size must be the listed size), store it in the inbox and
   mark it ``taken`` in one transaction: **inbox first**; a download that fails records
   nothing, and the next poll takes the file again;
3. process it through the pipeline (the ``sftp`` adapter hands it to its format's adapter),
   then move it to the processed folder (with ``<name>.result.txt`` listing the orders) or to
   the error folder (with ``<name>.error.txt`` giving the reason and every issue); the same
   name with the same bytes as a file processed before is moved as a duplicate, nothing made;
4. upload the channel's pending outbound documents (997, CONTRL, 855) to ``sftp_outbound_dir``
   under a temporary name, renamed when complete.

Orders are idempotent on the document's own order reference, so a file taken twice (a crash
between the inbox and the move) never makes an order twice.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel
from legato.domain.errors import LegatoError, NotFound, ValidationFailed
from legato.intake import pipeline
from legato.intake.adapters.sftp import ADAPTER, content_type, detect_format
from legato.intake.base import Delivery, Unparseable
from legato.intake.sftp_remote import (
    ConnectionGone,
    RemoteFile,
    Session,
    SftpConfig,
    SftpError,
    config_of,
    connect,
)
from legato.intake.sftp_report import Handled, error_text, handled_of_entry, handled_of_outcome, result_text
from legato.store import documents, inbox, sftp_files
from legato.store import tables as t
from legato.store.db import write_lock
from legato.store.queries import reading

log = logging.getLogger("legato.intake.sftp")

#: never taken: hidden files, markers, our sidecars, and the usual names of half-written uploads
SKIPPED_SUFFIXES = (".done", ".error.txt", ".result.txt", ".part", ".tmp", ".filepart")
OUTBOUND_PER_POLL = 1000


@dataclass
class FileResult:
    """What became of one file in this poll."""

    name: str
    state: str  # processed | error | duplicate
    inbox_id: int | None
    orders: list[str] = field(default_factory=list)  # order numbers
    reason: str | None = None
    moved_to: str | None = None  # None: not moved (the next poll tries again)


@dataclass
class PollResult:
    channel: str
    files: list[FileResult] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # listed, not ready yet
    sent: list[str] = field(default_factory=list)  # outbound documents delivered (remote paths)
    failed: list[str] = field(default_factory=list)  # files not read, documents not delivered: why
    error: str | None = None  # what stopped the poll early (the connection was lost ...)


def sftp_channel(rt: Runtime, code: str) -> Channel:
    channel = pipeline._channel(rt, code)
    if channel is None:
        raise NotFound(f"no channel {code!r}")
    if channel.adapter != ADAPTER.name:
        raise ValidationFailed(f"channel {code} uses the {channel.adapter} adapter, not sftp")
    if not channel.active:
        raise ValidationFailed(f"channel {code} is inactive")
    return channel


def poll(rt: Runtime, code: str, *, stop: threading.Event | None = None) -> PollResult:
    """Poll one SFTP channel now. Raises NotFound / ValidationFailed (bad settings) /
    ConnectionGone or HostKeyMismatch (nothing was taken); a connection lost half-way ends
    the poll with ``result.error`` set (what was done before stays done)."""
    channel = sftp_channel(rt, code)
    cfg = config_of(channel)
    result = PollResult(code)
    with connect(cfg, channel.secrets) as remote:
        try:
            _take_files(rt, channel, cfg, remote, result, stop)
            _deliver(rt, channel, cfg, remote, result)
        except SftpError as exc:  # the connection went, or the inbound folder cannot be read
            result.error = exc.detail
            log.warning("sftp poll stopped", extra={"channel": code, "error": exc.detail})
    return result


# --- taking files ---------------------------------------------------------------------------


def _order_file(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(SKIPPED_SUFFIXES)


def _take_files(
    rt: Runtime,
    channel: Channel,
    cfg: SftpConfig,
    remote: Session,
    out: PollResult,
    stop: threading.Event | None,
) -> None:
    listing = remote.listdir(cfg.inbound)
    names = {f.name for f in listing}
    files = sorted((f for f in listing if _order_file(f.name)), key=lambda f: (f.mtime, f.name))
    assert channel.id is not None
    rows = sftp_files.known(rt.engine, channel.id, [f.name for f in files])
    for f in files:
        if stop is not None and stop.is_set():
            return
        row = rows.get((f.name, f.size, f.mtime))
        if row is None:
            row = sftp_files.see(rt.engine, channel.id, f.name, f.size, f.mtime)
            if cfg.ready == "stable_size" and row.state == sftp_files.SEEN:
                out.waiting.append(f.name)  # seen for the first time at this size and time
                continue
        if row.state == sftp_files.SEEN and cfg.ready == "done_marker" and f"{f.name}.done" not in names:
            out.waiting.append(f.name)
            continue
        try:
            done = _one(rt, channel, cfg, remote, f, row)
        except ConnectionGone:
            raise
        except SftpError as exc:  # this file cannot be read (permissions): the others go on
            out.failed.append(f"{f.name}: {exc.detail}")
            continue
        if done is None:
            out.waiting.append(f.name)
        else:
            out.files.append(done)
            log.info("sftp file", extra={"channel": channel.code, "file": f.name, "state": done.state})


def _one(
    rt: Runtime, channel: Channel, cfg: SftpConfig, remote: Session, f: RemoteFile, row: sftp_files.SftpFile
) -> FileResult | None:
    """Take, resume or re-move one ready file; None when it is not ready after all."""
    if row.state == sftp_files.TAKEN:
        return _resume(rt, channel, cfg, remote, f, row)
    if f.size > rt.settings.max_intake_bytes:
        why = f"the file is {f.size} bytes; the most a channel may deliver is {rt.settings.max_intake_bytes}"
        if row.state == sftp_files.SEEN:
            sftp_files.settle(rt.engine, row.id, sftp_files.ERROR, states=(sftp_files.SEEN,))
        issues = [{"path": "$", "message": why, "code": "too_large"}]
        handled = Handled(sftp_files.ERROR, None, reason=why, issues=issues)
        return _finish(cfg, remote, f, handled)
    data = remote.read(posixpath.join(cfg.inbound, f.name))
    if len(data) != f.size:  # written to since it was listed: not ready after all
        return None
    sha = hashlib.sha256(data).hexdigest()
    if row.state in sftp_files.FINAL and row.sha256 == sha:
        # handled already, but the move did not happen (the connection went): move it now
        entry = inbox.get(rt.engine, row.inbox_id) if row.inbox_id is not None else None
        return _finish(cfg, remote, f, handled_of_entry(row.state, entry, row.inbox_id))
    twin = sftp_files.processed_twin(rt.engine, channel.id or 0, f.name, sha)
    if twin is not None and twin.id != row.id:
        if not sftp_files.settle(
            rt.engine, row.id, sftp_files.DUPLICATE, sha256=sha, inbox_id=twin.inbox_id, states=(row.state,)
        ):
            return None  # another process got there first
        why = f"the same file was processed already (inbox entry {twin.inbox_id}); nothing was created"
        return _finish(cfg, remote, f, Handled(sftp_files.DUPLICATE, twin.inbox_id, reason=why))
    return _take(rt, channel, cfg, remote, f, row, data, sha)


def _take(
    rt: Runtime,
    channel: Channel,
    cfg: SftpConfig,
    remote: Session,
    f: RemoteFile,
    row: sftp_files.SftpFile,
    data: bytes,
    sha: str,
) -> FileResult | None:
    now = datetime.now(UTC)
    try:
        fmt = detect_format(f.name, data, cfg.format)
    except Unparseable:
        fmt = "unknown"
    path = posixpath.join(cfg.inbound, f.name)
    headers = {"content-type": content_type(fmt, data), "x-sftp-path": path}
    delivery = Delivery("PULL", f.name, {}, headers, data, now)
    values = inbox.row(
        channel_id=channel.id, channel_code=channel.code, adapter=channel.adapter, method="PULL",
        path=f.name, query={}, headers=headers, body=data, received_at=now, source="sftp",
        topic=f"file/{fmt}", delivery_id=f"{f.name}:{f.size}:{f.mtime}", state=inbox.PROCESSING,
    )  # fmt: skip
    values["attempts"] = 1
    entry_id = sftp_files.take(rt.engine, row.id, sha, values, states=(row.state,))
    if entry_id is None:
        return None  # another process took it
    return _settle_and_move(rt, cfg, remote, f, row, _process_file(rt, channel, entry_id, delivery))


def _process_file(rt: Runtime, channel: Channel, entry_id: int, delivery: Delivery) -> Handled:
    """Run a taken file through the pipeline as any pulled delivery (the inbox entry is kept
    with its fate: processed, duplicate, ignored, quarantined with the issues, or failed)."""
    try:
        outcome = pipeline._process(rt, entry_id, channel, ADAPTER, delivery)
    except LegatoError as exc:  # quarantined, with the reason and issues on the entry
        issues = [{"path": i.path, "message": i.message, "code": i.code} for i in exc.issues]
        return Handled(sftp_files.ERROR, entry_id, reason=exc.detail, issues=issues)
    except Exception as exc:  # an adapter bug: the entry is "failed", replayable after a fix
        log.exception("sftp file failed", extra={"channel": channel.code, "inbox_id": entry_id})
        return Handled(sftp_files.ERROR, entry_id, reason=f"{type(exc).__name__}: {exc}")
    return handled_of_outcome(outcome)


def _resume(
    rt: Runtime, channel: Channel, cfg: SftpConfig, remote: Session, f: RemoteFile, row: sftp_files.SftpFile
) -> FileResult | None:
    """A file taken by a poll that stopped before it was moved (a crash): finish it from its
    inbox entry, processing the entry first if nobody did."""
    entry = inbox.get(rt.engine, row.inbox_id) if row.inbox_id is not None else None
    if entry is None:  # cannot happen (the row and the entry are committed together); be safe
        sftp_files.settle(rt.engine, row.id, sftp_files.SEEN, states=(sftp_files.TAKEN,))
        return None
    if entry.state in (inbox.RECEIVED, inbox.PROCESSING):
        if not inbox.claim(rt.engine, entry.id, states=(inbox.RECEIVED,)):
            return None  # being processed by someone else right now
        delivery = Delivery(
            entry.method, entry.path, entry.query, entry.headers, entry.body, entry.received_at
        )
        handled = _process_file(rt, channel, entry.id, delivery)
    else:
        handled = handled_of_entry(sftp_files.TAKEN, entry, entry.id)
    return _settle_and_move(rt, cfg, remote, f, row, handled)


def _settle_and_move(
    rt: Runtime, cfg: SftpConfig, remote: Session, f: RemoteFile, row: sftp_files.SftpFile, handled: Handled
) -> FileResult:
    sftp_files.settle(rt.engine, row.id, handled.state)
    return _finish(cfg, remote, f, handled)


def _finish(cfg: SftpConfig, remote: Session, f: RemoteFile, handled: Handled) -> FileResult:
    """Move the file to its folder with its sidecar; a refused move is reported, not fatal
    (the file's state is kept, so the next poll moves it without processing it again)."""
    error = handled.state == sftp_files.ERROR
    folder = cfg.error if error else cfg.processed
    source = posixpath.join(cfg.inbound, f.name)
    result = FileResult(f.name, handled.state, handled.inbox_id, [o[0] for o in handled.orders if o[0]],
                        handled.reason)  # fmt: skip
    try:
        moved = remote.move(source, folder, f.name)
    except ConnectionGone:
        raise
    except SftpError as exc:
        result.reason = f"{result.reason or handled.state}; not moved: {exc.detail}"
        return result
    result.moved_to = moved
    base = posixpath.basename(moved)
    try:
        if error:
            remote.write(folder, f"{base}.error.txt", error_text(f.name, handled).encode())
        else:
            remote.write(folder, f"{base}.result.txt", result_text(f.name, handled).encode())
        if cfg.ready == "done_marker" and remote.exists(f"{source}.done"):
            remote.move(f"{source}.done", folder, f"{base}.done")
    except ConnectionGone:
        raise
    except SftpError as exc:  # the file is where it belongs; only its note is missing
        result.reason = f"{result.reason or handled.state}; no note written: {exc.detail}"
    return result


# --- outbound documents ------------------------------------------------------------------------


def _deliver(rt: Runtime, channel: Channel, cfg: SftpConfig, remote: Session, out: PollResult) -> None:
    """Upload the channel's pending documents, oldest first (control numbers in order)."""
    if cfg.outbound is None or channel.id is None:
        return
    pending: list[documents.Document] = []  # newest first, as listed
    before: int | None = None
    while page := documents.listing(rt.engine, channel_id=channel.id, pending=True, limit=200, before=before):
        pending.extend(page)
        before = page[-1].id
    for doc in reversed(pending[-OUTBOUND_PER_POLL:]):  # the oldest first; the rest next poll
        name = posixpath.basename(doc.filename) or f"{doc.kind}-{doc.id}"
        try:
            path = remote.write(cfg.outbound, name, doc.body)
        except SftpError as exc:
            documents.mark_failed(rt.engine, doc.id, exc.detail)
            out.failed.append(f"{name}: {exc.detail}")
            if isinstance(exc, ConnectionGone):
                raise
            continue
        documents.mark_sent(rt.engine, doc.id, f"{cfg.where}{path}")
        out.sent.append(path)


# --- the schedule ----------------------------------------------------------------------------

LAST_POLL, LAST_ERROR = "sftp:last_poll", "sftp:last_error"


def _due(rt: Runtime, channel: Channel, now: datetime) -> bool:
    """Claim this channel's poll slot: True for exactly one process once its interval passed
    (a read first, so a channel that is not due costs no write)."""
    raw = channel.settings.extra.get("sftp_poll_seconds", 60)
    every = timedelta(seconds=raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else 60)
    cs, cid = t.channel_state, channel.id or 0
    last = inbox.get_state(rt.engine, cid, LAST_POLL)
    if last is not None and now - _when(last) < every:
        return False
    try:
        with write_lock(rt.engine), rt.engine.begin() as conn:
            if last is None:
                conn.execute(cs.insert().values(channel_id=cid, key=LAST_POLL, value=now.isoformat(),
                                                updated_at=now))  # fmt: skip
                return True
            slot = (cs.c.channel_id == cid) & (cs.c.key == LAST_POLL) & (cs.c.value == last)
            won = conn.execute(cs.update().where(slot).values(value=now.isoformat(), updated_at=now))
            return bool(won.rowcount)  # 0: another process polled it since we looked
    except IntegrityError:  # another process inserted the slot first
        return False


def _when(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # not a time we wrote: poll now, and write one
        return datetime.min.replace(tzinfo=UTC)


def _record(rt: Runtime, channel_id: int, error: str | None) -> None:
    with write_lock(rt.engine), rt.engine.begin() as conn:
        value = f"{datetime.now(UTC).isoformat()} {error}" if error else None
        inbox.set_state(conn, channel_id, LAST_ERROR, value)


def poll_due(rt: Runtime, stop: threading.Event | None = None) -> list[PollResult]:
    """Poll every active SFTP channel whose interval has passed; one failing channel never
    stops the others (its error is logged and kept in channel_state ``sftp:last_error``)."""
    with reading(rt.engine) as conn:
        ch = t.channels.c
        query = select(ch.code).where(ch.adapter == ADAPTER.name, ch.active.is_(True)).order_by(ch.code)
        codes = list(conn.execute(query).scalars())
    results = []
    for code in codes:
        if stop is not None and stop.is_set():
            break
        channel = pipeline._channel(rt, code)
        if channel is None or channel.id is None or not _due(rt, channel, datetime.now(UTC)):
            continue
        try:
            result = poll(rt, code, stop=stop)
        except LegatoError as exc:
            log.warning("sftp poll failed", extra={"channel": code, "error": exc.detail})
            _record(rt, channel.id, exc.detail)
            continue
        except Exception as exc:
            log.exception("sftp poll failed", extra={"channel": code})
            _record(rt, channel.id, f"{type(exc).__name__}: {exc}")
            continue
        _record(rt, channel.id, result.error)
        results.append(result)
    return results


class SftpWorker:
    """Polls the SFTP channels on their schedules in a serving process (one daemon thread)."""

    def __init__(self, rt: Runtime, tick: float = 5.0) -> None:
        self.rt, self.tick = rt, tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="legato-sftp", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops between two files (an SFTP call in flight ends within its own timeout)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                poll_due(self.rt, self._stop)
            except Exception:  # the worker must outlive a bad round; the next one tries again
                log.exception("sftp round failed")
            self._stop.wait(self.tick)


__all__ = [
    "LAST_ERROR",
    "LAST_POLL",
    "FileResult",
    "PollResult",
    "SftpWorker",
    "poll",
    "poll_due",
    "sftp_channel",
]
