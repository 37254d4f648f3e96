"""Every Omnitron write survives a lost answer; only a sustained outage ends a run.

The flows' client talks to the Omnitron simulator through the hostile proxy, which
loses the answer to one write (Omnitron handled it, the client never hears), answers
503 or 429, or fails everything for a while. Each test then asks Omnitron, over its
API and without the proxy, what it holds: every object exactly once, no batch left
``initialized`` or ``commit``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from service.flows.context import FlowEvent, RunContext
from service.flows.result import FlowResult, RunOutcome
from service.omnitron.client import CANCELLED_STATUSES, OmnitronClient
from service.omnitron.settings import OmnitronSettings
from service.order_service import OrderService

# make_env is a fixture of tests/flows: imported here so this module can request it.
from tests.flows.conftest import FlowEnv, make_env  # noqa: F401
from tests.flows.test_fetch_orders import QUIET, assert_each_once_and_linked, good_orders
from tests.hostile.proxy import HostileProxy, Rule

ORDERS = 6
# Short waits, and a breaker that opens after 4 failures in a row over 1 s.
FAST = {
    "base_delay": 0.02,
    "max_delay": 0.2,
    "max_attempts": 3,
    "deadline": 60.0,
    "breaker_failures": 4,
    "breaker_window": 1.0,
}
OUTAGE = re.compile(
    r"Omnitron did not answer for \d+ s \(\d+ requests in a row failed\); the run stopped"
    r"( after \d+( of \d+)? \w+)?; nothing was lost — run it again when Omnitron is back\."
)


@dataclass
class Hostile:
    """A flow environment whose service reaches Omnitron only through the proxy."""

    env: FlowEnv
    proxy: HostileProxy
    service: OrderService

    def api(self) -> OmnitronClient:
        """A client straight to the simulator, for assertions."""
        return self.env.api()


@pytest.fixture
def hostile_env(
    request: pytest.FixtureRequest, hostile_proxy: Callable[[str], HostileProxy]
) -> Iterator[Callable[..., Hostile]]:
    """Factory: ``hostile_env(orders=N, synced=False, **client_settings)``.

    ``synced`` creates the orders first (without the proxy); ``client_settings``
    override :data:`FAST` for the client behind the proxy.
    """
    new_env: Callable[..., FlowEnv] = request.getfixturevalue("make_env")
    clients: list[OmnitronClient] = []

    def make(*, orders: int = ORDERS, synced: bool = False, **client_settings: Any) -> Hostile:
        env = new_env(orders=orders, marketplace=QUIET, workers=2)
        if synced:
            first = env.service.fetch_and_create_order(is_success_log=False)
            assert first.created == orders, first
        proxy = hostile_proxy(env.omnitron.base_url)
        cfg = env.omnitron.config
        client = OmnitronClient(
            OmnitronSettings(
                base_url=proxy.url,
                username=cfg.username,
                password=SecretStr(cfg.password),
                channel_id=cfg.channel_id,
                catalog_id=cfg.catalog_id,
                **(FAST | client_settings),
            )
        )
        clients.append(client)
        service = OrderService(client, env.adapter, env.store, profile="test", workers=2)
        return Hostile(env, proxy, service)

    yield make
    for client in clients:
        client.close()


# -- what Omnitron holds ------------------------------------------------------------------


def unfinished_batches(api: OmnitronClient) -> list[Any]:
    """Batches Omnitron still holds in ``initialized`` or ``commit``."""
    return list(api.list_batch_requests(["initialized", "commit"]))


def route_count(env: FlowEnv, route: str) -> int:
    """How many requests of ``route`` the simulator handled."""
    stats = env.omnitron.control.get("stats").json()
    return int(stats["by_route"].get(route, 0))


def market(env: FlowEnv, path: str, **params: Any) -> Any:
    """Read the marketplace API as the merchant would."""
    response = httpx.get(
        env.marketplace.base_url + "api/v1/" + path,
        params=params,
        headers={"X-Api-Key": env.marketplace.config.api_key},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def multi_unit_line(env: FlowEnv) -> tuple[int, dict[str, Any]]:
    """An order id and one of its lines of quantity > 1."""
    for order in market(env, "orders", size=200)["items"]:
        for line in order["lines"]:
            if line["quantity"] > 1:
                return int(order["id"]), dict(line)
    raise AssertionError("the seeded marketplace has no line with quantity > 1")


def items_of_line(api: OmnitronClient, line_id: int) -> list[Any]:
    """Omnitron's order items made from one marketplace line (one per unit)."""
    pks = api.object_ids_for_remote_id("orderitem", str(line_id))
    return [api.get_order_item(pk) for pk in pks]


def assert_completed(result: FlowResult) -> None:
    assert result.outcome is RunOutcome.COMPLETED, result.message


# -- fetch-orders: every write it makes, answer lost once ------------------------------------

