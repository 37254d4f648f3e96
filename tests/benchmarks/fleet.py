"""Fleet throughput: fetch-orders of several profiles on 1, then 2, worker processes.

    python -m tests.benchmarks.fleet --profiles 4 --orders 1000 --latency-ms 20

Each profile is a ``runner = "workers"`` profile on its own pair of simulators, each
simulator served from a process of its own (:mod:`tests.benchmarks.simulators`). For
each number of worker processes a fresh Redis, fresh simulators and fresh stores are
used; the profiles are dealt round-robin over ``main.py worker`` processes (one queue
per profile, so one process owns a profile), each process running all of its profiles
at once. The clock starts once every worker says it is ready and stops when the last
run has finished. Printed per set-up, as one JSON line: orders created (counted in
Omnitron), wall time, total orders/s, and the CPU seconds the workers and the
simulators spent, so the limit can be named: the simulators' share of the machine's
cores tells whether they, not the workers, bound the throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.config import load_profile
from service.fleet.client import FleetClient
from service.flows.names import Flow
from service.flows.run import FlowOptions
from tests.benchmarks.flows import _cpu_of
from tests.benchmarks.simulators import SimulatorProcess
from tests.fleet.redis_server import RedisServer
from tests.processes import start_main, stop
from tests.profiles import sim_profile, sim_secrets, write_profiles

READY_TIMEOUT_S = 120
RUN_TIMEOUT_S = 3600


@dataclass
class Site:
    """Redis, the simulators and the profiles file of one set-up."""

    redis: RedisServer
    sims: dict[str, SimulatorProcess]
    tmp: Path
    env: dict[str, str]

    @property
    def names(self) -> list[str]:
        return list(self.sims)


@contextmanager
def _site(profiles: int, orders: int, latency_ms: int) -> Iterator[Site]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fleet-bench-")))
        redis = RedisServer().start()
        stack.callback(redis.stop)
        sims = {
            f"p{i}": stack.enter_context(
                SimulatorProcess(orders=orders, latency_ms=latency_ms, seed=i)
            )
            for i in range(profiles)
        }
        tables = {
            name: sim_profile(
                sim.omnitron_url, sim.marketplace_url, runner="workers", broker_url=redis.url
            )
            for name, sim in sims.items()
        }
        config = write_profiles(tmp / "profiles.toml", tables)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNELDESK_")}
        env["CHANNELDESK_DATA_DIR"] = str(tmp / "data")
        env["CHANNELDESK_CONFIG"] = str(config)
        for name in sims:
            env.update(sim_secrets(name))
        yield Site(redis, sims, tmp, env)


def _start_workers(site: Site, processes: int) -> list[tuple[subprocess.Popen[str], Path]]:
    """``processes`` ``main.py worker`` processes, the profiles dealt round-robin."""
    started = []
    for index in range(processes):
        names = site.names[index::processes]
        if not names:
            continue
        log = site.tmp / f"worker-{index}.log"
        args = [arg for name in names for arg in ("--profile", name)]
        args += ["--concurrency", str(len(names))]
        process = start_main("worker", *args, env=site.env, log=log)
        started.append((process, log))
    deadline = time.monotonic() + READY_TIMEOUT_S
    for process, log in started:
        while " ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
    return started


def _created_in_omnitron(sim: SimulatorProcess) -> int:
    answer = httpx.get(sim.omnitron_url + "_sandbox/summary", timeout=30)
    answer.raise_for_status()
    return int(answer.json()["counts"].get("orders", 0))


def measure(profiles: int, orders: int, latency_ms: int, processes: int) -> dict[str, Any]:
    """One set-up: ``profiles`` profiles of ``orders`` orders on ``processes`` workers."""
    with _site(profiles, orders, latency_ms) as site:
        workers = _start_workers(site, processes)
        clients = [
            FleetClient(
                load_profile(name, path=Path(site.env["CHANNELDESK_CONFIG"])), environ=site.env
            )
            for name in site.names
        ]
        try:
            cpu_before = _cpu(site, workers)
            started = time.monotonic()
            sent = [client.send(Flow.FETCH_ORDERS, FlowOptions()) for client in clients]
            outcomes = []
            for client, run in zip(clients, sent, strict=True):
                deadline = time.monotonic() + RUN_TIMEOUT_S
                while (state := client.state(run.task_id)) is None or state.state not in (
                    "finished",
                    "refused",
                ):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{run.profile}: no end after {RUN_TIMEOUT_S} s")
                    time.sleep(0.2)
                outcomes.append(state)
            wall = time.monotonic() - started
            cpu_after = _cpu(site, workers)
        finally:
            for client in clients:
                client.close()
            stop([process for process, _ in workers], timeout_s=60)
        created = sum(_created_in_omnitron(sim) for sim in site.sims.values())
        spent = {key: cpu_after[key] - cpu_before[key] for key in cpu_after}
        cores = os.cpu_count() or 1
        return {
            "worker_processes": processes,
            "profiles": profiles,
            "orders_per_profile": orders,
            "latency_ms": latency_ms,
            "outcomes": sorted(
                state.result.outcome.value if state.result else state.state for state in outcomes
            ),
            "created_in_omnitron": created,
            "wall_s": round(wall, 2),
            "orders_per_s": round(created / wall, 2),
            "workers_cpu_s": round(spent["workers"], 2),
            "simulators_cpu_s": round(spent["simulators"], 2),
            "simulators_share_of_cores": round(spent["simulators"] / wall / cores, 2),
            "machine_share_of_cores": round(sum(spent.values()) / wall / cores, 2),
        }


def _cpu(site: Site, workers: Sequence[tuple[subprocess.Popen[str], Path]]) -> dict[str, float]:
    sims = sum(
        _cpu_of(pid)
        for sim in site.sims.values()
        for pid in (sim.omnitron_pid, sim.marketplace_pid)
    )
    return {"workers": sum(_cpu_of(process.pid) for process, _ in workers), "simulators": sims}


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and measure each number of worker processes in turn."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--profiles", type=int, default=4)
    parser.add_argument("--orders", type=int, default=1000, help="orders per profile")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument(
        "--processes", default="1,2", help="worker process counts to measure, e.g. 1,2"
    )
    args = parser.parse_args(argv)
    rates: dict[int, float] = {}
    for processes in (int(part) for part in args.processes.split(",")):
        result = measure(args.profiles, args.orders, args.latency_ms, processes)
        print(json.dumps(result), flush=True)
        rates[processes] = result["created_in_omnitron"] / result["wall_s"]
    first, *others = rates
    for processes in others:
        print(
            f"{processes} worker processes: {rates[processes] / rates[first]:.2f}x the "
            f"orders/s of {first}",
            flush=True,
        )


if __name__ == "__main__":
    main()
