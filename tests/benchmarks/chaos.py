"""Chaos benchmark of fetch-orders: ``python -m tests.benchmarks.chaos --orders 1000``.

Both simulators run in a child process; a hostile proxy (tests/hostile/proxy.py) sits
between the flow and Omnitron. The flow runs as the real CLI, ``main.py run
fetch-orders``, in its own process, so it can be killed with SIGKILL:

1. **Faults on**: of the requests to Omnitron, 20 % are answered 503 without reaching
   it, 5 % reach it and lose their answer, 10 % have their connection dropped, and each
   run starts with a burst of 429s. Runs are started one after another and each is
   killed with SIGKILL at a random moment, until ``--kills`` runs have been killed.
2. **Faults off**: runs until one creates nothing and finds nothing left to do.

Then Omnitron's state is read over its API (not through the proxy) and one JSON line is
printed: valid orders, valid orders created exactly once, duplicated numbers, orphan
batches (``initialized`` or ``commit``), duplicated error reports (one code posted more
than once), dead reports in the local store, and the runs needed after the faults
stopped until every valid order was there. The target is every valid order exactly once,
no duplicate, no orphan batch and no duplicate report in at most three runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.benchmarks.simulators import SimulatorProcess
from tests.hostile.proxy import HostileProxy, Rule

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "chaos"
OPEN_BATCH = ("initialized", "commit")


def _profiles_file(directory: Path, omnitron_url: str, marketplace_url: str, workers: int) -> Path:
    path = directory / "profiles.toml"
    path.write_text(
        f"""[profiles.{PROFILE}]
workers = {workers}
is_success_log = false

[profiles.{PROFILE}.omnitron]
url = "{omnitron_url}/"
username = "sandbox"
channel_id = 1
catalog_id = 1

[profiles.{PROFILE}.channel]
adapter = "marketplace"

