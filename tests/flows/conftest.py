"""Fixtures for end-to-end flow tests: both simulators, real clients, a real store file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from service.channel.marketplace import MarketplaceAdapter, MarketplaceSettings
from service.omnitron.client import OmnitronClient
from service.omnitron.settings import OmnitronSettings
from service.order_service import OrderService
from service.store import Store
from tests.conftest import RunningMarketplace, RunningOmnitron
from tests.sandbox.omnitron_api import OmnitronApi


@dataclass
class FlowEnv:
    """Everything an end-to-end flow test touches."""

    omnitron: RunningOmnitron
    marketplace: RunningMarketplace
    client: OmnitronClient
    adapter: MarketplaceAdapter
    store: Store
    service: OrderService

    def api(self) -> OmnitronClient:
        """A separate client for assertions, so the service's caches are not involved."""
        return _client(self.omnitron)


def _client(omnitron: RunningOmnitron, **overrides: Any) -> OmnitronClient:
    settings = OmnitronSettings(
        base_url=omnitron.base_url,
        username=omnitron.config.username,
        password=SecretStr(omnitron.config.password),
        channel_id=omnitron.config.channel_id,
        catalog_id=omnitron.config.catalog_id,
        **overrides,
    )
    return OmnitronClient(settings)


@pytest.fixture
def make_env(
    start_omnitron: Callable[..., RunningOmnitron],
    start_marketplace: Callable[..., RunningMarketplace],
    tmp_path: Path,
) -> Iterator[Callable[..., FlowEnv]]:
    """Factory: ``make_env(orders=N, broken_share=x, workers=W, omnitron={}, client={}, ...)``."""
    made: list[FlowEnv] = []

    def make(
        *,
        orders: int = 20,
        broken_share: float = 0.0,
        workers: int = 4,
        omnitron: dict[str, Any] | None = None,
        marketplace: dict[str, Any] | None = None,
        client: dict[str, Any] | None = None,
        adapter_settings: dict[str, Any] | None = None,
    ) -> FlowEnv:
        omni = start_omnitron(**(omnitron or {}))
        market = start_marketplace(
            initial_orders=orders, broken_share=broken_share, **(marketplace or {})
        )
        adapter = MarketplaceAdapter(
            MarketplaceSettings(
                base_url=market.base_url,
                api_key=SecretStr(market.config.api_key),
                **(adapter_settings or {}),
            )
        )
        api = _client(omni, **(client or {}))
        store = Store(tmp_path / f"store-{len(made)}.sqlite3")
        service = OrderService(api, adapter, store, profile="test", workers=workers)
        made.append(FlowEnv(omni, market, api, adapter, store, service))
        return made[-1]

    yield make
    for env in made:
        env.adapter.close()
        env.client.close()
        env.store.close()


@pytest.fixture
def env(make_env: Callable[..., FlowEnv]) -> FlowEnv:
    """Both simulators (20 good marketplace orders waiting) and an OrderService on them."""
    return make_env()


@pytest.fixture
def synced(make_env: Callable[..., FlowEnv]) -> FlowEnv:
    """Six marketplace orders brought into Omnitron by the real fetch-orders flow."""
    env = make_env(orders=6)
    result = env.service.fetch_and_create_order(is_success_log=False)
    assert result.created == 6, result
    return env


@pytest.fixture
def api(synced: FlowEnv) -> Iterator[OmnitronApi]:
    """A plain HTTP client on the synced environment's Omnitron, for assertions."""
    cfg = synced.omnitron.config
    client = OmnitronApi(synced.omnitron.base_url, cfg.username, cfg.password, cfg.channel_id)
    yield client
    client.close()
