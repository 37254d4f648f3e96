"""Routes for error reports: general ones and unknown-location ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from service.sandbox.omnitron.api_common import check_channel, list_answer
from service.sandbox.omnitron.errors import ApiError, not_found
from service.sandbox.omnitron.query import Fields, as_int, column
from service.sandbox.omnitron.schema import CONTENT_TYPE_IDS, CONTENT_TYPE_NAMES
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import public

LOCATION_TYPES = frozenset(("city", "township", "district"))
# Nothing shows Omnitron filters error reports (docs/omnitron-api.md §9): without the
# inferred filters these listings answer every report, oldest first (``sort`` orders).
# ``error_code`` stays undeclared: nothing shows it exists, and the outbox's look-up by
# code is built (and tested) for a server that ignores it.
REPORT_FIELDS: Fields = {}
# Inferred (§9), declared unless ``OmnitronSimConfig.inferred_filters`` is off: what
# Omnitron's Marketplace Logs page filters by (status, update date).
INFERRED_REPORT_FIELDS: Fields = {
    "is_ok": column("is_ok", "bool"),
    "created_date": column("created_date", "date", ("gt", "gte", "lt", "lte")),
    "modified_date": column("modified_date", "date", ("gt", "gte", "lt", "lte")),
}
LOCATION_REPORT_FIELDS: Fields = {}


class ErrorReportBody(BaseModel):
    """Body of ``POST error_reports/``."""

    model_config = ConfigDict(extra="ignore")

    action_content_type: Any = None
    action_object_id: Any = None
    target_content_type: Any = None
    target_object_id: Any = None
    obj_modified_date: str | None = None
    error_code: str | None = None
    error_desc: str | None = None
    raw_request: str | None = None
    raw_response: str | None = None
    is_ok: bool = False


class LocationReportBody(BaseModel):
    """Body of ``POST error_reports/{type}/`` (city, township or district)."""

    model_config = ConfigDict(extra="ignore")

    type: str | None = None
    remote_code: str | None = None
    country_id: Any = None
    city_id: Any = None
    township_id: Any = None
    name: str | None = None
    integration_type: str | None = None
    err_code: str | None = None
    err_desc: str | None = None


def _content_type(raw: Any, name: str, default: int | None) -> int | None:
    if raw is None or raw == "":
        return default
    pk = as_int(raw)
    if pk is None:
        pk = CONTENT_TYPE_IDS.get(str(raw))
    if pk is None or pk not in CONTENT_TYPE_NAMES:
        raise ApiError(400, {name: [f'Invalid pk "{raw}" - object does not exist.']})
    return pk


def build_report_router(state: SimState) -> APIRouter:
    """``error_reports/`` and ``error_reports/{type}/`` under ``channel/{id}/``."""
    router = APIRouter(prefix="/channel/{channel_id}", tags=["error reports"])
    t = state.tables
    listed_by = INFERRED_REPORT_FIELDS if state.config.inferred_filters else REPORT_FIELDS

    @router.post("/error_reports/", status_code=201)
    def post_report(channel_id: int, body: ErrorReportBody) -> JSONResponse:
        """Record an error (or success) report of a flow step."""
        with state.transaction():
            check_channel(state, channel_id)
            if not body.error_code:
                raise ApiError(400, {"error_code": ["This field is required."]})
            channel_ct = CONTENT_TYPE_IDS["channel"]
            stamp = state.stamp_iso()
            row = t.error_reports.insert(
                {
                    "channel": state.config.channel_id,
                    "action_content_type": _content_type(
                        body.action_content_type, "action_content_type", None
                    ),
                    "action_object_id": as_int(body.action_object_id),
                    "target_content_type": _content_type(
                        body.target_content_type, "target_content_type", channel_ct
                    ),
                    "target_object_id": as_int(body.target_object_id) or state.config.channel_id,
                    "obj_modified_date": body.obj_modified_date,
                    "error_code": body.error_code,
                    "error_desc": body.error_desc or "",
                    "raw_request": body.raw_request or "",
                    "raw_response": body.raw_response or "",
                    "is_ok": body.is_ok,
                    # Written once: last modified when created.
                    "created_date": stamp,
                    "modified_date": stamp,
                }
            )
            return JSONResponse(public(row), status_code=201)

    @router.get("/error_reports/")
    def list_reports(channel_id: int, request: Request) -> dict[str, Any]:
        """Error reports, filtered only by the inferred ``is_ok`` and date ranges (when
        declared): ``error_code`` is not a filter Omnitron is known to declare, so the
        outbox's look-up by code compares codes itself (§9)."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.error_reports, listed_by)

    @router.post("/error_reports/{kind}/", status_code=201)
    def post_location_report(channel_id: int, kind: str, body: LocationReportBody) -> JSONResponse:
        """Report a city/township/district the channel sent that no mapping resolves."""
        with state.transaction():
            check_channel(state, channel_id)
            if kind not in LOCATION_TYPES:
                raise not_found()
            if not body.remote_code:
                raise ApiError(400, {"remote_code": ["This field is required."]})
            row = t.location_error_reports.insert(
                {
                    "type": kind,
                    "remote_code": body.remote_code,
                    "country_id": as_int(body.country_id),
                    "city_id": as_int(body.city_id),
                    "township_id": as_int(body.township_id),
                    "name": body.name,
                    "integration_type": body.integration_type,
                    "err_code": body.err_code,
                    "err_desc": body.err_desc,
                    "created_date": state.stamp_iso(),
                }
            )
            return JSONResponse(public(row), status_code=201)

    @router.get("/error_reports/{kind}/")
    def list_location_reports(channel_id: int, kind: str, request: Request) -> dict[str, Any]:
        """Unknown-location reports of one type."""
        with state.transaction():
            check_channel(state, channel_id)
            if kind not in LOCATION_TYPES:
                raise not_found()
            return list_answer(
                request,
                t.location_error_reports,
                LOCATION_REPORT_FIELDS,
                candidates=t.location_error_reports.lookup("type", kind),
            )

    return router
