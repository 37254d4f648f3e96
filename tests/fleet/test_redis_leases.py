"""Run leases of a workers profile in a real Redis: one owner per flow across machines.

Each "machine" is a store file of its own and a Redis client of its own, so nothing
but Redis can keep two runs apart.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from service.fleet.broker import redis_client
from service.fleet.protocol import lease_key
from service.fleet.redis_leases import RedisLeaseBook
from service.flows.lease import (
    OUTBOX_LEASE,
    LeaseBusy,
    LeasesUnreachable,
    RunCounts,
    RunLease,
    this_host,
)
from service.flows.names import Flow
from service.store import Store
from tests.fleet.redis_server import RedisServer

PROFILE = "acme"
HOST = this_host()
# Waits for Redis to expire a key or a thread to act: generous, polled, never slept.
WAIT_S = 60


class Machine:
    """One machine of the fleet: its own store and its own Redis client."""

    def __init__(self, store: Store, client: redis.Redis, *, ttl_s: float = 30.0) -> None:
        self.store = store
        self.client = client
        self.book = RedisLeaseBook(client, PROFILE, ttl_s=ttl_s)

    def acquire(self, flow: Flow, **kwargs: object) -> RunLease:
        return RunLease.acquire(self.store, flow, book=self.book, **kwargs)  # type: ignore[arg-type]

    def names(self) -> dict[str, str]:
        """Lease name → holder token, as Redis holds them now."""
        return {lease.name: lease.token for lease in self.book.holders()}


@pytest.fixture
def machines(redis_server: RedisServer, tmp_path: Path) -> Iterator[Callable[..., Machine]]:
    """Factory: ``machines(ttl_s=30)`` → a new machine on the test's Redis."""
    made: list[Machine] = []

    def make(ttl_s: float = 30.0) -> Machine:
        store = Store(tmp_path / f"machine-{len(made)}.sqlite3")
        made.append(Machine(store, redis_client(redis_server.url), ttl_s=ttl_s))
        return made[-1]

    yield make
    for machine in made:
        machine.client.close()
        machine.store.close()


def finished_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def plant(machine: Machine, names: tuple[str, ...], *, pid: int, host: str) -> None:
    """Leases held by process ``pid`` on ``host`` (token ``planted``), as fetch-orders."""
    taken = machine.book.take(
        names, token="planted", flow="fetch-orders", pid=pid, host=host, run_id=None
    )
    assert taken is None


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def since(machine: Machine, name: str) -> str:
    (lease,) = [lease for lease in machine.book.holders() if lease.name == name]
    return f"{lease.started_at.astimezone():%H:%M}"


# -- taking and refusing ------------------------------------------------------------


def test_a_second_machine_is_refused_while_the_first_holds_the_flow(
    machines: Callable[..., Machine],
) -> None:
    one, two = machines(), machines()
    held = one.acquire(Flow.FETCH_ORDERS)

    with pytest.raises(LeaseBusy) as busy:
        two.acquire(Flow.FETCH_ORDERS)

    at = since(two, "flow:fetch-orders")
    assert str(busy.value) == (
        f"fetch-orders is already running (pid {os.getpid()} on {HOST} since {at})."
    )
    assert two.names() == {"commit:order": held.token, "flow:fetch-orders": held.token}
    # Neither store holds a lease row: Redis is the only book.
    assert one.store.leases() == []
    assert two.store.leases() == []

    held.release()
    assert two.names() == {}
    again = two.acquire(Flow.FETCH_ORDERS)
    assert set(one.names().values()) == {again.token}
    again.release()


def test_a_holder_on_another_host_is_named_and_never_judged_by_its_pid(
    machines: Callable[..., Machine],
) -> None:
    one = machines()
    # A pid that is gone here means nothing on another machine: only the TTL frees it.
    plant(one, ("flow:fetch-orders", "commit:order"), pid=finished_pid(), host="worker-2.example")

    with pytest.raises(LeaseBusy, match=r"already running \(pid \d+ on worker-2\.example since"):
        one.acquire(Flow.FETCH_ORDERS)


