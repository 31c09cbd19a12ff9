"""The SFTP side of an SFTP channel: its settings, and a small synchronous session over
asyncssh's client.

The poll is plain synchronous code (it works the database between transfers), so the session
keeps a private event loop and runs each SFTP operation on it to completion, each under the
channel's timeout. The server's host key is the channel's trust anchor: asyncssh is given an
empty list of trusted keys, so it asks ``validate_host_public_key`` about the key the server
presents, and only the configured fingerprint passes (asyncssh's ``known_hosts=None`` would
skip the check altogether). Nothing (not even the password) is sent to a server whose key
does not match.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
import stat
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from legato.domain.catalog import Channel
from legato.domain.errors import FieldIssue, IssueCollector, LegatoError, ValidationFailed
from legato.intake.adapters.sftp import FORMATS

if TYPE_CHECKING:
    import asyncssh

T = TypeVar("T")

READY_RULES = ("stable_size", "done_marker")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


class SftpError(LegatoError):
    """An SFTP operation failed (the server refused it, or the connection is unusable)."""

    code = "sftp_failed"
    status = 502
    title = "The SFTP server could not be used"


class ConnectionGone(SftpError):
    """The connection could not be made, or was lost, or an operation timed out: the poll stops."""

    code = "sftp_unavailable"
    title = "The SFTP server cannot be reached"


class HostKeyMismatch(ConnectionGone):
    code = "host_key_mismatch"
    title = "The SFTP server's host key is not the configured one"


@dataclass(frozen=True)
class SftpConfig:
    """An SFTP channel's settings (``settings.extra``), checked."""

    host: str
    port: int
    username: str
    inbound: str
    processed: str
    error: str
    outbound: str | None
    host_keys: tuple[str, ...]
    ready: str
    poll_seconds: int
    timeout: int
    format: str | None

    @property
    def where(self) -> str:
        return f"sftp://{self.username}@{self.host}:{self.port}"


def _under(base: str, path: str) -> str:
    return path if path.startswith("/") else posixpath.join(base, path)


def fingerprints(value: Any, path: str, issues: IssueCollector) -> tuple[str, ...]:
    """The ``SHA256:...`` fingerprints in a setting: one, or a list; each may be the whole line
    ``ssh-keygen -lf`` prints (``256 SHA256:... comment (ED25519)``)."""
    values = value if isinstance(value, list) else [value]
    found: list[str] = []
    for v in values:
        match = _FINGERPRINT.search(v) if isinstance(v, str) else None
        if match is None:
            issues.add(
                path,
                "must be the server's host key fingerprint as `ssh-keygen -lf` prints it: "
                "SHA256: and 43 base64 characters",
                "invalid_host_key",
                v,
            )
            continue
        found.append(match.group(0))
    return tuple(found)


def _integer(extra: Mapping[str, Any], key: str, default: int, low: int, high: int, c: IssueCollector) -> int:
    raw = extra.get(key, default)
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        c.add(f"settings.{key}", f"{key} must be a whole number, not {raw!r}", "not_an_integer", raw)
        return default
    if not low <= raw <= high:
        c.add(f"settings.{key}", f"{key} must be between {low} and {high}", "out_of_range", raw)
    return raw


def _text(extra: Mapping[str, Any], key: str, c: IssueCollector, *, default: str | None = None) -> str | None:
    raw = extra.get(key, default)
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        c.add(f"settings.{key}", f"{key} must be a non-empty text", "invalid", raw)
        return None
    return raw.strip()


