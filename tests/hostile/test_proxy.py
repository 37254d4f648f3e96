"""The hostile proxy does what its rules say, and nothing when it has none."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import RunningOmnitron
from tests.hostile.proxy import HostileProxy, Rule

Factory = Callable[[str], HostileProxy]


def _login(client: httpx.Client) -> httpx.Response:
    return client.post("/api/v1/auth/login/", json={"username": "sandbox", "password": "sandbox"})


def test_forwards_unchanged_without_rules(
    omnitron: RunningOmnitron, hostile_proxy: Factory
) -> None:
    proxy = hostile_proxy(omnitron.base_url)
    with httpx.Client(base_url=proxy.url) as client:
        first, second = _login(client), _login(client)
    assert first.status_code == second.status_code == 200
    assert first.json()["key"]
    assert proxy.requests == [("POST", "/api/v1/auth/login/")] * 2


def test_lost_answer_reaches_the_server(omnitron: RunningOmnitron, hostile_proxy: Factory) -> None:
    proxy = hostile_proxy(omnitron.base_url)
    rule = proxy.add(Rule(method="POST", path=r"/auth/login/$", action="lose_answer"))
    before = omnitron.control.get("stats").json()["total"]
    with httpx.Client(base_url=proxy.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            _login(client)
        assert _login(client).status_code == 200
    assert rule.hits == 1
    # Both logins reached the simulator: the first one's answer was what got lost.
    assert omnitron.control.get("stats").json()["total"] - before == 2


def test_status_skip_and_times(omnitron: RunningOmnitron, hostile_proxy: Factory) -> None:
    proxy = hostile_proxy(omnitron.base_url)
    proxy.add(Rule(path=r"/auth/", action="status", status=413, skip=1, times=2))
    with httpx.Client(base_url=proxy.url) as client:
        codes = [_login(client).status_code for _ in range(4)]
    assert codes == [200, 413, 413, 200]


def test_huge_slow_and_rewrite(omnitron: RunningOmnitron, hostile_proxy: Factory) -> None:
    proxy = hostile_proxy(omnitron.base_url)
    huge = proxy.add(Rule(path=r"/huge", action="huge", size=3_000_000, status=500))
    proxy.add(Rule(path=r"/auth/", action="rewrite", fn=lambda body: {**body, "extra": 1}))
    slow = proxy.add(Rule(path=r"/auth/", action="slow", chunk=4, interval=0.01))
    with httpx.Client(base_url=proxy.url) as client:
        big = client.get("/huge")
        rewritten, dripped = _login(client), _login(client)
    assert big.status_code == 500
    assert len(big.content) == huge.bytes_sent == 3_000_000
    assert rewritten.json()["extra"] == 1
    assert dripped.json()["key"]
    assert slow.bytes_sent == len(dripped.content)


def test_drop_never_reaches_the_server(omnitron: RunningOmnitron, hostile_proxy: Factory) -> None:
    proxy = hostile_proxy(omnitron.base_url)
    proxy.add(Rule(path=r"/auth/", action="drop"))
    before = omnitron.control.get("stats").json()["total"]
    with httpx.Client(base_url=proxy.url) as client, pytest.raises(httpx.RemoteProtocolError):
        _login(client)
    assert omnitron.control.get("stats").json()["total"] == before


def test_rate_applies_to_a_repeatable_share(omnitron: RunningOmnitron) -> None:
    def codes() -> list[int]:
        with HostileProxy(omnitron.base_url, seed=7) as proxy:
            proxy.add(Rule(path=r"/auth/", action="status", status=503, times=None, rate=0.5))
            with httpx.Client(base_url=proxy.url) as client:
                return [_login(client).status_code for _ in range(40)]

    first = codes()
    assert first == codes()
    assert 5 < first.count(503) < 35
