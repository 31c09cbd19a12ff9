"""The workflow engine in-process on both databases: the outbox dispatched to runs, steps run
as jobs, retries with backoff, dead letters, waits, timers, schedules, lost workers.

Time is passed explicitly (``now=``) so backoff and timers are checked without sleeping.
"""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Connection, select, update
from tests.workflow_actions import order, register, shop, workflow

from legato.bootstrap import Runtime
from legato.config import Settings
from legato.domain.errors import Conflict
from legato.store import job_queries as jq
from legato.store import jobs as store
from legato.store import queries
from legato.store import tables as t
from legato.store.workflow_tables import job_attempts, workflow_runs
from legato.workflow import engine, recovery, runner, schedule
from legato.workflow.definitions import from_document, save

DOC = Path(__file__).parents[2] / "docs" / "workflows" / "engine.md"
W = "test-host:1:worker"  # a worker id no recovery mistakes for a dead local process


@pytest.fixture(autouse=True)
def _actions(runtime: Runtime) -> None:
    register()
    shop(runtime)


def drain(rt: Runtime, now: datetime | None = None, worker: str = W) -> int:
    """Dispatch and run until nothing is due at ``now``."""
    done = 0
    while n := engine.dispatch(rt, now=now) + runner.run_due(rt, worker, now=now):
        done += n
    return done


def runs(rt: Runtime, order_id: int | None = None) -> list[jq.Run]:
    return list(reversed(jq.list_runs(rt.engine, order_id=order_id, limit=200)[0]))


def workflow_entries(rt: Runtime, order_id: int) -> list[tuple[str, str | None, str | None]]:
    found = queries.get_order(rt.engine, order_id)
    assert found is not None
    return [(e.actor, e.to_value, e.reason) for e in found.timeline if e.kind == "workflow"]


def only_job(rt: Runtime, **where: Any) -> store.Job:
    found = jq.list_jobs(rt.engine, kind="step", limit=200, **where)[0]
    assert len(found) == 1, found
    return found[0]


def attempts(rt: Runtime, job_id: int) -> list[tuple[str | None, str | None]]:
    return [(a.outcome, a.error) for a in jq.attempts_of(rt.engine, job_id)]


def test_an_event_runs_every_matching_workflow_in_priority_order_then_name_and_no_other(
    runtime: Runtime,
) -> None:
    for name, priority in (("beta", 10), ("zeta", 50), ("alpha", 10)):
        workflow(runtime, name, "order.created", ("noop", {"note": name}), priority=priority)
    workflow(runtime, "on-status", "order.status_changed", ("noop", {"note": "status"}), priority=99)
    workflow(runtime, "switched-off", "order.created", ("noop", {"note": "off"}), priority=99, active=False)
    oid = order(runtime, "PRIO-1")

    assert drain(runtime) > 0
    assert [r.workflow for r in runs(runtime, oid)] == ["zeta", "alpha", "beta"]
    assert {r.state for r in runs(runtime, oid)} == {"done"}
    assert workflow_entries(runtime, oid) == [
        ("rule:zeta", None, "zeta"),
        ("rule:alpha", None, "alpha"),
        ("rule:beta", None, "beta"),
    ]
    assert drain(runtime) == 0  # every event is published once
    with runtime.engine.connect() as conn:
        assert (
            conn.execute(select(t.outbox.c.published_at).where(t.outbox.c.published_at.is_(None))).first()
            is None
        )


def test_an_event_dispatched_again_after_a_crash_does_not_double_its_runs(runtime: Runtime) -> None:
    workflow(runtime, "once", "order.created", ("noop", {}))
    oid = order(runtime, "TWICE-1")
    assert engine.dispatch(runtime) == 1
    with store.writing(runtime.engine) as conn:  # as if the commit of the publication was lost
        conn.execute(update(t.outbox).values(published_at=None))
    assert engine.dispatch(runtime) == 1
    assert [r.workflow for r in runs(runtime, oid)] == ["once"]
    assert len(jq.list_jobs(runtime.engine, order_id=oid)[0]) == 1


def test_conditions_decide_which_workflows_run(runtime: Runtime) -> None:
    workflow(runtime, "big", "order.created", ("noop", {}), condition="order.total > 20")
    workflow(runtime, "small", "order.created", ("noop", {}), condition="order.total <= 20")
    small, big = order(runtime, "SMALL-1", 1), order(runtime, "BIG-1", 10)  # 4.50 and 45.00
    drain(runtime)
    assert [r.workflow for r in runs(runtime, small)] == ["small"]
    assert [r.workflow for r in runs(runtime, big)] == ["big"]


