"""Flows on real Celery workers: ``main.py worker`` processes, a real Redis, the simulators.

Every profile is a ``runner = "workers"`` profile on its own Omnitron and marketplace
simulators (served by the test, with latency so a run lasts), its secrets in the
environment. Runs are sent with :class:`FleetClient` (or ``main.py run``/``beat``) and
everything is asserted on what Omnitron holds, on the profiles' stores and on the runs'
states in Redis.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from service.config import load_profile
from service.fleet.client import FleetClient
from service.fleet.protocol import RemoteEvent, RemoteRun
from service.flows.context import RunContext
from service.flows.names import Flow
from service.flows.result import FlowResult
from service.flows.run import FlowOptions
from tests.conftest import RunningMarketplace, RunningOmnitron, set_latency
from tests.fleet.redis_server import RedisServer
from tests.flows.conftest import _client
from tests.flows.test_fetch_orders import assert_each_once_and_linked
from tests.processes import start_main
from tests.profiles import sim_profile, sim_secrets, write_profiles
from tests.test_cli import TIMEOUT, _env, cli
from tests.test_cli_lease import query

# Waits for another process; they end far sooner unless something hangs.
WAIT_S = 120


@dataclass
class Channel:
    """One workers profile on its own pair of simulators."""

    name: str
    omnitron: RunningOmnitron
    marketplace: RunningMarketplace
    store_path: Path

    def assert_each_order_once(self) -> None:
        api = _client(self.omnitron)
        try:
            assert_each_once_and_linked(api, self.marketplace.orders())
        finally:
            api.close()

    def runs(self) -> list[tuple[Any, ...]]:
        """``(id, flow, outcome, task_id, message)`` of the store's runs, oldest first."""
        return query(
            self.store_path, "SELECT id, flow, outcome, task_id, message FROM runs ORDER BY id"
        )


@dataclass
class Fleet:
    """Redis, the channels, the profiles file and the worker processes of one test."""

    redis: RedisServer
    tmp: Path
    env: dict[str, str]
    channels: dict[str, Channel] = field(default_factory=dict)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    clients: list[FleetClient] = field(default_factory=list)

    def start(self, *args: str, log: str) -> subprocess.Popen[str]:
        """``main.py ARGS`` in the background, its output in ``<tmp>/<log>.log``."""
        process = start_main(*args, env=self.env, log=self.tmp / f"{log}.log")
        self.processes.append(process)
        return process

    def worker(
        self, *names: str, concurrency: int = 1, log: str = "worker"
    ) -> subprocess.Popen[str]:
        """``main.py worker --profile NAME…`` in the background."""
        profiles = [arg for name in names for arg in ("--profile", name)]
        return self.start("worker", *profiles, "--concurrency", str(concurrency), log=log)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(encoding="utf-8")

    def redis_keys(self) -> set[str]:
        """Every key in Redis now."""
        plain = redis.Redis.from_url(self.redis.url, decode_responses=True)
        try:
            return set(plain.keys("*"))
        finally:
            plain.close()

    def client(self, name: str) -> FleetClient:
        profile = load_profile(name, path=Path(self.env["CHANNELDESK_CONFIG"]))
        fleet = FleetClient(profile, environ=self.env)
        self.clients.append(fleet)
        return fleet


@pytest.fixture
def fleet(
    redis_server: RedisServer,
    start_omnitron: Callable[..., RunningOmnitron],
    start_marketplace: Callable[..., RunningMarketplace],
    tmp_path: Path,
) -> Iterator[Callable[..., Fleet]]:
    """Factory: ``fleet({"alpha": orders, ...}, latency_ms=L, **env)``."""
    made: list[Fleet] = []

    def make(
        orders: dict[str, int],
        latency_ms: int,
        schedules: dict[str, int] | None = None,
        **extra_env: str,
    ) -> Fleet:
        data_dir = tmp_path / "data"
        config = tmp_path / "profiles.toml"
        env = _env(data_dir, CHANNELDESK_CONFIG=str(config), **extra_env)
        site = Fleet(redis_server, tmp_path, env)
        tables = {}
        for name, count in orders.items():
            omnitron = start_omnitron()
            market = start_marketplace(initial_orders=count, broken_share=0.0, arrival_per_hour=0)
            set_latency(latency_ms, omnitron, market)
            tables[name] = sim_profile(
                omnitron.base_url,
                market.base_url,
                omnitron=omnitron.config,
                runner="workers",
                broker_url=redis_server.url,
                workers=4,
                schedules=schedules or {},
            )
            env.update(sim_secrets(name, omnitron=omnitron.config, marketplace=market.config))
            site.channels[name] = Channel(
                name, omnitron, market, data_dir / "profiles" / f"{name}.sqlite3"
            )
        write_profiles(config, tables)
        made.append(site)
        return site

    yield make
    for site in made:
        for client in site.clients:
            client.close()
        for process in site.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def wait_for(condition: Callable[[], Any], what: str, *workers: subprocess.Popen[str]) -> Any:
    """Poll ``condition`` until it is truthy; fail if a worker ended first."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for worker in workers:
            if worker.poll() is not None:
                pytest.fail(f"a worker ended (exit {worker.returncode}) before {what}")
        time.sleep(0.1)
    pytest.fail(f"no {what} after {WAIT_S} s")


def finished(client: FleetClient, task_id: str) -> RemoteRun | None:
    """The run's state once it has finished (or was refused), else ``None``."""
    run = client.state(task_id)
    return run if run is not None and run.state in ("finished", "refused") else None


