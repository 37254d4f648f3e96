"""Fixtures for hostile-network tests: a misbehaving proxy in front of a simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.hostile.proxy import HostileProxy


@pytest.fixture
def hostile_proxy() -> Iterator[Callable[[str], HostileProxy]]:
    """Factory: ``hostile_proxy(upstream_url)`` starts a proxy, closed after the test."""
    started: list[HostileProxy] = []

    def start(upstream: str) -> HostileProxy:
        started.append(HostileProxy(upstream).start())
        return started[-1]

    yield start
    for proxy in reversed(started):
        proxy.close()
