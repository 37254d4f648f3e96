"""Every client look-up compares what it asked for on each row it takes (§9, warning 1).

A server that ignores a filter answers the unfiltered listing. The network edge here
drops chosen query parameters, as such a server would: a look-up on a filter Omnitron
is relied on to declare then fails loudly (:class:`OmnitronFilterIgnored`) and never
takes a wrong row. Look-ups on filters nothing shows Omnitron declares (the simulator
ignores them) still find the right row, and only it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from service.omnitron import OmnitronClient
from service.omnitron.filtered import OmnitronFilterIgnored, newest_match
from service.omnitron.models import CancellationRequest, CancellationRequestCreate
from tests.conftest import RunningOmnitron
from tests.omnitron.conftest import ClientFactory
from tests.sandbox.omnitron_api import (
    CreatedOrder,
    OmnitronApi,
    create_address,
    create_customer,
    create_order,
    mapped_products,
    new_batch,
    order_objects,
    set_batch,
)


class IgnoringFilters(httpx.BaseTransport):
    """A server that ignores some filters: those query parameters never reach it."""

    def __init__(self, *names: str, path: str = "") -> None:
        self._inner = httpx.HTTPTransport()
        self._names = set(names)
        self._path = path
        self.dropped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._path in request.url.path:
            kept = [(k, v) for k, v in request.url.params.multi_items() if k not in self._names]
            self.dropped += len(request.url.params.multi_items()) - len(kept)
            request.url = request.url.copy_with(params=kept)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@dataclass
class World:
    """Two of everything, so that an unfiltered answer holds a row not asked for."""

    orders: tuple[CreatedOrder, CreatedOrder]
    customer: dict[str, Any]
    address: dict[str, Any]
    products: list[tuple[str, int]]
    batches: tuple[dict[str, Any], dict[str, Any]]


@pytest.fixture
def world(api: OmnitronApi) -> World:
    orders = (create_order(api), create_order(api, (2,)))
    customer = create_customer(api)
    address = create_address(api, customer)
    batches = (new_batch(api), new_batch(api))
    for batch, order in zip(batches, orders, strict=True):
        # Both batches hold their objects in flight (one batch per content type commits).
        set_batch(api, batch, "commit", objects=order_objects(order), content_type="order")
        set_batch(api, batch, "sent_to_remote", remote_batch_id=f"R-{batch['pk']}")
    return World(orders, customer, address, mapped_products(api, 2), batches)


Lookup = Callable[[OmnitronClient, World], Any]

RELIED_ON: list[tuple[str, str, Lookup]] = [
    ("number", "/orders/", lambda c, w: c.find_order_by_number(w.orders[0].order["number"])),
    ("pk__in", "/orders/", lambda c, w: c.get_orders([w.orders[0].pk])),
    ("order", "/order_items/", lambda c, w: c.list_order_items(w.orders[0].pk)),
    ("email", "/customers/", lambda c, w: c.find_customer("email", w.customer["email"])),
    (
        "phone_number",
        "/customers/",
        lambda c, w: c.find_customer("phone_number", w.customer["phone_number"]),
    ),
    ("hash_data", "/addresses/", lambda c, w: c.find_address_by_hash(w.address["hash_data"])),
    ("remote_id__in", "/integration_actions/", lambda c, w: c.product_ids_for_skus(["X"])),
    ("remote_id__in", "/integration_actions/", lambda c, w: c.order_actions(["X"])),
    (
        "remote_id__exact",
        "/integration_actions/",
        lambda c, w: c.object_ids_for_remote_id("product", w.products[0][0]),
    ),
    (
        "object_id__in",
        "/integration_actions/",
        lambda c, w: c.remote_ids_for_objects("product", [w.products[0][1]]),
    ),
    (
        "local_batch_id",
        "/integration_actions/",
        lambda c, w: list(c.objects_of_batch(w.batches[0]["local_batch_id"])),
    ),
    ("status", "/batch_requests/", lambda c, w: list(c.list_batch_requests(["commit"]))),
    ("model", "/content_types/", lambda c, w: c.content_type("order")),
    ("name__iexact", "/cities/", lambda c, w: c.find_city(w.address["country"], "İstanbul")),
    ("erp_code", "/retail_stores/", lambda c, w: c.find_retail_store("STR-IST-01")),
]


@pytest.mark.parametrize(
    ("dropped", "path", "lookup"),
    RELIED_ON,
    ids=[f"{p}{d}-{n}" for n, (d, p, _) in enumerate(RELIED_ON)],
)
def test_a_lookup_whose_filter_is_ignored_fails_loudly_and_takes_no_row(
    omnitron: RunningOmnitron,
    make_client: ClientFactory,
    world: World,
    dropped: str,
    path: str,
    lookup: Lookup,
) -> None:
    honest = make_client(omnitron)
    lookup(honest, world)  # with the filter, the look-up works

    ignoring = IgnoringFilters(dropped, path=path)
    client = make_client(omnitron, transport=ignoring)
    with pytest.raises(OmnitronFilterIgnored, match="excludes"):
        lookup(client, world)
    assert ignoring.dropped >= 1


def _cancellation_requests(client: OmnitronClient, world: World) -> list[str]:
    reason = client.list_cancellation_reasons()[0].pk
    remote_ids = []
    for order in world.orders:
        for item in order.items:
            remote_id = f"CR-{item['pk']}"
            client.create_cancellation_request(
                CancellationRequestCreate(order_item=item["pk"], reason=reason, remote_id=remote_id)
            )
            remote_ids.append(remote_id)
    return remote_ids


def test_a_cancellation_request_is_found_by_remote_id_the_simulator_does_not_filter(
    client: OmnitronClient, world: World
) -> None:
    remote_ids = _cancellation_requests(client, world)

    for remote_id in remote_ids:
        found = client.find_cancellation_request(remote_id)
        assert found is not None
        assert found.remote_id == remote_id
    assert client.find_cancellation_request("CR-none") is None


def test_newest_rows_are_read_newest_first_and_a_server_that_cannot_is_caught(
    omnitron: RunningOmnitron, make_client: ClientFactory, client: OmnitronClient, world: World
) -> None:
    remote_ids = _cancellation_requests(client, world)  # three requests, oldest first
    path = client.channel_path("cancellation_requests/")
    unsorted = make_client(omnitron, transport=IgnoringFilters("sort", path="/cancellation_"))

    def newest(on: OmnitronClient, remote_id: str) -> CancellationRequest | None:
        def matches(request: CancellationRequest) -> bool:
            return request.remote_id == remote_id

        return newest_match(on, CancellationRequest, path, matches, what="test", rows=2)

    assert newest(client, remote_ids[-1]).remote_id == remote_ids[-1]  # type: ignore[union-attr]
    assert newest(client, remote_ids[0]) is None  # not among the newest two
    assert newest(unsorted, remote_ids[0]).remote_id == remote_ids[0]  # type: ignore[union-attr]
    with pytest.raises(OmnitronFilterIgnored, match="cannot be told"):
        newest(unsorted, remote_ids[-1])


def test_an_error_report_is_found_by_code_or_counts_as_not_there(
    omnitron: RunningOmnitron, make_client: ClientFactory, client: OmnitronClient, api: OmnitronApi
) -> None:
    for code in ("first", "second", "third"):
        api.post(api.ch("error_reports/"), {"error_code": code, "error_desc": "x"})
    unsorted = make_client(omnitron, transport=IgnoringFilters("sort", path="/error_reports/"))

    assert [client.find_error_report(c).error_code for c in ("first", "third")] == [  # type: ignore[union-attr]
        "first",
        "third",
    ]
    assert client.find_error_report("fourth") is None
    # Neither filtered nor newest first: a listing this short is read whole.
    assert unsorted.find_error_report("second").error_code == "second"  # type: ignore[union-attr]
    assert unsorted.find_error_report("fourth") is None
