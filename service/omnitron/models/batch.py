"""Batch requests and the integration actions they bookkeep (docs/omnitron-api.md §3)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator

from service.omnitron.models.base import OmnitronModel, OptionalRef, Pk


class BatchStatus(StrEnum):
    """The states of a batch request, in the order a run moves through them."""

    INITIALIZED = "initialized"
    COMMIT = "commit"
    SENT_TO_REMOTE = "sent_to_remote"
    ONGOING = "ongoing"
    DONE = "done"
    FAIL = "fail"

    @property
    def is_final(self) -> bool:
        """``done`` and ``fail`` end a batch; nothing may follow them."""
        return self in (BatchStatus.DONE, BatchStatus.FAIL)


class FailedReasonType(StrEnum):
    """Why one object of a batch failed."""

    MAPPING = "mapping"
    REMOTE = "remote"
    CHANNEL_APP = "channel_app"


class IntegrationStatus(StrEnum):
    """The state of an integration action."""

    PROCESSING = "processing"
    SUCCESS = "success"
    ERROR = "error"


def _model_name(value: Any) -> Any:
    """A content type given as a name or as a nested ``{id, model}`` object → its name."""
    if isinstance(value, dict):
        return value.get("model")
    return value


class BatchObject(OmnitronModel):
    """One object a batch request carries (its ``objects`` entries)."""

    pk: int
    # Echoed back exactly as Omnitron sent it as the object's modified_date.
    version_date: str | None = None
    content_type: str
    failed_reason_type: FailedReasonType | None = None
    remote_id: str | None = None

    @field_validator("remote_id", mode="before")
    @classmethod
    def _remote_id_text(cls, value: Any) -> Any:
        return None if value is None else str(value)

    @field_validator("content_type", mode="before")
    @classmethod
    def _content_type(cls, value: Any) -> Any:
        return _model_name(value)

    def to_json(self) -> dict[str, Any]:
        """The entry as sent: ``failed_reason_type`` is always present (null = success)."""
        data = self.model_dump(mode="json")
        return {k: v for k, v in data.items() if v is not None or k == "failed_reason_type"}


class BatchRequestHead(OmnitronModel):
    """A batch request without its ``objects``: what a repeated commit must confirm.

    Omnitron answers every PATCH with all the objects the batch holds; a run that
    keeps its own list of what it declared reads only this much of the answer.
    """

    pk: Pk
    channel: OptionalRef = None
    local_batch_id: str
    remote_batch_id: str | None = None
    content_type: str | None = None
    status: BatchStatus
    created_date: str | None = None
    modified_date: str | None = None

    @field_validator("content_type", mode="before")
    @classmethod
    def _content_type(cls, value: Any) -> Any:
        return _model_name(value)

    @field_validator("local_batch_id", "remote_batch_id", mode="before")
    @classmethod
    def _text_id(cls, value: Any) -> Any:
        return None if value is None else str(value)


class BatchRequest(BatchRequestHead):
    """A batch request (``{c}/batch_requests/``)."""

    objects: list[BatchObject] = Field(default_factory=list)

    @field_validator("objects", mode="before")
    @classmethod
    def _objects(cls, value: Any) -> Any:
        return value or []


class IntegrationContentType(OmnitronModel):
    """The content type as integration actions nest it."""

    id: int | None = None
    model: str


class IntegrationAction(OmnitronModel):
    """The link between an Omnitron object and its id on the channel."""

    pk: Pk
    channel: OptionalRef = None
    content_type: IntegrationContentType
    object_id: int
    remote_id: str | None = None
    version_date: str | None = None
    local_batch_id: str | None = None
    status: str | None = None
    state: dict[str, Any] | None = None

    @field_validator("content_type", mode="before")
    @classmethod
    def _nested_content_type(cls, value: Any) -> Any:
        return {"model": value} if isinstance(value, str) else value

    @field_validator("remote_id", "local_batch_id", mode="before")
    @classmethod
    def _text_id(cls, value: Any) -> Any:
        return None if value is None else str(value)
