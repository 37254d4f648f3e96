"""Run leases on a real store file: one owner per flow and per commit lock.

Two :class:`Store` objects on one file stand for two processes' connections. The
end-to-end tests at the bottom run real flows against the simulators and check what
a run does with runs and batches whose owner is alive or gone.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from service.flows.batch import BatchSession
from service.flows.context import CancelToken, FlowEvent, RunContext
from service.flows.lease import (
    LEASE_TTL_S,
    OUTBOX_LEASE,
    LeaseBusy,
    RunCounts,
    RunLease,
    this_host,
)
from service.flows.names import Flow
from service.flows.result import RunOutcome
from service.store import Store
from service.store_records import iso, utc_now
from tests.flows.conftest import FlowEnv
from tests.flows.test_fetch_orders import QUIET, assert_each_once_and_linked, good_orders
from tests.flows.test_fetch_orders_recovery import At, Crash, crash

HOST = this_host()
# Generous: waiting threads are joined, never timed.
JOIN_S = 30


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "profile.sqlite3"


@pytest.fixture
def first(path: Path) -> Iterator[Store]:
    with Store(path) as store:
        yield store


@pytest.fixture
def second(path: Path) -> Iterator[Store]:
    with Store(path) as store:
        yield store


def finished_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def since(store: Store, name: str) -> str:
    """``HH:MM`` of when lease ``name`` was taken, in local time."""
    (lease,) = [lease for lease in store.leases() if lease.name == name]
    return f"{lease.started_at.astimezone():%H:%M}"


def age_heartbeats(path: Path, seconds: float) -> None:
    """Make every lease's last heartbeat ``seconds`` old: its process stalled that long."""
    old = iso(utc_now() - timedelta(seconds=seconds))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE leases SET heartbeat_at = ?", [old])
    conn.close()


def plant(store: Store, flow: Flow, *, pid: int, host: str = HOST) -> None:
    """A lease row of ``flow`` held by process ``pid`` on ``host``, heartbeat now."""
    taken = store.take_leases(
        ("flow:" + flow.value, "commit:" + flow.content_type),
        token="planted",
        flow=flow.value,
        pid=pid,
        host=host,
        is_gone=lambda _: True,
    )
    assert taken is None


# -- taking and refusing ------------------------------------------------------------


def test_a_second_owner_is_refused_while_the_first_is_alive(first: Store, second: Store) -> None:
    held = RunLease.acquire(first, Flow.FETCH_ORDERS)

    with pytest.raises(LeaseBusy) as busy:
        RunLease.acquire(second, Flow.FETCH_ORDERS)

    at = since(second, "flow:fetch-orders")
    assert str(busy.value) == (
        f"fetch-orders is already running (pid {os.getpid()} on {HOST} since {at})."
    )
    assert not busy.value.cancelled
    assert {lease.name for lease in second.leases()} == {"flow:fetch-orders", "commit:order"}
    assert {lease.token for lease in second.leases()} == {held.token}

    held.release()
    again = RunLease.acquire(second, Flow.FETCH_ORDERS)
    assert {lease.token for lease in first.leases()} == {again.token}
    again.release()
    assert first.leases() == []


def test_a_flow_committing_the_same_content_type_is_refused(first: Store, second: Store) -> None:
    held = RunLease.acquire(first, Flow.FETCH_ORDERS)

    with pytest.raises(LeaseBusy) as busy:
        RunLease.acquire(second, Flow.UPDATE_ORDERS)
    at = since(second, "commit:order")
    assert str(busy.value) == (
        f"update-orders cannot start while fetch-orders is running (pid {os.getpid()} on "
        f"{HOST} since {at}): Omnitron lets one order batch be committed at a time."
    )
    # Refused as a whole: it took neither its flow lease nor anything else.
    assert "flow:update-orders" not in {lease.name for lease in second.leases()}

    # check-batches commits nothing; cancellation requests commit another content type.
    checks = RunLease.acquire(second, Flow.CHECK_BATCHES)
    requests = RunLease.acquire(second, Flow.FETCH_CANCELLATION_REQUESTS)
    with pytest.raises(LeaseBusy, match=r"^update-cancellation-requests cannot start while"):
        RunLease.acquire(first, Flow.UPDATE_CANCELLATION_REQUESTS)
    for lease in (held, checks, requests):
        lease.release()