@pytest.mark.slow
def test_two_workers_on_two_profiles_run_their_flows_in_parallel(
    fleet: Callable[..., Fleet],
) -> None:
    site = fleet({"alpha": 30, "beta": 30}, latency_ms=30)
    workers = [site.worker("alpha", log="alpha"), site.worker("beta", log="beta")]
    alpha, beta = site.client("alpha"), site.client("beta")

    sent = {"alpha": alpha.send(Flow.FETCH_ORDERS, FlowOptions(workers=4))}
    sent["beta"] = beta.send(Flow.FETCH_ORDERS, FlowOptions(workers=4))
    runs = {
        name: wait_for(lambda c=client, s=sent[name]: finished(c, s.task_id), name, *workers)
        for name, client in (("alpha", alpha), ("beta", beta))
    }

    for name, run in runs.items():
        assert run.state == "finished", run.message
        assert run.result is not None
        assert (run.result.outcome, run.result.created) == ("completed", 30)
        assert run.pid == workers[0 if name == "alpha" else 1].pid
        channel = site.channels[name]
        channel.assert_each_order_once()
        assert channel.omnitron.open_batches() == {}
        ((run_id, flow, outcome, task_id, _),) = channel.runs()
        assert (run_id, flow, outcome, task_id) == (
            run.result.run_id,
            "fetch-orders",
            "completed",
            sent[name].task_id,
        )
    # Both ran at once: each started before the other finished.
    a, b = runs["alpha"], runs["beta"]
    assert a.started_at < b.finished_at
    assert b.started_at < a.finished_at


@pytest.mark.slow
def test_a_cancelled_run_ends_cancelled_on_its_worker_with_its_batch_closed(
    fleet: Callable[..., Fleet],
) -> None:
    site = fleet({"alpha": 60}, latency_ms=60)
    worker = site.worker("alpha")
    client = site.client("alpha")
    channel = site.channels["alpha"]

    sent = client.send(Flow.FETCH_ORDERS, FlowOptions(workers=2))
    wait_for(lambda: channel.omnitron.order_count() >= 3, "some orders created", worker)
    client.cancel(sent.task_id)
    run = wait_for(lambda: finished(client, sent.task_id), "the cancelled run ended", worker)

    assert run.state == "finished"
    assert run.result is not None
    assert run.result.outcome == "cancelled"
    assert run.result.created < 60
    assert run.result.message.startswith("Cancelled by the operator after ")
    assert channel.omnitron.open_batches() == {}
    assert [row[2] for row in channel.runs()] == ["cancelled"]


@pytest.mark.slow
def test_main_py_run_on_a_workers_profile_runs_on_the_worker_and_prints_its_result(
    fleet: Callable[..., Fleet],
) -> None:
    site = fleet({"alpha": 8}, latency_ms=0)
    worker = site.worker("alpha")

    done = cli("run", "fetch-orders", "--profile", "alpha", "--json", env=site.env)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["outcome"], result["counts"]["created"]) == ("completed", 8)
    ((_, _, outcome, task_id, _),) = site.channels["alpha"].runs()
    assert outcome == "completed"
    assert site.client("alpha").state(task_id).pid == worker.pid
    site.channels["alpha"].assert_each_order_once()


def test_main_py_run_with_no_worker_listening_says_so_and_ctrl_c_cancels_it(
    fleet: Callable[..., Fleet],
) -> None:
    site = fleet({"alpha": 2}, latency_ms=0)
    run = site.start("run", "fetch-orders", "--profile", "alpha", log="run")
    client = site.client("alpha")
    queued = wait_for(lambda: client.recent(), "the run queued")
    wait_for(lambda: "no worker has taken it yet" in site.log("run"), "the queued notice")

    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=TIMEOUT) == 130

    assert site.log("run").splitlines()[-1] == "error: cancelled before it started"
    state = client.state(queued[0].task_id)
    assert state is not None
    assert (state.state, state.message) == ("refused", "cancelled before it started")
    assert site.channels["alpha"].runs() == []


