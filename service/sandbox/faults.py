"""Fault knobs shared by both simulators: latency, server errors, drops, 429 bursts.

The knobs are set at start (``FaultSettings``) and changed at run time through the
control API under ``/_sandbox/`` (documented in ``docs/sandbox-control.md``). Control
routes, ``/docs`` and ``/openapi.json`` are never faulted, so a test can always turn a
fault off again.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from collections import Counter
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT_PREFIXES = ("/_sandbox/", "/docs", "/openapi.json", "/redoc")
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


class FaultSettings(BaseModel):
    """What goes wrong, and how often. Rates are shares of requests in [0, 1]."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    latency_ms: int = Field(0, ge=0, description="added to every request before it is handled")
    error_rate: float = Field(0.0, ge=0, le=1, description="answered 5xx without being handled")
    drop_rate: float = Field(0.0, ge=0, le=1, description="connection dropped, not handled")
    lost_response_rate: float = Field(
        0.0, ge=0, le=1, description="handled, then the connection drops before the answer"
    )
    burst_429: int = Field(0, ge=0, description="the next N requests are answered 429")
    retry_after_s: int = Field(1, ge=0, description="Retry-After sent with a 429")


class FaultPatch(BaseModel):
    """A partial update of :class:`FaultSettings` (omitted fields keep their value)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int | None = Field(None, ge=0)
    error_rate: float | None = Field(None, ge=0, le=1)
    drop_rate: float | None = Field(None, ge=0, le=1)
    lost_response_rate: float | None = Field(None, ge=0, le=1)
    burst_429: int | None = Field(None, ge=0)
    retry_after_s: int | None = Field(None, ge=0)


class RequestStats(BaseModel):
    """Requests seen since the last reset, by ``METHOD /path`` with ids as ``{id}``."""

    total: int
    by_route: dict[str, int]
    faults: dict[str, int]


class FaultInjector:
    """Holds the knobs and the counters, and wraps an ASGI app to apply them."""

    def __init__(self, settings: FaultSettings | None = None, seed: int = 0) -> None:
        self.settings = settings or FaultSettings()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._routes: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()

    def update(self, patch: FaultPatch) -> FaultSettings:
        """Apply the fields set in ``patch`` and return the new settings."""
        with self._lock:
            merged = self.settings.model_dump() | patch.model_dump(exclude_none=True)
            self.settings = FaultSettings(**merged)
            return self.settings

    def stats(self) -> RequestStats:
        """Counters of handled requests and injected faults."""
        with self._lock:
            return RequestStats(
                total=sum(self._routes.values()),
                by_route=dict(self._routes),
                faults=dict(self._faults),
            )

    def reset_stats(self) -> None:
        """Zero the counters."""
        with self._lock:
            self._routes.clear()
            self._faults.clear()

    def _decide(self, method: str, path: str) -> str | None:
        """Count the request and pick the fault it gets, if any."""
        with self._lock:
            self._routes[f"{method} {_ID_SEGMENT.sub('/{id}', path)}"] += 1
            s = self.settings
            fault: str | None = None
            if s.burst_429 > 0:
                self.settings = s.model_copy(update={"burst_429": s.burst_429 - 1})
                fault = "429"
            elif self._rng.random() < s.error_rate:
                fault = "5xx"
            elif self._rng.random() < s.drop_rate:
                fault = "drop"
            elif self._rng.random() < s.lost_response_rate:
                fault = "lost_response"
            if fault:
                self._faults[fault] += 1
            return fault

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Wrap ``app`` so every non-exempt HTTP request passes through the knobs."""

        async def faulted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
                await app(scope, receive, send)
                return
            fault = self._decide(scope["method"], scope["path"])
            if self.settings.latency_ms:
                await asyncio.sleep(self.settings.latency_ms / 1000)
            if fault == "429":
                await _send_json(
                    send,
                    429,
                    {"detail": "Request was throttled.", "code": "throttled"},
                    [(b"retry-after", str(self.settings.retry_after_s).encode())],
                )
            elif fault == "5xx":
                status = self._rng.choice((500, 502, 503))
                await _send_json(send, status, {"detail": f"Sandbox fault: HTTP {status}."})
            elif fault == "drop":
                await _drop(send)
            elif fault == "lost_response":
                await app(scope, receive, _swallow)
                await _drop(send)
            else:
                await app(scope, receive, send)

        return faulted

    def control_router(self) -> APIRouter:
        """``GET/PATCH /_sandbox/faults``, ``GET /_sandbox/stats``, ``POST .../reset``."""
        router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])

        @router.get("/faults")
        def get_faults() -> FaultSettings:
            return self.settings

        @router.patch("/faults")
        def patch_faults(patch: FaultPatch) -> FaultSettings:
            return self.update(patch)

        @router.get("/stats")
        def get_stats() -> RequestStats:
            return self.stats()

        @router.post("/stats/reset")
        def reset_stats() -> RequestStats:
            self.reset_stats()
            return self.stats()

        return router


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _swallow(message: dict[str, Any]) -> None:
    """A ``send`` that discards the app's answer (the response that gets lost)."""


async def _drop(send: Send) -> None:
    """Promise a body and stop half-way: the server closes the connection mid-response."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