def test_a_stale_heartbeat_is_taken_over_and_its_holder_learns_it(
    path: Path, first: Store, second: Store
) -> None:
    held = RunLease.acquire(first, Flow.FETCH_ORDERS)
    run_id = first.start_run("fetch-orders", {}, pid=os.getpid(), host=HOST)
    lost: list[bool] = []
    # Beats only when told: the thread's first beat is an hour away.
    held.start_heartbeat(run_id, RunCounts, on_lost=lambda: lost.append(True), interval_s=3600)

    age_heartbeats(path, LEASE_TTL_S - 5)
    with pytest.raises(LeaseBusy):
        RunLease.acquire(second, Flow.FETCH_ORDERS)

    age_heartbeats(path, LEASE_TTL_S + 1)
    taker = RunLease.acquire(second, Flow.FETCH_ORDERS)
    assert {lease.token for lease in first.leases()} == {taker.token}

    held.beat()
    assert held.lost
    assert lost == [True]
    held.release()  # gives back only its own (none left)
    assert {lease.token for lease in first.leases()} == {taker.token}
    taker.release()


def test_a_lease_of_a_dead_process_is_taken_over_at_once(first: Store, second: Store) -> None:
    plant(first, Flow.FETCH_ORDERS, pid=finished_pid())

    taker = RunLease.acquire(second, Flow.FETCH_ORDERS)

    assert {lease.token for lease in first.leases()} == {taker.token}
    taker.release()


def test_a_live_pid_on_another_host_is_judged_by_its_heartbeat(
    path: Path, first: Store, second: Store
) -> None:
    # The pid means nothing on another machine: only the heartbeat tells.
    plant(first, Flow.FETCH_ORDERS, pid=finished_pid(), host="elsewhere.example")
    with pytest.raises(LeaseBusy, match=r"already running \(pid \d+ on elsewhere.example since"):
        RunLease.acquire(second, Flow.FETCH_ORDERS)

    age_heartbeats(path, LEASE_TTL_S + 1)
    RunLease.acquire(second, Flow.FETCH_ORDERS).release()


def test_a_waiting_run_gets_the_lease_when_it_frees(first: Store, second: Store) -> None:
    held = RunLease.acquire(first, Flow.FETCH_ORDERS)
    waiting = threading.Event()
    said: list[str] = []
    got: list[RunLease] = []

    def on_wait(busy: LeaseBusy) -> None:
        said.append(busy.waiting_message)
        waiting.set()

    thread = threading.Thread(
        target=lambda: got.append(
            RunLease.acquire(second, Flow.UPDATE_ORDERS, wait_s=None, on_wait=on_wait, poll_s=0.05)
        )
    )
    thread.start()
    assert waiting.wait(JOIN_S)
    assert got == []
    held.release()
    thread.join(JOIN_S)

    (lease,) = got
    assert {row.token for row in first.leases()} == {lease.token}
    assert said == [
        f"update-orders cannot start while fetch-orders is running (pid {os.getpid()} on "
        f"{HOST} since {said[0].split(' since ')[1][:5]}): Omnitron lets one order batch be "
        "committed at a time. This run starts when it ends."
    ]
    lease.release()


def test_waiting_ends_when_cancelled_or_out_of_time(first: Store, second: Store) -> None:
    held = RunLease.acquire(first, Flow.FETCH_CANCELS)
    cancel = CancelToken()
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            RunLease.acquire(
                second,
                Flow.FETCH_CANCELS,
                wait_s=None,
                cancel=cancel,
                on_wait=lambda _: cancel.cancel(),
                poll_s=0.05,
            )
        except LeaseBusy as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    thread.join(JOIN_S)
    (busy,) = outcome
    assert isinstance(busy, LeaseBusy)
    assert busy.cancelled

    with pytest.raises(LeaseBusy) as timed_out:
        RunLease.acquire(second, Flow.FETCH_CANCELS, wait_s=0.1, poll_s=0.05)
    assert not timed_out.value.cancelled
    assert {lease.token for lease in first.leases()} == {held.token}
    held.release()


