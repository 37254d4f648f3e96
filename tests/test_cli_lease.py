"""Two processes, one profile: ``python main.py run`` keeps one owner per flow.

The simulators are served by the test on loopback, with latency so a fetch-orders
run lasts seconds; the runs are real ``main.py`` processes on one profile whose
secrets come from the environment. Everything is asserted on what Omnitron holds
(over its API), on the profile's store and on the exact lines the CLI prints.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from service.flows.lease import this_host
from service.omnitron.client import OmnitronClient
from service.omnitron.models import Order
from service.paths import PROJECT_ROOT
from tests.conftest import RunningMarketplace, RunningOmnitron, set_latency
from tests.flows.conftest import _client
from tests.flows.test_fetch_orders import assert_each_once_and_linked
from tests.profiles import sim_profile, sim_secrets, write_profiles
from tests.test_cli import TIMEOUT, _env, cli

PROFILE = "lease"
RUN_FETCH = (sys.executable, str(PROJECT_ROOT / "main.py"), "run", "fetch-orders")
# Waits for a state of another process; they end far sooner unless something hangs.
WAIT_S = 120


@dataclass
class Deployment:
    """Both simulators, a profile on them and the environment a CLI process gets."""

    omnitron: RunningOmnitron
    marketplace: RunningMarketplace
    env: dict[str, str]
    store_path: Path
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self, *args: str, stderr: Path | None = None) -> subprocess.Popen[str]:
        """``main.py run fetch-orders --profile lease ARGS`` in the background.

        Its stderr goes to the file ``stderr`` when given (to read it while it runs).
        """
        with ExitStack() as files:
            err = subprocess.PIPE if stderr is None else files.enter_context(stderr.open("w"))
            process = subprocess.Popen(
                [*RUN_FETCH, "--profile", PROFILE, *args],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=self.env,
                cwd=PROJECT_ROOT,
            )
        self.started.append(process)
        return process

    def set_latency(self, latency_ms: int) -> None:
        """Every answer of both simulators takes ``latency_ms`` from now on."""
        set_latency(latency_ms, self.omnitron, self.marketplace)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``main.py ARGS`` to its end."""
        return cli(*args, "--profile", PROFILE, env=self.env)

    def api(self) -> OmnitronClient:
        return _client(self.omnitron)

    def runs(self) -> list[dict[str, Any]]:
        listed = self.run("runs", "--json")
        assert listed.returncode == 0, listed.stderr
        return sorted(json.loads(listed.stdout), key=lambda run: run["id"])


@pytest.fixture
def deploy(
    start_omnitron: Callable[..., RunningOmnitron],
    start_marketplace: Callable[..., RunningMarketplace],
    tmp_path: Path,
) -> Iterator[Callable[..., Deployment]]:
    """Factory: ``deploy(orders=N, latency_ms=L)``, every order a good one."""
    made: list[Deployment] = []

    def make(orders: int, latency_ms: int) -> Deployment:
        omnitron = start_omnitron()
        market = start_marketplace(initial_orders=orders, broken_share=0.0, arrival_per_hour=0)
        config = write_profiles(
            tmp_path / "profiles.toml",
            {PROFILE: sim_profile(omnitron.base_url, market.base_url, omnitron=omnitron.config)},
        )
        data_dir = tmp_path / "data"
        secrets = sim_secrets(PROFILE, omnitron=omnitron.config, marketplace=market.config)
        env = _env(data_dir, CHANNELDESK_CONFIG=str(config), **secrets)
        site = Deployment(omnitron, market, env, data_dir / "profiles" / f"{PROFILE}.sqlite3")
        site.set_latency(latency_ms)
        made.append(site)
        return site

    yield make
    for site in made:
        for process in site.started:
            if process.poll() is None:
                process.kill()
            process.communicate()


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the store file, read-only; none while it does not exist yet."""
    if not path.exists():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            rows = conn.execute(sql).fetchall()
        conn.close()
    except sqlite3.OperationalError:
        return []  # the file is being created and migrated
    return rows


def wait_for(condition: Callable[[], Any], process: subprocess.Popen[str], what: str) -> Any:
    """Poll ``condition`` until it is truthy; fail if ``process`` ended first."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the run ended before {what}: exit {process.returncode}: {err}")
        time.sleep(0.05)
    pytest.fail(f"no {what} after {WAIT_S} s")


def hhmm(iso_time: str) -> str:
    """``HH:MM`` in local time of a stored time."""
    return f"{datetime.fromisoformat(iso_time).astimezone():%H:%M}"


