"""The channel, its catalog and Django content types."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, ConfigDict, Field, field_validator

from service.omnitron.models.base import OmnitronModel, OptionalRef, Pk, Text


class ChannelConf(OmnitronModel):
    """The settings of a channel that the order flows read (``channel.conf``).

    Other keys (the channel side's own settings) are kept and reachable through
    ``model_extra``.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    customer_identifier_field: str = Field("email", alias="CUSTOMER_IDENTIFIER_FIELD")
    reason_mapping: dict[str, int] = Field(default_factory=dict)
    cancellation_reason_id: int | None = None
    send_shipping_info: bool = False

    @field_validator("customer_identifier_field", mode="before")
    @classmethod
    def _identifier_as_text(cls, value: Any) -> str:
        # Read as plain text, whatever form it arrives in (the reference compared it
        # with an enum and never matched; see docs/omnitron-api.md §6.8).
        if value is None or not str(value).strip():
            return "email"
        text = str(getattr(value, "value", value)).strip().lower()
        return text.split(".")[-1]  # tolerate "CustomerIdentifier.phone_number"

    @field_validator("reason_mapping", mode="before")
    @classmethod
    def _mapping_or_empty(cls, value: Any) -> Any:
        return value or {}

    @field_validator("send_shipping_info", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        return False if value is None else value


class Channel(OmnitronModel):
    """A sales channel (``channels/{id}/``)."""

    pk: Pk
    name: Text = ""
    channel_type: str | None = None
    catalog: OptionalRef = None
    is_active: bool = True
    conf: ChannelConf = Field(default_factory=ChannelConf)

    @field_validator("conf", mode="before")
    @classmethod
    def _conf_or_empty(cls, value: Any) -> Any:
        return value or {}


class Catalog(OmnitronModel):
    """A catalog (``catalogs/{id}/``): its price and stock lists default new items."""

    pk: Pk
    name: Text = ""
    price_list: OptionalRef = None
    stock_list: OptionalRef = None


class ContentType(OmnitronModel):
    """A Django content type: how Omnitron names a model in reports and actions."""

    id: int = Field(validation_alias=AliasChoices("id", "pk"))
    model: str
    app_label: str | None = None