def test_the_outbox_has_one_deliverer_at_a_time(first: Store, second: Store) -> None:
    orders = RunLease.acquire(first, Flow.FETCH_ORDERS)
    checks = RunLease.acquire(second, Flow.CHECK_BATCHES)

    assert orders.try_take(OUTBOX_LEASE)
    assert not checks.try_take(OUTBOX_LEASE)
    orders.give_back(OUTBOX_LEASE)
    assert checks.try_take(OUTBOX_LEASE)
    assert "flow:fetch-orders" in {lease.name for lease in first.leases()}
    checks.release()
    orders.release()
    assert first.leases() == []


def test_heartbeats_save_the_running_counts(first: Store, second: Store) -> None:
    lease = RunLease.acquire(first, Flow.FETCH_ORDERS)
    run_id = first.start_run("fetch-orders", {}, pid=os.getpid(), host=HOST)
    counts = RunCounts(created=7, updated=1, skipped=2, failed=3, error_count=3, waiting=4)
    lease.start_heartbeat(run_id, lambda: counts, interval_s=3600)

    run = second.get_run(run_id)
    assert (run.created, run.updated, run.skipped, run.failed, run.error_count) == (7, 1, 2, 3, 3)
    assert run.waiting == 4
    assert (run.pid, run.host, run.outcome) == (os.getpid(), HOST, "running")
    assert {row.run_id for row in second.leases()} == {run_id}

    assert second.interrupt_run(run_id, "Interrupted: test.")
    assert not second.interrupt_run(run_id, "again")
    run = second.get_run(run_id)
    assert run.outcome == "interrupted"
    assert run.created == 7
    assert run.message == "Interrupted: test."
    assert run.finished_at == run.heartbeat_at
    lease.release()


# -- runs and batches of live and dead owners, end to end -----------------------------


@pytest.fixture
def quiet_env(make_env: Callable[..., FlowEnv]) -> FlowEnv:
    return make_env(orders=4, marketplace=QUIET, workers=2)


def open_batch_of(env: FlowEnv, flow: Flow, run_id: int) -> int:
    """Open a batch request in Omnitron as run ``run_id`` of ``flow`` would."""
    session = BatchSession.open(env.client, env.store, RunContext(), flow=flow, run_id=run_id)
    return session.batch.pk


def test_a_dead_run_is_interrupted_and_its_batch_recovered_a_live_ones_never(
    quiet_env: FlowEnv,
) -> None:
    env, store = quiet_env, quiet_env.store
    dead_pid = finished_pid()
    dead = store.start_run("fetch-cancels", {}, pid=dead_pid, host=HOST)
    store.beat_run(dead, updated=2, skipped=1, failed=1, error_count=1)
    dead_batch = open_batch_of(env, Flow.FETCH_CANCELS, dead)
    # A run in a live process (this one) of another flow, with its batch open.
    live = store.start_run("update-orders", {}, pid=os.getpid(), host=HOST)
    live_batch = open_batch_of(env, Flow.UPDATE_ORDERS, live)
    events: list[FlowEvent] = []

    result = env.service.run(Flow.FETCH_ORDERS, ctx=RunContext(on_event=events.append))

    assert result.outcome is RunOutcome.COMPLETED, result.message
    record = store.get_run(dead)
    assert record.outcome == "interrupted"
    assert (record.updated, record.skipped, record.failed, record.error_count) == (2, 1, 1, 1)
    assert record.message.startswith(
        f"Interrupted: pid {dead_pid} on {HOST} stopped without finishing the run"
    )
    assert [e.subject for e in events if e.kind == "run.interrupted"] == [str(dead)]
    api = env.api()
    assert api.get_batch_request(dead_batch).status.value == "fail"
    assert [b.pk for b in result.batches if b.pk == dead_batch] == [dead_batch]
    assert api.get_batch_request(live_batch).status.value == "initialized"
    assert store.get_run(live).outcome == "running"
    mirror = store.get_batch(live_batch)
    assert mirror is not None
    assert mirror.status == "initialized"
    assert_each_once_and_linked(api, good_orders(env))
    assert store.leases() == []