# Redelivery within seconds: a task whose worker holds it longer than this comes back.
FAST_REDELIVERY = {
    "CHANNELDESK_VISIBILITY_TIMEOUT_S": "8",
    "CHANNELDESK_UNACKED_RESTORE_INTERVAL_S": "1",
    "CHANNELDESK_UNACKED_RESTORE_THROTTLE": "1",
}


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_nothing_the_task_comes_back_and_completes(
    fleet: Callable[..., Fleet],
) -> None:
    site = fleet({"alpha": 40}, latency_ms=60, **FAST_REDELIVERY)
    channel = site.channels["alpha"]
    first = site.worker("alpha", log="first")
    client = site.client("alpha")
    sent = client.send(Flow.FETCH_ORDERS, FlowOptions(workers=2))
    # A console follows the run throughout, as the flow tab does.
    lost: list[str] = []
    ctx = RunContext(on_event=lambda e: lost.append(e.message) if e.kind == "remote.lost" else None)
    followed: list[FlowResult] = []
    follower = threading.Thread(target=lambda: followed.append(client.follow(sent.task_id, ctx)))
    follower.start()
    wait_for(lambda: channel.omnitron.order_count() >= 3, "some orders created", first)

    first.send_signal(signal.SIGKILL)
    first.wait()
    created_when_killed = channel.omnitron.order_count()
    # The follower says the worker is gone once its claim on the task lapses.
    wait_for(lambda: lost, "the follower saying the worker stopped")
    second = site.worker("alpha", log="second")
    run = wait_for(lambda: finished(client, sent.task_id), "the task run again", second)
    follower.join(timeout=WAIT_S)

    assert lost[0].startswith(f"{run.host} (pid {first.pid}) stopped running fetch-orders")
    assert followed == [run.result]
    assert created_when_killed < 40
    assert run.state == "finished", run.message
    assert run.pid == second.pid
    assert run.result is not None
    assert run.result.outcome == "completed"
    # The orders the killed run created come again and are found, never made twice.
    channel.assert_each_order_once()
    assert channel.omnitron.open_batches() == {}
    (killed, rerun) = channel.runs()
    assert killed[2] == "interrupted"
    assert killed[4].startswith(f"Interrupted: pid {first.pid} on ")
    assert killed[3] is None  # the task's id moved to the run that finished it
    assert (rerun[0], rerun[2], rerun[3]) == (run.result.run_id, "completed", sent.task_id)
    assert "stopped mid-run; running it again" in site.log("second")


@pytest.mark.slow
def test_a_second_delivery_while_the_run_goes_on_stands_down_without_disturbing_it(
    fleet: Callable[..., Fleet],
) -> None:
    # The run lasts well past the visibility timeout, so Redis hands the task out again
    # while its first copy runs; the worker has a free thread to take it.
    site = fleet({"alpha": 60}, latency_ms=60, **FAST_REDELIVERY)
    channel = site.channels["alpha"]
    worker = site.worker("alpha", concurrency=2)
    client = site.client("alpha")
    stop = threading.Event()
    seen: list[RemoteEvent] = []

    def listen() -> None:
        seen.extend(event for event in client.events(stop) if event.event_kind == "task.duplicate")

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        sent = client.send(Flow.FETCH_ORDERS, FlowOptions(workers=1))
        wait_for(lambda: seen, "a second delivery", worker)
        run = wait_for(lambda: finished(client, sent.task_id), "the run ended", worker)
    finally:
        stop.set()
        listener.join()

    assert {event.state.task_id for event in seen} == {sent.task_id}
    assert seen[0].message.endswith(f"stood down: pid {worker.pid} on {run.host} is running it.")
    assert run.state == "finished", run.message
    assert run.result is not None
    assert (run.result.outcome, run.result.created) == ("completed", 60)
    # One run recorded: the second copy never started one.
    assert [(row[2], row[3]) for row in channel.runs()] == [("completed", sent.task_id)]
    channel.assert_each_order_once()
    assert channel.omnitron.open_batches() == {}


