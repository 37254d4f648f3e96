"""A simulated clock: wall time plus an offset that tests and the control API move."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field


class ClockAdvance(BaseModel):
    """Body of ``POST /_sandbox/clock/advance``."""

    seconds: float = Field(gt=0)


class ClockReading(BaseModel):
    """What the clock says now, and how far it runs ahead of wall time."""

    now: datetime
    offset_seconds: float


class SimClock:
    """Time as a simulator sees it: ``datetime.now(UTC)`` shifted by :meth:`advance`.

    Simulators derive everything time-dependent (order progress, async batch
    completion, new marketplace orders) from :meth:`now`, so moving the clock forward
    is how a test makes hours pass in a moment.
    """

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current simulated time, timezone-aware UTC."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new time."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def reading(self) -> ClockReading:
        """The current time and offset, as the control API reports them."""
        with self._lock:
            offset = self._offset
        return ClockReading(now=datetime.now(UTC) + offset, offset_seconds=offset.total_seconds())

    def control_router(self) -> APIRouter:
        """``GET /_sandbox/clock`` and ``POST /_sandbox/clock/advance``."""
        router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])

        @router.get("/clock")
        def get_clock() -> ClockReading:
            return self.reading()

        @router.post("/clock/advance")
        def advance_clock(body: ClockAdvance) -> ClockReading:
            self.advance(body.seconds)
            return self.reading()

        return router
