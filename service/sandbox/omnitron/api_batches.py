"""Routes for batch requests and integration actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from service.sandbox.omnitron.api_common import check_channel, get_or_404, list_answer
from service.sandbox.omnitron.batches import (
    BatchCreate,
    BatchPatch,
    create_batch,
    patch_batch,
    serialize_batch,
)
from service.sandbox.omnitron.integration_actions import create_action
from service.sandbox.omnitron.query import Field, Fields, column
from service.sandbox.omnitron.schema import CONTENT_TYPE_IDS, CONTENT_TYPE_NAMES, content_type_model
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import Row

# Declared filter sets (docs/omnitron-api.md §9); every other parameter is ignored.
_channel = column("channel", "int")
BATCH_FIELDS: Fields = {
    "channel": _channel,
    "channel_id": _channel,
    # Akinon's channel app repeats ``status``: modelled as a multiple choice.
    "status": column("status", multiple=True),
    "content_type": Field(
        lambda row: [row["content_type"], str(CONTENT_TYPE_IDS.get(row["content_type"] or ""))],
        many=True,
    ),
}
# Inferred (§9): date ranges and ``sort=modified_date``, declared unless the simulator is
# told to ignore them (``OmnitronSimConfig.inferred_filters``).
DATE_RANGES: Fields = {
    "created_date": column("created_date", "date", ("gt", "gte", "lt", "lte")),
    "modified_date": column("modified_date", "date", ("gt", "gte", "lt", "lte")),
}


def batch_fields(inferred: bool) -> Fields:
    """The batch-request listing's filter set, with the inferred filters or without."""
    return {**BATCH_FIELDS, **DATE_RANGES} if inferred else BATCH_FIELDS


ACTION_FIELDS: Fields = {
    "channel": _channel,
    "channel_id": _channel,
    "content_type_name": Field(content_type_model),
    "object_id": column("object_id", "int", ("exact", "in")),
    "remote_id": column("remote_id", "str", ("exact", "in")),
    "local_batch_id": column("local_batch_id"),
    "status": column("status"),
}


def serialize_action(row: Row) -> dict[str, Any]:
    """An integration action; ``content_type`` is an object with ``id`` and ``model``."""
    out = {"pk": row["pk"], "id": row["pk"]}
    out.update({k: v for k, v in row.items() if not k.startswith("_")})
    out["content_type"] = {
        "id": row["content_type"],
        "model": CONTENT_TYPE_NAMES.get(row["content_type"]),
    }
    return out


def build_batch_router(state: SimState) -> APIRouter:
    """``batch_requests/`` and ``integration_actions/`` under ``channel/{id}/``."""
    router = APIRouter(prefix="/channel/{channel_id}", tags=["batch requests"])
    t = state.tables
    listed_by = batch_fields(state.config.inferred_filters)

    @router.post("/batch_requests/", status_code=201)
    def post_batch(channel_id: int, body: BatchCreate) -> JSONResponse:
        """Start a batch in ``initialized`` (``local_batch_id`` the client's, or made here)."""
        with state.transaction():
            check_channel(state, channel_id)
            row = create_batch(state, body)
            return JSONResponse(serialize_batch(row), status_code=201)

    @router.get("/batch_requests/")
    def list_batches(channel_id: int, request: Request) -> dict[str, Any]:
        """Batches, filtered by ``status`` (repeatable), ``content_type``, ``channel`` and
        (inferred) ``created_date``/``modified_date`` ranges; ``sort`` also by those dates."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.batch_requests, listed_by, serialize_batch)

    @router.get("/batch_requests/{pk}/")
    def get_batch(channel_id: int, pk: int) -> dict[str, Any]:
        """One batch."""
        with state.transaction():
            check_channel(state, channel_id)
            return serialize_batch(get_or_404(t.batch_requests, pk))

    @router.patch("/batch_requests/{pk}/")
    def update_batch(channel_id: int, pk: int, body: BatchPatch) -> dict[str, Any]:
        """Move the batch through its states (406 on an illegal move or a held lock)."""
        with state.transaction():
            check_channel(state, channel_id)
            return serialize_batch(patch_batch(state, pk, body))

    @router.get("/integration_actions/")
    def list_actions(channel_id: int, request: Request) -> dict[str, Any]:
        """Integration actions: links from Omnitron objects to the channel's remote ids."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.integration_actions, ACTION_FIELDS, serialize_action)

    @router.post("/integration_actions/", status_code=201)
    def post_action(channel_id: int, body: Annotated[Any, Body()]) -> JSONResponse:
        """Link an existing object to the channel's id for it (a product to a SKU)."""
        with state.transaction():
            check_channel(state, channel_id)
            return JSONResponse(serialize_action(create_action(state, channel_id, body)), 201)

    @router.get("/integration_actions/{pk}/")
    def get_action(channel_id: int, pk: int) -> dict[str, Any]:
        """One integration action."""
        with state.transaction():
            check_channel(state, channel_id)
            return serialize_action(get_or_404(t.integration_actions, pk))

    return router
