"""What the flows see of a sales channel: frozen, validated DTOs.

These carry exactly the information of ``docs/omnitron-api.md`` §5 ("Data the channel
side delivers"). Conventions:

- models are frozen and ignore unknown fields; ``extra_field`` mappings are read-only;
- text fields default to ``""`` and a ``None`` from the wire becomes ``""``;
- amounts are :class:`~decimal.Decimal` (parsed from the channel's decimal strings);
- statuses are Omnitron status codes (``"400"``, ``"500"``...): the adapter maps the
  channel's own vocabulary, and keeps the original in ``extra_field``.

A channel record that does not satisfy a model is not an exception for the flows:
the adapter yields it as a failed :class:`~service.channel.adapter.Fetched`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.net.exchange import RawExchange


def _read_only(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


ReadOnlyMapping = Annotated[
    Mapping[str, Any], AfterValidator(_read_only), PlainSerializer(lambda v: dict(v))
]


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


class ChannelModel(BaseModel):
    """Base of the channel DTOs: frozen, extra fields ignored, ``None`` text is ``""``."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _none_is_empty_text(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name
        if value is None and name is not None and cls.model_fields[name].annotation is str:
            return ""
        return value


def _require_email(value: str) -> str:
    if not value:
        raise ValueError("e-mail is required")
    if "@" not in value:
        raise ValueError(f"e-mail {value!r} is not an e-mail address")
    return value


class ChannelCustomer(ChannelModel):
    """The buyer."""

    email: Annotated[str, AfterValidator(_require_email)]
    first_name: str = ""
    last_name: str = ""
    phone_number: str = ""
    channel_code: str = Field("", description="the customer's id in the channel")
    extra_field: ReadOnlyMapping = Field(default_factory=_empty)


class ChannelAddress(ChannelModel):
    """A shipping or billing address (city / township / district = il / ilçe / mahalle)."""

    email: str = ""
    phone_number: str = ""
    first_name: str = ""
    last_name: str = ""
    country: str = Field("", description="country code or name")
    city: str = Field(min_length=1)
    township: str = ""
    district: str = ""
    line: str = ""
    postcode: str = ""
    title: str = ""
    company_name: str = ""
    tax_office: str = ""
    tax_no: str = ""
    e_bill_taxpayer: bool = False
    identity_number: str = ""
    retail_store: str = Field("", description="store erp code for click-and-collect")


class ChannelOrderLine(ChannelModel):
    """One order line: a channel SKU with a quantity.

    ``price`` is the unit price; ``discount_amount`` is the discount on the whole line
    (all units together). Omnitron creates one item per unit.
    """

    remote_id: str = Field(min_length=1)
    product: str = Field(min_length=1, description="the channel SKU")
    quantity: int = Field(1, ge=1)
    price_currency: str = "TRY"
    price: Decimal = Field(ge=0)
    tax_rate: Decimal = Field(ge=0)
    discount_amount: Decimal = Field(Decimal(0), ge=0)
    retail_price: Decimal | None = None
    status: str = ""
    extra_field: ReadOnlyMapping = Field(default_factory=_empty)


class ChannelOrder(ChannelModel):
    """A new order as the channel delivers it."""

    remote_id: str = Field(min_length=1)
    number: str = Field(min_length=1, max_length=128)
    currency: str = "TRY"
    amount: Decimal = Field(ge=0)
    shipping_amount: Decimal = Field(Decimal(0), ge=0)
    shipping_tax_rate: Decimal = Field(Decimal(0), ge=0)
    discount_amount: Decimal = Field(Decimal(0), ge=0)
    created_at: datetime
    cargo_company: str = Field("", description="the cargo company's erp_code")
    delivery_type: str = ""
    notes: str = ""
    status: str = ""
    customer: ChannelCustomer
    shipping_address: ChannelAddress
    billing_address: ChannelAddress
    lines: tuple[ChannelOrderLine, ...] = Field(min_length=1)
    extra_field: ReadOnlyMapping = Field(default_factory=_empty)