def test_the_steps_of_a_run_are_jobs_run_in_order_each_with_its_own_idempotency_key(runtime: Runtime) -> None:
    workflow(runtime, "three", "order.created", ("noop", {"note": "one"}), ("noop", {"note": "two"}),
             ("noop", {"note": "three"}))  # fmt: skip
    oid = order(runtime, "STEPS-1")
    engine.dispatch(runtime)
    (run,) = runs(runtime, oid)
    assert [j.step for j in jq.jobs_of_run(runtime.engine, run.id)] == [0]  # one step at a time
    drain(runtime)
    jobs = jq.jobs_of_run(runtime.engine, run.id)
    assert [(j.step, j.state, j.idempotency_key) for j in jobs] == [
        (i, "done", f"legato-run-{run.id}-step-{i}") for i in range(3)
    ]
    assert jq.get_run(runtime.engine, run.id).state == "done"  # type: ignore[union-attr]
    assert [e[2] for e in workflow_entries(runtime, oid)] == ["one", "two", "three"]


def test_a_failing_step_is_retried_with_growing_jittered_backoff_then_dead_lettered(runtime: Runtime) -> None:
    workflow(runtime, "erp-down", "order.created", ("flaky", {"fail_times": 99}), ("noop", {}))
    oid = order(runtime, "DOWN-1")
    now = datetime.now(UTC)
    drain(runtime, now)
    for attempt in (1, 2, 3):
        job = only_job(runtime, order_id=oid)
        assert (job.state, job.attempts) == ("queued", attempt)
        delay = (job.run_at - now).total_seconds()
        assert 0 <= delay < 2 * 2 ** (attempt - 1)  # base 2 s x 2^(attempt-1), full jitter
        if delay > 0.001:
            assert runner.run_due(runtime, W, now=job.run_at - timedelta(milliseconds=1)) == 0  # not before
        now = job.run_at
        drain(runtime, now)
    job = only_job(runtime, order_id=oid)
    assert (job.state, job.attempts) == ("dead", 4)
    assert job.last_error == "the receiver answered 503 (attempt 4) (after 4 attempts)"
    assert [o for o, _ in attempts(runtime, job.id)] == ["retry", "retry", "retry", "dead"]
    (run,) = runs(runtime, oid)
    assert run.state == "dead" and len(jq.jobs_of_run(runtime.engine, run.id)) == 1  # no later step
    assert workflow_entries(runtime, oid) == [("rule:erp-down", "dead", job.last_error)]
    assert [j.id for j in jq.list_jobs(runtime.engine, state="dead")[0]] == [job.id]


def test_a_step_that_succeeds_on_a_later_attempt_lets_the_run_go_on(runtime: Runtime) -> None:
    workflow(runtime, "erp-blip", "order.created", ("flaky", {"fail_times": 2}), ("noop", {"note": "next"}))
    oid = order(runtime, "BLIP-1")
    later = datetime.now(UTC)
    for _ in range(3):
        drain(runtime, later)
        later += timedelta(seconds=10)  # past any backoff of the first attempts
    (run,) = runs(runtime, oid)
    assert run.state == "done"
    first = jq.jobs_of_run(runtime.engine, run.id)[0]
    assert [o for o, _ in attempts(runtime, first.id)] == ["retry", "retry", "done"]
    assert first.result == {"attempt": 3}
    assert [e[2] for e in workflow_entries(runtime, oid)] == ["succeeded at attempt 3", "next"]


def test_fail_dead_letters_at_once_and_an_unexpected_error_is_retried_within_the_limit(
    runtime: Runtime,
) -> None:
    workflow(runtime, "refused", "order.created", ("broken", {"reason": "HTTP 422: unknown customer"}))
    workflow(runtime, "buggy", "order.created", ("explode", {}))
    oid = order(runtime, "FAIL-1")
    now = datetime.now(UTC)
    drain(runtime, now)
    drain(runtime, now + timedelta(seconds=5))
    by_action = {j.action: j for j in jq.list_jobs(runtime.engine, order_id=oid)[0]}
    refused, buggy = by_action["broken"], by_action["explode"]
    assert (refused.state, refused.attempts, refused.last_error) == ("dead", 1, "HTTP 422: unknown customer")
    assert (buggy.state, buggy.attempts) == ("dead", 2)
    assert buggy.last_error == "ZeroDivisionError: division by zero (after 2 attempts)"
    assert sorted(workflow_entries(runtime, oid)) == [
        ("rule:buggy", "dead", buggy.last_error),
        ("rule:refused", "dead", "HTTP 422: unknown customer"),
    ]


