"""Workflows and jobs in the control tower on both databases: the list with how often each fired and
failed, the editor (trigger, condition checked live, actions as rows) saving new versions with every
problem next to its field, the dry run of the form as it stands, and dead letters retried by the
roles that may."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from tests.workflow_actions import order as wf_order
from tests.workflow_actions import shop as wf_shop
from tests.workflow_actions import workflow
from web_helpers import page_token, sign_in, web_client

from legato.bootstrap import Runtime
from legato.store import workflows as store
from legato.store.job_queries import get_job
from legato.store.queries import reading
from legato.web.pages import workflow_form as wf
from legato.workflow import engine, runner
from legato.workflow.definitions import from_document

W = "test-host:1:web-b"
HX = {"HX-Request": "true", "HX-Target": "wf-form"}


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


def drain(rt: Runtime) -> None:
    while engine.dispatch(rt) + runner.run_due(rt, W):
        pass


def editor(web: TestClient, **fields: Any) -> dict[str, Any]:
    """The editor's fields as a browser posts them; ``steps`` as [(action, params yaml), ...]."""
    steps = fields.pop("steps", [("add_tag", "{tag: big}")])
    data = {
        "csrf_token": page_token(web, "/workflows"),
        "name": "big-orders",
        "trigger": "order.created",
        "condition": "order.total > 10",
        "priority": "0",
        "active": "1",
        **fields,
    }
    data["action"] = [a for a, _ in steps]
    data["params"] = [p for _, p in steps]
    return data


def version(rt: Runtime, name: str) -> int | None:
    with reading(rt.engine) as conn:
        found = store.get_workflow(conn, name)
    return found.version if found else None


@pytest.fixture
def fired(runtime: Runtime) -> int:
    """Two workflows run on one order: one tags it, one dead-letters; returns the dead job's id."""
    wf_shop(runtime)
    workflow(runtime, "tag-everything", "order.created", ("add_tag", {"tag": "seen"}))
    workflow(runtime, "always-fails", "order.created", ("broken", {"reason": "ERP said 422"}))
    wf_order(runtime, "R-1")
    drain(runtime)
    with reading(runtime.engine) as conn:
        failed = store.get_workflow(conn, "always-fails")
    assert failed is not None and failed.failed == 1
    from legato.store.job_queries import list_jobs

    return list_jobs(runtime.engine, state="dead")[0][0].id


def test_the_list_shows_how_often_each_workflow_fired_and_failed(
    web: TestClient, runtime: Runtime, fired: int
) -> None:
    sign_in(web, runtime, "approver")
    html = web.get("/workflows").text
    rows = dict(re.findall(r'<tr data-workflow="([\w-]+)">(.*?)</tr>', html, re.S))
    assert (
        re.search(r'class="num fired">1<', rows["tag-everything"])
        and 'class="num failed">0<' in rows["tag-everything"]
    )
    assert re.search(
        r'class="num failed"><a href="/jobs\?state=dead&amp;workflow=always-fails">1</a>',
        rows["always-fails"],
    )
    assert "/workflows/new" not in html  # an approver may look, not edit


def test_the_condition_is_checked_live_with_its_position(web: TestClient, runtime: Runtime) -> None:
    sign_in(web, runtime, "admin")
    bad = web.post("/workflows/check", data=editor(web, condition="order.totl > 5000"), headers=HX)
    assert bad.status_code == 200 and 'class="field-error"' in bad.text
    assert "totl" in bad.text and "line 1 column" in bad.text
    good = web.post(
        "/workflows/check", data=editor(web, condition='order.total > 5000 && order.channel.type == "b2b"')
    )
    assert "Valid: reads" in good.text and "order.total" in good.text
    assert (
        "every event on the trigger matches"
        in web.post("/workflows/check", data=editor(web, condition="")).text
    )