[profiles.{PROFILE}.channel.settings]
base_url = "{marketplace_url}"
"""
    )
    return path


def _fault_rules(proxy: HostileProxy) -> None:
    proxy.add(Rule(action="status", status=503, times=None, rate=0.20))
    proxy.add(Rule(action="lose_answer", times=None, rate=0.05 / 0.80))
    proxy.add(Rule(action="drop", times=None, rate=0.10 / 0.75))


class Runner:
    """Starts ``main.py run fetch-orders`` for the chaos profile and records each run."""

    def __init__(self, data_dir: Path, config: Path) -> None:
        self.command = [
            sys.executable,
            str(ROOT / "main.py"),
            "--data-dir",
            str(data_dir),
            "--config",
            str(config),
            "run",
            "fetch-orders",
            "--profile",
            PROFILE,
            "--json",
        ]
        self.env = {
            **os.environ,
            "CHANNELDESK_CHAOS_OMNITRON_PASSWORD": "sandbox",
            "CHANNELDESK_CHAOS_CHANNEL_API_KEY": "sandbox-key",
        }

    def run(self, kill_after: float | None = None) -> dict[str, Any]:
        """One run; killed with SIGKILL after ``kill_after`` seconds if still going."""
        process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = process.communicate(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.communicate()
            return {"killed": True}
        try:
            result = json.loads(out)
        except ValueError:
            return {"exit": process.returncode, "stderr": err.strip()[-300:]}
        return {"exit": process.returncode, **result}


class Omnitron:
    """Reads the simulator's state over its API, bypassing the proxy."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(base_url=base_url + "api/v1/", timeout=60)
        key = self._http.post(
            "auth/login/", json={"username": "sandbox", "password": "sandbox"}
        ).json()["key"]
        self._http.headers["Authorization"] = f"Token {key}"

    def listing(self, path: str) -> list[dict[str, Any]]:
        """Every row of a paged listing."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self._http.get(path, params={"page": page, "limit": 1000}).json()
            rows.extend(data["results"])
            if not data.get("next"):
                return rows
            page += 1


def _measure(sims: SimulatorProcess, data_dir: Path) -> dict[str, Any]:
    marketplace = httpx.get(f"{sims.marketplace_url}_sandbox/orders", timeout=60).json()
    valid = {order["number"] for order in marketplace["orders"] if order["broken"] is None}
    omnitron = Omnitron(sims.omnitron_url)
    numbers = Counter(order["number"] for order in omnitron.listing("channel/1/orders/"))
    batches = omnitron.listing("channel/1/batch_requests/")
    codes = Counter(report["error_code"] for report in omnitron.listing("channel/1/error_reports/"))
    with sqlite3.connect(data_dir / "profiles" / f"{PROFILE}.sqlite3") as store:
        dead, waiting = store.execute(
            "SELECT sum(dead = 1), sum(delivered = 0 AND dead = 0) FROM error_reports"
        ).fetchone()
    store.close()
    return {
        "valid_orders": len(valid),
        "created_once": sum(1 for number in valid if numbers[number] == 1),
        "missing": sum(1 for number in valid if numbers[number] == 0),
        "duplicates": sum(1 for count in numbers.values() if count > 1),
        "orphan_batches": sum(1 for batch in batches if batch["status"] in OPEN_BATCH),
        "duplicate_reports": sum(1 for count in codes.values() if count > 1),
        "dead_reports": dead or 0,
        "outbox_waiting": waiting or 0,
    }


def run(
    orders: int, kills: int, seed: int, broken_share: float, workers: int, max_runs: int
) -> dict[str, Any]:
    """The whole chaos sequence; returns the measurements."""
    rng = random.Random(seed)
    with (
        SimulatorProcess(orders=orders, broken_share=broken_share) as sims,
        HostileProxy(sims.omnitron_url, seed=seed) as proxy,
        tempfile.TemporaryDirectory() as tmp,
    ):
        data_dir = Path(tmp)
        config = _profiles_file(data_dir, proxy.url, sims.marketplace_url, workers)
        runner = Runner(data_dir, config)
        started = time.perf_counter()
        faulty: list[dict[str, Any]] = []
        killed = 0
        while killed < kills and len(faulty) < 3 * kills:
            proxy.clear()
            proxy.add(Rule(action="status", status=429, times=rng.randint(3, 15), **_RETRY_1S))
            _fault_rules(proxy)
            result = runner.run(kill_after=rng.uniform(0.5, 8.0))
            killed += bool(result.get("killed"))
            faulty.append(result)
        proxy.clear()
        calm: list[dict[str, Any]] = []
        complete_after: int | None = None
        while len(calm) < max_runs:
            calm.append(runner.run())
            state = _measure(sims, data_dir)
            if complete_after is None and state["created_once"] == state["valid_orders"]:
                complete_after = len(calm)
            last = calm[-1]
            if (
                last.get("outcome") in ("completed", "completed_with_failures")
                and last["counts"]["created"] == 0
            ):
                break
        return {
            "orders": orders,
            "kills": killed,
            "faulty_runs": len(faulty),
            "faulty_outcomes": dict(Counter(_outcome(r) for r in faulty)),
            "calm_runs": len(calm),
            "runs_until_complete": complete_after,
            "calm_outcomes": [_outcome(r) for r in calm],
            **_measure(sims, data_dir),
            "wall_s": round(time.perf_counter() - started, 1),
        }


_RETRY_1S = {"headers": {"Retry-After": "1"}}


def _outcome(result: dict[str, Any]) -> str:
    if result.get("killed"):
        return "killed"
    if "outcome" in result:
        return str(result["outcome"])
    # The CLI's one-line reason says why the run could not run.
    return f"exit {result.get('exit')}: {result.get('stderr', '')[-120:]}"


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the chaos sequence, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--broken-share", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--max-runs", type=int, default=6, help="calm runs at most")
    args = parser.parse_args(argv)
    result = run(args.orders, args.kills, args.seed, args.broken_share, args.workers, args.max_runs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
