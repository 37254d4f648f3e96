"""Bounded answers: too large, too slow or endlessly paged, a run ends in one line.

Real flows, real clients and a real store file talk to the simulators; the hostile
proxy stands in front of one of them and misbehaves. What Omnitron holds is read
over its API, what the store holds from the store itself.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import SecretStr

from service.channel.adapter import ChannelError
from service.channel.marketplace import MarketplaceAdapter, MarketplaceSettings
from service.flows.result import FlowResult, RunOutcome
from service.omnitron.client import OmnitronClient
from service.omnitron.errors import OmnitronPagingError
from service.omnitron.settings import OmnitronSettings
from service.order_service import OrderService
from service.store import Store
from tests.conftest import RunningMarketplace, RunningOmnitron
from tests.hostile.proxy import HostileProxy, Rule
from tests.sandbox.omnitron_api import OmnitronApi

MB = 1 << 20
ORDERS = r"^/api/v1/orders$"
CHANNEL = r"^/api/v1/channels/\d+/$"


@dataclass
class Rig:
    """Both simulators, the proxy in front of one of them, and a service on top."""

    omnitron: RunningOmnitron
    marketplace: RunningMarketplace
    proxy: HostileProxy
    service: OrderService
    store: Store
    store_path: Path
    api: OmnitronApi

    def fetch_orders(self) -> FlowResult:
        """One fetch-orders run."""
        return self.service.fetch_and_create_order(is_success_log=False)

    def order_numbers(self) -> Counter[str]:
        """How many times Omnitron holds each order number."""
        rows = self.api.all_pages(self.api.ch("orders/"), {"limit": 1000})
        return Counter(row["number"] for row in rows)

    def store_bytes(self) -> int:
        """The store file and its write-ahead log, as they are on disk now."""
        files = [self.store_path, self.store_path.with_name(self.store_path.name + "-wal")]
        return sum(path.stat().st_size for path in files if path.exists())

    def run_rows(self) -> list[dict[str, Any]]:
        """The recorded runs, oldest first."""
        return [dict(row) for row in self.store._rows("SELECT * FROM runs ORDER BY id")]

    def report_responses(self) -> list[str]:
        """The raw response text of every local error report."""
        rows = self.store._rows("SELECT raw_response FROM error_reports ORDER BY id")
        return [row["raw_response"] for row in rows]


@pytest.fixture
def rig(
    start_omnitron: Callable[..., RunningOmnitron],
    start_marketplace: Callable[..., RunningMarketplace],
    hostile_proxy: Callable[[str], HostileProxy],
    tmp_path: Path,
) -> Iterator[Callable[..., Rig]]:
    """Factory: ``rig(proxied="omnitron"|"marketplace", orders=N, client={}, adapter={})``."""
    made: list[tuple[OmnitronClient, MarketplaceAdapter, Store, OmnitronApi]] = []

    def make(
        *,
        proxied: Literal["omnitron", "marketplace"],
        orders: int = 6,
        client: dict[str, Any] | None = None,
        adapter: dict[str, Any] | None = None,
    ) -> Rig:
        omnitron = start_omnitron()
        marketplace = start_marketplace(initial_orders=orders, broken_share=0.0)
        proxy = hostile_proxy(omnitron.base_url if proxied == "omnitron" else marketplace.base_url)
        cfg = omnitron.config
        omnitron_client = OmnitronClient(
            OmnitronSettings(
                base_url=proxy.url if proxied == "omnitron" else omnitron.base_url,
                username=cfg.username,
                password=SecretStr(cfg.password),
                channel_id=cfg.channel_id,
                catalog_id=cfg.catalog_id,
                **(client or {}),
            )
        )
        channel = MarketplaceAdapter(
            MarketplaceSettings(
                base_url=proxy.url if proxied == "marketplace" else marketplace.base_url,
                api_key=SecretStr(marketplace.config.api_key),
                **(adapter or {}),
            )
        )
        store_path = tmp_path / f"store-{len(made)}.sqlite3"
        store = Store(store_path)
        api = OmnitronApi(omnitron.base_url, cfg.username, cfg.password, cfg.channel_id)
        made.append((omnitron_client, channel, store, api))
        service = OrderService(omnitron_client, channel, store, profile="test", workers=2)
        return Rig(omnitron, marketplace, proxy, service, store, store_path, api)

    yield make
    for omnitron_client, channel, store, api in made:
        api.close()
        channel.close()
        omnitron_client.close()
        store.close()


def test_a_300_mb_marketplace_answer_ends_the_run_unread(rig: Callable[..., Rig]) -> None:
    env = rig(proxied="marketplace")
    huge = env.proxy.add(Rule(method="GET", path=ORDERS, action="huge", size=300 * MB, times=None))
    result = env.fetch_orders()
    assert result.outcome is RunOutcome.FAILED
    assert result.message == (
        "The marketplace's answer to GET /api/v1/orders was larger than 20 MB; stopped reading."
    )
    # Refused on its declared length and never retried: most of it was never even sent.
    assert huge.hits == 1
    assert huge.bytes_sent < 20 * MB
    assert env.order_numbers() == Counter()


def test_a_marketplace_answer_over_the_profile_limit_is_refused(rig: Callable[..., Rig]) -> None:
    env = rig(proxied="marketplace", adapter={"max_response_mb": 1})
    env.proxy.add(Rule(method="GET", path=ORDERS, action="huge", size=2 * MB, times=None))
    result = env.fetch_orders()
    assert result.message == (
        "The marketplace's answer to GET /api/v1/orders was larger than 1 MB; stopped reading."
    )
    env.proxy.clear()
    again = env.fetch_orders()
    assert again.outcome is RunOutcome.COMPLETED
    assert again.created == 6


def test_a_100_mb_http_500_from_omnitron_does_not_grow_the_store(rig: Callable[..., Rig]) -> None:
    env = rig(proxied="omnitron")
    before = env.store_bytes()
    huge = env.proxy.add(
        Rule(method="GET", path=CHANNEL, action="huge", status=500, size=100 * MB, times=None)
    )
    result = env.fetch_orders()
    assert result.outcome is RunOutcome.FAILED
    assert result.message == (
        "Omnitron's answer to GET /api/v1/channels/1/ was larger than 20 MB; stopped reading."
    )
    assert huge.hits == 1
    assert env.store_bytes() - before < MB


def test_a_5_mb_http_500_is_kept_as_its_first_64_kb(rig: Callable[..., Rig]) -> None:
    # Under the size limit, so it is read; what reaches the store is cut.
    env = rig(proxied="omnitron", client={"max_attempts": 1, "deadline": 5.0})
    before = env.store_bytes()
    env.proxy.add(
        Rule(method="GET", path=CHANNEL, action="huge", status=500, size=5 * MB, times=None)
    )
    result = env.fetch_orders()
    assert result.outcome is RunOutcome.FAILED
    assert "HTTP 500" in result.message
    responses = env.report_responses()
    assert responses
    assert all(len(text.encode()) <= 64 * 1024 for text in responses)
    assert any(text.endswith(" bytes]") and "…[truncated " in text for text in responses)
    assert env.store_bytes() - before < MB


def test_a_dripping_marketplace_answer_ends_at_its_timeout(rig: Callable[..., Rig]) -> None:
    env = rig(proxied="marketplace", adapter={"timeout": 1.0})
    slow = env.proxy.add(
        Rule(method="GET", path=ORDERS, action="slow", chunk=1, interval=0.2, times=None)
    )
    result = env.fetch_orders()
    assert result.outcome is RunOutcome.FAILED
    assert result.message == (
        "The marketplace's answer to GET /api/v1/orders was still arriving after 1 s; "
        "stopped reading."
    )
    assert slow.hits == 1


def test_a_dripping_omnitron_answer_ends_at_its_timeout(rig: Callable[..., Rig]) -> None:
    env = rig(proxied="omnitron", client={"timeout": 1.0})
    slow = env.proxy.add(
        Rule(method="GET", path=CHANNEL, action="slow", chunk=1, interval=0.2, times=None)
    )
    result = env.fetch_orders()
    assert result.outcome is RunOutcome.FAILED
    assert result.message == (
        "Omnitron's answer to GET /api/v1/channels/1/ was still arriving after 1 s; "
        "stopped reading."
    )
    assert slow.hits == 1


def test_an_endless_next_stops_at_the_second_page_and_loses_nothing(
    rig: Callable[..., Rig],
) -> None:
    env = rig(proxied="marketplace", orders=12, adapter={"page_size": 5})
    stuck = env.proxy.add(
        Rule(
            method="GET",
            path=ORDERS,
            action="rewrite",
            fn=lambda body: {**body, "next_page": 2},
            times=None,
        )
    )
    result = env.fetch_orders()
    assert result.outcome is RunOutcome.FAILED
    assert result.message == (
        "The marketplace's listing GET /api/v1/orders does not advance: page 2 names page 2 "
        "as the next one; stopped after 2 pages."
    )
    assert stuck.hits == 2
    assert set(env.order_numbers().values()) <= {1}
    env.proxy.clear()
    again = env.fetch_orders()
    assert again.outcome is RunOutcome.COMPLETED
    assert sorted(env.order_numbers().values()) == [1] * 12


def test_a_listing_that_serves_its_first_page_again_stops_before_repeating_it(
    rig: Callable[..., Rig],
) -> None:
    env = rig(proxied="marketplace", orders=12, adapter={"page_size": 5})
    first: dict[str, Any] = {}

    def first_page_for_ever(body: dict[str, Any]) -> dict[str, Any]:
        first.setdefault("items", body["items"])
        return {**body, "items": first["items"], "next_page": body["page"] + 1}

    env.proxy.add(
        Rule(method="GET", path=ORDERS, action="rewrite", fn=first_page_for_ever, times=None)
    )
    result = env.fetch_orders()
    assert result.message == (
        "The marketplace's listing GET /api/v1/orders does not advance: page 2 repeats page 1; "
        "stopped after 2 pages."
    )
    assert set(env.order_numbers().values()) <= {1}
    assert [path for method, path in env.proxy.requests if method == "GET"].count(
        "/api/v1/orders"
    ) == 2


def test_an_endless_next_from_omnitron_stops_at_the_second_page(
    omnitron: RunningOmnitron, hostile_proxy: Callable[[str], HostileProxy]
) -> None:
    proxy = hostile_proxy(omnitron.base_url)

    def stay_on_page_2(body: dict[str, Any]) -> dict[str, Any]:
        # Whatever page was asked for, its ``next`` says page 2 again.
        return {**body, "next": re.sub(r"page=\d+", "page=2", body["next"] or "")}

    rule = proxy.add(
        Rule(method="GET", path=r"/cities/$", action="rewrite", fn=stay_on_page_2, times=None)
    )
    cfg = omnitron.config
    settings = OmnitronSettings(
        base_url=proxy.url,
        username=cfg.username,
        password=SecretStr(cfg.password),
        channel_id=cfg.channel_id,
        catalog_id=cfg.catalog_id,
    )
    with OmnitronClient(settings) as client, pytest.raises(OmnitronPagingError) as caught:
        list(client.iter_pages(client.channel_path("cities/"), page_size=20))
    assert str(caught.value) == (
        f"Omnitron's listing GET /api/v1/channel/{cfg.channel_id}/cities/ does not advance: "
        "page 2 names page 2 as the next one; stopped after 2 pages."
    )
    assert rule.hits == 2


class _EndlessServer:
    """An HTTP server that answers one request with a chunked body of 300 MB.

    A plain socket, so what it counts is what the kernel took: once the client stops
    reading and its buffers are full, ``sendall`` blocks, and when the client closes
    the connection it fails. ``sent`` is then what the client read plus those buffers.
    """

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/"
        self.sent = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._socket.accept()
        chunk = b" " * (256 * 1024)
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            connection.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
            try:
                while self.sent < 300 * MB:
                    connection.sendall(framed)
                    self.sent += len(chunk)
            except OSError:
                return  # the client hung up

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=10)


def test_a_300_mb_answer_without_a_declared_length_is_cut_as_it_streams() -> None:
    server = _EndlessServer()
    adapter = MarketplaceAdapter(
        MarketplaceSettings(base_url=server.base_url, api_key=SecretStr("k"), max_attempts=1)
    )
    with adapter, pytest.raises(ChannelError) as caught:
        list(adapter.fetch_new_orders(None))
    server.close()
    assert str(caught.value) == (
        "The marketplace's answer to GET /api/v1/orders was larger than 20 MB; stopped reading."
    )
    assert server.sent < 40 * MB