def test_saving_creates_then_versions_and_an_unchanged_form_saves_nothing(
    web: TestClient, runtime: Runtime
) -> None:
    sign_in(web, runtime, "admin", "ada")
    assert web.get("/workflows/new").status_code == 200
    r = web.post("/workflows/edit", data=editor(web, intent="save"))
    assert r.status_code == 303 and r.headers["location"] == "/workflows/big-orders"
    assert "Workflow big-orders created (version 1)." in web.get("/workflows/big-orders").text
    again = web.post(
        "/workflows/edit",
        data=editor(web, intent="save", original="big-orders", condition="order.total > 99"),
    )
    assert (
        "Saved as version 2" in web.get(again.headers["location"]).text
        and version(runtime, "big-orders") == 2
    )
    same = web.post(
        "/workflows/edit",
        data=editor(web, intent="save", original="big-orders", condition="order.total > 99"),
    )
    assert "Nothing changed" in web.get(same.headers["location"]).text and version(runtime, "big-orders") == 2
    page = web.get("/workflows/big-orders").text
    assert re.search(r'id="condition"[^>]*>order.total &gt; 99</textarea>', page)
    assert page.count("<td>user:ada</td>") == 2  # both versions, by who saved them
    taken = web.post("/workflows/edit", data=editor(web, intent="save"))
    assert taken.status_code == 422 and "exists: open it" in taken.text


def test_every_problem_is_next_to_its_field_and_nothing_typed_is_lost(
    web: TestClient, runtime: Runtime
) -> None:
    sign_in(web, runtime, "admin")
    data = editor(
        web,
        intent="save",
        trigger="every",
        trigger_every="5s",
        condition="order.total >",
        steps=[
            ("add_tag", "{tag: "),
            ("no_such_action", "{}"),
            ("call_http", '{url: "https://erp.example/hook", body: {amount: 12.5}}'),
        ],
    )
    r = web.post("/workflows/edit", data=data)
    assert r.status_code == 422 and version(runtime, "big-orders") is None
    html = r.text
    assert 'id="trigger_every-error"' in html and 'value="5s"' in html
    assert 'id="step-0-params-error"' in html and "not YAML" in html and "{tag: </textarea>" in html
    assert 'id="step-1-action-error"' in html and "no workflow action" in html
    assert 'id="step-2-params-error"' in html and "as a string" in html
    assert 'href="#step-1-action"' in html  # the summary links each problem to its control


def test_rows_are_added_moved_and_removed(web: TestClient, runtime: Runtime) -> None:
    sign_in(web, runtime, "admin")
    steps = [("add_tag", "{tag: a}"), ("noop", "")]
    added = web.post("/workflows/edit", data=editor(web, intent="add", steps=steps), headers=HX).text
    assert added.lstrip().startswith('<form id="wf-form"') and added.count('name="action"') == 3
    moved = web.post("/workflows/edit", data=editor(web, intent="up:1", steps=steps), headers=HX).text
    assert moved.index('value="noop" selected') < moved.index('value="add_tag" selected')
    removed = web.post("/workflows/edit", data=editor(web, intent="remove:0", steps=steps), headers=HX).text
    assert removed.count('name="action"') == 1 and "{tag: a}" not in removed


def test_the_dry_run_tries_the_form_as_it_stands_against_an_order(web: TestClient, runtime: Runtime) -> None:
    wf_shop(runtime)
    wf_order(runtime, "R-1", quantity=5)  # 22.50 GBP
    sign_in(web, runtime, "admin")
    yes = web.post(
        "/workflows/dry-run", data=editor(web, order="SO-000001", condition="order.total > 20")
    ).text
    assert "✓ big-orders would run: the condition is true" in yes and "add_tag" in yes
    no = web.post("/workflows/dry-run", data=editor(web, order="1", condition="order.total > 100")).text
    assert "would not run: the condition is false" in no
    other = web.post("/workflows/dry-run", data=editor(web, order="1", event="order.status_changed")).text
    assert "triggered by order.created, not order.status_changed" in other
    assert "no order SO-000404" in web.post("/workflows/dry-run", data=editor(web, order="SO-000404")).text
    assert "not an order number" in web.post("/workflows/dry-run", data=editor(web, order="tea")).text


