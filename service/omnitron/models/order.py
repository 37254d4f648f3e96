"""Orders and order items: what Omnitron answers and what we send to create them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, PlainSerializer, field_validator, model_validator

from service.omnitron.models.base import (
    Amount,
    OmnitronBody,
    OmnitronModel,
    OptionalAmount,
    OptionalRef,
    Pk,
    Ref,
    Text,
)

# Omnitron's order statuses (docs/omnitron-api.md §2); new channel orders start approved.
STATUS_APPROVED = "400"


def _omnitron_datetime(value: datetime | str | None) -> str | None:
    """``YYYY-MM-DD HH:MM:SS``, the form ``date_placed`` travels in."""
    if value is None or isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _iso_or_text(value: date | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


PlacedDate = Annotated[datetime | str, PlainSerializer(_omnitron_datetime, return_type=str)]
OptionalDate = Annotated[
    date | datetime | str | None, PlainSerializer(_iso_or_text, return_type=str | None)
]


def _status_text(value: Any) -> Any:
    return None if value is None else str(value)


class _LinkedToChannel(OmnitronModel):
    """An object the channel knows: its channel id is kept in ``extra_field.id``."""

    extra_field: dict[str, Any] = Field(default_factory=dict)

    @field_validator("extra_field", mode="before")
    @classmethod
    def _extra(cls, value: Any) -> Any:
        return value or {}

    @property
    def remote_id(self) -> str | None:
        """The channel's id (order id or line id), from ``extra_field.id``."""
        value = self.extra_field.get("id")
        return None if value is None else str(value)


class Order(_LinkedToChannel):
    """An order (``{c}/orders/``, ``orders/updates/``, ``create_orders/``)."""

    pk: Pk
    number: Text = ""
    status: str | None = None
    channel: OptionalRef = None
    customer: OptionalRef = None
    shipping_address: OptionalRef = None
    billing_address: OptionalRef = None
    currency: str | None = None
    amount: OptionalAmount = None
    shipping_amount: OptionalAmount = None
    discount_amount: OptionalAmount = None
    net_shipping_amount: OptionalAmount = None
    shipping_tax_rate: OptionalAmount = None
    cargo_company: OptionalRef = None
    tracking_number: str | None = None
    carrier_shipping_code: str | None = None
    delivery_type: str | None = None
    invoice_number: str | None = None
    invoice_date: str | None = None
    date_placed: str | None = None
    created_date: str | None = None
    # Kept verbatim: batch objects echo it back as ``version_date``.
    modified_date: str | None = None

    _status = field_validator("status", mode="before")(_status_text)


class OrderItem(_LinkedToChannel):
    """An order item: one unit of a line (a line of quantity 3 is three items)."""

    pk: Pk
    order: OptionalRef = None
    product: OptionalRef = None
    status: str | None = None
    price_currency: str | None = None
    price: OptionalAmount = None
    tax_rate: OptionalAmount = None
    retail_price: OptionalAmount = None
    discount_amount: OptionalAmount = None
    invoice_number: str | None = None
    invoice_date: str | None = None
    tracking_number: str | None = None
    carrier_shipping_code: str | None = None
    estimated_delivery_date: str | None = None
    delivered_date: str | None = None
    modified_date: str | None = None

    _status = field_validator("status", mode="before")(_status_text)


class OrderCreateOrder(OmnitronBody):
    """The ``order`` part of ``POST {c}/create_orders/``."""

    number: str = Field(max_length=128)
    status: str = STATUS_APPROVED
    channel: Ref
    customer: Ref
    shipping_address: Ref
    billing_address: Ref
    currency: str
    amount: Amount
    shipping_amount: Amount
    shipping_tax_rate: OptionalAmount = None
    extra_field: dict[str, Any] = Field(default_factory=dict)
    delivery_type: str | None = None
    cargo_company: Ref
    discount_amount: OptionalAmount = None
    net_shipping_amount: OptionalAmount = None
    tracking_number: str | None = None
    carrier_shipping_code: str | None = None
    remote_addr: str | None = None
    has_gift_box: bool = False
    gift_box_note: Text = ""
    client_type: str | None = None
    language_code: str | None = None
    notes: Text = ""
    delivery_range: str | None = None
    shipping_option_slug: str | None = None
    date_placed: PlacedDate


class OrderItemCreate(OmnitronBody):
    """One element of ``order_item`` in ``POST {c}/create_orders/`` (one unit)."""

    product: Ref
    status: str = STATUS_APPROVED
    price_currency: str
    price: Amount
    tax_rate: Amount
    extra_field: dict[str, Any] = Field(default_factory=dict)
    price_list: OptionalRef = None
    stock_list: OptionalRef = None
    tracking_number: str | None = None
    carrier_shipping_code: str | None = None
    discount_amount: OptionalAmount = None
    retail_price: OptionalAmount = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    attributes_kwargs: dict[str, Any] = Field(default_factory=dict)
    parent: OptionalRef = None
    delivered_date: OptionalDate = None
    estimated_delivery_date: OptionalDate = None


class OrderCreate(OmnitronBody):
    """Body of ``POST {c}/create_orders/``: the order and its items."""

    order: OrderCreateOrder
    order_item: list[OrderItemCreate] = Field(min_length=1)


class OrderItemUpdate(OmnitronBody):
    """A partial update of an order item; only fields that are set are sent.

    ``extra_field`` is sent whole by Omnitron's PATCH, so callers pass the merged
    dict (the item's current one plus changes), never a fragment that drops ``id``.
    """

    status: str | None = None
    invoice_number: str | None = None
    invoice_date: OptionalDate = None
    tracking_number: str | None = None
    extra_field: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Only the non-empty fields, as the reference sends them."""
        return {k: v for k, v in super().to_json().items() if v not in ("", {}, None)}


class CancelOrderRequest(OmnitronBody):
    """Body of ``POST {c}/orders/{pk}/cancel/``."""

    order: Ref
    cancel_items: list[int] = Field(min_length=1)
    reasons: dict[str, int] = Field(default_factory=dict)
    forced_refund_amount: OptionalAmount = None

    @field_validator("reasons", mode="before")
    @classmethod
    def _reason_keys_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _reasons_for_cancelled_items(self) -> CancelOrderRequest:
        # A reason for an item that is not being cancelled is a mapping bug upstream.
        unknown = set(self.reasons) - {str(pk) for pk in self.cancel_items}
        if unknown:
            raise ValueError(f"reasons given for items not cancelled: {sorted(unknown)}")
        return self
