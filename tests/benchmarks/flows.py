"""Benchmark of every flow: ``python -m tests.benchmarks.flows [--flows all|a,b] [--items N]``.

Each flow runs against fresh simulators, each in its own child process (they share
neither this process's CPU time and memory nor each other's). Its items are prepared
first, in another child process on the same store file, with no added latency, through
the flows themselves and the simulators' control API (docs/sandbox-control.md):
fetch-orders brings ``--items`` orders into Omnitron, then the marketplace cancels
them, changes a line of each, or its customers ask to cancel one, or Omnitron's clock
moves them on. Then the stats are reset, every request gets ``--latency-ms`` added,
and the flow alone is timed in this process — run again until it has handled every
prepared item where one run takes a page (update-orders).

Prints one JSON line per flow: items, items_per_s, wall_s, requests_per_item (Omnitron
requests per item), each simulator's requests per item by route, the run counts, the
peak RSS of this process while the flow ran (MB) and the CPU seconds of this process
and of each simulator process during it. Several flows are run one after the other,
each in a fresh process, so no flow's memory or caches flatter the next.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from service.channel.marketplace import MarketplaceAdapter, MarketplaceSettings
from service.flows.context import RunContext
from service.flows.result import FlowResult
from service.flows.run import FlowOptions
from service.omnitron.client import OmnitronClient
from service.omnitron.settings import OmnitronSettings
from service.order_service import OrderService
from service.store import Store
from tests.benchmarks.simulators import SimulatorProcess
from tests.sandbox.omnitron_api import OmnitronApi

# Omnitron moves approved orders to preparing after 30 minutes of its clock.
PREPARING_AFTER_S = 31 * 60
# The marketplace completes asynchronous status-update batches after 5 s of its clock.
ASYNC_BATCH_DONE_S = 10
# The marketplace generates at most this many cancellation requests per call.
REQUESTS_PER_CALL = 1000
# A path segment naming one object (the marketplace's stats keep ids in their routes).
_ID_SEGMENT = re.compile(r"/[0-9][0-9a-f-]*(?=/|$)")


@dataclass
class Bench:
    """One flow's simulators, clients, store and service."""

    omnitron_url: str
    marketplace_url: str
    service: OrderService
    items: int
    success_log: bool
    http: httpx.Client

    def omnitron(self, method: str, path: str, **kwargs: Any) -> Any:
        """A control call to the Omnitron simulator (``/_sandbox/...``)."""
        return self._call(self.omnitron_url, method, path, **kwargs)

    def marketplace(self, method: str, path: str, **kwargs: Any) -> Any:
        """A control call to the marketplace simulator (``/_sandbox/...``)."""
        return self._call(self.marketplace_url, method, path, **kwargs)

    def market_api(self, path: str, **params: Any) -> Any:
        """A GET on the marketplace's public API, as the merchant."""
        answer = self.http.get(
            f"{self.marketplace_url}api/v1/{path}",
            params=params,
            headers={"X-Api-Key": "sandbox-key"},
        )
        answer.raise_for_status()
        return answer.json()

    def _call(self, base: str, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, f"{base}_sandbox/{path}", **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def market_order_ids(self) -> list[int]:
        """Every marketplace order, oldest first."""
        return [int(order["id"]) for order in self.marketplace("GET", "orders")["orders"]]

    def fetch_orders(self) -> FlowResult:
        """Bring the marketplace's orders into Omnitron (preparation: no latency)."""
        result = self.service.fetch_and_create_order(is_success_log=False, ctx=quiet())
        if result.created != self.items:
            raise RuntimeError(f"preparation created {result.created} of {self.items} orders")
        return result


def quiet() -> RunContext:
    """A run context that drops events (a console would show them)."""
    return RunContext(on_event=lambda _: None)


# --- preparation: the items each flow handles, made with no latency -------------------


def _no_preparation(bench: Bench) -> None:
    """fetch-orders: the marketplace already holds ``items`` new orders."""


def _orders_moved_on(bench: Bench) -> None:
    """Orders in Omnitron, moved on by its clock: they wait in ``orders/updates/``."""
    # Every update accepted: the items are the orders sent, not the channel's dice.
    shares = {"update_failure_share": 0, "batch_failure_share": 0}
    bench.marketplace("PATCH", "behaviour", json=shares)
    bench.fetch_orders()
    bench.omnitron("POST", "clock/advance", json={"seconds": PREPARING_AFTER_S})


def _async_batches_answered(bench: Bench) -> None:
    """Every moved order sent to the channel asynchronously; the channel has answered."""
    _orders_moved_on(bench)
    _send_updates(bench, sync=False)
    bench.marketplace("POST", "clock/advance", json={"seconds": ASYNC_BATCH_DONE_S})


def _orders_cancelled(bench: Bench) -> None:
    """Orders in Omnitron, then every one of them cancelled at the marketplace."""
    bench.fetch_orders()
    for order_id in bench.market_order_ids():
        bench.marketplace("POST", f"orders/{order_id}/cancel", json={})


def _lines_updated(bench: Bench) -> None:
    """Orders in Omnitron, then the first line of each moved on at the marketplace."""
    bench.fetch_orders()
    for order_id in bench.market_order_ids():
        line_id = bench.market_api(f"orders/{order_id}")["lines"][0]["id"]
        bench.marketplace("POST", f"lines/{line_id}/update", json={})


def _cancellations_requested(bench: Bench) -> None:
    """Orders in Omnitron, then a customer's cancellation request on a line of each."""
    bench.fetch_orders()
    left = bench.items
    while left > 0:
        made = bench.marketplace(
            "POST",
            "cancellation-requests/generate",
            json={"count": min(left, REQUESTS_PER_CALL), "type": "cancel"},
        )["requests"]
        if not made:
            raise RuntimeError(f"the marketplace made {bench.items - left} requests, not more")
        left -= len(made)


def _requests_decided(bench: Bench) -> None:
    """Cancellation requests brought into Omnitron, then every one approved there."""
    _cancellations_requested(bench)
    bench.service.fetch_and_create_cancellation_requests(is_success_log=False, ctx=quiet())
    api = OmnitronApi(bench.omnitron_url)
    try:
        for request in api.all_pages(api.ch("cancellation_requests/"), {"limit": 500}):
            api.patch(api.ch(f"cancellation_requests/{request['pk']}/"), {"status": "approved"})
    finally:
        api.close()


# --- the timed part: the flow alone, and what counts as its items --------------------


def _sent_updates(bench: Bench) -> int:
    return len(bench.marketplace("GET", "status-updates")["updates"])


def _send_updates(bench: Bench, *, sync: bool) -> list[FlowResult]:
    """update-orders again and again until every prepared order was sent.

    One run takes one page of ``orders/updates/`` (100 orders), as the reference.
    """
    results = []
    before = _sent_updates(bench)
    sent = 0
    while sent < bench.items:
        results.append(
            bench.service.update_orders(is_sync=sync, is_success_log=bench.success_log, ctx=quiet())
        )
        now = _sent_updates(bench) - before
        if now == sent:
            break  # nothing more to send
        sent = now
    return results


def _update_sync(bench: Bench) -> tuple[int, list[FlowResult]]:
    before = _sent_updates(bench)
    results = _send_updates(bench, sync=True)
    return _sent_updates(bench) - before, results


def _update_async(bench: Bench) -> tuple[int, list[FlowResult]]:
    before = _sent_updates(bench)
    results = _send_updates(bench, sync=False)
    return _sent_updates(bench) - before, results


def _one_run(
    run: Callable[[OrderService, bool], FlowResult], count: Callable[[FlowResult], int]
) -> Callable[[Bench], tuple[int, list[FlowResult]]]:
    def timed(bench: Bench) -> tuple[int, list[FlowResult]]:
        result = run(bench.service, bench.success_log)
        return count(result), [result]

    return timed


def _fetch_orders(bench: Bench) -> tuple[int, list[FlowResult]]:
    result = bench.service.fetch_and_create_order(is_success_log=bench.success_log, ctx=quiet())
    return result.created, [result]


@dataclass(frozen=True)
class FlowBench:
    """How one flow is prepared and timed."""

    prepare: Callable[[Bench], None]
    timed: Callable[[Bench], tuple[int, list[FlowResult]]]
    progress_orders: bool = False


FLOWS: dict[str, FlowBench] = {
    "fetch-orders": FlowBench(_no_preparation, _fetch_orders),
    "update-orders-sync": FlowBench(_orders_moved_on, _update_sync, progress_orders=True),
    "update-orders-async": FlowBench(_orders_moved_on, _update_async, progress_orders=True),
    "check-batches": FlowBench(
        _async_batches_answered,
        _one_run(
            lambda service, log: service.get_order_batch_requests(is_success_log=log, ctx=quiet()),
            lambda result: result.updated + result.failed,
        ),
        progress_orders=True,
    ),
    "fetch-cancels": FlowBench(
        _orders_cancelled,
        _one_run(
            lambda service, log: service.fetch_and_create_cancel(is_success_log=log, ctx=quiet()),
            lambda result: result.updated,
        ),
    ),
    "fetch-item-updates": FlowBench(
        _lines_updated,
        _one_run(
            lambda service, log: service.fetch_and_update_order_items(
                is_success_log=log, ctx=quiet()
            ),
            lambda result: result.updated + result.skipped,
        ),
    ),
    "fetch-cancellation-requests": FlowBench(
        _cancellations_requested,
        _one_run(
            lambda service, log: service.fetch_and_create_cancellation_requests(
                is_success_log=log, ctx=quiet()
            ),
            lambda result: result.created,
        ),
    ),
    "update-cancellation-requests": FlowBench(
        _requests_decided,
        _one_run(
            lambda service, log: service.update_cancellation_requests(
                is_success_log=log, ctx=quiet()
            ),
            lambda result: result.updated,
        ),
    ),
}


# --- measuring --------------------------------------------------------------------------


def _cpu_of(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0 when it cannot be read)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux: ``clear_refs`` 5 resets VmHWM)."""
    # Elsewhere the peak is the process's whole life.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _per_item(by_route: dict[str, int], items: int) -> dict[str, float]:
    """Requests per item by route, the most frequent first; ids in paths read ``{id}``."""
    counts: dict[str, int] = {}
    for route, count in by_route.items():
        route = _ID_SEGMENT.sub("/{id}", route)
        counts[route] = counts.get(route, 0) + count
    ranked = sorted(counts.items(), key=lambda pair: -pair[1])
    return {route: round(count / items, 3) for route, count in ranked}


@dataclass(frozen=True)
class Setup:
    """Where one flow's benchmark runs: the simulators, the store, the options."""

    omnitron_url: str
    marketplace_url: str
    store_path: Path
    items: int
    workers: int
    success_log: bool