def test_a_viewer_reads_and_dry_runs_but_cannot_change(web: TestClient, runtime: Runtime, fired: int) -> None:
    sign_in(web, runtime, "viewer")
    page = web.get("/workflows/tag-everything").text
    assert 'id="save-workflow"' not in page and "readonly" in page and 'id="dry-run"' in page
    data = editor(web, name="tag-everything", original="tag-everything", intent="save")
    assert web.post("/workflows/edit", data=data).status_code == 403
    assert web.post("/workflows/check", data=data).status_code == 403
    assert web.post("/workflows/tag-everything/disable", data=data).status_code == 403
    dry = web.post("/workflows/dry-run", data={**data, "order": "SO-000001", "condition": "false"}).text
    assert "✓ tag-everything would run: no condition" in dry  # the saved rules, not what was posted


def test_enable_and_disable_make_no_new_version(web: TestClient, runtime: Runtime, fired: int) -> None:
    sign_in(web, runtime, "admin")
    token = page_token(web, "/workflows")
    r = web.post("/workflows/tag-everything/disable", data={"csrf_token": token})
    assert r.status_code == 303 and "tag-everything disabled." in web.get(r.headers["location"]).text
    assert (
        "Enable</button>" in web.get("/workflows/tag-everything").text
        and version(runtime, "tag-everything") == 1
    )
    assert web.get("/workflows/nope").status_code == 404


def test_dead_letters_are_listed_and_retried_only_by_roles_that_may(
    web: TestClient, runtime: Runtime, fired: int
) -> None:
    sign_in(web, runtime, "viewer")
    dead = web.get("/jobs?state=dead").text
    assert f'data-job="{fired}"' in dead and "ERP said 422" in dead and "/retry" not in dead
    assert web.get("/jobs?state=dead&workflow=tag-everything").text.count("data-job=") == 0
    assert "&#39;gone&#39; is not a job state" in web.get("/jobs?state=gone").text
    assert web.post(f"/jobs/{fired}/retry", data={"csrf_token": page_token(web, "/jobs")}).status_code == 403
    web.cookies.clear()
    sign_in(web, runtime, "admin")
    assert f'action="/jobs/{fired}/retry"' in web.get("/jobs?state=dead").text
    r = web.post(
        f"/jobs/{fired}/retry", data={"csrf_token": page_token(web, "/jobs"), "back": "/jobs?state=dead"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/jobs?state=dead"
    job = get_job(runtime.engine, fired)
    assert job is not None and job.state == "queued"
    again = web.post(f"/jobs/{fired}/retry", data={"csrf_token": page_token(web, "/jobs")})
    assert again.status_code == 409


DOC = Path(__file__).parents[2] / "docs" / "control-tower-pages.md"


def test_the_documented_workflow_is_entered_saved_and_dry_run(
    web: TestClient, runtime: Runtime, client: TestClient, shop: dict[str, str]
) -> None:
    example = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)[0])
    f = wf.WorkflowForm.of(from_document(example))
    fields = {
        "name": f.name,
        "description": f.description,
        "trigger": f.trigger,
        "condition": f.condition,
        "priority": f.priority,
        "steps": [(s.action, s.params) for s in f.steps],
    }
    sign_in(web, runtime, "admin")
    r = web.post("/workflows/edit", data=editor(web, intent="save", **fields))
    assert r.status_code == 303 and version(runtime, example["name"]) == 1
    big = client.post(
        "/api/v1/orders",
        json={"channel": "B2B", "customer": {"code": "ACME"}, "lines": [{"sku": "TEA-100", "quantity": 300}]},
        headers=shop,
    )
    small = client.post(
        "/api/v1/orders",
        json={"channel": "B2B", "customer": {"code": "ACME"}, "lines": [{"sku": "TEA-100", "quantity": 3}]},
        headers=shop,
    )
    assert big.status_code == small.status_code == 201
    yes = web.post(
        "/workflows/dry-run", data=editor(web, order=big.json()["number"], original=example["name"], **fields)
    )
    assert (
        "✓ big-trade-orders would run: the condition is true" in yes.text and "require_approval" in yes.text
    )
    no = web.post("/workflows/dry-run", data=editor(web, order=small.json()["number"], **fields))
    assert "would not run: the condition is false" in no.text
