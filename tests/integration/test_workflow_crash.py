"""Crash safety on both databases: ``legato worker`` processes killed with SIGKILL after they
claimed jobs, between an outbound call and the recording of its result, and at a random
moment; after a restart every run completes, no step is lost, and the receiver (which
honours the Idempotency-Key) saw each effect once."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from tests.workflow_actions import order, register, shop, workflow
from tests.workflow_actions.procs import finished, states, until, worker
from tests.workflow_actions.receiver import Receiver

from legato.bootstrap import Runtime
from legato.store import job_queries as jq

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver(runtime: Runtime) -> Iterator[Receiver]:
    register()
    shop(runtime)
    with Receiver() as rx:
        workflow(runtime, "push", "order.created", ("post", {"url": rx.url}), ("noop", {"note": "pushed"}))
        yield rx


def test_workers_killed_after_a_claim_and_after_an_effect_lose_no_step_and_double_no_effect(
    runtime: Runtime, db_url: str, receiver: Receiver
) -> None:
    for i in range(3):
        order(runtime, f"CRASH-{i}")
    # killed between the claim and the action: three jobs claimed, nothing sent
    assert finished(worker(db_url, "--once", LEGATO_FAULT="crash_after_claim")) == -signal.SIGKILL
    assert states(runtime, "jobs") == {"running": 3} and not receiver.requests
    # the next one takes them (their worker is gone), calls the receiver once, and is killed
    # before it records the answer
    assert finished(worker(db_url, "--once", LEGATO_FAULT="crash_after_effect")) == -signal.SIGKILL
    assert states(runtime, "jobs") == {"running": 3} and sum(receiver.requests.values()) == 1

    assert finished(worker(db_url, "--once")) == 0
    assert states(runtime, "runs") == {"done": 3}
    assert states(runtime, "jobs") == {"done": 6}  # both steps of every run: none lost
    run_ids = [r.id for r in jq.list_runs(runtime.engine)[0]]
    assert set(receiver.effects) == {f"legato-run-{r}-step-0" for r in run_ids}  # one effect per run
    assert sorted(receiver.requests.values()) == [1, 1, 2]  # the repeat carried the same key
    for run_id in run_ids:
        first = jq.jobs_of_run(runtime.engine, run_id)[0]
        assert [a.outcome for a in jq.attempts_of(runtime.engine, first.id)] == ["lost", "lost", "done"]


def test_workers_killed_at_random_and_a_failing_receiver_still_give_each_run_one_effect(
    runtime: Runtime, db_url: str, receiver: Receiver
) -> None:
    for i in range(20):
        order(runtime, f"KILL-{i}")
    receiver.fail_next = 5  # the receiver answers 500 to the first five requests
    receiver.delay = 0.05  # and takes its time: the kill likely lands inside a call
    fast = {"LEGATO_WORKFLOW_BACKOFF_BASE_SECONDS": "0.05", "LEGATO_WORKFLOW_JOBS_PER_CLAIM": "3"}
    proc = worker(db_url, **fast)
    until(lambda: sum(receiver.requests.values()) >= 10, 60, proc)
    proc.kill()  # kill -9, wherever it is
    finished(proc)
    proc = worker(db_url, **fast)
    until(lambda: states(runtime, "runs") == {"done": 20}, 60, proc)
    proc.send_signal(signal.SIGTERM)
    assert finished(proc, timeout=15) == 0  # stops promptly on SIGTERM
    assert states(runtime, "jobs") == {"done": 40}
    assert len(receiver.effects) == 20 and max(receiver.requests.values()) <= 3
    assert sum(receiver.requests.values()) >= 25  # the five 500s were retried
