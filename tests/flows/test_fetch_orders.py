"""fetch-orders end to end: both simulators over loopback, Omnitron-side state asserted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from service.flows.context import FlowEvent, RunContext
from service.flows.names import Flow
from service.flows.orders.create_order import split_amount
from service.flows.result import FlowResult, RunOutcome
from service.omnitron.client import OmnitronClient
from service.omnitron.models import IntegrationStatus, Order
from tests.flows.conftest import FlowEnv

QUIET = {"arrival_per_hour": 0}  # no orders arrive while a test runs


def run_fetch(env: FlowEnv, ctx: RunContext | None = None) -> FlowResult:
    """One fetch-orders run through the service."""
    return env.service.fetch_and_create_order(ctx=ctx or RunContext())


def market_orders(env: FlowEnv, *, broken: bool = False) -> list[dict[str, Any]]:
    """The marketplace simulator's orders (with their broken kind)."""
    answer = env.marketplace.control.get("orders", params={"broken": str(broken).lower()})
    answer.raise_for_status()
    return answer.json()["orders"]


def good_orders(env: FlowEnv) -> list[dict[str, Any]]:
    """The orders that must end up in Omnitron."""
    return [o for o in market_orders(env) if not o["broken"]]


def assert_each_once_and_linked(api: OmnitronClient, orders: list[dict[str, Any]]) -> None:
    """Every good order exists exactly once, linked to its channel order with success."""
    for brief in orders:
        number, remote_id = brief["number"], str(brief["id"])
        found = api.first_page(
            Order,
            api.channel_path("orders/"),
            {"number": number, "channel_id": api.settings.channel_id},
            limit=5,
        )
        assert len(found) == 1, f"order {number}: {len(found)} in Omnitron"
        order = found[0]
        assert order.remote_id == remote_id
        actions = list(api.find_integration_actions("order", object_id=order.pk))
        assert [(a.remote_id, a.status) for a in actions] == [
            (remote_id, IntegrationStatus.SUCCESS)
        ], f"order {number} is not linked: {actions}"


def summary(env: FlowEnv) -> dict[str, Any]:
    """Row counts of the Omnitron simulator."""
    answer = env.omnitron.control.get("summary")
    answer.raise_for_status()
    return answer.json()


class Recorder:
    """Collects events; optionally runs ``action`` at the ``n``-th event of ``kind``."""

    def __init__(
        self, kind: str = "", n: int = 0, action: Callable[[FlowEvent], None] | None = None
    ) -> None:
        self.kind, self.n, self.action = kind, n, action
        self.events: list[FlowEvent] = []
        self.seen = 0

    def __call__(self, event: FlowEvent) -> None:
        self.events.append(event)
        if event.kind == self.kind and self.action is not None:
            self.seen += 1
            if self.seen == self.n:
                self.action(event)

    def kinds(self) -> Counter[str]:
        return Counter(e.kind for e in self.events)


def test_split_amount_keeps_every_cent() -> None:
    assert split_amount(Decimal("10.00"), 3) == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    assert split_amount(Decimal("0.05"), 2) == [Decimal("0.03"), Decimal("0.02")]
    assert split_amount(Decimal("7.5"), 1) == [Decimal("7.50")]
    assert split_amount(Decimal("0"), 4) == [Decimal("0.00")] * 4
    for total, parts in ((Decimal("99.99"), 7), (Decimal("12.34"), 3), (Decimal("1.00"), 3)):
        shares = split_amount(total, parts)
        assert sum(shares) == total
        assert max(shares) - min(shares) <= Decimal("0.01")
    with pytest.raises(ValueError, match="at least 1"):
        split_amount(Decimal("1"), 0)


def omnitron_reports(api: OmnitronClient, *, is_ok: bool | None = False) -> list[dict[str, Any]]:
    """Error reports as Omnitron holds them."""
    rows = list(api.iter_pages(api.channel_path("error_reports/")))
    return [r for r in rows if is_ok is None or bool(r.get("is_ok")) == is_ok]


