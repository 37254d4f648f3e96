"""fetch-orders commits a window of orders at once: the batches declare exactly what was created.

Orders are created in windows and their objects committed once per window; a batch
request full up to ``max_batch_objects`` is finished and the next window opens
another. Whatever the windows and batches, every order Omnitron holds, and each of
its items, is declared on exactly one batch request of the run, which ends ``done``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from service.flows.context import FlowEvent, RunContext
from service.flows.names import Flow
from service.flows.result import RunOutcome
from service.flows.run import FlowOptions
from service.omnitron.client import OmnitronClient
from service.omnitron.models import Order
from tests.flows.conftest import FlowEnv
from tests.flows.test_fetch_orders import QUIET, assert_each_once_and_linked, good_orders

# Two workers: windows of 25 orders. Forty objects: a batch fills after a few orders.
OPTIONS = FlowOptions(workers=2, max_batch_objects=40, is_success_log=False)


class Crash(BaseException):
    """Stands in for the process being killed at a chosen point of the flow."""


def declared(api: OmnitronClient) -> Counter[tuple[str, int]]:
    """How many of the channel's batch requests declare each (content type, pk)."""
    return Counter(
        (obj.content_type, obj.pk) for batch in api.list_batch_requests() for obj in batch.objects
    )


def held(api: OmnitronClient) -> set[tuple[str, int]]:
    """Every order and order item Omnitron holds for the channel."""
    orders = list(api.iter_models(Order, api.channel_path("orders/")))
    objects = {("order", order.pk) for order in orders}
    for order in orders:
        objects |= {("orderitem", item.pk) for item in api.list_order_items(order.pk)}
    return objects


def test_windows_and_full_batches_declare_every_created_object_once(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=60, marketplace=QUIET)
    api = env.api()

    result = env.service.run(Flow.FETCH_ORDERS, OPTIONS)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert result.created == 60
    assert_each_once_and_linked(api, good_orders(env))
    counts = declared(api)
    assert set(counts) == held(api)
    assert set(counts.values()) == {1}
    batches = list(api.list_batch_requests())
    assert len(batches) == len(result.batches) > 2  # the run filled several batches
    assert all(batch.status.value == "done" for batch in batches)
    assert all(len(batch.objects) <= OPTIONS.max_batch_objects for batch in batches)
    # The store mirrors each batch with what Omnitron holds on it.
    for batch in batches:
        mirror = env.store.get_batch(batch.pk)
        assert mirror is not None
        assert mirror.object_count == len(batch.objects)
        assert {o["pk"] for o in mirror.objects} == {o.pk for o in batch.objects}


def test_a_run_dying_between_two_windows_loses_nothing(make_env: Callable[..., FlowEnv]) -> None:
    env = make_env(orders=60, marketplace=QUIET)
    api = env.api()
    seen = Counter[str]()
    lock = threading.Lock()

    def die_in_the_second_window(event: FlowEvent) -> None:
        with lock:
            seen[event.kind] += 1
            # The first window is committed; orders of the second are being created.
            dying = event.kind == "order.created" and seen["order.committed"] >= 25
        if dying:
            raise Crash

    with pytest.raises(Crash):
        env.service.run(Flow.FETCH_ORDERS, OPTIONS, RunContext(on_event=die_in_the_second_window))
    # Orders of the second window exist in Omnitron, declared on no batch.
    assert held(api) - set(declared(api))

    result = env.service.run(Flow.FETCH_ORDERS, OPTIONS)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert_each_once_and_linked(api, good_orders(env))
    counts = declared(api)
    assert set(counts) == held(api)
    assert set(counts.values()) == {1}, "an object declared on two batches"
    assert all(batch.status.value == "done" for batch in api.list_batch_requests())
