"""Several ``legato worker`` processes side by side: 2,000 events on PostgreSQL (three workers,
SKIP LOCKED) and 300 on SQLite (two workers, serialised): every run exactly once, no job
claimed twice, as the attempt rows and the receiver's count per idempotency key prove.
And ``legato jobs`` as an operator uses it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import TEST_SECRET, make_settings
from tests.workflow_actions import order, register, shop, workflow
from tests.workflow_actions.procs import finished, states, until, worker
from tests.workflow_actions.receiver import Receiver

from legato.bootstrap import Runtime, build
from legato.store import job_queries as jq
from legato.store import tables as t
from legato.store.migrate import upgrade
from legato.store.workflow_tables import job_attempts, jobs, workflow_runs
from legato.workflow import engine, runner
from legato.workflow.worker import WorkflowWorker, serving_worker


def legato(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(LEGATO_DATABASE_URL=db_url, LEGATO_SECRET_KEY=TEST_SECRET, COLUMNS="200")
    command = [sys.executable, "-m", "legato.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_several_workers_run_every_event_exactly_once(runtime: Runtime, db_url: str) -> None:
    postgres = runtime.engine.dialect.name == "postgresql"
    events, workers = (2000, 3) if postgres else (300, 2)
    register()
    with Receiver() as rx:
        workflow(runtime, "fan", "order.created", ("post", {"url": rx.url}))
        now = datetime.now(UTC)
        with runtime.engine.begin() as conn:  # the events as the order services write them
            conn.execute(t.outbox.insert(), [
                {"event_type": "order.created", "aggregate_type": "order", "aggregate_id": i, "payload": {},
                 "created_at": now} for i in range(1, events + 1)
            ])  # fmt: skip
        procs = [worker(db_url) for _ in range(workers)]
        try:
            until(lambda: states(runtime, "jobs") == {"done": events}, 120, *procs)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            codes = [finished(p, timeout=20) for p in procs]
        assert codes == [0] * workers  # each stopped cleanly on SIGTERM

        with runtime.engine.connect() as conn:
            assert conn.execute(select(func.count()).where(t.outbox.c.published_at.is_(None))).scalar() == 0
            runs = conn.execute(select(func.count(), func.count(workflow_runs.c.event_id.distinct()))).one()
            assert tuple(runs) == (events, events)  # one run per event
            assert conn.execute(select(func.max(jobs.c.attempts))).scalar() == 1  # no job claimed twice
            assert conn.execute(select(func.count()).select_from(job_attempts)).scalar() == events
            by_worker = conn.execute(
                select(job_attempts.c.worker, func.count()).group_by(job_attempts.c.worker)
            )
            assert len(by_worker.all()) >= 2  # the work was shared
        assert len(rx.effects) == events and set(rx.requests.values()) == {1}  # each effect once


@pytest.mark.slow
def test_jobs_can_be_listed_shown_and_retried_from_the_command_line(runtime: Runtime, db_url: str) -> None:
    register()
    shop(runtime)
    workflow(runtime, "refuses", "order.created", ("broken", {"reason": "HTTP 422: no such customer"}))
    oid = order(runtime, "CLI-JOB")
    while engine.dispatch(runtime) + runner.run_due(runtime, "test-host:1:cli"):
        pass

    listed = legato(db_url, "jobs", "list", "--state", "dead", "--json")
    assert listed.returncode == 0, listed.stderr
    (dead,) = json.loads(listed.stdout)["items"]
    assert (dead["action"], dead["order_id"], dead["last_error"]) == (
        "broken",
        oid,
        "HTTP 422: no such customer",
    )
    shown = legato(db_url, "jobs", "show", str(dead["id"]), "--json")
    assert [a["outcome"] for a in json.loads(shown.stdout)["attempts"]] == ["dead"]

    retried = legato(db_url, "jobs", "retry", str(dead["id"]))
    assert retried.returncode == 0, retried.stderr
    assert "queued again" in retried.stdout
    again = legato(db_url, "jobs", "retry", str(dead["id"]))
    assert again.returncode == 1 and "only a dead job can be retried" in again.stderr
    table = legato(db_url, "jobs", "list", "--order", f"SO-{oid:06d}")
    assert "broken" in table.stdout and "queued" in table.stdout


def test_the_in_process_worker_of_serve_runs_events_and_can_be_turned_off(runtime: Runtime) -> None:
    shop(runtime)
    workflow(runtime, "inline", "order.created", ("noop", {"note": "seen by legato serve"}))
    w = serving_worker(runtime)
    assert isinstance(w, WorkflowWorker)
    w.start()
    try:
        oid = order(runtime, "SERVE-1")
        until(lambda: states(runtime, "runs") == {"done": 1}, 20)
    finally:
        began = time.monotonic()
        w.stop()
    assert time.monotonic() - began < 5  # stops promptly
    assert [r.order_id for r in jq.list_runs(runtime.engine)[0]] == [oid]
    off = build(make_settings(runtime.settings.database_url, workflow_in_process=False))
    try:
        assert not isinstance(serving_worker(off), WorkflowWorker)
    finally:
        off.close()


def test_a_worker_outlives_failing_rounds_and_works_once_the_database_is_ready(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'late.db'}"
    rt = build(make_settings(url))
    w = WorkflowWorker(rt, poll=0.05)
    w.start()
    try:
        time.sleep(0.5)  # every round fails: there are no tables yet
        assert w._thread is not None and w._thread.is_alive()
        upgrade(url)
        shop(rt)
        workflow(rt, "late", "order.created", ("noop", {}))
        order(rt, "LATE-1")
        until(lambda: states(rt, "runs") == {"done": 1}, 20)
    finally:
        w.stop()
        rt.close()
