"""The reference channel app's channel integration for the benchmark: the marketplace simulator.

``tests/benchmarks/reference_driver.py`` names this module in ``CHANNEL_MODULE``, the
reference's setting for "where is the channel integration", so it is imported by the
reference itself, in the reference's own virtual environment (never in ChannelDesk's).
Its ``get_orders`` action is the reference's own command with one step replaced: the
request. Instead of the reference's placeholder order it pages through the marketplace
simulator's order listing over HTTP (with the session the reference built for the
channel) and hands every order on converted by
:func:`reference_conversion.reference_order`; the reference's own code builds its DTOs
and its per-order success report from that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, ClassVar

from channel_app.channel.commands.orders.orders import GetOrders
from channel_app.channel.integration import ChannelIntegration as ReferenceChannelIntegration
from reference_conversion import reference_order

# Set by the driver: the marketplace simulator's base URL (ending in "/") and API key.
MARKETPLACE_URL_ENV = "BENCH_MARKETPLACE_URL"
MARKETPLACE_KEY_ENV = "BENCH_MARKETPLACE_KEY"
PAGE_SIZE = 200  # the marketplace's largest page


class GetMarketplaceOrders(GetOrders):
    """The reference's ``get_orders`` command, reading the marketplace simulator."""

    def send_request(self, transformed_data: object) -> Iterator[dict[str, Any]]:
        """Every marketplace order, oldest first, in the reference's channel order shape."""
        return self._orders(int(self.integration.channel_id))

    def _orders(self, channel_id: int) -> Iterator[dict[str, Any]]:
        base_url = os.environ[MARKETPLACE_URL_ENV]
        headers = {"X-Api-Key": os.environ[MARKETPLACE_KEY_ENV]}
        page: int | None = 1
        while page is not None:
            response = self.session.get(
                f"{base_url}api/v1/orders",
                params={"page": page, "size": PAGE_SIZE},
                headers=headers,
                timeout=60,
            )
            response.raise_for_status()
            body = response.json()
            for order in body["items"]:
                yield reference_order(order, channel_id)
            page = body["next_page"]


class ChannelIntegration(ReferenceChannelIntegration):
    """The reference's channel integration with ``get_orders`` reading the marketplace."""

    actions: ClassVar[dict[str, type]] = {
        **ReferenceChannelIntegration.actions,
        "get_orders": GetMarketplaceOrders,
    }