def test_a_holder_whose_process_died_on_this_host_is_taken_over_at_once(
    machines: Callable[..., Machine],
) -> None:
    one = machines()
    plant(one, ("flow:fetch-orders", "commit:order"), pid=finished_pid(), host=HOST)

    taker = one.acquire(Flow.FETCH_ORDERS)

    assert set(one.names().values()) == {taker.token}
    taker.release()


def test_the_commit_lock_blocks_another_flow_and_a_take_is_all_or_none(
    machines: Callable[..., Machine],
) -> None:
    one, two = machines(), machines()
    updates = one.acquire(Flow.UPDATE_ORDERS)

    with pytest.raises(LeaseBusy) as busy:
        two.acquire(Flow.FETCH_ORDERS)

    at = since(two, "commit:order")
    assert str(busy.value) == (
        f"fetch-orders cannot start while update-orders is running (pid {os.getpid()} on "
        f"{HOST} since {at}): Omnitron lets one order batch be committed at a time."
    )
    assert busy.value.holder.name == "commit:order"
    # Refused as a whole: its free flow lease was not taken either.
    assert "flow:fetch-orders" not in two.names()

    # check-batches commits nothing; cancellation requests commit another content type.
    checks = two.acquire(Flow.CHECK_BATCHES)
    requests = two.acquire(Flow.FETCH_CANCELLATION_REQUESTS)
    with pytest.raises(LeaseBusy, match=r"^update-cancellation-requests cannot start while"):
        one.acquire(Flow.UPDATE_CANCELLATION_REQUESTS)
    for lease in (updates, checks, requests):
        lease.release()
    assert one.names() == {}


def test_the_outbox_has_one_deliverer_across_machines(machines: Callable[..., Machine]) -> None:
    one, two = machines(), machines()
    orders = one.acquire(Flow.FETCH_ORDERS)
    checks = two.acquire(Flow.CHECK_BATCHES)

    assert orders.try_take(OUTBOX_LEASE)
    assert not checks.try_take(OUTBOX_LEASE)
    orders.give_back(OUTBOX_LEASE)
    assert checks.try_take(OUTBOX_LEASE)
    assert one.names()[OUTBOX_LEASE] == checks.token
    checks.release()
    orders.release()
    assert one.names() == {}


def test_a_waiting_run_on_another_machine_starts_when_the_lease_frees(
    machines: Callable[..., Machine],
) -> None:
    one, two = machines(), machines()
    held = one.acquire(Flow.FETCH_ORDERS)
    waiting = threading.Event()
    got: list[RunLease] = []

    def on_wait(_: LeaseBusy) -> None:
        waiting.set()

    thread = threading.Thread(
        target=lambda: got.append(
            two.acquire(Flow.UPDATE_ORDERS, wait_s=None, on_wait=on_wait, poll_s=0.05)
        )
    )
    thread.start()
    assert waiting.wait(WAIT_S)
    assert got == []
    held.release()
    thread.join(WAIT_S)

    (lease,) = got
    assert set(one.names().values()) == {lease.token}
    lease.release()


# -- heartbeats, expiry and release ---------------------------------------------------


def test_heartbeats_keep_the_leases_and_save_the_counts_in_the_local_store(
    machines: Callable[..., Machine],
) -> None:
    one = machines()
    lease = one.acquire(Flow.FETCH_ORDERS)
    run_id = one.store.start_run("fetch-orders", {}, pid=os.getpid(), host=HOST)
    counts = RunCounts(created=7, updated=1, skipped=2, failed=3, error_count=3, waiting=4)
    key = lease_key(PROFILE, "flow:fetch-orders")
    # As if most of the TTL had passed since the take.
    one.client.pexpire(key, 500)

    lease.start_heartbeat(run_id, lambda: counts, interval_s=3600)

    assert one.client.pttl(key) > 20_000
    run = one.store.get_run(run_id)
    assert (run.created, run.updated, run.skipped, run.failed, run.waiting) == (7, 1, 2, 3, 4)
    assert {holder.run_id for holder in one.book.holders()} == {run_id}
    assert not lease.lost
    lease.release()


