"""The marketplace adapter against the marketplace simulator over loopback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution
from typing import Any

import pytest

from service.channel.adapter import ChannelAdapter, ChannelError, Fetched
from service.channel.marketplace import MarketplaceAdapter, MarketplaceSettings
from service.channel.models import (
    CancellationRequestDecision,
    ChannelOrder,
    OrderStatusUpdate,
    OrderStatusUpdateItem,
)
from service.channel.registry import (
    GROUP,
    UnknownAdapterError,
    adapter_class,
    available_adapters,
    create_adapter,
)
from service.net.exchange import RawExchange
from service.net.retry import RetryPolicy
from service.sandbox.seed import load_seed

SECRET = "s3cr3t-marketplace-key-42"


def make_adapter(running: Any, *, page_size: int = 7, **overrides: Any) -> MarketplaceAdapter:
    settings = MarketplaceSettings(
        base_url=running.base_url,
        api_key=overrides.pop("api_key", running.config.api_key),
        page_size=page_size,
        **overrides,
    )
    return MarketplaceAdapter(settings)


def broken_kinds(running: Any) -> dict[str, str]:
    """Order id -> broken kind, as the simulator knows it."""
    orders = running.control.get("orders", params={"broken": True}).json()["orders"]
    return {str(order["id"]): order["broken"] for order in orders}


def test_adapter_is_a_channel_adapter(marketplace: Any) -> None:
    with make_adapter(marketplace) as adapter:
        assert isinstance(adapter, ChannelAdapter)


def test_every_order_fetched_once_and_broken_ones_carry_their_payload(
    start_marketplace: Callable[..., Any],
) -> None:
    running = start_marketplace(initial_orders=40, arrival_per_hour=0)
    kinds = broken_kinds(running)
    assert sorted(kinds.values()) == sorted(
        [
            "duplicate_number",
            "malformed_amount",
            "missing_email",
            "unknown_cargo",
            "unknown_city",
            "unmapped_sku",
        ]
    )
    with make_adapter(running, page_size=7) as adapter:
        fetched = list(adapter.fetch_new_orders(None))

    ids = [f.remote_id for f in fetched]
    assert len(ids) == 40
    assert len(set(ids)) == 40, "an order came twice across pages"
    cursors = [f.cursor for f in fetched]
    assert all(cursors)
    assert cursors == sorted(cursors)

    by_id = {f.remote_id: f for f in fetched}
    seed = load_seed()
    unmapped = {p.sku for p in seed.unmapped_products}
    earlier_numbers = {f.number for f in fetched if f.remote_id not in kinds}
    for remote_id, kind in kinds.items():
        result = by_id[remote_id]
        assert result.payload["id"] == int(remote_id)
        assert remote_id in result.raw.response
        if kind in ("missing_email", "malformed_amount"):
            # The marketplace data itself is unusable: a failure, never an exception.
            assert not result.ok
            assert result.error.startswith(f"order {result.number}: ")
            expected = "e-mail" if kind == "missing_email" else "is not a decimal"
            assert expected in result.error
            continue
        # The other kinds are valid marketplace data that Omnitron will refuse.
        order = result.item
        assert isinstance(order, ChannelOrder)
        if kind == "unknown_city":
            assert order.shipping_address.city == "Istambul"
        elif kind == "unknown_cargo":
            assert order.cargo_company not in {c.erp_code for c in seed.cargo_companies}
        elif kind == "unmapped_sku":
            assert {line.product for line in order.lines} & unmapped
        elif kind == "duplicate_number":
            assert order.number in earlier_numbers
    for result in fetched:
        if result.remote_id not in kinds:
            assert result.ok, result.error
            assert result.item is not None
            assert result.item.customer.email


def test_good_orders_carry_decimals_turkish_addresses_and_seed_codes(marketplace: Any) -> None:
    seed = load_seed()
    cities = {c.name for c in seed.cities}
    cargos = {c.erp_code for c in seed.cargo_companies}
    kinds = broken_kinds(marketplace)
    with make_adapter(marketplace, page_size=50) as adapter:
        orders = [f.item for f in adapter.fetch_new_orders(None) if f.remote_id not in kinds]
    assert orders
    for order in orders:
        assert order is not None
        assert order.shipping_address.city in cities
        assert order.cargo_company in cargos
        assert order.customer.email
        assert order.billing_address.first_name
        assert all(isinstance(line.price, Decimal) for line in order.lines)
        assert order.extra_field["id"] == order.remote_id
        assert all(line.extra_field["id"] == line.remote_id for line in order.lines)


def test_since_filter_is_inclusive(marketplace: Any) -> None:
    with make_adapter(marketplace) as adapter:
        everything = list(adapter.fetch_new_orders(None))
        cursor = everything[9].cursor
        later = list(adapter.fetch_new_orders(cursor))
    assert [f.remote_id for f in later] == [f.remote_id for f in everything[9:]]


def test_sync_status_updates_give_per_order_results(marketplace: Any) -> None:
    marketplace.control.patch("behaviour", json={"update_failure_share": 0})
    with make_adapter(marketplace) as adapter:
        orders = [f for f in adapter.fetch_new_orders(None) if f.ok][:3]
        updates = [
            OrderStatusUpdate(
                remote_id=f.remote_id, number=f.number, status="500", tracking_number="9000123"
            )
            for f in orders
        ]
        updates.append(OrderStatusUpdate(remote_id="1", number="X", status="450"))
        updates.append(OrderStatusUpdate(remote_id=orders[0].remote_id, status="999"))
        result = adapter.send_updated_orders(updates, sync=True)

    assert [r.remote_id for r in result.results] == [
        orders[0].remote_id,  # refused before sending: no marketplace status for 999
        *[f.remote_id for f in orders],
        "1",
    ]
    statuses = {(r.remote_id, r.status) for r in result.results}
    assert {(f.remote_id, "SUCCESS") for f in orders} <= statuses
    unknown = next(r for r in result.results if r.remote_id == "1")
    assert unknown.status == "FAIL"
    assert "not found" in unknown.message
    assert "999" in result.results[0].message
    received = marketplace.control.get("status-updates").json()["updates"]
    # Each order the adapter sent arrived exactly once (the refused one never left).
    assert sorted(u["order_id"] for u in received) == sorted(
        [int(f.remote_id) for f in orders] + [1]
    )
    assert all(u["status"] == "Shipped" for u in received if u["order_id"] != 1)


def test_async_batch_completes_after_the_sim_clock_moves(
    start_marketplace: Callable[..., Any],
) -> None:
    running = start_marketplace(async_batch_seconds=30)
    running.control.patch("behaviour", json={"update_failure_share": 0, "batch_failure_share": 0})
    with make_adapter(running) as adapter:
        orders = [f for f in adapter.fetch_new_orders(None) if f.ok][:4]
        first_line = orders[0].item.lines[0]  # type: ignore[union-attr]
        updates = [
            OrderStatusUpdate(
                remote_id=orders[0].remote_id,
                number=orders[0].number,
                status="450",
                items=(OrderStatusUpdateItem(remote_id=first_line.remote_id, status="450"),),
            ),
            *(OrderStatusUpdate(remote_id=f.remote_id, status="450") for f in orders[1:]),
        ]
        sent = adapter.send_updated_orders(updates, sync=False)
        assert sent.remote_batch_id
        assert not sent.results

        assert adapter.check_remote_batch(sent.remote_batch_id).status == "processing"
        running.control.post("clock/advance", json={"seconds": 31})
        done = adapter.check_remote_batch(sent.remote_batch_id)

    assert done.status == "completed"
    assert sorted(r.remote_id for r in done.results) == sorted(f.remote_id for f in orders)
    assert all(r.ok for r in done.results)


def test_async_batch_can_fail_as_a_whole(start_marketplace: Callable[..., Any]) -> None:
    running = start_marketplace(async_batch_seconds=1)
    running.control.patch("behaviour", json={"batch_failure_share": 1})
    with make_adapter(running) as adapter:
        sent = adapter.send_updated_orders(
            [OrderStatusUpdate(remote_id="7000001", status="450")], sync=False
        )
        running.control.post("clock/advance", json={"seconds": 2})
        result = adapter.check_remote_batch(sent.remote_batch_id)
    assert result.status == "failed"
    assert result.message
    assert not result.results


def test_some_updates_fail_with_a_message(start_marketplace: Callable[..., Any]) -> None:
    running = start_marketplace()
    running.control.patch("behaviour", json={"update_failure_share": 1})
    with make_adapter(running) as adapter:
        result = adapter.send_updated_orders(
            [OrderStatusUpdate(remote_id="7000001", status="450")], sync=True
        )
    assert [r.status for r in result.results] == ["FAIL"]
    assert result.results[0].message


def test_429_with_retry_after_is_waited_out(marketplace: Any) -> None:
    marketplace.control.patch("faults", json={"burst_429": 2, "retry_after_s": 1})
    marketplace.control.post("stats/reset")
    with make_adapter(marketplace, page_size=50) as adapter:
        started = datetime.now(UTC)
        fetched = list(adapter.fetch_new_orders(None))
        waited = (datetime.now(UTC) - started).total_seconds()
    assert len(fetched) == 40
    assert marketplace.control.get("stats").json()["faults"] == {"429": 2}
    assert waited >= 1.5


def test_transport_failure_raises_channel_error_with_raw() -> None:
    settings = MarketplaceSettings(base_url="http://127.0.0.1:9/", api_key=SECRET)
    adapter = MarketplaceAdapter(
        settings, retry_policy=RetryPolicy(max_attempts=2, base_delay=0.01, deadline=5)
    )
    with adapter, pytest.raises(ChannelError) as caught:
        list(adapter.fetch_new_orders(None))
    assert caught.value.raw is not None
    assert caught.value.raw.status_code is None
    assert caught.value.raw.request.startswith("GET - http://127.0.0.1:9/api/v1/orders")


def test_api_key_never_appears_in_raw_exchanges(start_marketplace: Callable[..., Any]) -> None:
    running = start_marketplace(api_key=SECRET)
    raws: list[RawExchange] = []
    with make_adapter(running) as adapter:
        fetched: list[Fetched[Any]] = list(adapter.fetch_new_orders(None))
        raws += [f.raw for f in fetched]
        sent = adapter.send_updated_orders(
            [OrderStatusUpdate(remote_id=fetched[0].remote_id, status="450")], sync=True
        )
        assert sent.raw is not None
        raws.append(sent.raw)
    with make_adapter(running, api_key="wrong-" + SECRET) as adapter:
        with pytest.raises(ChannelError) as caught:
            list(adapter.fetch_new_orders(None))
        assert caught.value.status_code == 401
        assert caught.value.raw is not None
        raws.append(caught.value.raw)
        assert SECRET not in str(caught.value)
    for raw in raws:
        assert SECRET not in raw.request
        assert SECRET not in raw.response
        assert SECRET not in raw.model_dump_json()


def test_cancellations_line_updates_and_requests_flow(marketplace: Any) -> None:
    control = marketplace.control
    control.post("orders/7000002/cancel", json={"reason_code": "CR-02"}).raise_for_status()
    line_id = 700000301
    control.post(f"lines/{line_id}/update").raise_for_status()
    control.post(
        f"lines/{line_id}/update",
        json={
            "status": "Invoiced",
            "invoice_number": "CDM1",
            "invoice_date": "2026-01-02T10:00:00Z",
        },
    ).raise_for_status()
    requests = control.post("cancellation-requests/generate", json={"count": 2}).json()["requests"]
    assert len(requests) == 2

    with make_adapter(marketplace) as adapter:
        cancels = [f.item for f in adapter.fetch_cancelled_orders(None)]
        updates = [f.item for f in adapter.fetch_line_updates(None)]
        fetched_requests = list(adapter.fetch_cancellation_requests(None))

        first = fetched_requests[0].item
        assert first is not None
        approve = CancellationRequestDecision(remote_id=first.remote_id, approved=True)
        assert adapter.update_cancellation_request(approve).status == "SUCCESS"
        # The same decision again is harmless; a contrary one is refused per request.
        assert adapter.update_cancellation_request(approve).status == "SUCCESS"
        reject = CancellationRequestDecision(
            remote_id=first.remote_id, approved=False, reason="CR-03"
        )
        refused = adapter.update_cancellation_request(reject)
        missing = adapter.update_cancellation_request(
            CancellationRequestDecision(remote_id="999999", approved=True)
        )

    cancel = next(c for c in cancels if c is not None and c.order == "7000002")
    assert cancel.reasons == dict.fromkeys(cancel.cancel_items, "CR-02")
    line = [u for u in updates if u is not None and u.remote_id == str(line_id)]
    assert [u.status for u in line] == ["450", "450"]
    assert line[-1].invoice_number == "CDM1"
    assert line[-1].invoice_date is not None
    assert {r.item.remote_id for r in fetched_requests if r.item} >= {
        str(r["id"]) for r in requests
    }
    assert refused.status == "FAIL"
    assert "already approved" in refused.message
    assert missing.status == "FAIL"
    assert "not found" in missing.message


# -- registry ------------------------------------------------------------------------

EXPLICIT = (
    EntryPoint(
        name="marketplace", value="service.channel.marketplace:MarketplaceAdapter", group=GROUP
    ),
    EntryPoint(name="broken", value="service.channel.nowhere:Nothing", group=GROUP),
)


def test_registry_finds_adapters_in_the_given_entry_points(marketplace: Any) -> None:
    assert available_adapters(eps=EXPLICIT) == ("broken", "marketplace")
    assert adapter_class("marketplace", eps=EXPLICIT) is MarketplaceAdapter
    adapter = create_adapter(
        "marketplace",
        {"base_url": marketplace.base_url, "api_key": marketplace.config.api_key},
        eps=EXPLICIT,
    )
    try:
        assert isinstance(adapter, MarketplaceAdapter)
        assert next(iter(adapter.fetch_new_orders(None))).remote_id
    finally:
        adapter.close()


def test_registry_names_the_unknown_adapter_and_the_available_ones() -> None:
    with pytest.raises(UnknownAdapterError) as caught:
        adapter_class("trendyol", eps=EXPLICIT)
    message = str(caught.value)
    assert "'trendyol'" in message
    assert "broken, marketplace" in message
    with pytest.raises(ImportError, match="broken"):
        adapter_class("broken", eps=EXPLICIT)


def test_registry_finds_marketplace_through_installed_metadata() -> None:
    try:
        distribution("channeldesk")
    except PackageNotFoundError:
        pytest.skip("the channeldesk distribution is not installed (pip install -e .)")
    assert "marketplace" in available_adapters()
    assert adapter_class("marketplace") is MarketplaceAdapter
