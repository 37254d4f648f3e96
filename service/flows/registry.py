"""The one flow registry: each :class:`Flow` with its body, title, tab and options.

The service runs a flow's body from here, the console builds its flow tabs from here
(in this order; flows sharing a tab key share a tab), and the tests check that every
flow is registered once. A new flow is added here, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from service.flows.cancellation_requests import (
    fetch_cancellation_requests,
    update_cancellation_requests,
)
from service.flows.cancels import fetch_cancels
from service.flows.check_batches import check_batches
from service.flows.fetch_orders import fetch_orders
from service.flows.item_updates import fetch_item_updates
from service.flows.names import Flow
from service.flows.run import FlowBody
from service.flows.update_orders import update_orders


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """What there is to know about one flow outside its body."""

    flow: Flow
    body: FlowBody
    # The flow's name as people read it ("Fetch orders").
    title: str
    # The console tab that holds its panel: its key (``tab-<key>``) and title.
    tab: str
    tab_title: str
    # The FlowOptions fields the operator chooses for this flow, besides
    # ``is_success_log`` and ``workers`` which every flow has.
    options: tuple[str, ...] = ()


FLOWS: tuple[FlowSpec, ...] = (
    FlowSpec(Flow.FETCH_ORDERS, fetch_orders, "Fetch orders", "fetch-orders", "Fetch orders"),
    FlowSpec(
        Flow.UPDATE_ORDERS,
        update_orders,
        "Update orders",
        "update-orders",
        "Update orders",
        options=("is_sync", "add_order_items"),
    ),
    FlowSpec(Flow.CHECK_BATCHES, check_batches, "Check batches", "check-batches", "Check batches"),
    FlowSpec(Flow.FETCH_CANCELS, fetch_cancels, "Fetch cancels", "fetch-cancels", "Fetch cancels"),
    FlowSpec(
        Flow.FETCH_ITEM_UPDATES,
        fetch_item_updates,
        "Fetch item updates",
        "fetch-item-updates",
        "Fetch item updates",
    ),
    FlowSpec(
        Flow.FETCH_CANCELLATION_REQUESTS,
        fetch_cancellation_requests,
        "Fetch cancellation requests",
        "cancellation-requests",
        "Cancellation requests",
    ),
    FlowSpec(
        Flow.UPDATE_CANCELLATION_REQUESTS,
        update_cancellation_requests,
        "Update cancellation requests",
        "cancellation-requests",
        "Cancellation requests",
    ),
)

REGISTRY: Mapping[Flow, FlowSpec] = MappingProxyType({spec.flow: spec for spec in FLOWS})


def spec(flow: Flow) -> FlowSpec:
    """The registration of ``flow``."""
    return REGISTRY[flow]


def flow_tabs() -> tuple[tuple[str, str, tuple[Flow, ...]], ...]:
    """The console's flow tabs in order: ``(key, title, flows)``."""
    titles: dict[str, str] = {}
    members: dict[str, list[Flow]] = {}
    for registered in FLOWS:
        titles.setdefault(registered.tab, registered.tab_title)
        members.setdefault(registered.tab, []).append(registered.flow)
    return tuple((key, title, tuple(members[key])) for key, title in titles.items())