def test_a_run_that_does_not_return_is_recorded_interrupted_with_its_counts(
    make_env: Callable[..., FlowEnv],
) -> None:
    # The window's orders are committed together and counted one by one after it: the
    # run dies after counting the second.
    env = make_env(orders=4, marketplace=QUIET, workers=1)
    store = env.store

    with pytest.raises(Crash):
        env.service.run(Flow.FETCH_ORDERS, ctx=RunContext(on_event=At("order.committed", 2, crash)))

    (run,) = store.list_runs()
    assert run.outcome == "interrupted"
    assert run.message == "Interrupted by Crash in this process."
    # Counted up to the crash: at least the first order, never more than Omnitron holds.
    in_omnitron = env.omnitron.control.get("summary").json()["counts"]["orders"]
    assert 1 <= run.created <= in_omnitron
    assert store.leases() == []
    (left_open,) = store.open_batches()

    result = env.service.run(Flow.FETCH_ORDERS)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert env.api().get_batch_request(left_open.pk).status.value == "done"
    assert store.get_run(run.id).outcome == "interrupted"
    assert_each_once_and_linked(env.api(), good_orders(env))


def test_a_busy_lease_starts_nothing(quiet_env: FlowEnv) -> None:
    env, store = quiet_env, quiet_env.store
    plant(store, Flow.FETCH_ORDERS, pid=os.getpid(), host="console.example")

    with pytest.raises(LeaseBusy, match=r"^fetch-orders is already running \(pid \d+ on console"):
        env.service.run(Flow.FETCH_ORDERS)

    # Not a request to Omnitron (no login, no outbox, no recovery), nothing recorded.
    assert env.omnitron.control.get("stats").json()["total"] == 0
    assert store.list_runs() == []
    assert store.list_batches() == []
    # update-orders commits order batches too; check-batches does not commit.
    with pytest.raises(LeaseBusy, match=r"^update-orders cannot start while fetch-orders"):
        env.service.run(Flow.UPDATE_ORDERS)
    assert env.service.run(Flow.CHECK_BATCHES).outcome is RunOutcome.COMPLETED
    assert [run.flow for run in store.list_runs()] == ["check-batches"]
    assert [lease.flow for lease in store.leases()] == ["fetch-orders", "fetch-orders"]


def test_a_run_whose_lease_was_taken_over_stops_as_interrupted(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=6, marketplace=QUIET, workers=1)
    store_path = env.store.path
    assert store_path is not None
    ctx = RunContext()
    taker: list[RunLease] = []

    def stall_and_lose_the_lease(event: FlowEvent) -> None:
        if event.kind != "order.created" or taker:
            return
        # This process stalls past the TTL; another one takes the flow over meanwhile.
        age_heartbeats(store_path, LEASE_TTL_S + 1)
        other = Store(store_path)
        taker.append(RunLease.acquire(other, Flow.FETCH_ORDERS))
        # The run's own heartbeat (every HEARTBEAT_S) notices and cancels the run.
        deadline = time.monotonic() + JOIN_S
        while not ctx.cancel.cancelled and time.monotonic() < deadline:
            time.sleep(0.05)

    ctx.on_event = stall_and_lose_the_lease
    result = env.service.run(Flow.FETCH_ORDERS, ctx=ctx)

    assert result.outcome is RunOutcome.INTERRUPTED
    assert result.message == (
        f"This process gave no sign of life for more than {LEASE_TTL_S:.0f} s and another "
        "run took over fetch-orders."
    )
    assert result.created < 6
    assert env.store.get_run(result.run_id).outcome == "interrupted"
    # Its own leases are gone; the taker's are untouched.
    (lease,) = taker
    assert {row.token for row in env.store.leases()} == {lease.token}
    lease.release()
    lease.store.close()
