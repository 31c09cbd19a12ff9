"""A real SFTP server for the SFTP channel tests: asyncssh's server on 127.0.0.1 (a random
port, a freshly generated host key), password or public-key login, every session rooted
(chroot) in one folder, running on its own event loop in a thread.

``faults`` makes it misbehave the way partner servers do: drop the connection in the middle
of a download, or when a file is being moved away.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh


@dataclass
class Faults:
    """File names (base names) whose first read / first rename drops the connection, or whose
    first opening / renaming the server refuses (permission denied) while the connection stays."""

    break_reads: set[str] = field(default_factory=set)
    break_renames: set[str] = field(default_factory=set)
    deny_opens: set[str] = field(default_factory=set)
    deny_renames: set[str] = field(default_factory=set)
    reads: list[str] = field(default_factory=list)  # every file read, in order


class _Sftp(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel, root: Path, faults: Faults) -> None:
        super().__init__(chan, chroot=os.fsencode(root))
        self.faults = faults

    def _drop(self) -> None:
        self.channel.get_connection().abort()
        raise asyncssh.SFTPConnectionLost("the test server dropped the connection")

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        name = os.path.basename(os.fsdecode(path))
        if name in self.faults.deny_opens:
            self.faults.deny_opens.discard(name)
            raise asyncssh.SFTPPermissionDenied("the test server denies this file")
        return super().open(path, pflags, attrs)

    def read(self, file_obj: Any, offset: int, size: int) -> bytes:
        name = os.path.basename(os.fsdecode(file_obj.name))
        self.faults.reads.append(name)
        if name in self.faults.break_reads:
            self.faults.break_reads.discard(name)
            self._drop()
        data: bytes = super().read(file_obj, offset, size)  # type: ignore[assignment]
        return data

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        name = os.path.basename(os.fsdecode(oldpath))
        if name in self.faults.break_renames:
            self.faults.break_renames.discard(name)
            self._drop()
        if name in self.faults.deny_renames:
            self.faults.deny_renames.discard(name)
            raise asyncssh.SFTPPermissionDenied("the test server denies this move")
        super().rename(oldpath, newpath)


class SftpTestServer:
    def __init__(
        self,
        root: Path,
        *,
        username: str = "legato",
        password: str = "s3cret-pw",
        client_key: asyncssh.SSHKey | None = None,
    ) -> None:
        self.root, self.username, self.password, self.client_key = root, username, password, client_key
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.fingerprint: str = self.host_key.get_fingerprint("sha256")
        self.faults = Faults()
        self.logins: list[str] = []  # user names that logged in
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-sftp", daemon=True)
        self._acceptor: asyncssh.SSHAcceptor | None = None

    def _server(self) -> asyncssh.SSHServer:
        test = self

        class Login(asyncssh.SSHServer):
            user = ""

            def begin_auth(self, username: str) -> bool:
                self.user = username
                return True

            def auth_completed(self) -> None:
                test.logins.append(self.user)

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == test.username and password == test.password

            def public_key_auth_supported(self) -> bool:
                return test.client_key is not None

            def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
                assert test.client_key is not None
                return username == test.username and key.public_data == test.client_key.public_data

        return Login()

    async def _listen(self) -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            server_factory=self._server,
            sftp_factory=lambda chan: _Sftp(chan, self.root, self.faults),
            allow_scp=False,
        )

    def start(self) -> SftpTestServer:
        self._thread.start()
        self._acceptor = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        self.port = self._acceptor.get_port()
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._acceptor is not None:
                self._acceptor.close()
                await self._acceptor.wait_closed()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:  # sessions still open: end them before the loop goes
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def public_key_file(self, path: Path) -> Path:
        """The host's public key as an OpenSSH .pub file (what ``ssh-keygen -lf`` reads)."""
        path.write_bytes(self.host_key.export_public_key())
        return path


# --- what the SFTP tests share: the documented examples, a channel on the test server ------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "channels" / "sftp.md"
INBOUND = "to-legato"


def doc_block(name: str) -> str:
    """The code block under ``<!-- sftp:NAME -->`` in docs/channels/sftp.md."""
    match = re.search(rf"<!-- sftp:{name} -->\n```\w*\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"docs/channels/sftp.md has no example {name!r}"
    return match.group(1)


def channel_body(server: SftpTestServer, **settings: Any) -> dict[str, Any]:
    """The documented channel, pointed at the test server."""
    body: dict[str, Any] = json.loads(doc_block("channel"))
    body["settings"].update(
        sftp_host="127.0.0.1", sftp_port=server.port, sftp_host_key=server.fingerprint,
        sftp_dir=f"/{INBOUND}", sftp_timeout_seconds=5,
    )  # fmt: skip
    body["settings"].update(settings)
    body["secrets"] = {"sftp_password": server.password}
    return body


def drop(server: SftpTestServer, name: str, data: bytes | str, folder: str = INBOUND) -> Path:
    """A partner drops a file (complete) in a folder of the server."""
    path = server.root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def tree(server: SftpTestServer) -> set[str]:
    """Every file on the server, by its path under the root."""
    return {str(p.relative_to(server.root)) for p in server.root.rglob("*") if p.is_file()}
