"""Omnitron-specific control routes under ``/_sandbox/`` (no auth, never faulted)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from service.sandbox.omnitron.state import SimState


class RevokeResult(BaseModel):
    """How many tokens were invalidated."""

    revoked: int


class Summary(BaseModel):
    """Rows per resource, plus a few counts by status."""

    counts: dict[str, int]
    orders_by_status: dict[str, int]
    batch_requests_by_status: dict[str, int]
    integration_actions_by_status: dict[str, int]


def build_control_router(state: SimState) -> APIRouter:
    """``POST /_sandbox/tokens/revoke`` and ``GET /_sandbox/summary``."""
    router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])

    @router.post("/tokens/revoke")
    def revoke_tokens() -> RevokeResult:
        """Invalidate every issued token (the next API call gets 401 and must log in)."""
        with state.lock:
            revoked = len(state.tokens)
            state.tokens.clear()
        return RevokeResult(revoked=revoked)

    @router.get("/summary")
    def summary() -> Summary:
        """Counts per resource, after applying due order progress."""
        with state.transaction():
            t = state.tables

            def by(table_rows: object, key: str) -> dict[str, int]:
                counts: dict[str, int] = {}
                for row in table_rows:  # type: ignore[attr-defined]
                    value = str(row.get(key))
                    counts[value] = counts.get(value, 0) + 1
                return dict(sorted(counts.items()))

            return Summary(
                counts=t.counts(state.store),
                orders_by_status=by(t.orders.rows(), "status"),
                batch_requests_by_status=by(t.batch_requests.rows(), "status"),
                integration_actions_by_status=by(t.integration_actions.rows(), "status"),
            )

    return router
