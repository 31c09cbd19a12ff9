"""Upload one file to an SFTP destination, safely: host key checked, temp name, then rename.

The server's host key fingerprint is the trust anchor: asyncssh gets no trusted keys, so it
asks ``validate_host_public_key`` about the key the server shows, and only a configured
fingerprint passes; nothing (not even the password) reaches a server that does not match.
The file is written under a hidden temporary name and renamed over the final one
(``posix-rename@openssh.com``, which replaces; plain SFTP rename does not, so without the
extension the old file is removed first), so the partner never reads half a file and a
retry leaves one file, not two.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
from typing import TYPE_CHECKING, Any

from legato.workflow.actions import Fail, Retry

if TYPE_CHECKING:
    from legato.workflow.outbound.erp import Destination


async def _upload(dest: Destination, name: str, data: bytes, presented: list[str]) -> None:
    import asyncssh

    keys = tuple(dest.options["host_key"])

    class CheckHostKey(asyncssh.SSHClient):
        def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
            presented.append(key.get_fingerprint("sha256"))
            return presented[-1] in keys

    client_keys = None
    pem = dest.value("private_key")
    if pem:
        try:
            client_keys = [asyncssh.import_private_key(pem, dest.value("private_key_passphrase"))]
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise Fail(f"{dest.name}: private_key is not a readable OpenSSH private key ({exc})") from None
    timeout = dest.timeout
    async with asyncssh.connect(
        dest.options["host"], dest.options.get("port", 22), username=dest.value("username"),
        password=dest.value("password"), client_keys=client_keys, known_hosts=([], [], []),
        client_factory=CheckHostKey, connect_timeout=timeout, login_timeout=timeout, agent_path=None,
        config=None,
    ) as conn, conn.start_sftp_client() as sftp:  # fmt: skip
        folder = dest.options.get("dir", ".")
        final, tmp = posixpath.join(folder, name), posixpath.join(folder, f".{name}.tmp")
        await sftp.makedirs(folder, exist_ok=True)
        async with sftp.open(tmp, "wb") as f:
            await f.write(data)
        try:
            await sftp.posix_rename(tmp, final)
        except asyncssh.SFTPOpUnsupported:
            if await sftp.exists(final):
                await sftp.remove(final)
            await sftp.rename(tmp, final)


def upload(dest: Destination, name: str, data: bytes) -> dict[str, Any]:
    """Put ``data`` at ``dir/name`` on the destination's server; Retry or Fail on trouble."""
    import asyncssh

    quiet = logging.getLogger("asyncssh")
    if quiet.level == logging.NOTSET:  # asyncssh logs every connection step at INFO
        quiet.setLevel(logging.WARNING)
    where = f"sftp://{dest.options['username']}@{dest.options['host']}:{dest.options.get('port', 22)}"
    presented: list[str] = []
    try:
        asyncio.run(asyncio.wait_for(_upload(dest, name, data, presented), dest.timeout * 3))
    except (Fail, Retry):
        raise
    except asyncssh.HostKeyNotVerifiable:
        got = presented[-1] if presented else "none"
        raise Fail(f"{where}: host key {got} is not the configured {' or '.join(dest.options['host_key'])}; "
                   "refusing to send") from None  # fmt: skip
    except asyncssh.PermissionDenied as exc:
        raise Fail(
            f"{where}: the server refused the login ({exc.reason}); check username and secret"
        ) from None
    except (asyncssh.SFTPPermissionDenied, asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath) as exc:
        raise Fail(f"{where}: {exc.reason} writing {name}") from None
    except TimeoutError:
        raise Retry(f"{where}: timed out") from None
    except (asyncssh.Error, OSError, EOFError) as exc:  # lost connections, refusals, server errors
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise Retry(f"{where}: {type(exc).__name__}: {reason}") from None
    folder = dest.options.get("dir", ".")
    return {"file": name, "dir": folder, "server": where, "bytes": len(data)}


__all__ = ["upload"]