FETCH_WRITES: dict[str, dict[str, Any]] = {
    "batch POST": {"method": "POST", "path": r"/batch_requests/$"},
    "batch PATCH commit": {"method": "PATCH", "path": r"/batch_requests/\d+/$"},
    # The orders (one window) are committed in one PATCH first; then the PATCH to done.
    "batch PATCH done": {"method": "PATCH", "path": r"/batch_requests/\d+/$", "skip": 1},
    "create_orders POST": {"method": "POST", "path": r"/create_orders/$"},
    "customers POST": {"method": "POST", "path": r"/customers/$"},
    "addresses POST": {"method": "POST", "path": r"/addresses/$"},
}


@pytest.mark.parametrize("write", list(FETCH_WRITES))
def test_fetch_orders_survives_a_lost_answer(
    hostile_env: Callable[..., Hostile], write: str
) -> None:
    h = hostile_env()
    rule = h.proxy.add(Rule(action="lose_answer", **FETCH_WRITES[write]))

    result = h.service.fetch_and_create_order()

    assert_completed(result)
    assert rule.hits == 1
    assert result.created == ORDERS
    api = h.api()
    assert_each_once_and_linked(api, good_orders(h.env))
    batches = list(api.list_batch_requests())
    assert [b.status.value for b in batches] == ["done"]
    assert {o.pk for o in batches[0].objects if o.content_type == "order"} == {
        o.pk for o in api.get_orders(obj.pk for obj in batches[0].objects)
    }
    emails = Counter(c["email"] for c in api.iter_pages(api.channel_path("customers/")))
    assert len(emails) >= 1
    assert set(emails.values()) == {1}, emails


def test_a_503_on_batch_creation_and_a_429_burst_do_not_end_the_run(
    hostile_env: Callable[..., Hostile],
) -> None:
    h = hostile_env()
    refused = h.proxy.add(
        Rule(action="status", method="POST", path=r"/batch_requests/$", status=503)
    )
    throttled = h.proxy.add(
        Rule(
            action="status",
            path=r"/api/v1/",
            status=429,
            body={"detail": "Request was throttled."},
            headers={"Retry-After": "0"},
            skip=8,
            times=12,
        )
    )

    result = h.service.fetch_and_create_order()

    assert_completed(result)
    assert (refused.hits, throttled.hits) == (1, 12)
    api = h.api()
    assert_each_once_and_linked(api, good_orders(h.env))
    assert [b.status.value for b in api.list_batch_requests()] == ["done"]


def test_a_run_under_heavy_faults_completes_in_one_go(hostile_env: Callable[..., Hostile]) -> None:
    h = hostile_env(orders=40, breaker_failures=8, breaker_window=40.0)
    faults = {"error_rate": 0.2, "lost_response_rate": 0.05, "drop_rate": 0.1, "burst_429": 5}
    h.env.omnitron.control.patch("faults", json=faults).raise_for_status()

    result = h.service.fetch_and_create_order(is_success_log=False)

    assert_completed(result)
    stats = h.env.omnitron.control.get("stats").json()["faults"]
    assert {"5xx", "lost_response", "drop", "429"} <= set(stats), stats
    h.env.omnitron.control.patch("faults", json={key: 0 for key in faults}).raise_for_status()
    api = h.api()
    assert_each_once_and_linked(api, good_orders(h.env))
    assert result.created == 40
    assert unfinished_batches(api) == []


# -- the other flows' writes ---------------------------------------------------------------


def test_fetch_cancels_survives_a_lost_cancel_answer(hostile_env: Callable[..., Hostile]) -> None:
    h = hostile_env(synced=True)
    order_id, line = multi_unit_line(h.env)
    response = h.env.marketplace.control.post(
        f"orders/{order_id}/cancel", json={"line_ids": [line["id"]], "reason_code": "CR-02"}
    )
    assert response.status_code == 200, response.text
    h.env.omnitron.control.post("stats/reset").raise_for_status()
    rule = h.proxy.add(Rule(action="lose_answer", method="POST", path=r"/orders/\d+/cancel/$"))

    result = h.service.fetch_and_create_cancel()

    assert_completed(result)
    assert (rule.hits, result.updated, result.failed) == (1, 1, 0)
    assert route_count(h.env, "POST /api/v1/channel/{id}/orders/{id}/cancel/") == 1
    items = items_of_line(h.api(), line["id"])
    assert len(items) == line["quantity"]
    assert all(item.status in CANCELLED_STATUSES for item in items)
    assert unfinished_batches(h.api()) == []


def test_fetch_cancellation_requests_survives_a_lost_post_answer(
    hostile_env: Callable[..., Hostile],
) -> None:
    h = hostile_env(synced=True)
    order_id = int(market(h.env, "orders", size=200)["items"][0]["id"])
    response = h.env.marketplace.control.post(
        "cancellation-requests/generate", json={"count": 1, "type": "cancel", "order_id": order_id}
    )
    assert response.status_code == 200, response.text
    (asked,) = response.json()["requests"]
    h.env.omnitron.control.post("stats/reset").raise_for_status()
    rule = h.proxy.add(Rule(action="lose_answer", method="POST", path=r"/cancellation_requests/$"))

    result = h.service.fetch_and_create_cancellation_requests()

    assert_completed(result)
    assert (rule.hits, result.failed) == (1, 0)
    assert route_count(h.env, "POST /api/v1/channel/{id}/cancellation_requests/") == 1
    api = h.api()
    requests = list(api.iter_pages(api.channel_path("cancellation_requests/")))
    held = [r for r in requests if str(r["remote_id"]) == str(asked["id"])]
    assert len(held) == 1
    assert unfinished_batches(api) == []


