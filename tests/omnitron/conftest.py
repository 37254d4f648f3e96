"""Fixtures for the Omnitron client tests: a client wired to a running simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from service.omnitron import OmnitronClient, OmnitronSettings
from tests.conftest import RunningOmnitron

ClientFactory = Callable[..., OmnitronClient]


def settings_for(running: RunningOmnitron, **overrides: Any) -> OmnitronSettings:
    """Settings pointing at ``running`` with short, test-friendly retry waits."""
    values: dict[str, Any] = {
        "base_url": running.base_url,
        "username": running.config.username,
        "password": SecretStr(running.config.password),
        "channel_id": running.config.channel_id,
        "catalog_id": running.config.catalog_id,
        "timeout": 10.0,
        "base_delay": 0.02,
        "max_delay": 0.2,
        "deadline": 30.0,
        "max_attempts": 8,
    }
    return OmnitronSettings(**(values | overrides))


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Factory: ``make_client(running, transport=None, **settings)``; closed after the test."""
    clients: list[OmnitronClient] = []

    def make(running: RunningOmnitron, transport: Any = None, **overrides: Any) -> OmnitronClient:
        clients.append(OmnitronClient(settings_for(running, **overrides), transport=transport))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(omnitron: RunningOmnitron, make_client: ClientFactory) -> OmnitronClient:
    """A client of the default simulator."""
    return make_client(omnitron)
