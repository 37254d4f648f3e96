"""Configuration of the marketplace simulator."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from service.sandbox.faults import FaultSettings


class MarketplaceSimConfig(BaseModel):
    """Start-up settings of :class:`~service.sandbox.marketplace.MarketplaceSimulator`."""

    model_config = ConfigDict(extra="forbid")

    api_key: str = "sandbox-key"
    seed: int = 0
    initial_orders: int = Field(40, ge=0, description="orders waiting at start")
    arrival_per_hour: float = Field(
        30.0, ge=0, description="new orders arriving as the SimClock moves"
    )
    broken_share: float = Field(
        0.15, ge=0, le=1, description="share of generated orders that are realistically broken"
    )
    rate_limit_per_second: float = Field(
        50.0, gt=0, description="token bucket; over it the API answers 429 with Retry-After"
    )
    async_batch_seconds: float = Field(
        5.0, ge=0, description="async status-update batches complete after this (sim clock)"
    )
    data_dir: Path | None = Field(
        None, description="marketplace.sqlite3 in here survives a restart; None keeps memory"
    )
    faults: FaultSettings = FaultSettings()
