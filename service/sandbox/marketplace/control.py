"""Marketplace-specific control routes under ``/_sandbox/`` (no auth, never faulted)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from service.sandbox.marketplace.engine import Behaviour, BehaviourPatch, Marketplace


class GenerateOrders(BaseModel):
    """Body of ``POST /_sandbox/orders/generate``."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(1, ge=1, le=10_000)
    broken_share: float | None = Field(None, ge=0, le=1)


class CancelOrder(BaseModel):
    """Body of ``POST /_sandbox/orders/{id}/cancel`` (all lines, first reason by default)."""

    model_config = ConfigDict(extra="forbid")

    line_ids: list[int] | None = None
    reason_code: str | None = None


class UpdateLine(BaseModel):
    """Body of ``POST /_sandbox/lines/{id}/update``; empty moves the line one step on."""

    model_config = ConfigDict(extra="forbid")

    status: str = ""
    invoice_number: str = ""
    invoice_date: str = ""
    tracking_number: str = ""


class GenerateRequests(BaseModel):
    """Body of ``POST /_sandbox/cancellation-requests/generate``."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(1, ge=1, le=1000)
    type: Literal["cancel", "refund"] | None = None
    order_id: int | None = None


def build_control_router(market: Marketplace) -> APIRouter:
    """Routes that let tests and demos drive the marketplace."""
    router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])

    @router.post("/orders/generate")
    def generate_orders(body: GenerateOrders) -> dict[str, Any]:
        """Create orders now; ``broken`` tells which kind each broken one is."""
        return {"orders": market.generate(body.count, body.broken_share)}

    @router.get("/orders")
    def list_orders(broken: bool = False) -> dict[str, Any]:
        """Every order (or only broken ones) with its broken kind."""
        market.tick()
        with market.store.lock:
            return {"orders": market.store.order_briefs(broken_only=broken)}

    @router.post("/orders/{order_id}/cancel")
    def cancel_order(order_id: int, body: CancelOrder | None = None) -> dict[str, Any]:
        """Cancel lines of an order now (also shipped ones); the cancellation is listed."""
        body = body or CancelOrder()
        return market.cancel_now(order_id, body.line_ids, body.reason_code)

    @router.post("/lines/{line_id}/update")
    def update_line(line_id: int, body: UpdateLine | None = None) -> dict[str, Any]:
        """Change a line now; the line update is listed."""
        return market.update_line_now(line_id, (body or UpdateLine()).model_dump())

    @router.post("/cancellation-requests/generate")
    def generate_requests(body: GenerateRequests | None = None) -> dict[str, Any]:
        """Create customer cancellation requests now (delivered lines first)."""
        body = body or GenerateRequests()
        return {"requests": market.generate_requests(body.count, body.type, body.order_id)}

    @router.get("/status-updates")
    def status_updates() -> dict[str, Any]:
        """Every order status update received, in arrival order, with its result."""
        with market.store.lock:
            return {"updates": market.store.status_updates()}

    @router.get("/behaviour")
    def get_behaviour() -> Behaviour:
        """Failure shares for status updates."""
        return market.behaviour

    @router.patch("/behaviour")
    def patch_behaviour(patch: BehaviourPatch) -> Behaviour:
        """Change failure shares (omitted fields keep their value)."""
        merged = market.behaviour.model_dump() | patch.model_dump(exclude_none=True)
        market.behaviour = Behaviour(**merged)
        return market.behaviour

    @router.get("/summary")
    def summary() -> dict[str, Any]:
        """Counts of orders by status and broken kind, feeds and received updates."""
        return market.summary()

    return router