@contextmanager
def _bench(setup: Setup) -> Iterator[Bench]:
    with httpx.Client(timeout=120) as http, Store(setup.store_path) as store:
        client = OmnitronClient(
            OmnitronSettings(
                base_url=setup.omnitron_url,
                username="sandbox",
                password=SecretStr("sandbox"),
                channel_id=1,
                catalog_id=1,
            )
        )
        adapter = MarketplaceAdapter(
            MarketplaceSettings(
                base_url=setup.marketplace_url,
                api_key=SecretStr("sandbox-key"),
                # One listing stops at 1,000 pages (50,000 orders) by design, and the
                # next run goes on; a longer benchmark reads its orders in one run.
                max_pages=max(1000, setup.items // 50 + 10),
            )
        )
        service = OrderService(client, adapter, store, profile="bench", workers=setup.workers)
        try:
            yield Bench(
                setup.omnitron_url,
                setup.marketplace_url,
                service,
                setup.items,
                setup.success_log,
                http,
            )
        finally:
            client.close()
            adapter.close()


def _prepare(name: str, setup: Setup) -> None:
    """Child process: make the flow's items, so their memory and CPU are not the flow's."""
    with _bench(setup) as bench:
        FLOWS[name].prepare(bench)


def run(
    name: str, items: int, latency_ms: int, workers: int, success_log: bool = True
) -> dict[str, Any]:
    """Prepare ``items`` for flow ``name`` without latency, then time the flow alone."""
    flow = FLOWS[name]
    with (
        SimulatorProcess(orders=items, progress_orders=flow.progress_orders) as sims,
        tempfile.TemporaryDirectory() as tmp,
    ):
        setup = Setup(
            sims.omnitron_url,
            sims.marketplace_url,
            Path(tmp) / "bench.sqlite3",
            items,
            workers,
            success_log,
        )
        preparing = multiprocessing.get_context("spawn").Process(
            target=_prepare, args=(name, setup), name=f"prepare-{name}"
        )
        preparing.start()
        preparing.join()
        if preparing.exitcode != 0:
            raise RuntimeError(f"preparing {name} failed (exit code {preparing.exitcode})")
        with _bench(setup) as bench:
            for sim in (bench.omnitron, bench.marketplace):
                sim("PATCH", "faults", json={"latency_ms": latency_ms})
                sim("POST", "stats/reset")
            sim_pids = {"omnitron": sims.omnitron_pid, "marketplace": sims.marketplace_pid}
            sim_cpu = {sim: _cpu_of(pid) for sim, pid in sim_pids.items()}
            _reset_peak_rss()
            cpu = _own_cpu()
            started = time.perf_counter()
            handled, results = flow.timed(bench)
            wall = time.perf_counter() - started
            cpu = _own_cpu() - cpu
            sim_cpu = {sim: _cpu_of(pid) - sim_cpu[sim] for sim, pid in sim_pids.items()}
            peak = _peak_rss_mb()
            omnitron = bench.omnitron("GET", "stats")
            marketplace = bench.marketplace("GET", "stats")
    per = max(handled, 1)
    return {
        "flow": name,
        "items": handled,
        "prepared": items,
        "workers": workers,
        "latency_ms": latency_ms,
        "runs": len(results),
        "outcomes": sorted({result.outcome_key for result in results}),
        "created": sum(result.created for result in results),
        "updated": sum(result.updated for result in results),
        "skipped": sum(result.skipped for result in results),
        "failed": sum(result.failed for result in results),
        "waiting": sum(result.waiting for result in results),
        "wall_s": round(wall, 2),
        "items_per_s": round(handled / wall, 2),
        "requests_per_item": round(omnitron["total"] / per, 3),
        "omnitron_by_route": _per_item(omnitron["by_route"], per),
        "marketplace_requests_per_item": round(marketplace["total"] / per, 3),
        "marketplace_by_route": _per_item(marketplace["by_route"], per),
        "peak_rss_mb": round(peak, 1),
        "cpu_s": round(cpu, 2),
        "omnitron_cpu_s": round(sim_cpu["omnitron"], 2),
        "marketplace_cpu_s": round(sim_cpu["marketplace"], 2),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the command line; run each flow (in its own process when several)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--flows", default="all", help="all, or names separated by commas")
    parser.add_argument("--items", type=int, default=None, help="items per flow (default 1000)")
    parser.add_argument("--orders", type=int, default=None, help="fetch-orders: alias of --items")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--workers", type=int, default=FlowOptions().workers)
    parser.add_argument(
        "--no-success-log", action="store_true", help="run the flows with is_success_log off"
    )
    args = parser.parse_args(argv)
    names = list(FLOWS) if args.flows == "all" else args.flows.split(",")
    unknown = [name for name in names if name not in FLOWS]
    if unknown:
        parser.error(f"unknown flows {unknown}; known: {', '.join(FLOWS)}")
    items = args.items or args.orders or 1000
    if len(names) == 1:
        success_log = not args.no_success_log
        print(json.dumps(run(names[0], items, args.latency_ms, args.workers, success_log)))
        return
    common = ["--items", str(items), "--latency-ms", str(args.latency_ms)]
    common += ["--workers", str(args.workers)]
    common += ["--no-success-log"] if args.no_success_log else []
    for name in names:
        command = [sys.executable, "-m", "tests.benchmarks.flows", "--flows", name, *common]
        subprocess.run(command, check=False)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
