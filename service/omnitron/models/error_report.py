"""Error reports: what the flows write to Omnitron when something fails (or succeeds)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import PlainSerializer, field_validator

from service.omnitron.models.base import OmnitronBody, OmnitronModel, OptionalRef, Pk, Text
from service.omnitron.models.location import LocationKind

INTEGRATION_TYPE = "sales_channel"


def _report_datetime(value: datetime | str | None) -> str | None:
    """``obj_modified_date`` travels as ``YYYY-MM-DD HH:MM:SS``."""
    if value is None or isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%d %H:%M:%S")


ReportDate = Annotated[
    datetime | str | None, PlainSerializer(_report_datetime, return_type=str | None)
]


class ErrorReport(OmnitronModel):
    """An error report as Omnitron stores it."""

    pk: Pk
    action_content_type: OptionalRef = None
    action_object_id: int | None = None
    target_content_type: OptionalRef = None
    target_object_id: int | None = None
    error_code: Text = ""
    error_desc: Text = ""
    obj_modified_date: str | None = None
    raw_request: Text = ""
    raw_response: Text = ""
    is_ok: bool = False
    created_date: str | None = None
    modified_date: str | None = None

    @field_validator("action_object_id", "target_object_id", mode="before")
    @classmethod
    def _int_id(cls, value: Any) -> Any:
        # The reference sends these as strings ("1"); read them as numbers.
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value


class ErrorReportCreate(OmnitronBody):
    """Body of ``POST {c}/error_reports/``.

    ``target_content_type``/``target_object_id`` left unset are filled by the client
    with the ``channel`` content type and the channel id.
    """

    action_content_type: int
    action_object_id: int
    target_content_type: int | None = None
    target_object_id: int | None = None
    obj_modified_date: ReportDate = None
    error_code: str
    error_desc: Text = ""
    raw_request: Text = ""
    raw_response: Text = ""
    is_ok: bool = False


class LocationErrorReportCreate(OmnitronBody):
    """Body of ``POST {c}/error_reports/{type}/``: a location the channel sent is unknown.

    Omnitron lists these so someone can create the missing mapping. Which ids are
    required depends on ``type`` (see :meth:`for_kind`).
    """

    type: LocationKind
    remote_code: str
    country_id: int | None = None
    city_id: int | None = None
    township_id: int | None = None
    name: str | None = None
    integration_type: str = INTEGRATION_TYPE
    err_code: str
    err_desc: str

    @classmethod
    def for_kind(
        cls,
        kind: LocationKind | str,
        *,
        channel_id: int,
        name: str,
        country_id: int | None = None,
        city_id: int | None = None,
        township_id: int | None = None,
    ) -> LocationErrorReportCreate:
        """Build the report the reference writes for an unknown city/township/district."""
        kind = LocationKind(kind)
        remote_code = f"{channel_id}_{name}"
        if kind is LocationKind.CITY:
            if country_id is None:
                raise ValueError("an unknown city is reported with its country_id")
            desc = f"Address is not valid. channel: {channel_id} code: {remote_code} "
            desc += f"model: City country id: {country_id}"
            return cls(
                type=kind,
                remote_code=remote_code,
                country_id=country_id,
                err_code=kind.error_code,
                err_desc=desc,
            )
        if city_id is None:
            raise ValueError(f"an unknown {kind.value} is reported with its city_id")
        if kind is LocationKind.TOWNSHIP:
            desc = f"Address is not valid. channel: {channel_id} code: {remote_code} "
            desc += f"model: Township city id: {city_id}"
            return cls(
                type=kind,
                remote_code=remote_code,
                city_id=city_id,
                name=name,
                err_code=kind.error_code,
                err_desc=desc,
            )
        if township_id is None:
            raise ValueError("an unknown district is reported with its township_id")
        desc = f"Address is not valid. channel: {channel_id} code: {remote_code} "
        desc += f"model: District township id: {township_id}"
        return cls(
            type=kind,
            remote_code=remote_code,
            city_id=city_id,
            township_id=township_id,
            name=name,
            err_code=kind.error_code,
            err_desc=desc,
        )
