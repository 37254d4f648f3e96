"""Both simulators served from a child process, for benchmarks.

A benchmark measures our flow, so the simulators run in their own process: they do not
share its CPU time and memory, and a flow process killed with SIGKILL leaves them up.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Self

from service.sandbox.faults import FaultSettings
from service.sandbox.marketplace import MarketplaceSimConfig, MarketplaceSimulator
from service.sandbox.omnitron import OmnitronSimConfig, OmnitronSimulator
from service.sandbox.server import ServedApp


def _serve(conn: Connection, orders: int, latency_ms: int, broken_share: float) -> None:
    """Child process: serve both simulators until told to stop."""
    faults = FaultSettings(latency_ms=latency_ms)
    omnitron = OmnitronSimulator(OmnitronSimConfig(faults=faults, progress_orders=False))
    marketplace = MarketplaceSimulator(
        MarketplaceSimConfig(
            initial_orders=orders,
            broken_share=broken_share,
            arrival_per_hour=0,
            # The benchmark measures our flow, not the marketplace's rate limit.
            rate_limit_per_second=10_000,
            faults=faults,
        )
    )
    servers = [ServedApp(omnitron.app).start(), ServedApp(marketplace.app).start()]
    conn.send((servers[0].base_url, servers[1].base_url))
    conn.recv()
    for server in servers:
        server.stop()
    omnitron.close()
    marketplace.close()


class SimulatorProcess:
    """``with SimulatorProcess(orders=N) as sims: sims.omnitron_url, sims.marketplace_url``."""

    def __init__(self, *, orders: int, latency_ms: int = 0, broken_share: float = 0.0) -> None:
        self._parent, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(
            target=_serve, args=(child, orders, latency_ms, broken_share), daemon=True
        )
        self.omnitron_url = ""
        self.marketplace_url = ""

    def __enter__(self) -> Self:
        self._process.start()
        self.omnitron_url, self.marketplace_url = self._parent.recv()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._parent.send("stop")
        self._process.join(timeout=30)