def test_a_step_waits_until_resumed_then_the_run_goes_on_or_stops(runtime: Runtime) -> None:
    workflow(runtime, "approve", "order.created", ("pause", {}), ("noop", {"note": "approved path"}))
    go, halt = order(runtime, "WAIT-GO"), order(runtime, "WAIT-STOP")
    drain(runtime)
    assert drain(runtime, datetime.now(UTC) + timedelta(days=3650)) == 0  # no timer: never due by itself
    waiting = {j.order_id: j for j in jq.list_jobs(runtime.engine, state="waiting")[0]}
    assert {r.state for r in runs(runtime)} == {"waiting"}

    resumed = runner.resume(runtime, waiting[go].id, "approved by ops")
    assert resumed.state == "done" and resumed.result["resumed"]["note"] == "approved by ops"  # type: ignore[index]
    runner.resume(runtime, waiting[halt].id, "rejected", outcome="stop")
    with pytest.raises(Conflict):
        runner.resume(runtime, waiting[go].id)
    drain(runtime)
    assert [(r.order_id, r.state) for r in runs(runtime)] == [(go, "done"), (halt, "stopped")]
    assert [e[2] for e in workflow_entries(runtime, go)] == ["waiting", "approved path"]
    assert [e[2] for e in workflow_entries(runtime, halt)] == ["waiting"]


def test_a_timer_wakes_its_step_at_its_time_without_using_up_an_attempt(runtime: Runtime) -> None:
    workflow(runtime, "later", "order.created", ("pause", {"seconds": 3600}), ("noop", {"note": "after"}))
    oid = order(runtime, "TIMER-1")
    now = datetime.now(UTC)
    drain(runtime, now)
    job = only_job(runtime, order_id=oid)
    assert (job.state, job.run_at, job.max_attempts) == ("waiting", now + timedelta(hours=1), 2)
    assert drain(runtime, now + timedelta(minutes=59)) == 0
    drain(runtime, now + timedelta(hours=1))
    job = jq.get_job(runtime.engine, job.id)  # type: ignore[assignment]
    assert (job.state, job.attempts) == ("done", 2)
    assert runs(runtime, oid)[0].state == "done"
    assert [e[2] for e in workflow_entries(runtime, oid)] == ["waiting", "the timer went off", "after"]


def test_each_schedule_slot_fires_once_whatever_the_ticks(runtime: Runtime) -> None:
    workflow(runtime, "quarter", {"every": "15m"}, ("noop", {}))
    workflow(runtime, "evening", {"schedule": "18:00"}, ("noop", {}))
    just_passed = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%H:%M")
    workflow(runtime, "too-late-today", {"schedule": just_passed}, ("noop", {}))
    # slots that passed before the workflows were saved do not fire
    early = schedule.tick(runtime, datetime.now(UTC))
    assert {r.workflow for r in runs(runtime)} <= {"quarter"}

    at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)
    at = at.replace(minute=at.minute - at.minute % 15) + timedelta(minutes=22)  # 7 min into the next quarter
    first = schedule.tick(runtime, at)
    assert len(first) == 3  # quarter, evening (the latest 18:00), too-late-today (tomorrow's)
    assert schedule.tick(runtime, at + timedelta(minutes=1)) == []  # the same slots: nothing new
    fired = {r.workflow: r.event for r in runs(runtime) if r.id in first}
    assert fired["quarter"]["slot"] == (at - timedelta(minutes=7)).isoformat()
    assert fired["evening"]["type"] == "schedule" and fired["evening"]["slot"].endswith("T18:00:00+00:00")
    assert len(schedule.tick(runtime, at + timedelta(minutes=8))) == 1  # the next quarter
    drain(runtime, at + timedelta(minutes=8))
    assert {r.state for r in runs(runtime)} == {"done"} and len(runs(runtime)) == 4 + len(early)
    markers = jq.list_jobs(runtime.engine, kind="schedule")[0]
    assert len(markers) == 4 + len(early) and all(m.run_id and m.state == "done" for m in markers)


def _claim_as(rt: Runtime, worker: str, now: datetime) -> list[store.Job]:
    with store.writing(rt.engine) as conn:
        return store.claim(conn, worker, now)


