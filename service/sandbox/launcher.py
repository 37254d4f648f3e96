"""Start both simulators together on loopback, as the sandbox profile and the CLI need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from service.sandbox.faults import FaultSettings
from service.sandbox.marketplace import MarketplaceSimConfig, MarketplaceSimulator
from service.sandbox.omnitron import OmnitronSimConfig, OmnitronSimulator
from service.sandbox.server import ServedApp


@dataclass(frozen=True, slots=True)
class SandboxOptions:
    """How to start the sandbox. Port 0 picks a free port."""

    omnitron_port: int = 0
    channel_port: int = 0
    data_dir: Path | None = None
    seed: int = 0
    orders: int = 40
    latency_ms: int = 0
    error_rate: float = 0.0

    def faults(self) -> FaultSettings:
        """The fault knobs both simulators start with."""
        return FaultSettings(latency_ms=self.latency_ms, error_rate=self.error_rate)


class Sandbox:
    """The Omnitron and marketplace simulators, served until :meth:`stop`."""

    def __init__(self, options: SandboxOptions = SandboxOptions()) -> None:
        self.options = options
        self.omnitron = OmnitronSimulator(
            OmnitronSimConfig(data_dir=options.data_dir, seed=options.seed, faults=options.faults())
        )
        self.marketplace = MarketplaceSimulator(
            MarketplaceSimConfig(
                data_dir=options.data_dir,
                seed=options.seed,
                initial_orders=options.orders,
                faults=options.faults(),
            )
        )
        self._servers: list[ServedApp] = []

    @property
    def omnitron_url(self) -> str:
        """Base URL of the Omnitron simulator (the API lives under ``api/v1/``)."""
        return self._servers[0].base_url

    @property
    def channel_url(self) -> str:
        """Base URL of the marketplace simulator."""
        return self._servers[1].base_url

    def start(self) -> Sandbox:
        """Bind both ports and start serving; returns once both accept requests."""
        if data_dir := self.options.data_dir:
            data_dir.mkdir(parents=True, exist_ok=True)
        self._servers = [
            ServedApp(self.omnitron.app, port=self.options.omnitron_port).start(),
            ServedApp(self.marketplace.app, port=self.options.channel_port).start(),
        ]
        return self

    def stop(self) -> None:
        """Stop serving and close both simulators' stores."""
        for server in self._servers:
            server.stop()
        self._servers = []
        self.omnitron.close()
        self.marketplace.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
