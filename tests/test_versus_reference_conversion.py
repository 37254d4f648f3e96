"""The benchmark's conversion of a marketplace order into the reference's channel order shape.

The reference channel app itself is not installed here (it lives in
``.venv-reference``), so this checks the conversion on its own: against the
marketplace simulator's order, against the names of the reference's DTO fields (an
unknown keyword would make the reference raise), and against the Omnitron order
ChannelDesk builds from the same order, so that both programs create the same orders.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from service.channel.marketplace import parse_order
from service.flows.orders.create_order import build_order_create
from tests.benchmarks.reference_conversion import reference_order, split_cents
from tests.conftest import RunningMarketplace

# Field names of channel_app 0.0.155's dataclasses (channel_app/core/data.py).
ORDER_FIELDS = {
    "remote_id", "number", "channel", "customer", "shipping_address", "billing_address",
    "currency", "amount", "shipping_amount", "shipping_tax_rate", "extra_field",
    "cargo_company", "created_at", "delivery_type", "discount_amount",
    "net_shipping_amount", "tracking_number", "carrier_shipping_code", "remote_addr",
    "has_gift_box", "gift_box_note", "client_type", "language_code", "notes",
    "delivery_range", "shipping_option_slug", "status",
}  # fmt: skip
CUSTOMER_FIELDS = {
    "email", "first_name", "last_name", "channel_code", "extra_field", "phone_number",
    "is_active",
}  # fmt: skip
ADDRESS_FIELDS = {
    "email", "phone_number", "first_name", "last_name", "country", "city", "line", "title",
    "township", "district", "postcode", "notes", "company_name", "tax_office", "tax_no",
    "e_bill_taxpayer", "remote_id", "identity_number", "extra_field", "is_active",
    "retail_store",
}  # fmt: skip
ITEM_FIELDS = {
    "remote_id", "product", "price_currency", "price", "tax_rate", "extra_field", "status",
    "price_list", "stock_list", "tracking_number", "invoice_number", "invoice_date",
    "carrier_shipping_code", "discount_amount", "retail_price", "attributes",
    "attributes_kwargs", "parent", "delivered_date", "estimated_delivery_date",
}  # fmt: skip


def _order_with_split_discount(marketplace: RunningMarketplace) -> dict[str, Any]:
    """A simulator order with a line of several units whose discount does not divide evenly."""
    response = marketplace.control.get(
        f"{marketplace.base_url}api/v1/orders",
        params={"size": 200},
        headers={"X-Api-Key": marketplace.config.api_key},
    )
    response.raise_for_status()
    for order in response.json()["items"]:
        for line in order["lines"]:
            cents = int(Decimal(line["discount"]) * 100)
            if line["quantity"] > 1 and cents % line["quantity"]:
                return order
    raise AssertionError("no order with an unevenly divided line discount among 60")


def test_one_simulator_order_converts_field_by_field(
    start_marketplace: Callable[..., RunningMarketplace],
) -> None:
    marketplace = start_marketplace(initial_orders=60, broken_share=0.0, arrival_per_hour=0)
    source = _order_with_split_discount(marketplace)

    converted = reference_order(source, channel_id=1)

    order = converted["order"]
    assert set(order) <= ORDER_FIELDS
    assert set(order["customer"]) <= CUSTOMER_FIELDS
    assert set(order["shipping_address"]) <= ADDRESS_FIELDS
    assert set(order["billing_address"]) <= ADDRESS_FIELDS
    assert all(set(item) <= ITEM_FIELDS for item in converted["order_items"])

    assert order["remote_id"] == str(source["id"])
    assert order["number"] == source["order_number"]
    assert order["status"] == "400"  # a new order is "Created" on the marketplace
    assert (order["amount"], order["shipping_amount"], order["discount_amount"]) == (
        source["total_price"],
        source["shipping_price"],
        source["total_discount"],
    )
    assert order["cargo_company"] == source["cargo_provider_code"]
    assert order["customer"]["email"] == source["customer"]["email"]
    assert order["customer"]["channel_code"] == str(source["customer"]["id"])
    shipping, invoice = source["shipping_address"], source["invoice_address"]
    assert order["shipping_address"]["country"] == "tr"
    assert (order["shipping_address"]["city"], order["shipping_address"]["township"]) == (
        shipping["city"],
        shipping["township"],
    )
    assert order["shipping_address"]["line"] == shipping["address_line"]
    assert order["billing_address"]["phone_number"] == invoice["phone"]
    assert order["billing_address"]["identity_number"] == invoice["identity_number"]

    items = converted["order_items"]
    assert len(items) == sum(line["quantity"] for line in source["lines"])
    for line in source["lines"]:
        units = [item for item in items if item["remote_id"] == str(line["id"])]
        assert len(units) == line["quantity"]
        assert {item["product"] for item in units} == {line["sku"]}
        assert sum(Decimal(item["discount_amount"]) for item in units) == Decimal(line["discount"])
    # The reference writes "id" into each item's extra_field: no dict may be shared.
    assert len({id(item["extra_field"]) for item in items}) == len(items)


def test_both_programs_get_the_same_items(
    start_marketplace: Callable[..., RunningMarketplace],
) -> None:
    marketplace = start_marketplace(initial_orders=60, broken_share=0.0, arrival_per_hour=0)
    source = _order_with_split_discount(marketplace)
    ours = build_order_create(
        parse_order(source),
        channel_id=1,
        customer=1,
        shipping_address=2,
        billing_address=3,
        cargo_company=4,
        products={line["sku"]: n for n, line in enumerate(source["lines"], start=10)},
        catalog=None,
    )

    theirs = reference_order(source, channel_id=1)["order_items"]

    assert [Decimal(item["discount_amount"]) for item in theirs] == [
        item.discount_amount for item in ours.order_item
    ]
    assert [item["extra_field"]["id"] for item in theirs] == [
        item.extra_field["id"] for item in ours.order_item
    ]
    assert [item["status"] for item in theirs] == [item.status for item in ours.order_item]


def test_split_cents_gives_the_odd_cents_to_the_first_units() -> None:
    assert split_cents("10.00", 3) == ["3.34", "3.33", "3.33"]
    assert split_cents("0", 2) == ["0.00", "0.00"]
