"""Customers and their addresses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from service.omnitron.models.base import (
    OmnitronBody,
    OmnitronModel,
    OptionalRef,
    Pk,
    Ref,
    Text,
    cut_to,
)


class Customer(OmnitronModel):
    """A customer of the channel (``{c}/customers/``)."""

    pk: Pk
    email: Text = ""
    phone_number: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    channel: OptionalRef = None
    channel_code: Text = ""
    extra_field: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True


class CustomerCreate(OmnitronBody):
    """Body of ``POST {c}/customers/`` (``channel`` is filled in by the client)."""

    email: Text = ""
    phone_number: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    channel_code: Text = ""
    extra_field: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True


class Address(OmnitronModel):
    """An address (``{c}/addresses/``)."""

    pk: Pk
    customer: OptionalRef = None
    email: Text = ""
    phone_number: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    country: OptionalRef = None
    city: OptionalRef = None
    township: OptionalRef = None
    district: OptionalRef = None
    title: Text = ""
    line: Text = ""
    postcode: Text = ""
    hash_data: str | None = None
    address_type: str | None = None
    retail_store: OptionalRef = None
    remote_id: str | None = None


class AddressCreate(OmnitronBody):
    """Body of ``POST {c}/addresses/``; text is cut to Omnitron's column lengths.

    ``first_name``/``last_name`` left empty are filled from the customer by
    :meth:`with_customer_names`.
    """

    customer: Ref
    country: Ref
    city: Ref
    township: OptionalRef = None
    district: OptionalRef = None
    email: Annotated[str, cut_to(254)] = ""
    phone_number: Annotated[str, cut_to(128)] = ""
    first_name: Annotated[str, cut_to(255)] = ""
    last_name: Annotated[str, cut_to(255)] = ""
    title: Annotated[str, cut_to(128)] = ""
    line: Annotated[str, cut_to(255)] = ""
    postcode: Annotated[str, cut_to(64)] = ""
    notes: Annotated[str, cut_to(512)] = ""
    company_name: Annotated[str, cut_to(255)] = ""
    tax_office: Annotated[str, cut_to(64)] = ""
    tax_no: Annotated[str, cut_to(20)] = ""
    e_bill_taxpayer: bool = False
    remote_id: str | None = None
    identity_number: Annotated[str, cut_to(64)] = ""
    extra_field: dict[str, Any] = Field(default_factory=dict)
    retail_store: OptionalRef = None
    address_type: Literal["customer", "retail_store"] | None = None

    def with_customer_names(self, customer: Customer) -> AddressCreate:
        """A copy whose empty names fall back to the customer's (cut to 255)."""
        return self.model_copy(
            update={
                "first_name": (self.first_name or customer.first_name)[:255],
                "last_name": (self.last_name or customer.last_name)[:255],
            }
        )

    def to_json(self) -> dict[str, Any]:
        """The body as sent; a store pickup carries ``address_type="retail_store"``."""
        data = super().to_json()
        if self.retail_store is not None:
            data["address_type"] = "retail_store"
        return data
