"""Cancellation requests (customer cancel/refund requests on order items)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from service.sandbox.omnitron.errors import ApiError, not_found
from service.sandbox.omnitron.query import as_int
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import Row

CANCELLATION_TYPES = frozenset(("cancel", "refund"))
REQUEST_STATUSES = frozenset(("waiting_approval", "approved", "rejected", "completed"))
DEFAULT_REQUEST_STATUS = "waiting_approval"


class CancellationRequestBody(BaseModel):
    """Body of ``POST``/``PATCH cancellation_requests/`` (PATCH is partial)."""

    model_config = ConfigDict(extra="ignore")

    order_item: Any = None
    reason: Any = None
    remote_id: str | None = None
    description: str | None = None
    cancellation_type: str | None = None
    status: str | None = None
    iban: str | None = None
    holder_name: str | None = None


def _validate(state: SimState, data: dict[str, Any], partial: bool) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for name, table in (
        ("order_item", state.tables.order_items),
        ("reason", state.tables.cancellation_reasons),
    ):
        if name not in data and partial:
            continue
        raw = data.get(name)
        pk = as_int(raw)
        if raw is None or raw == "":
            errors[name] = ["This field may not be null."]
        elif pk is None or table.get(pk) is None:
            errors[name] = [f'Invalid pk "{raw}" - object does not exist.']
        out[name] = pk
    if "cancellation_type" in data or not partial:
        kind = data.get("cancellation_type") or "cancel"
        if kind not in CANCELLATION_TYPES:
            errors["cancellation_type"] = [f'"{kind}" is not a valid choice.']
        out["cancellation_type"] = kind
    if "status" in data or not partial:
        status = data.get("status") or DEFAULT_REQUEST_STATUS
        if status not in REQUEST_STATUSES:
            errors["status"] = [f'"{status}" is not a valid choice.']
        out["status"] = status
    for name in ("remote_id", "description", "iban", "holder_name"):
        if name in data or not partial:
            value = data.get(name)
            out[name] = None if value is None else str(value)
    if errors:
        raise ApiError(400, errors)
    return out


def create_request(state: SimState, body: CancellationRequestBody) -> Row:
    """Store a new cancellation request (201)."""
    fields = _validate(state, body.model_dump(), partial=False)
    stamp = state.stamp_iso()
    return state.tables.cancellation_requests.insert(
        {**fields, "created_date": stamp, "modified_date": stamp}
    )


def patch_request(state: SimState, pk: int, body: CancellationRequestBody) -> Row:
    """Partial update of a cancellation request."""
    if state.tables.cancellation_requests.get(pk) is None:
        raise not_found()
    changes = _validate(state, body.model_dump(exclude_unset=True), partial=True)
    if changes:
        changes["modified_date"] = state.stamp_iso()
    return state.tables.cancellation_requests.update(pk, changes)
