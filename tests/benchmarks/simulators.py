"""The two simulators, each served from its own child process, for benchmarks.

A benchmark measures our flow, so the simulators run outside its process: they do not
share its CPU time and memory, and a flow process killed with SIGKILL leaves them up.
Each simulator has a process (and so a GIL) of its own, as a real Omnitron and a real
marketplace would: a busy marketplace does not slow Omnitron's answers, and the CPU
each one spends is read apart (:attr:`SimulatorProcess.omnitron_pid`,
:attr:`SimulatorProcess.marketplace_pid`).
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Literal, Self

from service.sandbox.faults import FaultSettings
from service.sandbox.marketplace import MarketplaceSimConfig, MarketplaceSimulator
from service.sandbox.omnitron import OmnitronSimConfig, OmnitronSimulator
from service.sandbox.server import ServedApp

Which = Literal["omnitron", "marketplace"]


def _simulator(
    which: Which,
    *,
    orders: int,
    latency_ms: int,
    broken_share: float,
    seed: int,
    progress_orders: bool,
) -> OmnitronSimulator | MarketplaceSimulator:
    faults = FaultSettings(latency_ms=latency_ms)
    if which == "omnitron":
        config = OmnitronSimConfig(faults=faults, seed=seed, progress_orders=progress_orders)
        return OmnitronSimulator(config)
    return MarketplaceSimulator(
        MarketplaceSimConfig(
            seed=seed,
            initial_orders=orders,
            broken_share=broken_share,
            arrival_per_hour=0,
            # The benchmark measures our flow, not the marketplace's rate limit.
            rate_limit_per_second=10_000,
            faults=faults,
        )
    )


def _serve(conn: Connection, which: Which, settings: dict[str, object]) -> None:
    """Child process: serve one simulator until told to stop."""
    simulator = _simulator(which, **settings)  # type: ignore[arg-type]
    server = ServedApp(simulator.app).start()
    conn.send(server.base_url)
    conn.recv()
    server.stop()
    simulator.close()


class SimulatorProcess:
    """``with SimulatorProcess(orders=N) as sims: sims.omnitron_url, sims.marketplace_url``.

    ``seed`` seeds both simulators (the same seed serves the same orders);
    ``progress_orders`` lets Omnitron's orders move on with its clock (off by
    default: a benchmark of fetch-orders wants them to stay put).
    """

    def __init__(
        self,
        *,
        orders: int,
        latency_ms: int = 0,
        broken_share: float = 0.0,
        seed: int = 0,
        progress_orders: bool = False,
    ) -> None:
        settings: dict[str, object] = {
            "orders": orders,
            "latency_ms": latency_ms,
            "broken_share": broken_share,
            "seed": seed,
            "progress_orders": progress_orders,
        }
        self._children: list[tuple[Connection, BaseProcess]] = []
        for which in ("omnitron", "marketplace"):
            parent, child = multiprocessing.Pipe()
            process = multiprocessing.Process(
                target=_serve, args=(child, which, settings), name=f"sim-{which}", daemon=True
            )
            self._children.append((parent, process))
        self.omnitron_url = ""
        self.marketplace_url = ""

    @property
    def omnitron_pid(self) -> int | None:
        """The pid of the process serving Omnitron (``None`` before it started)."""
        return self._children[0][1].pid

    @property
    def marketplace_pid(self) -> int | None:
        """The pid of the process serving the marketplace (``None`` before it started)."""
        return self._children[1][1].pid

    def __enter__(self) -> Self:
        for _, process in self._children:
            process.start()
        # Both start at once; each answers its URL once it accepts requests.
        self.omnitron_url, self.marketplace_url = (conn.recv() for conn, _ in self._children)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for conn, _ in self._children:
            conn.send("stop")
        for _, process in self._children:
            process.join(timeout=30)
