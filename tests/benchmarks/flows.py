"""Benchmark of fetch-orders: ``python -m tests.benchmarks.flows --orders N --latency-ms L``.

Both simulators run in a child process (so they do not share this process's CPU
time and memory with the flow) with ``latency_ms`` added to every request. The flow
runs through :class:`~service.order_service.OrderService` with a temporary store.
Prints one JSON line: orders, workers, latency_ms, wall_s, orders_per_s,
http_requests_per_order (Omnitron requests per created order, from
``/_sandbox/stats``), peak_rss_mb (this process: the flow, not the simulators).
"""

from __future__ import annotations

import argparse
import json
import resource
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


def run(orders: int, latency_ms: int, workers: int, broken_share: float) -> dict[str, Any]:
    """Run fetch-orders once against fresh simulators; return the measurements."""
    with SimulatorProcess(orders=orders, latency_ms=latency_ms, broken_share=broken_share) as sims:
        client = OmnitronClient(
            OmnitronSettings(
                base_url=sims.omnitron_url,
                username="sandbox",
                password=SecretStr("sandbox"),
                channel_id=1,
                catalog_id=1,
                pool_size=max(10, 2 * workers),
            )
        )
        adapter = MarketplaceAdapter(
            MarketplaceSettings(base_url=sims.marketplace_url, api_key=SecretStr("sandbox-key"))
        )
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.sqlite3") as store:
            service = OrderService(client, adapter, store, profile="bench", workers=workers)
            started = time.perf_counter()
            result = service.fetch_and_create_order(ctx=RunContext(on_event=lambda _: None))
            wall = time.perf_counter() - started
        stats = httpx.get(f"{sims.omnitron_url}_sandbox/stats", timeout=30).json()
        client.close()
        adapter.close()
    created = max(result.created, 1)
    return {
        "orders": orders,
        "workers": workers,
        "latency_ms": latency_ms,
        "outcome": result.outcome.value,
        "created": result.created,
        "failed": result.failed,
        "wall_s": round(wall, 2),
        "orders_per_s": round(result.created / wall, 2),
        "http_requests_per_order": round(stats["total"] / created, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the benchmark, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--workers", type=int, default=FlowOptions().workers)
    parser.add_argument("--broken-share", type=float, default=0.0)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.orders, args.latency_ms, args.workers, args.broken_share)))


if __name__ == "__main__":
    main()
