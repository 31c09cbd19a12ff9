"""`legato serve` as a user starts it: a real process, a real socket, migrations at start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.conftest import TEST_SECRET

LEGATO = [sys.executable, "-m", "legato.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update({"LEGATO_DATABASE_URL": db_url, "LEGATO_LOG_LEVEL": "WARNING", **extra})
    return env


def test_serve_refuses_to_start_in_production_with_the_placeholder_secret(tmp_path: Path) -> None:
    done = subprocess.run(
        [*LEGATO, "serve"],
        env=_env(f"sqlite:///{tmp_path}/x.db", LEGATO_ENVIRONMENT="production"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "LEGATO_SECRET_KEY" in done.stderr


def test_serve_migrates_an_empty_database_and_answers_health_and_readiness(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "fresh.db"
    proc = subprocess.Popen(
        [*LEGATO, "serve", "--port", str(port)],
        env=_env(f"sqlite:///{db}", LEGATO_ENVIRONMENT="production", LEGATO_SECRET_KEY=TEST_SECRET),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"serve did not come up: {out}")
            time.sleep(0.2)
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        r = httpx.get(f"{base}/api/v1/orders", timeout=5)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["request_id"] == r.headers["x-request-id"]
    finally:
        proc.terminate()
        proc.wait(timeout=15)
