"""Conformance of the marketplace simulator's API (docs/marketplace-api.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from service.sandbox.marketplace import MarketplaceSimConfig, MarketplaceSimulator
from service.sandbox.server import ServedApp

TIME_FIELDS = ("created_at", "updated_at")


def api(running: Any, key: str | None = None) -> httpx.Client:
    headers = {"X-Api-Key": key if key is not None else running.config.api_key}
    return httpx.Client(base_url=running.base_url + "api/v1/", headers=headers, timeout=10)


def all_orders(client: httpx.Client, size: int = 7, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page: int | None = 1
    while page is not None:
        body = client.get("orders", params={"page": page, "size": size, **params}).json()
        items += body["items"]
        page = body["next_page"]
    return items


def timeless(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if k not in TIME_FIELDS}


def test_api_key_is_required(marketplace: Any) -> None:
    for key in ("", "wrong"):
        with api(marketplace, key) as client:
            response = client.get("orders")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
    with httpx.Client(base_url=marketplace.base_url) as bare:
        assert bare.get("api/v1/orders").status_code == 401
        missing = bare.get("api/v1/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["code"] == "not_found"


def test_paging_reaches_the_end_without_gaps(marketplace: Any) -> None:
    with api(marketplace) as client:
        first = client.get("orders", params={"size": 7}).json()
        items = all_orders(client, size=7)
        invalid = client.get("orders", params={"size": 0})
    assert first["total_elements"] == 40
    assert first["total_pages"] == 6
    assert len(items) == 40
    assert len({o["id"] for o in items}) == 40
    assert [(o["created_at"], o["id"]) for o in items] == sorted(
        (o["created_at"], o["id"]) for o in items
    )
    assert invalid.status_code == 422
    assert invalid.json()["code"] == "invalid_request"


def test_time_filter_is_inclusive_from_and_exclusive_to(marketplace: Any) -> None:
    with api(marketplace) as client:
        items = all_orders(client, size=50)
        start, end = items[10]["created_at"], items[20]["created_at"]
        window = all_orders(client, size=50, created_from=start, created_to=end)
    assert [o["id"] for o in window] == [o["id"] for o in items[10:20]]


def test_orders_arrive_as_the_clock_moves(start_marketplace: Callable[..., Any]) -> None:
    running = start_marketplace(initial_orders=0, arrival_per_hour=60)
    with api(running) as client:
        assert client.get("orders").json()["total_elements"] == 0
        running.control.post("clock/advance", json={"seconds": 3600})
        arrived = client.get("orders").json()["total_elements"]
    assert 59 <= arrived <= 61


def test_same_seed_same_orders(start_marketplace: Callable[..., Any]) -> None:
    one, two = start_marketplace(seed=7), start_marketplace(seed=7)
    other = start_marketplace(seed=8)
    with api(one) as a, api(two) as b, api(other) as c:
        orders_a, orders_b = all_orders(a, size=50), all_orders(b, size=50)
        orders_c = all_orders(c, size=50)
    assert [timeless(o) for o in orders_a] == [timeless(o) for o in orders_b]
    assert [timeless(o) for o in orders_a] != [timeless(o) for o in orders_c]
    kinds_one, kinds_two = (
        [o["broken"] for o in r.control.get("orders", params={"broken": True}).json()["orders"]]
        for r in (one, two)
    )
    assert kinds_one == kinds_two


def test_state_survives_a_restart_with_data_dir(tmp_path: Path) -> None:
    config = MarketplaceSimConfig(data_dir=tmp_path, arrival_per_hour=0)
    sim = MarketplaceSimulator(config)
    with ServedApp(sim.app) as server, httpx.Client(base_url=server.base_url) as client:
        client.post("_sandbox/orders/generate", json={"count": 3}).raise_for_status()
        client.post("_sandbox/orders/7000001/cancel").raise_for_status()
        sent = client.post(
            "api/v1/orders/status-updates",
            headers={"X-Api-Key": "sandbox-key"},
            json={"updates": [{"order_id": 7000002, "status": "Picking"}]},
        )
        assert sent.status_code == 200
        before = client.get("_sandbox/summary").json()
    sim.close()

    again = MarketplaceSimulator(config)
    with ServedApp(again.app) as server, httpx.Client(base_url=server.base_url) as client:
        after = client.get("_sandbox/summary").json()
        updates = client.get("_sandbox/status-updates").json()["updates"]
    again.close()
    assert after["orders"] == before["orders"] == 43
    assert after["cancellations"] == 1
    assert [u["order_id"] for u in updates] == [7000002]


def test_rate_limit_answers_429_with_retry_after(start_marketplace: Callable[..., Any]) -> None:
    running = start_marketplace(rate_limit_per_second=2)
    with api(running) as client:
        answers = [client.get("orders", params={"size": 1}) for _ in range(6)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited, "the token bucket never ran dry"
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json()["code"] == "rate_limited"


def test_repeated_idempotency_key_is_applied_once(marketplace: Any) -> None:
    body = {"updates": [{"order_id": 7000003, "status": "Picking"}]}
    with api(marketplace) as client:
        headers = {"Idempotency-Key": "k-1"}
        first = client.post("orders/status-updates/batches", json=body, headers=headers)
        second = client.post("orders/status-updates/batches", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["batch_id"] == second.json()["batch_id"]
    received = marketplace.control.get("status-updates").json()["updates"]
    assert len(received) == 1