def test_two_processes_run_fetch_orders_at_once_one_runs_one_refuses_one_waits(
    deploy: Callable[..., Deployment],
) -> None:
    site = deploy(orders=24, latency_ms=40)
    # Slow answers hold the first run until the other two processes have met its lease,
    # however long a loaded machine takes to start them.
    site.set_latency(1000)
    first = site.start("--json")
    held = wait_for(
        lambda: query(
            site.store_path, "SELECT pid, started_at FROM leases WHERE name = 'flow:fetch-orders'"
        ),
        first,
        "the first run held its lease",
    )
    ((pid, started_at),) = held
    assert pid == first.pid

    waiter_err = site.store_path.parent.parent / "waiter.err"
    waiter = site.start("--wait", "--json", stderr=waiter_err)
    refused = site.run("run", "fetch-orders")

    assert refused.returncode == 1
    assert refused.stdout == ""
    owner = f"pid {first.pid} on {this_host()} since {hhmm(started_at)}"
    assert refused.stderr.splitlines() == [f"error: fetch-orders is already running ({owner})."]
    wait_for(lambda: "This run starts" in waiter_err.read_text(), waiter, "the waiter waited")
    site.set_latency(40)

    out, err = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0, err
    result = json.loads(out)
    assert result["outcome"] == "completed"
    assert result["counts"]["created"] == 24
    waited_out, _ = waiter.communicate(timeout=TIMEOUT)
    waited_err = waiter_err.read_text()
    assert waiter.returncode == 0, waited_err
    assert waited_err.splitlines() == [
        f"fetch-orders is already running ({owner}). This run starts when it ends."
    ]
    assert json.loads(waited_out)["counts"]["created"] == 0

    assert_each_once_and_linked(site.api(), site.marketplace.orders())
    assert site.omnitron.open_batches() == {}
    runs = site.runs()
    # The refused run left no record; the waiting one started after the first ended.
    assert [(run["flow"], run["outcome"]) for run in runs] == [
        ("fetch-orders", "completed"),
        ("fetch-orders", "completed"),
    ]
    assert runs[0]["id"] == result["run_id"]
    assert runs[1]["started_at"] >= runs[0]["finished_at"]
    assert query(site.store_path, "SELECT name FROM leases") == []


def test_a_killed_run_is_marked_interrupted_with_its_counts_and_its_batch_recovered(
    deploy: Callable[..., Deployment],
) -> None:
    # Several windows of orders, so the run is mid-way at its first heartbeat.
    site = deploy(orders=200, latency_ms=60)
    victim = site.start()
    # The heartbeat saved a count: the run is mid-way, with orders created.
    wait_for(
        lambda: query(
            site.store_path, "SELECT id FROM runs WHERE outcome = 'running' AND created > 0"
        ),
        victim,
        "the run saved its counts",
    )
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    ((run_id, created, heartbeat_at),) = query(
        site.store_path, "SELECT id, created, heartbeat_at FROM runs"
    )
    (batch_pk,) = [
        pk
        for (pk,) in query(
            site.store_path, f"SELECT pk FROM batch_requests WHERE run_id = {run_id}"
        )
    ]
    assert site.omnitron.open_batches() != {}

    after = site.run("run", "fetch-orders", "--json")

    assert after.returncode == 0, after.stderr
    result = json.loads(after.stdout)
    killed = site.runs()[0]
    assert killed["id"] == run_id
    assert killed["outcome"] == "interrupted"
    assert killed["created"] == created
    assert killed["message"] == (
        f"Interrupted: pid {victim.pid} on {this_host()} stopped without finishing the run "
        f"(last sign of life at {hhmm(heartbeat_at)})."
    )
    assert site.api().get_batch_request(batch_pk).status.value == "done"
    assert batch_pk in {batch["pk"] for batch in result["batches"]}
    notes = query(site.store_path, f"SELECT note FROM batch_events WHERE batch_pk = {batch_pk}")
    assert (f"recovered by run {result['run_id']}",) in notes
    assert site.omnitron.open_batches() == {}
    assert_each_once_and_linked(site.api(), site.marketplace.orders())
    # The saved count may lag the kill by a heartbeat, but never counts an order twice.
    assert created > 0
    assert created + result["counts"]["created"] <= 200


def test_a_run_killed_between_two_windows_declares_every_order_once_after_the_rerun(
    deploy: Callable[..., Deployment],
) -> None:
    # Three windows of 48 orders (12 workers); the kill comes once the first is committed,
    # while orders of the next are being created.
    site = deploy(orders=120, latency_ms=30)
    api = site.api()
    victim = site.start()
    wait_for(
        lambda: any(batch.objects for batch in api.list_batch_requests(["commit"])),
        victim,
        "the first window was committed",
    )
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    after = site.run("run", "fetch-orders", "--json")

    assert after.returncode == 0, after.stderr
    assert_each_once_and_linked(api, site.marketplace.orders())
    batches = list(api.list_batch_requests())
    assert {batch.status.value for batch in batches} == {"done"}
    declared = Counter((obj.content_type, obj.pk) for batch in batches for obj in batch.objects)
    orders = list(api.iter_models(Order, api.channel_path("orders/")))
    held = {("order", order.pk) for order in orders} | {
        ("orderitem", item.pk) for order in orders for item in api.list_order_items(order.pk)
    }
    assert set(declared) == held
    assert set(declared.values()) == {1}, "an object declared on two batches"
