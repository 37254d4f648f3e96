"""Building blocks shared by the Omnitron models: base classes and field types."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)


class OmnitronModel(BaseModel):
    """A model of something Omnitron answers: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class OmnitronBody(BaseModel):
    """A request body we send: unknown fields are an error in our own code."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """The body as JSON-ready data; unset optional fields are left out."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


def _pk_of(value: Any) -> Any:
    """Accept a related object as its id, or as a nested object carrying ``pk``/``id``."""
    if isinstance(value, dict):
        return value.get("pk", value.get("id"))
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


# A foreign key: Omnitron sends either the id or a nested object, sometimes as a string.
Ref = Annotated[int, BeforeValidator(_pk_of)]
OptionalRef = Annotated[int | None, BeforeValidator(_pk_of)]

# The primary key; some endpoints call it ``id`` (cancellation requests, content types).
Pk = Annotated[int, Field(validation_alias=AliasChoices("pk", "id"))]

# Money travels as a string: exact for Decimal, safe for JSON, what Omnitron answers.
Amount = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str)]
OptionalAmount = Annotated[
    Decimal | None, PlainSerializer(lambda v: None if v is None else str(v), return_type=str | None)
]


def _none_to_empty(value: Any) -> Any:
    return "" if value is None else value


# Text that Omnitron may send as null but the flows want as "".
Text = Annotated[str, BeforeValidator(_none_to_empty)]


def cut_to(length: int) -> BeforeValidator:
    """A validator cutting text to ``length`` characters, as Omnitron's column allows.

    Use as ``Annotated[str, cut_to(255)]``; ``None`` becomes ``""``.
    """

    def cut(value: Any) -> Any:
        if value is None:
            return ""
        return value[:length] if isinstance(value, str) else value

    return BeforeValidator(cut)


def extra_field() -> Any:
    """A fresh ``extra_field`` dict default (never shared between instances)."""
    return Field(default_factory=dict)
