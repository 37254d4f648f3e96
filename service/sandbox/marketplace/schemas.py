"""Wire models of the marketplace API: request bodies and documented responses.

Responses are served from stored JSON as they are (a broken order must reach the
client broken), so these models describe the answers in the OpenAPI document rather
than re-validate them. Amounts are decimal strings throughout.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    """Every error answer: a machine code, a readable detail, field errors if any."""

    code: str = Field(examples=["unauthorized"])
    detail: str = Field(examples=["Missing or invalid X-Api-Key header."])
    errors: list[dict[str, object]] | None = None


class Customer(BaseModel):
    """The buyer."""

    id: int
    first_name: str
    last_name: str
    email: str | None = Field(description="may be null on broken orders")
    phone: str


class Address(BaseModel):
    """A shipping address (Turkish il / ilçe / mahalle as city / township / district)."""

    first_name: str
    last_name: str
    email: str | None
    phone: str
    country_code: str = Field(examples=["TR"])
    city: str = Field(examples=["İstanbul"])
    township: str = Field(examples=["Kadıköy"])
    district: str = Field(description="mahalle; empty when not known", examples=["Moda"])
    address_line: str
    postal_code: str
    title: str
    retail_store: str = Field(description="store erp code for click-and-collect, else empty")


class InvoiceAddress(Address):
    """The invoice address, with the tax details of a corporate buyer."""

    company_name: str
    tax_office: str
    tax_number: str
    e_invoice_user: bool
    identity_number: str = Field(description="T.C. kimlik no of an individual buyer")


class OrderLine(BaseModel):
    """One order line (a SKU with a quantity)."""

    id: int
    sku: str
    barcode: str
    product_name: str
    quantity: int
    currency: str
    unit_price: str = Field(examples=["249.90"])
    discount: str = Field(description="discount on the whole line", examples=["24.99"])
    vat_rate: str = Field(examples=["20"])
    status: str
    cancel_reason_code: str
    invoice_number: str
    invoice_date: str | None
    tracking_number: str


class Order(BaseModel):
    """A marketplace order."""

    id: int
    order_number: str
    status: str
    created_at: str
    updated_at: str
    currency: str
    total_price: str
    total_discount: str
    shipping_price: str
    shipping_vat_rate: str
    cargo_provider_code: str
    delivery_type: Literal["standard", "retail_store"]
    note: str
    customer: Customer
    shipping_address: Address
    invoice_address: InvoiceAddress
    lines: list[OrderLine]


class Page(BaseModel):
    """The paging envelope every listing shares."""

    page: int
    size: int
    total_elements: int
    total_pages: int
    next_page: int | None


class OrderPage(Page):
    """A page of orders."""

    items: list[Order]


class LineUpdate(BaseModel):
    """A change of one order line: status, invoice or tracking."""

    id: int
    line_id: int
    order_id: int
    order_number: str
    status: str
    invoice_number: str
    invoice_date: str | None
    tracking_number: str
    cargo_provider_code: str
    created_at: str


class LineUpdatePage(Page):
    """A page of line updates."""

    items: list[LineUpdate]


class CancelledLine(BaseModel):
    """A cancelled line with its reason."""

    line_id: int
    quantity: int
    reason_code: str
    reason: str


class Cancellation(BaseModel):
    """Lines of one order cancelled by the marketplace, the merchant or the customer."""

    id: int
    order_id: int
    order_number: str
    created_at: str
    lines: list[CancelledLine]
    refund_amount: str | None


class CancellationPage(Page):
    """A page of cancellations."""

    items: list[Cancellation]


class CancellationRequest(BaseModel):
    """A customer's request to cancel (before shipping) or refund (after delivery) a line."""

    id: int
    order_id: int
    order_number: str
    line_id: int
    quantity: int
    reason_code: str
    reason: str
    description: str
    type: Literal["cancel", "refund"]
    status: Literal["pending", "approved", "rejected"]
    created_at: str
    updated_at: str
    decision_reason_code: str
    decision_note: str


class CancellationRequestPage(Page):
    """A page of cancellation requests."""

    items: list[CancellationRequest]


class CancellationDecision(BaseModel):
    """Body of ``PATCH /api/v1/cancellation-requests/{id}``."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["approved", "rejected"]
    reason_code: str = Field("", description="required when rejecting; a seed reason code")
    note: str = Field("", max_length=500)


class StatusUpdateLine(BaseModel):
    """One line of a status update (omit lines to update the whole order)."""

    model_config = ConfigDict(extra="ignore")

    line_id: int
    status: str = ""


class StatusUpdate(BaseModel):
    """The new status of one order, as the merchant reports it."""

    model_config = ConfigDict(extra="ignore")

    order_id: int
    order_number: str = ""
    status: str = Field(examples=["Shipped"])
    tracking_number: str = ""
    cargo_provider_code: str = ""
    lines: list[StatusUpdateLine] = Field(default_factory=list)


class StatusUpdateRequest(BaseModel):
    """Body of both status-update endpoints."""

    model_config = ConfigDict(extra="forbid")

    updates: list[StatusUpdate] = Field(min_length=1, max_length=500)


class StatusUpdateResult(BaseModel):
    """The outcome for one order."""

    order_id: int
    order_number: str
    status: Literal["SUCCESS", "FAIL"]
    message: str


class StatusUpdateResponse(BaseModel):
    """Answer of the synchronous status update."""

    results: list[StatusUpdateResult]


class Batch(BaseModel):
    """An asynchronous status-update batch."""

    batch_id: str
    status: Literal["processing", "completed", "failed"]
    created_at: str
    completed_at: str | None
    item_count: int
    failure_reason: str
    results: list[StatusUpdateResult]