def test_fetch_item_updates_survives_a_lost_patch_answer(
    hostile_env: Callable[..., Hostile],
) -> None:
    h = hostile_env(synced=True)
    _, line = multi_unit_line(h.env)
    response = h.env.marketplace.control.post(
        f"lines/{line['id']}/update", json={"invoice_number": "INV-LOST-1"}
    )
    assert response.status_code == 200, response.text
    rule = h.proxy.add(Rule(action="lose_answer", method="PATCH", path=r"/order_items/\d+/$"))

    result = h.service.fetch_and_update_order_items()

    assert_completed(result)
    assert (rule.hits, result.failed) == (1, 0)
    items = items_of_line(h.api(), line["id"])
    assert len(items) == line["quantity"]
    assert {item.invoice_number for item in items} == {"INV-LOST-1"}
    assert unfinished_batches(h.api()) == []


def test_orders_whose_create_keeps_failing_are_parked_and_created_by_the_next_run(
    hostile_env: Callable[..., Hostile],
) -> None:
    # Every create fails while every other call goes through: no outage, so each order
    # gives up after its own (short) deadline instead of ending the run.
    h = hostile_env(deadline=1.0)
    refused = h.proxy.add(
        Rule(action="status", method="POST", path=r"/create_orders/$", status=503, times=None)
    )

    first = h.service.fetch_and_create_order()

    assert_completed(first)
    assert (first.created, first.failed) == (0, ORDERS)
    assert refused.hits >= ORDERS
    parked = h.env.store.parked("fetch-orders")
    assert sorted(item.subject for item in parked) == sorted(
        o["number"] for o in good_orders(h.env)
    )
    assert all("Omnitron did not answer in time" in item.reason for item in parked)

    h.proxy.clear()
    second = h.service.fetch_and_create_order()

    assert_completed(second)
    assert second.created == ORDERS
    assert h.env.store.parked("fetch-orders") == []
    assert_each_once_and_linked(h.api(), good_orders(h.env))
    assert unfinished_batches(h.api()) == []


# -- a sustained outage ends the run; the next run finishes the work -----------------------


def test_a_sustained_outage_stops_the_run_and_the_next_run_finishes_it(
    hostile_env: Callable[..., Hostile],
) -> None:
    # Two windows of orders: the outage begins once the first is committed.
    h = hostile_env(orders=30)
    outage: list[Rule] = []

    def go_down(event: FlowEvent) -> None:
        if event.kind == "order.committed" and not outage:
            outage.append(h.proxy.add(Rule(action="status", status=503, times=None)))

    failed = h.service.fetch_and_create_order(ctx=RunContext(on_event=go_down))

    assert failed.outcome is RunOutcome.FAILED
    assert OUTAGE.fullmatch(failed.message), failed.message
    assert len(outage) == 1
    assert outage[0].hits >= FAST["breaker_failures"]
    assert failed.created < 30

    h.proxy.clear()
    result = h.service.fetch_and_create_order()

    assert_completed(result)
    api = h.api()
    assert_each_once_and_linked(api, good_orders(h.env))
    assert unfinished_batches(api) == []


def test_a_batch_created_while_its_answer_was_lost_is_finished_by_the_next_run(
    hostile_env: Callable[..., Hostile],
) -> None:
    h = hostile_env()
    # The POST lands, its answer is lost, and Omnitron fails every look for it after:
    # the run ends on the outage without ever learning the batch's pk.
    lost = h.proxy.add(Rule(action="lose_answer", method="POST", path=r"/batch_requests/$"))
    # The first two listings are the run's look for orphans (initialized, then commit
    # batches), before it opens its own.
    h.proxy.add(
        Rule(
            action="status",
            method="GET",
            path=r"/batch_requests/$",
            status=503,
            skip=2,
            times=None,
        )
    )

    failed = h.service.fetch_and_create_order()

    assert failed.outcome is RunOutcome.FAILED
    assert OUTAGE.fullmatch(failed.message), failed.message
    assert lost.hits == 1
    api = h.api()
    (orphan,) = unfinished_batches(api)
    assert orphan.local_batch_id == h.env.store.get_run(failed.run_id).pending_batch_id
    assert h.env.store.get_batch(orphan.pk) is None  # the store never heard of its pk

    h.proxy.clear()
    result = h.service.fetch_and_create_order()

    assert_completed(result)
    assert api.get_batch_request(orphan.pk).status.value == "fail"
    assert unfinished_batches(api) == []
    assert_each_once_and_linked(api, good_orders(h.env))
