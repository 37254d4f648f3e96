"""Two machines, one workers profile: the run lease in Redis keeps one owner per flow.

Each "machine" is a ``main.py run fetch-orders --here`` process (run in that process,
not sent to the workers) with a data directory of its own, so each has its own store
and SQLite cannot be what keeps them apart: only the lease in Redis can. The
simulators are served by the test with latency, so a run lasts seconds; everything
is asserted on what Omnitron holds, on Redis and on the exact lines the CLI prints.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from service.cli import main
from service.fleet.protocol import lease_key
from service.flows.lease import this_host
from service.paths import PROJECT_ROOT
from tests.conftest import RunningMarketplace, RunningOmnitron, set_latency
from tests.fleet.redis_server import RedisServer
from tests.flows.conftest import _client
from tests.flows.test_fetch_orders import assert_each_once_and_linked
from tests.profiles import sim_profile, sim_secrets, write_profiles
from tests.test_cli import TIMEOUT, _env
from tests.test_cli_lease import wait_for

PROFILE = "fleet"
RUN_HERE = (sys.executable, str(PROJECT_ROOT / "main.py"), "run", "fetch-orders", "--here")
# Waits for a state of another process; they end far sooner unless something hangs.
WAIT_S = 120


@dataclass
class Fleet:
    """Both simulators, a workers profile on them and Redis; one data dir per machine."""

    omnitron: RunningOmnitron
    marketplace: RunningMarketplace
    config: Path
    tmp_path: Path
    secrets: dict[str, str]
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def env(self, machine: str) -> dict[str, str]:
        return _env(self.tmp_path / machine, CHANNELDESK_CONFIG=str(self.config), **self.secrets)

    def start(self, machine: str, *args: str) -> subprocess.Popen[str]:
        """``main.py run fetch-orders --here --profile fleet ARGS`` on ``machine``."""
        process = subprocess.Popen(
            [*RUN_HERE, "--profile", PROFILE, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(machine),
            cwd=PROJECT_ROOT,
        )
        self.started.append(process)
        return process

    def run(self, machine: str, *args: str) -> subprocess.CompletedProcess[str]:
        """``main.py run fetch-orders --here --profile fleet ARGS`` on ``machine``, to its end."""
        return subprocess.run(
            [*RUN_HERE, "--profile", PROFILE, *args],
            capture_output=True,
            text=True,
            env=self.env(machine),
            timeout=TIMEOUT,
            cwd=PROJECT_ROOT,
        )


@pytest.fixture
def fleet(
    start_omnitron: Callable[..., RunningOmnitron],
    start_marketplace: Callable[..., RunningMarketplace],
    tmp_path: Path,
) -> Iterator[Callable[..., Fleet]]:
    """Factory: ``fleet(orders=N, latency_ms=L, broker_url=URL)``, every order a good one."""
    made: list[Fleet] = []

    def make(orders: int, latency_ms: int, broker_url: str) -> Fleet:
        omnitron = start_omnitron()
        market = start_marketplace(initial_orders=orders, broken_share=0.0, arrival_per_hour=0)
        set_latency(latency_ms, omnitron, market)
        table = sim_profile(
            omnitron.base_url,
            market.base_url,
            omnitron=omnitron.config,
            runner="workers",
            broker_url=broker_url,
        )
        config = write_profiles(tmp_path / "profiles.toml", {PROFILE: table})
        secrets = sim_secrets(PROFILE, omnitron=omnitron.config, marketplace=market.config)
        made.append(Fleet(omnitron, market, config, tmp_path, secrets))
        return made[-1]

    yield make
    for site in made:
        for process in site.started:
            if process.poll() is None:
                process.kill()
            process.communicate()


@pytest.mark.slow
def test_two_machines_run_fetch_orders_at_once_one_runs_the_other_refuses(
    fleet: Callable[..., Fleet], redis_server: RedisServer
) -> None:
    # Slow while the second machine tries, so the first is surely still running then.
    site = fleet(orders=24, latency_ms=1000, broker_url=redis_server.url)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    key = lease_key(PROFILE, "flow:fetch-orders")
    first = site.start("machine-a", "--json")
    raw = wait_for(lambda: client.get(key), first, "the first run held its lease in Redis")
    holder = json.loads(raw)
    assert (holder["pid"], holder["host"]) == (first.pid, this_host())

    refused = site.run("machine-b")

    assert refused.returncode == 1, refused.stdout
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith(
        f"error: fetch-orders is already running (pid {first.pid} on {this_host()} since "
    )
    set_latency(20, site.omnitron, site.marketplace)
    out, err = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0, err
    result = json.loads(out)
    assert result["outcome"] == "completed"
    assert result["counts"]["created"] == 24
    # Given back at the end; machine B's refused run left no lease and no run.
    assert sorted(client.scan_iter(match=lease_key(PROFILE, "*"))) == []
    assert _runs(site, "machine-b") == []

    # Machine B runs now, with a store that knows nothing of A's run: Omnitron still
    # holds every order once (it refuses a number twice; the flow links the one it holds).
    again = site.run("machine-b", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["counts"]["created"] == 0
    with _client(site.omnitron) as api:
        assert_each_once_and_linked(api, site.marketplace.orders())
    assert site.omnitron.open_batches() == {}
    client.close()


def test_an_unreachable_redis_stops_the_run_before_it_starts(
    fleet: Callable[..., Fleet],
) -> None:
    away = RedisServer().start()
    away.stop()
    site = fleet(orders=2, latency_ms=0, broker_url=away.url)

    refused = site.run("machine-a")

    assert refused.returncode == 1
    (line,) = refused.stderr.splitlines()
    assert line.startswith(
        f"error: fetch-orders could not start: the run leases in Redis at 127.0.0.1:{away.port}/0 "
        "cannot be reached (ConnectionError: "
    )
    assert _runs(site, "machine-a") == []
    assert site.omnitron.open_batches() == {}


def _runs(site: Fleet, machine: str) -> list[dict[str, Any]]:
    """The runs ``machine``'s store recorded (``main.py runs --json``)."""
    listed = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "runs", "--json", "--profile", PROFILE],
        capture_output=True,
        text=True,
        env=site.env(machine),
        timeout=TIMEOUT,
        cwd=PROJECT_ROOT,
    )
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def test_the_broker_url_in_the_environment_wins_over_the_profiles_file(
    fleet: Callable[..., Fleet], redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    away = RedisServer().start()
    away.stop()
    # The file names a Redis that is gone; the environment (where a URL with a
    # password belongs) names the live one.
    site = fleet(orders=3, latency_ms=0, broker_url=away.url)
    environ = {**site.env("machine-a"), "CHANNELDESK_FLEET_BROKER_URL": redis_server.url}

    code = main(["run", "fetch-orders", "--here", "--profile", PROFILE, "--json"], environ)

    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["counts"]["created"] == 3
    with _client(site.omnitron) as api:
        assert_each_once_and_linked(api, site.marketplace.orders())