@pytest.mark.slow
def test_beat_sends_a_profiles_scheduled_flow_to_its_workers(
    fleet: Callable[..., Fleet],
) -> None:
    # One schedule minute lasts 2 s here (a test-only knob), so beat fires within seconds.
    site = fleet(
        {"alpha": 5},
        latency_ms=0,
        schedules={"fetch-orders": 1},
        CHANNELDESK_BEAT_MINUTE_S="2",
    )
    worker = site.worker("alpha")
    beat = site.start("beat", log="beat")
    client = site.client("alpha")

    def a_finished_run() -> RemoteRun | None:
        return next((run for run in client.recent() if run.state == "finished"), None)

    run = wait_for(a_finished_run, "a scheduled run finished", worker, beat)
    beat.terminate()
    beat.wait(timeout=TIMEOUT)

    assert run.flow == "fetch-orders"
    assert run.result is not None
    assert run.result.outcome == "completed"
    assert run.pid == worker.pid
    site.channels["alpha"].assert_each_order_once()
    assert (site.tmp / "data" / "beat-schedule").exists() or any(
        (site.tmp / "data").glob("beat-schedule*")
    )


@pytest.mark.slow
def test_a_run_sent_while_the_flow_runs_on_a_worker_is_refused_with_the_busy_sentence(
    fleet: Callable[..., Fleet],
) -> None:
    site = fleet({"alpha": 30}, latency_ms=60)
    worker = site.worker("alpha", concurrency=2)
    client = site.client("alpha")
    first = client.send(Flow.FETCH_ORDERS, FlowOptions(workers=2))
    wait_for(lambda: site.channels["alpha"].omnitron.order_count() >= 1, "an order created", worker)

    second = client.send(Flow.FETCH_ORDERS, FlowOptions(workers=2))
    refused = wait_for(lambda: finished(client, second.task_id), "the second refused", worker)
    done = wait_for(lambda: finished(client, first.task_id), "the first ended", worker)

    assert refused.state == "refused", refused
    assert done.state == "finished", done
    assert refused.message.startswith(f"fetch-orders is already running (pid {worker.pid} on ")
    assert done.result is not None
    assert (done.result.outcome, done.result.created) == ("completed", 30)
    assert [row[3] for row in site.channels["alpha"].runs()] == [first.task_id]


@pytest.mark.slow
def test_redis_down_mid_run_the_run_goes_on_and_its_end_is_recorded_once_redis_is_back(
    fleet: Callable[..., Fleet],
) -> None:
    site = fleet({"alpha": 40}, latency_ms=60)
    channel = site.channels["alpha"]
    worker = site.worker("alpha")
    client = site.client("alpha")
    sent = client.send(Flow.FETCH_ORDERS, FlowOptions(workers=2))
    wait_for(lambda: channel.omnitron.order_count() >= 3, "some orders created", worker)

    port = site.redis.port
    site.redis.stop()
    # The run goes on without Redis and ends; its store says so.
    wait_for(lambda: [row[2] for row in channel.runs()] == ["completed"], "the run ended", worker)
    # A Redis without persistence comes back empty on the same address.
    site.redis.start(port)
    run = wait_for(lambda: finished(client, sent.task_id), "the run's end recorded", worker)

    assert run.state == "finished"
    assert run.result is not None
    assert (run.result.outcome, run.result.created) == ("completed", 40)
    channel.assert_each_order_once()
    assert channel.omnitron.open_batches() == {}
    assert "could not record" not in site.log("worker")


@pytest.mark.slow
def test_a_run_cancelled_while_queued_behind_another_never_runs(
    fleet: Callable[..., Fleet],
) -> None:
    site = fleet({"alpha": 20}, latency_ms=60)
    worker = site.worker("alpha", concurrency=1)
    client = site.client("alpha")
    first = client.send(Flow.FETCH_ORDERS, FlowOptions(workers=2))
    wait_for(lambda: site.channels["alpha"].omnitron.order_count() >= 1, "an order created", worker)
    # The worker's one thread is busy: this one waits on the queue.
    queued = client.send(Flow.CHECK_BATCHES, FlowOptions())

    client.cancel(queued.task_id)
    wait_for(lambda: finished(client, first.task_id), "the first run ended", worker)
    # The worker takes the cancelled task next and acknowledges it without running it:
    # kombu's queue and its hash of unacknowledged messages are both gone.
    wait_for(
        lambda: not {"channeldesk.alpha", "unacked"} & site.redis_keys(),
        "both tasks acknowledged",
        worker,
    )

    cancelled = client.state(queued.task_id)
    assert cancelled is not None
    assert (cancelled.state, cancelled.message) == ("refused", "cancelled before it started")
    assert [row[1] for row in site.channels["alpha"].runs()] == ["fetch-orders"]