def test_fetch_orders_creates_good_orders_and_reports_broken_ones(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=60, broken_share=1 / 6, marketplace=QUIET)
    broken = market_orders(env, broken=True)
    assert len(broken) == 10
    assert {o["broken"] for o in broken} == {
        "unknown_city",
        "unknown_cargo",
        "unmapped_sku",
        "missing_email",
        "malformed_amount",
        "duplicate_number",
    }
    good = good_orders(env)
    assert len(good) == 50
    recorder = Recorder()

    result = run_fetch(env, RunContext(on_event=recorder))

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert (result.created, result.skipped, result.failed) == (50, 0, 10)
    api = env.api()
    assert_each_once_and_linked(api, good)
    assert_orders_match_channel(env, api, {str(o["id"]) for o in good})

    # Ten reports, each naming its order and its cause.
    failures = [env.store.get_error_report(i) for i in result.error_report_ids]
    assert len(failures) == 10
    by_subject = {r.subject: r for r in failures}
    for brief in broken:
        report = by_subject[brief["number"]]
        assert brief["number"] in report.description
        # The channel's order (or the listing call that brought it) is the raw request.
        assert report.raw_request
        assert brief["number"] in report.raw_request + report.raw_response
        assert report.cause
    causes = " | ".join(r.description for r in failures)
    for cause in (
        "'Istambul' not found",
        "cargo company 'horoz' not found",
        "product not found",
        "e-mail",
        "already used by Omnitron order",
    ):
        assert cause in causes, causes
    delivered = omnitron_reports(api)
    assert len(delivered) == 10
    assert {r["error_code"] for r in delivered} == {r.code for r in failures}

    # The batch is done with the 50 orders and their items.
    (batch,) = result.batches
    assert batch.status == "done"
    omnitron_batch = api.get_batch_request(batch.pk)
    kinds = Counter(o.content_type for o in omnitron_batch.objects)
    items = sum(
        len(api.list_order_items(o.pk)) for o in omnitron_batch.objects if o.content_type == "order"
    )
    assert kinds == {"order": 50, "orderitem": items}
    assert recorder.kinds()["order.committed"] == 50

    # Omnitron-side failures wait in the parked queue; unreadable records cannot be retried.
    parked = env.store.parked(Flow.FETCH_ORDERS.value)
    unreadable = {"missing_email", "malformed_amount"}
    assert {p.subject for p in parked} == {
        o["number"] for o in broken if o["broken"] not in unreadable
    }

    # A rerun retries them, creates nothing new and writes no second report.
    counts = summary(env)["counts"]
    again = run_fetch(env)
    assert again.outcome is RunOutcome.COMPLETED, again.message
    assert again.created == 0
    assert again.error_report_ids == ()
    assert {p.attempts for p in env.store.parked(Flow.FETCH_ORDERS.value)} == {2}
    assert all(
        env.store.get_error_report(i).attempts == 2
        for i in result.error_report_ids
        if env.store.get_error_report(i).subject in {p.subject for p in parked}
    )
    assert summary(env)["counts"]["orders"] == counts["orders"]
    assert summary(env)["counts"]["customers"] == counts["customers"]
    assert len(omnitron_reports(api)) == 10


def assert_orders_match_channel(env: FlowEnv, api: OmnitronClient, ids: set[str]) -> None:
    """Customer, addresses, cargo company, items and prices are the channel's."""
    channel_orders = {
        f.item.number: f.item
        for f in env.adapter.fetch_new_orders(None)
        if f.item is not None and f.item.remote_id in ids
    }
    assert len(channel_orders) == len(ids)
    cargos = {c.pk: c.erp_code for c in api.list_cargo_companies()}
    skus = {line.product for o in channel_orders.values() for line in o.lines}
    products = api.product_ids_for_skus(skus)
    for number, channel in channel_orders.items():
        order = api.find_order_by_number(number)
        assert order is not None
        assert order.amount == channel.amount
        assert order.shipping_amount == channel.shipping_amount
        assert order.discount_amount == channel.discount_amount
        assert cargos[order.cargo_company] == channel.cargo_company
        customer = api.find_customer("email", channel.customer.email)
        assert customer is not None
        assert order.customer == customer.pk
        shipping = api.call("GET", api.channel_path(f"addresses/{order.shipping_address}/"))
        billing = api.call("GET", api.channel_path(f"addresses/{order.billing_address}/"))
        assert shipping["customer"] == customer.pk
        assert billing["customer"] == customer.pk
        assert shipping["line"] == channel.shipping_address.line
        assert billing["line"] == channel.billing_address.line
        items = api.list_order_items(order.pk)
        assert len(items) == sum(line.quantity for line in channel.lines)
        for line in channel.lines:
            units = [i for i in items if i.remote_id == line.remote_id]
            assert len(units) == line.quantity
            assert {i.product for i in units} == {products[line.product]}
            assert all(i.price == line.price for i in units)
            assert sum(i.discount_amount or 0 for i in units) == line.discount_amount
