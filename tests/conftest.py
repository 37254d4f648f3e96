"""Fixtures shared by the whole suite: the simulators on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from service.sandbox.marketplace import MarketplaceSimConfig, MarketplaceSimulator
from service.sandbox.omnitron import OmnitronSimConfig, OmnitronSimulator
from service.sandbox.server import ServedApp
from tests.fleet.redis_server import RedisServer
from tests.sandbox.omnitron_api import OmnitronApi

# The batch-request statuses nothing moves on from.
FINAL_BATCH = frozenset({"done", "fail"})


@dataclass
class RunningOmnitron:
    """An Omnitron simulator being served, with a control client for ``/_sandbox/``."""

    sim: OmnitronSimulator
    server: ServedApp
    control: httpx.Client

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def config(self) -> OmnitronSimConfig:
        return self.sim.config

    def summary(self) -> dict[str, Any]:
        """``/_sandbox/summary``: rows per resource and counts by status."""
        answer = self.control.get("summary")
        answer.raise_for_status()
        return answer.json()

    def order_count(self) -> int:
        """How many orders Omnitron holds."""
        return sum(self.summary()["orders_by_status"].values())

    def open_batches(self) -> dict[str, int]:
        """Batch requests not final (``done``/``fail``), counted by status."""
        by_status = self.summary()["batch_requests_by_status"]
        return {status: n for status, n in by_status.items() if status not in FINAL_BATCH}


@dataclass
class RunningMarketplace:
    """A marketplace simulator being served, with a control client for ``/_sandbox/``."""

    sim: MarketplaceSimulator
    server: ServedApp
    control: httpx.Client

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def config(self) -> MarketplaceSimConfig:
        return self.sim.config

    def orders(self) -> list[dict[str, Any]]:
        """Every order the marketplace serves, as ``/_sandbox/orders`` lists them."""
        answer = self.control.get("orders")
        answer.raise_for_status()
        return answer.json()["orders"]


def set_latency(latency_ms: int, *simulators: RunningOmnitron | RunningMarketplace) -> None:
    """Every answer of ``simulators`` takes ``latency_ms`` from now on."""
    for simulator in simulators:
        simulator.control.patch("faults", json={"latency_ms": latency_ms}).raise_for_status()


@pytest.fixture
def start_omnitron() -> Iterator[Callable[..., RunningOmnitron]]:
    """Factory: ``start_omnitron(**config_fields)`` serves a fresh simulator."""
    running: list[RunningOmnitron] = []

    def start(**overrides: Any) -> RunningOmnitron:
        sim = OmnitronSimulator(OmnitronSimConfig(**overrides))
        server = ServedApp(sim.app).start()
        control = httpx.Client(base_url=server.base_url + "_sandbox/", timeout=10)
        running.append(RunningOmnitron(sim, server, control))
        return running[-1]

    yield start
    for item in reversed(running):
        item.control.close()
        item.server.stop()
        item.sim.close()


@pytest.fixture
def omnitron(start_omnitron: Callable[..., RunningOmnitron]) -> RunningOmnitron:
    """A fresh Omnitron simulator with default settings (user/password ``sandbox``)."""
    return start_omnitron()


@pytest.fixture
def api(omnitron: RunningOmnitron) -> Iterator[OmnitronApi]:
    """A client logged in to the default simulator as ``sandbox``."""
    client = OmnitronApi(
        omnitron.base_url,
        omnitron.config.username,
        omnitron.config.password,
        omnitron.config.channel_id,
    )
    yield client
    client.close()


@pytest.fixture
def start_marketplace() -> Iterator[Callable[..., RunningMarketplace]]:
    """Factory: ``start_marketplace(**config_fields)`` serves a fresh simulator."""
    running: list[RunningMarketplace] = []

    def start(**overrides: Any) -> RunningMarketplace:
        sim = MarketplaceSimulator(MarketplaceSimConfig(**overrides))
        server = ServedApp(sim.app).start()
        control = httpx.Client(base_url=server.base_url + "_sandbox/", timeout=10)
        running.append(RunningMarketplace(sim, server, control))
        return running[-1]

    yield start
    for item in reversed(running):
        item.control.close()
        item.server.stop()
        item.sim.close()


@pytest.fixture
def marketplace(start_marketplace: Callable[..., RunningMarketplace]) -> RunningMarketplace:
    """A fresh marketplace simulator with default settings."""
    return start_marketplace()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server of this test's own; fails (never skips) when there is none."""
    server = RedisServer().start()
    yield server
    server.stop()