def config_of(channel: Channel) -> SftpConfig:
    """The channel's SFTP settings, or ValidationFailed naming every bad one."""
    extra, c = channel.settings.extra, IssueCollector()
    host = _text(extra, "sftp_host", c)
    username = _text(extra, "sftp_username", c)
    inbound = _text(extra, "sftp_dir", c)
    for key, value in (("sftp_host", host), ("sftp_username", username), ("sftp_dir", inbound)):
        if value is None and key not in extra:
            c.add(f"settings.{key}", f"{key} is required for an SFTP channel", "required")
    inbound = (inbound or ".").rstrip("/") or "/"
    keys: tuple[str, ...] = ()
    if extra.get("sftp_host_key") in (None, "", []):
        c.add(
            "settings.sftp_host_key",
            "sftp_host_key is required: Legato never connects without checking the server's host key "
            "(its fingerprint: ssh-keygen -lf <the server's public host key file>)",
            "required",
        )
    else:
        keys = fingerprints(extra["sftp_host_key"], "settings.sftp_host_key", c)
    ready = extra.get("sftp_ready", "stable_size")
    if ready not in READY_RULES:
        c.add("settings.sftp_ready", f"sftp_ready must be one of {', '.join(READY_RULES)}", "invalid", ready)
    fmt = extra.get("sftp_format")
    if fmt is not None and fmt not in FORMATS:
        c.add("settings.sftp_format", f"sftp_format must be one of {', '.join(FORMATS)}", "invalid", fmt)
    port = _integer(extra, "sftp_port", 22, 1, 65535, c)
    poll_seconds = _integer(extra, "sftp_poll_seconds", 60, 1, 86400, c)
    timeout = _integer(extra, "sftp_timeout_seconds", 30, 1, 3600, c)
    processed = _text(extra, "sftp_processed_dir", c, default="processed") or "processed"
    error = _text(extra, "sftp_error_dir", c, default="error") or "error"
    outbound = _text(extra, "sftp_outbound_dir", c)
    if not (channel.secrets.get("sftp_password") or channel.secrets.get("sftp_private_key")):
        c.add("secrets.sftp_password", "set the secret sftp_password or sftp_private_key", "required")
    c.raise_if_any()
    return SftpConfig(
        host=host or "", port=port, username=username or "", inbound=inbound,
        processed=_under(inbound, processed).rstrip("/"), error=_under(inbound, error).rstrip("/"),
        outbound=(outbound.rstrip("/") or "/") if outbound else None, host_keys=keys, ready=str(ready),
        poll_seconds=poll_seconds, timeout=timeout, format=fmt,
    )  # fmt: skip


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    mtime: int