def test_a_job_whose_lease_ran_out_is_taken_again_and_the_old_worker_cannot_overwrite_it(
    runtime: Runtime,
) -> None:
    workflow(runtime, "leased", "order.created", ("noop", {"note": "ran"}))
    oid = order(runtime, "LEASE-1")
    now = datetime.now(UTC)
    engine.dispatch(runtime, now=now)
    (lost,) = _claim_as(runtime, "other-host:42:aaaaaa", now)
    assert recovery.recover(runtime, now=now + timedelta(seconds=299)) == 0  # the lease is 300 s
    assert recovery.recover(runtime, now=now + timedelta(seconds=301)) == 1
    (mine,) = _claim_as(runtime, W, now + timedelta(seconds=302))
    run = jq.get_run(runtime.engine, mine.run_id)  # type: ignore[arg-type]
    assert runner.execute(runtime, lost, run, "other-host:42:aaaaaa") == "lost"  # it woke up too late
    assert runner.execute(runtime, mine, run, W) == "done"
    assert attempts(runtime, mine.id) == [
        ("lost", "worker other-host:42:aaaaaa lost the job (its lease of 300 s ran out)"),
        ("done", None),
    ]
    assert [e[2] for e in workflow_entries(runtime, oid)] == ["ran"]  # the step's effect once


def test_a_job_of_a_local_worker_process_that_died_is_taken_again_at_once(runtime: Runtime) -> None:
    workflow(runtime, "crashed", "order.created", ("noop", {}))
    order(runtime, "DIED-1")
    ended = subprocess.Popen(["true"])
    ended.wait()
    dead = f"{socket.gethostname()}:{ended.pid}:bbbbbb"
    engine.dispatch(runtime)
    (job,) = _claim_as(runtime, dead, datetime.now(UTC))
    assert recovery.recover(runtime) == 1
    drain(runtime)
    assert jq.get_job(runtime.engine, job.id).state == "done"  # type: ignore[union-attr]
    assert attempts(runtime, job.id)[0] == ("lost", f"worker {dead} lost the job (its process ended)")


def test_a_job_lost_as_often_as_its_attempt_limit_is_dead(runtime: Runtime) -> None:
    workflow(runtime, "poison", "order.created", ("explode", {}))  # 2 attempts
    oid = order(runtime, "POISON-1")
    now = datetime.now(UTC)
    engine.dispatch(runtime, now=now)
    for i in range(2):
        _claim_as(runtime, "other-host:7:cccccc", now + timedelta(seconds=400 * i))
        recovery.recover(runtime, now=now + timedelta(seconds=400 * i + 301))
    (job,) = jq.list_jobs(runtime.engine, order_id=oid)[0]
    assert (job.state, job.attempts) == ("dead", 2)
    assert workflow_entries(runtime, oid)[0][:2] == ("rule:poison", "dead")


def test_fanout_hooks_share_the_dispatch_transaction_and_a_failing_event_does_not_block_the_rest(
    runtime: Runtime,
) -> None:
    workflow(runtime, "each", "order.created", ("noop", {}))
    seen: list[int] = []
    bad = order(runtime, "HOOK-BAD")
    good = order(runtime, "HOOK-GOOD")

    def hook(conn: Connection, event: Mapping[str, Any]) -> None:
        if event["aggregate_id"] == bad:
            raise RuntimeError("a subscriber table is broken")
        seen.append(int(event["aggregate_id"]))

    engine.FANOUT.append(hook)
    try:
        assert engine.dispatch(runtime) == 1
    finally:
        engine.FANOUT.remove(hook)
    assert good in seen and [r.order_id for r in runs(runtime)] == [good]  # the bad one left no run
    with runtime.engine.connect() as conn:
        pending = conn.execute(select(t.outbox.c.aggregate_id).where(t.outbox.c.published_at.is_(None)))
        assert list(pending.scalars()) == [bad]
    assert engine.dispatch(runtime) == 0  # held back a while, not retried in a tight loop
    engine.held(runtime).clear()  # as when the hold has passed
    assert engine.dispatch(runtime) == 1
    assert sorted(r.order_id for r in runs(runtime)) == sorted([bad, good])


def test_the_example_in_the_engine_docs_runs(runtime: Runtime) -> None:
    text = DOC.read_text(encoding="utf-8")
    doc = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))  # type: ignore[union-attr]
    save(runtime, from_document(doc), "docs")
    oid = order(runtime, "DOCS-1")
    drain(runtime)
    notes = [s["params"]["note"] for s in doc["actions"] if "note" in s.get("params", {})]
    assert [e[2] for e in workflow_entries(runtime, oid)] == notes
    with runtime.engine.connect() as conn:
        assert conn.execute(select(workflow_runs.c.state)).scalar_one() == "done"
        assert conn.execute(select(job_attempts.c.outcome)).scalars().all() == ["done"] * len(doc["actions"])
    engine_settings = [
        n for n in Settings.model_fields if re.match(r"workflow_(in_|poll|batch|jobs|lease|back)", n)
    ]
    assert len(engine_settings) == 7
    for setting in engine_settings:
        assert f"`LEGATO_{setting.upper()}`" in text, setting
