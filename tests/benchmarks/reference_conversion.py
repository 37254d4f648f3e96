"""One marketplace order in the shape the reference channel app's channel side delivers.

The reference (PyPI ``channel-app``) expects its channel integration's ``get_orders``
action to turn each channel order into ``{"order": {...}, "order_items": [...]}``: the
order's keyword arguments for its ``ChannelOrderDto`` with ``customer``,
``shipping_address`` and ``billing_address`` as the keyword arguments of its
``CustomerDto`` and ``AddressDto``, and one ``OrderItemDto``'s keyword arguments per
item. :func:`reference_order` builds that from a marketplace simulator order, field by
field as ChannelDesk's adapter reads the same order (``service/channel/marketplace.py``
``parse_order`` and ``service/flows/orders/create_order.py``), so both programs create
the same Omnitron orders: the same statuses, amounts, addresses and one item per unit.

Standard library only: the reference's own virtual environment imports this module
(through ``tests/benchmarks/reference_channel.py``), and it has no ChannelDesk in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# Marketplace status -> Omnitron status code, as ChannelDesk maps it.
OMNITRON_STATUS: Mapping[str, str] = {
    "Created": "400",
    "Picking": "450",
    "Invoiced": "450",
    "Shipped": "500",
    "UnDelivered": "540",
    "Delivered": "550",
    "Cancelled": "100",
    "Returned": "600",
}
CENT = Decimal("0.01")


def split_cents(total: str, parts: int) -> list[str]:
    """``total`` split into ``parts`` cent amounts adding up to it, the odd cents first.

    A line's discount is for all its units; each unit's item carries its share, as
    ChannelDesk splits it: ``split_cents("10.00", 3)`` is ``["3.34", "3.33", "3.33"]``.
    """
    cents = int((Decimal(total).quantize(CENT, rounding=ROUND_HALF_UP) / CENT).to_integral_value())
    base, remainder = divmod(cents, parts)
    return [str(Decimal(base + (1 if i < remainder else 0)) * CENT) for i in range(parts)]


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def _address(data: Mapping[str, Any]) -> dict[str, Any]:
    """The reference's ``AddressDto`` keyword arguments for a marketplace address."""
    return {
        "email": _text(data, "email"),
        "phone_number": _text(data, "phone"),
        "first_name": _text(data, "first_name"),
        "last_name": _text(data, "last_name"),
        # Omnitron's country codes are lower case (docs/omnitron-api.md §8).
        "country": _text(data, "country_code").lower(),
        "city": _text(data, "city"),
        "township": _text(data, "township"),
        "district": _text(data, "district"),
        "line": _text(data, "address_line"),
        "postcode": _text(data, "postal_code"),
        "title": _text(data, "title"),
        "company_name": _text(data, "company_name"),
        "tax_office": _text(data, "tax_office"),
        "tax_no": _text(data, "tax_number"),
        "e_bill_taxpayer": bool(data.get("e_invoice_user", False)),
        "identity_number": _text(data, "identity_number"),
        "retail_store": _text(data, "retail_store"),
    }


def _items(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The reference's ``OrderItemDto`` keyword arguments: one per unit of every line."""
    items: list[dict[str, Any]] = []
    for line in order.get("lines") or []:
        line_id = _text(line, "id")
        status = _text(line, "status")
        for discount in split_cents(_text(line, "discount") or "0", int(line["quantity"])):
            items.append(
                {
                    "remote_id": line_id,
                    "product": _text(line, "sku"),
                    "price_currency": _text(line, "currency") or _text(order, "currency"),
                    "price": _text(line, "unit_price"),
                    "tax_rate": _text(line, "vat_rate"),
                    "discount_amount": discount,
                    "retail_price": _text(line, "unit_price"),
                    "status": OMNITRON_STATUS.get(status, ""),
                    # A dict per item: the reference adds "id" to it in place.
                    "extra_field": {
                        "id": line_id,
                        "barcode": _text(line, "barcode"),
                        "product_name": _text(line, "product_name"),
                        "marketplace_status": status,
                    },
                }
            )
    return items


def reference_order(order: Mapping[str, Any], channel_id: int) -> dict[str, Any]:
    """``{"order": ..., "order_items": ...}`` for one marketplace simulator order."""
    customer = order.get("customer") or {}
    status = _text(order, "status")
    return {
        "order": {
            "remote_id": _text(order, "id"),
            "number": _text(order, "order_number"),
            "channel": channel_id,
            "status": OMNITRON_STATUS.get(status, ""),
            "currency": _text(order, "currency") or "TRY",
            "amount": _text(order, "total_price"),
            "shipping_amount": _text(order, "shipping_price"),
            "shipping_tax_rate": _text(order, "shipping_vat_rate"),
            "discount_amount": _text(order, "total_discount"),
            "net_shipping_amount": _text(order, "shipping_price"),
            "extra_field": {"id": _text(order, "id"), "marketplace_status": status},
            "created_at": _text(order, "created_at"),
            "delivery_type": _text(order, "delivery_type"),
            "notes": _text(order, "note"),
            "cargo_company": _text(order, "cargo_provider_code"),
            "customer": {
                "email": _text(customer, "email"),
                "first_name": _text(customer, "first_name"),
                "last_name": _text(customer, "last_name"),
                "phone_number": _text(customer, "phone"),
                "channel_code": _text(customer, "id"),
                "extra_field": {"id": _text(customer, "id")},
            },
            "shipping_address": _address(order.get("shipping_address") or {}),
            "billing_address": _address(order.get("invoice_address") or {}),
        },
        "order_items": _items(order),
    }
