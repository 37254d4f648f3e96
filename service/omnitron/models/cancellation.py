"""Cancellation requests (a customer's cancel/refund wish) and cancellation reasons."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator

from service.omnitron.models.base import OmnitronBody, OmnitronModel, OptionalRef, Pk, Text

CancellationType = Literal["cancel", "refund"]


class CancellationReason(OmnitronModel):
    """A reason Omnitron knows for a cancellation."""

    pk: Pk
    name: Text = Field("", validation_alias=AliasChoices("name", "reason", "description"))
    cancellation_type: str | None = None
    is_active: bool = True


class CancellationRequest(OmnitronModel):
    """A cancellation request (``{c}/cancellation_requests/``)."""

    pk: Pk
    order_item: OptionalRef = None
    reason: OptionalRef = None
    cancellation_type: str | None = None
    status: str | None = None
    description: Text = ""
    remote_id: str | None = None
    modified_date: str | None = None

    @field_validator("remote_id", mode="before")
    @classmethod
    def _text_id(cls, value: Any) -> Any:
        return None if value is None else str(value)


class CancellationRequestCreate(OmnitronBody):
    """Body of ``POST {c}/cancellation_requests/``."""

    order_item: int
    reason: int
    remote_id: str | None = None
    description: Text = ""
    cancellation_type: CancellationType = "cancel"


class CancellationRequestUpdate(OmnitronBody):
    """A partial update of a cancellation request."""

    status: str | None = None
    remote_id: str | None = None
    description: str | None = None
    reason: int | None = None