def test_a_holder_whose_heartbeat_stops_loses_the_lease_after_the_ttl(
    machines: Callable[..., Machine],
) -> None:
    one, two = machines(ttl_s=1.0), machines(ttl_s=1.0)
    held = one.acquire(Flow.FETCH_ORDERS)
    run_id = one.store.start_run("fetch-orders", {}, pid=os.getpid(), host=HOST)
    lost: list[bool] = []
    # Beats only when told: the thread's first beat is an hour away.
    held.start_heartbeat(run_id, RunCounts, on_lost=lambda: lost.append(True), interval_s=3600)

    wait_for(lambda: one.names() == {}, "the stalled holder's keys to expire")
    taker = two.acquire(Flow.FETCH_ORDERS)

    held.beat()
    assert held.lost
    assert lost == [True]
    # A stale token releases nothing of the new owner's.
    held.release()
    assert set(two.names().values()) == {taker.token}
    assert set(two.names()) == {"flow:fetch-orders", "commit:order"}
    taker.release()


def test_only_the_owner_releases_or_refreshes(machines: Callable[..., Machine]) -> None:
    one = machines()
    held = one.acquire(Flow.FETCH_ORDERS)
    names = ("flow:fetch-orders", "commit:order")

    one.book.release("someone-else", names)
    assert one.book.refresh("someone-else", names, run_id=None) == 0
    assert set(one.names().values()) == {held.token}
    assert one.book.refresh(held.token, names, run_id=None) == 2
    held.release()
    assert one.names() == {}


# -- Redis away ---------------------------------------------------------------------


def test_an_unreachable_redis_refuses_the_run_in_one_line(tmp_path: Path) -> None:
    away = RedisServer().start()
    client = redis_client(away.url)
    away.stop()
    try:
        with Store(tmp_path / "store.sqlite3") as store:
            with pytest.raises(LeasesUnreachable) as down:
                RunLease.acquire(store, Flow.FETCH_ORDERS, book=RedisLeaseBook(client, PROFILE))
            assert store.list_runs() == []
    finally:
        client.close()
    message = str(down.value)
    assert "\n" not in message
    assert message.startswith(
        f"the run leases in Redis at 127.0.0.1:{away.port}/0 cannot be reached (ConnectionError: "
    )
    assert isinstance(down.value, OSError)


def test_redis_going_away_mid_run_only_delays_beats(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer().start()
    client = redis_client(server.url)
    try:
        with Store(tmp_path / "store.sqlite3") as store:
            lease = RunLease.acquire(store, Flow.FETCH_ORDERS, book=RedisLeaseBook(client, PROFILE))
            run_id = store.start_run("fetch-orders", {}, pid=os.getpid(), host=HOST)
            counts = RunCounts(created=1)
            lease.start_heartbeat(run_id, lambda: counts, interval_s=0.05)
            server.stop()
            counts = RunCounts(created=5)

            with caplog.at_level(logging.WARNING, logger="service.flows.lease"):
                wait_for(
                    lambda: (
                        "lease heartbeat of fetch-orders failed: the run leases in Redis"
                        in caplog.text
                    ),
                    "a failed beat's warning",
                )
                # The run's own row is local: its counts are still saved.
                wait_for(lambda: store.get_run(run_id).created == 5, "the counts of a beat")
                assert not lease.lost
                lease.release()  # says so, does not raise: the leases expire by themselves
            assert "fetch-orders could not give its leases back" in caplog.text
    finally:
        client.close()
        server.stop()


def test_a_client_that_answers_bytes_keeps_the_same_book(
    machines: Callable[..., Machine], redis_server: RedisServer
) -> None:
    one = machines()
    raw_client = redis.Redis.from_url(redis_server.url)
    try:
        raw = RedisLeaseBook(raw_client, PROFILE)
        held = one.acquire(Flow.FETCH_ORDERS)

        assert {lease.name: lease.token for lease in raw.holders()} == one.names()
        blocker = raw.take(
            ("flow:fetch-orders",), token="other", flow="fetch-orders", pid=1, host="x", run_id=None
        )
        assert blocker is not None
        assert (blocker.name, blocker.token, blocker.pid) == (
            "flow:fetch-orders",
            held.token,
            os.getpid(),
        )
        held.release()
    finally:
        raw_client.close()