class Session:
    """One SFTP connection; every call blocks until done or the timeout passes."""

    def __init__(self, cfg: SftpConfig, secrets: Mapping[str, str]) -> None:
        self.cfg, self._secrets = cfg, secrets
        self._loop = asyncio.new_event_loop()
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self.presented: str | None = None  # the host key fingerprint the server showed

    # -- the event loop ------------------------------------------------------------------

    def _run(self, coro: Awaitable[T], what: str) -> T:
        import asyncssh

        try:
            return self._loop.run_until_complete(asyncio.wait_for(coro, self.cfg.timeout))
        except TimeoutError:
            self._abort()
            raise ConnectionGone(f"{what}: timed out after {self.cfg.timeout} s") from None
        except (asyncssh.SFTPConnectionLost, asyncssh.ConnectionLost, ConnectionError, EOFError) as exc:
            self._abort()
            raise ConnectionGone(f"{what}: the connection was lost ({exc})") from None
        except asyncssh.SFTPError as exc:
            raise SftpError(f"{what}: {exc.reason or type(exc).__name__}") from None
        except asyncssh.DisconnectError as exc:
            self._abort()
            raise ConnectionGone(f"{what}: {exc.reason}") from None
        except OSError as exc:
            self._abort()
            raise ConnectionGone(f"{what}: {exc.strerror or exc}") from None

    def _abort(self) -> None:
        if self._conn is not None:
            self._conn.abort()
            self._conn, self._sftp = None, None

    @property
    def sftp(self) -> asyncssh.SFTPClient:
        if self._sftp is None:
            raise ConnectionGone("the SFTP connection is closed")
        return self._sftp

    # -- connecting ----------------------------------------------------------------------

    def open(self) -> Session:
        import asyncssh

        quiet = logging.getLogger("asyncssh")
        if quiet.level == logging.NOTSET:  # asyncssh logs every connection step at INFO
            quiet.setLevel(logging.WARNING)
        cfg, session = self.cfg, self

        class CheckHostKey(asyncssh.SSHClient):
            def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
                session.presented = key.get_fingerprint("sha256")
                return session.presented in cfg.host_keys

        client_keys = None
        pem = self._secrets.get("sftp_private_key")
        if pem:
            try:
                passphrase = self._secrets.get("sftp_private_key_passphrase") or None
                client_keys = [asyncssh.import_private_key(pem, passphrase)]
            except (asyncssh.KeyImportError, ValueError) as exc:
                msg = f"the secret sftp_private_key cannot be read as an OpenSSH private key: {exc}"
                raise ValidationFailed(msg, issues=[FieldIssue("secrets.sftp_private_key", msg)]) from None
        target = f"{cfg.where}"
        connect = asyncssh.connect(
            cfg.host, cfg.port, username=cfg.username, password=self._secrets.get("sftp_password") or None,
            client_keys=client_keys, known_hosts=([], [], []), client_factory=CheckHostKey,
            connect_timeout=cfg.timeout, login_timeout=cfg.timeout, agent_path=None, config=None,
            keepalive_interval=max(5, cfg.timeout // 2),
        )  # fmt: skip
        try:
            self._conn = self._run(connect, f"connecting to {target}")
        except ConnectionGone as exc:
            if self.presented is not None and self.presented not in cfg.host_keys:
                wanted = " or ".join(cfg.host_keys)
                raise HostKeyMismatch(
                    f"{target}: host key {self.presented} does not match the configured {wanted}; "
                    "refusing to connect", presented=self.presented,
                ) from None  # fmt: skip
            if "auth" in exc.detail.lower() or "permission" in exc.detail.lower():
                raise ConnectionGone(f"{exc.detail} (check sftp_username and the secret)") from None
            raise
        self._sftp = self._run(self._conn.start_sftp_client(), f"starting SFTP on {target}")
        return self

    def close(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            try:
                self._loop.run_until_complete(asyncio.wait_for(conn.wait_closed(), 5))
            except Exception:  # closing a broken connection: nothing more to do
                conn.abort()
        # as asyncio.run ends: cancel what the connection left running, then close the loop
        left = asyncio.all_tasks(self._loop)
        for task in left:
            task.cancel()
        if left:
            self._loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def __enter__(self) -> Session:
        return self if self._conn is not None else self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- operations ----------------------------------------------------------------------

    def listdir(self, path: str) -> list[RemoteFile]:
        """The regular files in a folder (not folders, links or devices), by name."""
        import asyncssh

        names = self._run(self.sftp.readdir(path), f"listing {path}")
        out = []
        for n in names:
            a, name = n.attrs, str(n.filename)
            regular = (
                a.type == asyncssh.FILEXFER_TYPE_REGULAR
                if a.type not in (None, asyncssh.FILEXFER_TYPE_UNKNOWN)
                else a.permissions is not None and stat.S_ISREG(a.permissions)
            )
            if regular and name not in (".", ".."):
                out.append(RemoteFile(name, int(a.size or 0), int(a.mtime or 0)))
        return sorted(out, key=lambda f: f.name)

    def read(self, path: str) -> bytes:
        async def fetch() -> bytes:
            async with self.sftp.open(path, "rb") as f:
                data = await f.read()
            assert isinstance(data, bytes)  # opened in binary mode
            return data

        return self._run(fetch(), f"downloading {path}")

    def exists(self, path: str) -> bool:
        return self._run(self.sftp.exists(path), f"looking for {path}")

    def makedirs(self, path: str) -> None:
        self._run(self.sftp.makedirs(path, exist_ok=True), f"creating the folder {path}")

    def rename(self, old: str, new: str) -> None:
        self._run(self.sftp.rename(old, new), f"moving {old} to {new}")

    def remove(self, path: str) -> None:
        self._run(self.sftp.remove(path), f"removing {path}")

    def free_name(self, folder: str, name: str) -> str:
        """``name`` in ``folder``, or ``stem.2.ext``, ``stem.3.ext`` ... if taken (renames never
        overwrite: what the partner left there stays)."""
        stem, ext = posixpath.splitext(name)
        candidate, n = name, 1
        while self.exists(posixpath.join(folder, candidate)):
            n += 1
            candidate = f"{stem}.{n}{ext}"
        return candidate

    def move(self, path: str, folder: str, name: str) -> str:
        """Move a file into ``folder`` under a free name; returns its new path."""
        self.makedirs(folder)
        target = posixpath.join(folder, self.free_name(folder, name))
        self.rename(path, target)
        return target

    def write(self, folder: str, name: str, data: bytes) -> str:
        """Upload under a hidden temporary name, then rename: the partner never sees half a file."""
        self.makedirs(folder)
        temp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.part")

        async def put() -> None:
            async with self.sftp.open(temp, "wb") as f:
                await f.write(data)

        self._run(put(), f"uploading {temp}")
        target = posixpath.join(folder, self.free_name(folder, name))
        try:
            self.rename(temp, target)
        except SftpError:
            self.remove(temp)
            raise
        return target


def connect(cfg: SftpConfig, secrets: Mapping[str, str]) -> Session:
    """An open session (use it as a context manager to close it)."""
    return Session(cfg, secrets).open()


__all__ = [
    "READY_RULES",
    "ConnectionGone",
    "HostKeyMismatch",
    "RemoteFile",
    "Session",
    "SftpConfig",
    "SftpError",
    "config_of",
    "connect",
    "fingerprints",
]
