"""fetch-orders side by side with Akinon's reference channel app.

``python -m tests.benchmarks.versus_reference --orders 1000 --latency-ms 20 [--rounds 2]``

Needs ``.venv-reference`` (``make bench-reference``: PyPI ``channel-app`` 0.0.155 and
``omnisdk`` 0.0.103). Each round runs, on fresh simulators (their own processes, the
same seed, so the same orders, none broken, ``latency_ms`` added to every request):

- the reference's ``OrderService().fetch_and_create_order()``, in the reference's own
  interpreter (``tests/benchmarks/reference_driver.py``; its channel integration reads
  the marketplace simulator and converts each order into its channel order shape);
- then ChannelDesk's fetch-orders through :class:`~service.order_service.OrderService`
  with a temporary store and the default settings.

Rounds interleave (reference, ours, reference, ours, ...). Created orders are counted
from Omnitron's order listing, not from either program's output; Omnitron requests come
from the simulator's ``/_sandbox/stats``. Prints one JSON line per run, then a summary
line with the medians and the ratio ours / reference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from service.channel.marketplace import MarketplaceAdapter, MarketplaceSettings
from service.flows.context import RunContext
from service.flows.run import FlowOptions
from service.omnitron.client import OmnitronClient
from service.omnitron.settings import OmnitronSettings
from service.order_service import OrderService
from service.store import Store
from tests.benchmarks.simulators import SimulatorProcess

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("reference_driver.py")
REFERENCE_PYTHON = ROOT / ".venv-reference" / "bin" / "python"
CHANNEL_ID = 1


def _omnitron_orders(omnitron_url: str) -> list[dict[str, Any]]:
    """Every order of the channel, read page by page from Omnitron's order listing."""
    with httpx.Client(base_url=f"{omnitron_url}api/v1/", timeout=60) as http:
        login = http.post("auth/login/", json={"username": "sandbox", "password": "sandbox"})
        login.raise_for_status()
        http.headers["Authorization"] = f"Token {login.json()['key']}"
        rows: list[dict[str, Any]] = []
        url: str | None = f"channel/{CHANNEL_ID}/orders/?limit=1000"
        while url is not None:
            response = http.get(url)
            response.raise_for_status()
            body = response.json()
            rows.extend(body["results"])
            url = body["next"]
        return rows


def omnitron_side(omnitron_url: str, marketplace_url: str) -> dict[str, Any]:
    """What Omnitron holds after a run: requests seen, and the orders created.

    ``created`` counts the marketplace's orders found in Omnitron's listing (each
    number once); ``duplicates`` the listing's rows beyond one per number;
    ``order_items`` all items Omnitron holds (both programs create one per unit). The
    request counters are read first, so the counting's own requests are not in them.
    """
    stats = httpx.get(f"{omnitron_url}_sandbox/stats", timeout=60).json()
    counts = httpx.get(f"{omnitron_url}_sandbox/summary", timeout=60).json()["counts"]
    wanted = httpx.get(f"{marketplace_url}_sandbox/orders", timeout=60).json()["orders"]
    rows = _omnitron_orders(omnitron_url)
    numbers = {row["number"] for row in rows}
    return {
        "marketplace_orders": len(wanted),
        "created": len(numbers & {order["number"] for order in wanted}),
        "duplicates": len(rows) - len(numbers),
        "order_items": counts["order_items"],
        "requests": stats["total"],
        "by_route": stats["by_route"],
    }


def run_reference(sims: SimulatorProcess, success_log: bool) -> tuple[float, str]:
    """Run the reference once against ``sims``; its wall time (the call alone), its log."""
    command = [
        str(REFERENCE_PYTHON),
        str(DRIVER),
        "--omnitron-url",
        sims.omnitron_url,
        "--marketplace-url",
        sims.marketplace_url,
    ]
    if not success_log:
        command.append("--no-success-log")
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    lines = done.stdout.strip().splitlines()
    answer = json.loads(lines[-1]) if lines else {"error": "no output"}
    if done.returncode != 0 or answer.get("error"):
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"the reference failed: {answer.get('error')}")
    return float(answer["wall_s"]), done.stderr


