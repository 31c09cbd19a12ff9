"""A real ``legato serve`` for the browser tests: a fresh SQLite file with the demo loaded, a viewer
user, the server on a free loopback port; stopped (only the process started here) at the end."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

VIEWER_PASSWORD = "viewer-password-0123"


@dataclass(frozen=True)
class Tower:
    base: str
    password: str  # the demo admin's, as ``legato demo`` printed it
    api_key: str  # the demo admin API key
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _legato(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "legato.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"legato {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def environment(directory: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(
        LEGATO_DATABASE_URL=f"sqlite:///{directory / 'tower.db'}",
        LEGATO_ENVIRONMENT="development",  # plain http on loopback: the session cookie is not Secure
        LEGATO_SECRET_KEY="e2e-secret-key-0123456789-abcdefghijklmnop",
        LEGATO_FX_REFRESH_MINUTES="0",  # no network
        LEGATO_LOG_JSON="false",
        COLUMNS="200",  # the demo's printed lines are not wrapped
    )
    return env


def start(directory: Path) -> tuple[Tower, subprocess.Popen[bytes]]:
    env = environment(directory)
    out = _legato(env, "demo")
    password = re.search(r"user demo password (\S+)", out)
    key = re.search(r"(lgt_\S+)", out)
    assert password and key, out
    _legato(
        env, "user", "create", "vera", "--role", "viewer", "--password-stdin", stdin=VIEWER_PASSWORD + "\n"
    )
    port = _free_port()
    log = directory / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "legato.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"legato serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return Tower(base, password.group(1), key.group(1), log), proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(proc)
    raise AssertionError(f"legato serve did not answer within 60 s:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


__all__ = ["VIEWER_PASSWORD", "Tower", "start", "stop"]
