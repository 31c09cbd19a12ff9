"""Receiving a spreadsheet for an import job: the raw file is stored before anything reads it.

The upload is streamed to ``<import_dir>/tmp`` in chunks while it is hashed, fsynced, and then
moved to ``<import_dir>/<sha256[:2]>/<sha256>.<ext>`` (a file is kept once, by its content);
only then is the job recorded. The same file sent again to the same channel is the same job.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from legato.bootstrap import Runtime
from legato.domain.catalog import Channel
from legato.domain.errors import FieldIssue, LegatoError, ValidationFailed
from legato.intake.spreadsheet import SheetError, detect_format
from legato.store import imports as jobs
from legato.store.queries import reading
from legato.store.repositories import SqlChannels

#: set when a job is queued: the ImportWorker of this process wakes at once
WAKE = threading.Event()


class ImportTooLarge(LegatoError):
    code = "payload_too_large"
    status = 413
    title = "The file is larger than the configured limit"


@dataclass(frozen=True)
class Stored:
    path: Path
    sha256: str
    size: int
    fmt: str


def store_file(import_dir: Path, chunks: Iterable[bytes], filename: str, max_bytes: int) -> Stored:
    """Write the file under ``import_dir`` as it arrives, hashing it; fsync; keep it by its hash."""
    tmp_dir = import_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with tmp.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ImportTooLarge(f"the file is larger than {max_bytes} bytes", limit=max_bytes)
                if len(head) < 8:
                    head += chunk[:8]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sha = digest.hexdigest()
    try:
        fmt = detect_format(filename, head)
    except SheetError:
        fmt = Path(filename).suffix.lower().lstrip(".")[:10] or "unknown"  # refused when the job runs
    final = import_dir / sha[:2] / f"{sha}.{fmt}"
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    return Stored(final.resolve(), sha, size, fmt)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the file itself is synced
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def channel_of(rt: Runtime, code: str) -> Channel | None:
    """The channel (without its secrets), read on a read-only connection."""
    with reading(rt.engine) as conn:
        return SqlChannels(conn, rt.box, datetime.now(UTC)).get_by_code(code, secrets=False)


def _invalid(path: str, message: str, code: str, value: Any) -> ValidationFailed:
    return ValidationFailed(message, issues=[FieldIssue(path, message, code, value)])


def receive_file(
    rt: Runtime,
    channel_code: str,
    chunks: Iterable[bytes],
    filename: str,
    *,
    mode: str = "all_or_nothing",
    actor: str,
    max_bytes: int | None = None,
) -> tuple[jobs.ImportJob, bool]:
    """Store the file and record its job (``received``); (job, False) for a file this channel
    was sent before. The job runs in ``run_job`` (the CLI) or the ImportWorker (the API)."""
    if mode not in jobs.MODES:
        raise _invalid("mode", f"mode must be one of {', '.join(jobs.MODES)}", "invalid", mode)
    channel = channel_of(rt, channel_code)
    if channel is None or not channel.active:
        why = (
            f"no channel with code {channel_code!r}"
            if channel is None
            else f"channel {channel_code} is inactive"
        )
        raise _invalid(
            "channel", why, "unknown_channel" if channel is None else "inactive_channel", channel_code
        )
    limit = max_bytes if max_bytes is not None else rt.settings.max_intake_bytes
    stored = store_file(Path(rt.settings.import_dir), chunks, filename, limit)
    job, created = jobs.create(
        rt.engine, channel_id=channel.id or 0, filename=filename or stored.path.name, fmt=stored.fmt,
        sha256=stored.sha256, size=stored.size, path=str(stored.path), mode=mode, actor=actor,
    )  # fmt: skip
    if not created and jobs.requeue(rt.engine, job.id, mode):
        job = jobs.get(rt.engine, job.id) or job
    WAKE.set()
    return job, created


__all__ = ["WAKE", "ImportTooLarge", "Stored", "channel_of", "receive_file", "store_file"]
