"""Routes for orders, order items, cancels and cancellation requests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.sandbox.omnitron.api_common import check_channel, get_or_404, list_answer
from service.sandbox.omnitron.cancellations import (
    CancellationRequestBody,
    create_request,
    patch_request,
)
from service.sandbox.omnitron.orders import (
    CancelBody,
    CreateOrdersBody,
    ItemPatch,
    cancel_order,
    create_order,
    patch_item,
)
from service.sandbox.omnitron.query import Fields, column
from service.sandbox.omnitron.state import SimState
from service.sandbox.omnitron.store import public
from service.sandbox.omnitron.updates import pending_updates

# Declared filter sets (docs/omnitron-api.md §9); every other parameter is ignored.
_channel = column("channel", "int")
ORDER_FIELDS: Fields = {
    "pk": column("pk", "int", ("exact", "in")),
    "number": column("number"),
    "channel": _channel,
    "channel_id": _channel,
}
ITEM_FIELDS: Fields = {"order": column("order", "int")}
# Nothing shows Omnitron filters cancellation requests (not even by ``remote_id``).
REQUEST_FIELDS: Fields = {}


def build_order_router(state: SimState) -> APIRouter:
    """Order routes under ``channel/{id}/``."""
    router = APIRouter(prefix="/channel/{channel_id}", tags=["orders"])
    t = state.tables

    def own_channel(row: dict[str, Any]) -> bool:
        return row["channel"] == state.config.channel_id

    @router.get("/orders/updates/")
    def order_updates(channel_id: int, request: Request) -> dict[str, Any]:
        """Orders changed since their last successful sync and not held by a batch."""
        with state.transaction():
            check_channel(state, channel_id)
            pending = pending_updates(state, t.orders, "order")
            return list_answer(request, t.orders, ORDER_FIELDS, candidates=pending)

    @router.get("/orders/")
    def list_orders(channel_id: int, request: Request) -> dict[str, Any]:
        """Orders; ``number``+``channel_id`` and ``pk__in`` are the usual filters."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.orders, ORDER_FIELDS, where=own_channel)

    @router.get("/orders/{pk}/")
    def get_order(channel_id: int, pk: int) -> dict[str, Any]:
        """One order."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(get_or_404(t.orders, pk))

    @router.post("/orders/{pk}/cancel/")
    def post_cancel(channel_id: int, pk: int, body: CancelBody) -> dict[str, Any]:
        """Cancel items of the order with reasons (the order too when none is left)."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(cancel_order(state, pk, body))

    @router.post("/create_orders/", status_code=201)
    def post_create_orders(channel_id: int, body: CreateOrdersBody) -> JSONResponse:
        """Create an order and its items in one call."""
        with state.transaction():
            check_channel(state, channel_id)
            return JSONResponse(public(create_order(state, body)), status_code=201)

    @router.get("/order_items/")
    def list_items(channel_id: int, request: Request) -> dict[str, Any]:
        """Order items, usually ``?order=<pk>&sort=id``."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.order_items, ITEM_FIELDS)

    @router.get("/order_items/{pk}/")
    def get_item(channel_id: int, pk: int) -> dict[str, Any]:
        """One order item."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(get_or_404(t.order_items, pk))

    @router.patch("/order_items/{pk}/")
    def update_item(channel_id: int, pk: int, body: ItemPatch) -> dict[str, Any]:
        """Change status, invoice number/date, tracking number or ``extra_field``."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(patch_item(state, pk, body))

    @router.get("/cancellation_requests/updates/")
    def request_updates(channel_id: int, request: Request) -> dict[str, Any]:
        """Cancellation requests changed since their last successful sync."""
        with state.transaction():
            check_channel(state, channel_id)
            pending = pending_updates(state, t.cancellation_requests, "cancellationrequest")
            return list_answer(request, t.cancellation_requests, REQUEST_FIELDS, candidates=pending)

    @router.get("/cancellation_requests/")
    def list_requests(channel_id: int, request: Request) -> dict[str, Any]:
        """Cancellation requests."""
        with state.transaction():
            check_channel(state, channel_id)
            return list_answer(request, t.cancellation_requests, REQUEST_FIELDS)

    @router.post("/cancellation_requests/", status_code=201)
    def post_request(channel_id: int, body: CancellationRequestBody) -> JSONResponse:
        """Create a cancellation request for an order item."""
        with state.transaction():
            check_channel(state, channel_id)
            return JSONResponse(public(create_request(state, body)), status_code=201)

    @router.get("/cancellation_requests/{pk}/")
    def get_request(channel_id: int, pk: int) -> dict[str, Any]:
        """One cancellation request."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(get_or_404(t.cancellation_requests, pk))

    @router.patch("/cancellation_requests/{pk}/")
    def update_request(channel_id: int, pk: int, body: CancellationRequestBody) -> dict[str, Any]:
        """Partial update of a cancellation request."""
        with state.transaction():
            check_channel(state, channel_id)
            return public(patch_request(state, pk, body))

    return router
