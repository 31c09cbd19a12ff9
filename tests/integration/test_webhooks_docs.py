"""docs/workflows/webhooks.md is true, on both databases: its subscription request is accepted
and answered in the documented shape, the message it shows is the shape Legato sends, and its
Python and Node.js verification snippets accept a real message and refuse a tampered one."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import order_body, place
from fastapi.testclient import TestClient
from webhook_receiver import Received, Receiver, drain, receiving

from legato.bootstrap import Runtime

DOC = Path(__file__).resolve().parents[2] / "docs" / "workflows" / "webhooks.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


@pytest.fixture
def delivered(
    client: TestClient, admin: dict[str, str], shop: dict[str, str], runtime: Runtime, rx: Receiver
) -> tuple[dict[str, Any], Received]:
    """The documented subscription, made against the local receiver, and one real message."""
    request = json.loads(blocks("json")[0])
    request["url"] = rx.url()
    r = client.post("/api/v1/webhooks", json=request, headers=admin)
    assert r.status_code == 201, r.text
    place(client, shop, order_body(external_reference="DOC-1"))
    drain(runtime)
    [got] = rx.requests
    return r.json(), got


def test_the_documented_subscription_is_answered_in_the_documented_shape(
    delivered: tuple[dict[str, Any], Received],
) -> None:
    made, _ = delivered
    documented = json.loads(blocks("json")[1])
    assert made.keys() == documented.keys()
    assert made["events"] == documented["events"] and made["secret"].startswith("whsec_")


def test_the_documented_message_is_the_shape_legato_sends(delivered: tuple[dict[str, Any], Received]) -> None:
    made, got = delivered
    documented = json.loads(blocks("json")[2])
    payload = got.verified(made["secret"])
    assert payload.keys() == documented.keys() and payload["type"] == documented["type"]
    assert payload["data"].keys() == documented["data"].keys()
    assert re.fullmatch(r"msg_\d+_\d+", got.headers["webhook-id"])


def test_the_python_snippet_verifies_a_real_message_and_refuses_a_tampered_one(
    delivered: tuple[dict[str, Any], Received],
) -> None:
    made, got = delivered
    namespace: dict[str, Any] = {}
    exec(blocks("python")[0], namespace)
    verify = namespace["verify"]
    assert verify(made["secret"], got.body, got.headers)["data"]["external_reference"] == "DOC-1"
    with pytest.raises(Exception, match="signature"):
        verify(made["secret"], got.body.replace(b"DOC-1", b"DOC-2"), got.headers)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_node_snippet_verifies_a_real_message_and_refuses_a_tampered_one(
    delivered: tuple[dict[str, Any], Received], tmp_path: Path
) -> None:
    made, got = delivered
    (tmp_path / "verify.mjs").write_text(blocks("js")[0])
    (tmp_path / "run.mjs").write_text(
        'import { verify } from "./verify.mjs";\n'
        'import { readFileSync } from "node:fs";\n'
        "const { secret, body, headers } = JSON.parse(readFileSync(0, 'utf8'));\n"
        "try { console.log(JSON.stringify(verify(secret, body, headers))); }\n"
        "catch (e) { console.log(JSON.stringify({ error: e.message })); }\n"
    )

    def node(body: str) -> Any:
        given = json.dumps({"secret": made["secret"], "body": body, "headers": got.headers})
        done = subprocess.run(
            ["node", str(tmp_path / "run.mjs")],
            input=given,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return json.loads(done.stdout)

    text = got.body.decode()
    assert node(text) == got.verified(made["secret"])
    assert node(text.replace("DOC-1", "DOC-2")) == {"error": "no valid signature"}