def run_ours(sims: SimulatorProcess, success_log: bool, workers: int) -> float:
    """Run ChannelDesk's fetch-orders once against ``sims``; its wall time."""
    client = OmnitronClient(
        OmnitronSettings(
            base_url=sims.omnitron_url,
            username="sandbox",
            password=SecretStr("sandbox"),
            channel_id=CHANNEL_ID,
            catalog_id=1,
        )
    )
    adapter = MarketplaceAdapter(
        MarketplaceSettings(base_url=sims.marketplace_url, api_key=SecretStr("sandbox-key"))
    )
    try:
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.sqlite3") as store:
            service = OrderService(client, adapter, store, profile="bench", workers=workers)
            started = time.perf_counter()
            service.fetch_and_create_order(
                is_success_log=success_log, ctx=RunContext(on_event=lambda _: None)
            )
            return time.perf_counter() - started
    finally:
        client.close()
        adapter.close()


def measure(program: str, args: argparse.Namespace, round_no: int) -> dict[str, Any]:
    """One run of ``program`` ("reference" or "channeldesk") on fresh simulators."""
    with SimulatorProcess(
        orders=args.orders, latency_ms=args.latency_ms, broken_share=0.0, seed=args.seed
    ) as sims:
        log = ""
        if program == "reference":
            wall, log = run_reference(sims, args.success_log)
        else:
            wall = run_ours(sims, args.success_log, args.workers)
        side = omnitron_side(sims.omnitron_url, sims.marketplace_url)
    created = side["created"]
    if created < side["marketplace_orders"]:
        # The reference swallows its errors: its log is the only trace of why.
        sys.stderr.write(
            f"{program} round {round_no}: created {created} of "
            f"{side['marketplace_orders']} orders; the figures compare unlike runs.\n"
            f"{log[-4000:]}"
        )
    per_order = max(created, 1)
    return {
        "program": program,
        "round": round_no,
        "orders": args.orders,
        "latency_ms": args.latency_ms,
        "seed": args.seed,
        "workers": args.workers if program == "channeldesk" else 1,
        "success_log": args.success_log,
        "marketplace_orders": side["marketplace_orders"],
        "created": created,
        "duplicates": side["duplicates"],
        "order_items": side["order_items"],
        "wall_s": round(wall, 2),
        "orders_per_s": round(created / wall, 2),
        "omnitron_requests": side["requests"],
        "requests_per_order": round(side["requests"] / per_order, 2),
        "requests_per_order_by_route": {
            route: round(count / per_order, 2)
            for route, count in sorted(side["by_route"].items(), key=lambda kv: -kv[1])
        },
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per program and the ratio ours / reference."""
    medians: dict[str, dict[str, float]] = {}
    for program in ("reference", "channeldesk"):
        mine = [run for run in runs if run["program"] == program]
        medians[program] = {
            key: round(statistics.median(run[key] for run in mine), 2)
            for key in ("orders_per_s", "requests_per_order", "created", "wall_s")
        }
    ref, ours = medians["reference"], medians["channeldesk"]
    return {
        "summary": "median",
        "runs_each": len(runs) // 2,
        "reference": ref,
        "channeldesk": ours,
        "orders_per_s_ratio": round(ours["orders_per_s"] / ref["orders_per_s"], 2)
        if ref["orders_per_s"]
        else None,
        "requests_per_order_ratio": round(ours["requests_per_order"] / ref["requests_per_order"], 2)
        if ref["requests_per_order"]
        else None,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the rounds, print a JSON line per run and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=FlowOptions().workers)
    parser.add_argument(
        "--no-success-log",
        dest="success_log",
        action="store_false",
        help="both programs skip the per-order success report (both send it by default)",
    )
    args = parser.parse_args(argv)
    if not REFERENCE_PYTHON.exists():
        parser.exit(2, f"{REFERENCE_PYTHON} is missing: run `make bench-reference` first.\n")
    runs: list[dict[str, Any]] = []
    for round_no in range(1, args.rounds + 1):
        for program in ("reference", "channeldesk"):
            runs.append(measure(program, args, round_no))
            print(json.dumps(runs[-1]), flush=True)
    print(json.dumps(summary(runs)), flush=True)


if __name__ == "__main__":
    main()
