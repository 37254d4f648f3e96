"""The public marketplace API under ``/api/v1`` (API key, rate limit, JSON errors)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import JSONResponse

from service.sandbox.marketplace import schemas
from service.sandbox.marketplace.engine import Marketplace, MarketplaceError
from service.sandbox.marketplace.ratelimit import TokenBucket

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


def _error_responses() -> dict[int | str, dict[str, Any]]:
    return {
        401: {"model": schemas.ErrorBody, "description": "missing or wrong API key"},
        422: {"model": schemas.ErrorBody, "description": "invalid parameters"},
        429: {"model": schemas.ErrorBody, "description": "rate limit; see Retry-After"},
    }


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _guard(api_key: str, bucket: TokenBucket) -> Callable[..., None]:
    def guard(
        x_api_key: Annotated[str | None, Header(description="the merchant's API key")] = None,
    ) -> None:
        if x_api_key is None or not secrets.compare_digest(x_api_key, api_key):
            raise MarketplaceError(401, "unauthorized", "Missing or invalid X-Api-Key header.")
        wait = bucket.take(x_api_key)
        if wait:
            raise MarketplaceError(
                429,
                "rate_limited",
                f"Rate limit of {bucket.rate:g} requests per second exceeded.",
                {"Retry-After": str(wait)},
            )

    return guard


CreatedFrom = Annotated[
    datetime | None, Query(description="inclusive lower bound on created_at (ISO 8601)")
]
CreatedTo = Annotated[datetime | None, Query(description="exclusive upper bound on created_at")]
PageNo = Annotated[int, Query(ge=1, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")]
IdempotencyKey = Annotated[
    str | None,
    Header(description="a POST repeated with the same key gets the first answer back"),
]


def build_api_router(market: Marketplace, api_key: str, bucket: TokenBucket) -> APIRouter:
    """The ``/api/v1`` routes over ``market``."""
    router = APIRouter(
        prefix="/api/v1",
        dependencies=[Depends(_guard(api_key, bucket))],
        responses=_error_responses(),
    )

    def listing(feed: str, **kwargs: Any) -> JSONResponse:
        kwargs["created_from"] = _utc(kwargs["created_from"])
        kwargs["created_to"] = _utc(kwargs["created_to"])
        return JSONResponse(market.page(feed, **kwargs))

    @router.get("/orders", response_model=schemas.OrderPage, tags=["orders"])
    def list_orders(
        created_from: CreatedFrom = None,
        created_to: CreatedTo = None,
        status: Annotated[str | None, Query(description="only orders in this status")] = None,
        page: PageNo = 1,
        size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> JSONResponse:
        """Orders in ``(created_at, id)`` order; new orders only ever append."""
        filters = {"status": status} if status else None
        return listing(
            "orders",
            created_from=created_from,
            created_to=created_to,
            page=page,
            size=size,
            filters=filters,
        )

    @router.get(
        "/orders/{order_id}",
        response_model=schemas.Order,
        tags=["orders"],
        responses={404: {"model": schemas.ErrorBody}},
    )
    def get_order(order_id: Annotated[int, Path()]) -> JSONResponse:
        """One order with its current line statuses."""
        return JSONResponse(market.order(order_id))

    @router.get("/line-updates", response_model=schemas.LineUpdatePage, tags=["lines"])
    def list_line_updates(
        created_from: CreatedFrom = None,
        created_to: CreatedTo = None,
        page: PageNo = 1,
        size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> JSONResponse:
        """Changes of order lines (status, invoice, tracking), oldest first."""
        return listing(
            "line_updates", created_from=created_from, created_to=created_to, page=page, size=size
        )

    @router.get("/cancellations", response_model=schemas.CancellationPage, tags=["cancellations"])
    def list_cancellations(
        created_from: CreatedFrom = None,
        created_to: CreatedTo = None,
        page: PageNo = 1,
        size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> JSONResponse:
        """Cancelled orders and lines with their reason codes, oldest first."""
        return listing(
            "cancellations", created_from=created_from, created_to=created_to, page=page, size=size
        )

    @router.get(
        "/cancellation-requests",
        response_model=schemas.CancellationRequestPage,
        tags=["cancellations"],
    )
    def list_cancellation_requests(
        created_from: CreatedFrom = None,
        created_to: CreatedTo = None,
        status: Annotated[str | None, Query(description="pending, approved or rejected")] = None,
        page: PageNo = 1,
        size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> JSONResponse:
        """Customers' cancellation and refund requests, oldest first."""
        return listing(
            "cancellation_requests",
            created_from=created_from,
            created_to=created_to,
            page=page,
            size=size,
            filters={"status": status} if status else None,
        )

    @router.patch(
        "/cancellation-requests/{request_id}",
        response_model=schemas.CancellationRequest,
        tags=["cancellations"],
        responses={404: {"model": schemas.ErrorBody}, 409: {"model": schemas.ErrorBody}},
    )
    def decide_cancellation_request(
        request_id: int, body: schemas.CancellationDecision
    ) -> JSONResponse:
        """Approve (the line is cancelled) or reject (with a reason) a pending request."""
        decided = market.decide_request(request_id, body.status, body.reason_code, body.note)
        return JSONResponse(decided)

    def idempotent(key: str | None, answer: Callable[[], tuple[int, Any]]) -> JSONResponse:
        if key:
            with market.store.lock:
                stored = market.store.idempotent_answer(key)
            if stored is not None:
                return JSONResponse(stored[1], status_code=stored[0])
        status_code, body = answer()
        if key:
            with market.store.transaction():
                market.store.remember_answer(key, status_code, body)
        return JSONResponse(body, status_code=status_code)

    @router.post(
        "/orders/status-updates",
        response_model=schemas.StatusUpdateResponse,
        tags=["status updates"],
    )
    def update_statuses(
        body: schemas.StatusUpdateRequest, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Apply order status updates now; one result per order, some may FAIL."""
        updates = [u.model_dump() for u in body.updates]
        return idempotent(idempotency_key, lambda: (200, {"results": market.update_sync(updates)}))

    @router.post(
        "/orders/status-updates/batches",
        response_model=schemas.Batch,
        status_code=202,
        tags=["status updates"],
    )
    def submit_status_batch(
        body: schemas.StatusUpdateRequest, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Queue order status updates; poll the batch for the per-order results."""
        updates = [u.model_dump() for u in body.updates]
        return idempotent(idempotency_key, lambda: (202, market.submit_batch(updates)))

    @router.get(
        "/orders/status-updates/batches/{batch_id}",
        response_model=schemas.Batch,
        tags=["status updates"],
        responses={404: {"model": schemas.ErrorBody}},
    )
    def get_status_batch(batch_id: str) -> JSONResponse:
        """A batch: ``processing``, then ``completed`` with results or ``failed``."""
        return JSONResponse(market.batch(batch_id))

    return router