class ChannelCancel(ChannelModel):
    """Lines of an order the channel cancelled, with the channel's reason codes."""

    remote_id: str = Field("", description="the channel's id of the cancellation")
    order: str = Field(min_length=1, description="the order's channel id")
    number: str = ""
    cancel_items: tuple[str, ...] = Field(min_length=1, description="channel line ids")
    reasons: ReadOnlyMapping = Field(
        default_factory=_empty, description="line id -> channel reason code"
    )
    forced_refund_amount: Decimal | None = None
    created_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _reasons_within_items(cls, data: Any) -> Any:
        # A reason for a line that is not cancelled says nothing about this cancel;
        # drop it rather than refuse the cancel (the raw payload keeps it).
        if isinstance(data, dict) and isinstance(data.get("reasons"), dict):
            items = {str(item) for item in data.get("cancel_items") or ()}
            reasons = {k: v for k, v in data["reasons"].items() if str(k) in items}
            data = {**data, "reasons": reasons}
        return data


class ChannelLineUpdate(ChannelModel):
    """A change of one order line: status, invoice or tracking number."""

    remote_id: str = Field(min_length=1, description="the channel line id")
    order_remote_id: str = ""
    status: str = ""
    invoice_number: str = ""
    invoice_date: datetime | None = None
    tracking_number: str = ""
    created_at: datetime | None = None
    extra_field: ReadOnlyMapping = Field(default_factory=_empty)


class ChannelCancellationRequest(ChannelModel):
    """A customer's request to cancel or refund one line."""

    remote_id: str = Field(min_length=1)
    order_item: str = Field(min_length=1, description="the channel line id")
    order_remote_id: str = ""
    reason: str = Field("", description="the channel's reason code")
    description: str = ""
    cancellation_type: Literal["cancel", "refund"] = "cancel"
    status: str = ""
    created_at: datetime | None = None


class OrderStatusUpdateItem(ChannelModel):
    """The status of one line inside an :class:`OrderStatusUpdate`."""

    remote_id: str = Field(min_length=1)
    status: str = ""
    tracking_number: str = ""


class OrderStatusUpdate(ChannelModel):
    """What we tell the channel about one order (status is an Omnitron code)."""

    remote_id: str = Field(min_length=1)
    number: str = ""
    status: str = Field(min_length=1)
    tracking_number: str = ""
    cargo_company: str = ""
    items: tuple[OrderStatusUpdateItem, ...] = ()


class OrderUpdateResult(ChannelModel):
    """The channel's verdict on one order of an update."""

    remote_id: str
    number: str = ""
    status: Literal["SUCCESS", "FAIL"]
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the channel accepted the update."""
        return self.status == "SUCCESS"


class SendResult(ChannelModel):
    """Answer to :meth:`ChannelAdapter.send_updated_orders`.

    Sync: ``results`` holds one entry per order. Async: ``remote_batch_id`` names the
    channel's batch, and ``results`` holds only orders refused before sending.
    """

    results: tuple[OrderUpdateResult, ...] = ()
    remote_batch_id: str = ""
    raw: RawExchange | None = None


class RemoteBatchResult(ChannelModel):
    """State of an asynchronous batch at the channel."""

    remote_batch_id: str
    status: Literal["processing", "completed", "failed"]
    results: tuple[OrderUpdateResult, ...] = ()
    message: str = ""
    raw: RawExchange | None = None


class CancellationRequestDecision(ChannelModel):
    """Our answer to a customer's cancellation request."""

    remote_id: str = Field(min_length=1)
    approved: bool
    reason: str = Field("", description="the channel's reason code (required to reject)")
    note: str = ""


class CancellationRequestUpdateResult(ChannelModel):
    """The channel's verdict on a :class:`CancellationRequestDecision`."""

    remote_id: str
    status: Literal["SUCCESS", "FAIL"]
    message: str = ""
    raw: RawExchange | None = None
