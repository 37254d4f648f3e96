"""Settings of the Omnitron simulator."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from service.sandbox.faults import FaultSettings


class OmnitronSimConfig(BaseModel):
    """How one Omnitron simulator instance is set up."""

    username: str = "sandbox"
    password: str = "sandbox"
    channel_id: int = 1
    catalog_id: int = 1
    data_dir: Path | None = Field(
        None, description="SQLite state file lives here (survives restart); None = in memory"
    )
    seed: int = Field(0, description="deterministic generated data (pks, tracking numbers, ...)")
    faults: FaultSettings = FaultSettings()
    progress_orders: bool = Field(True, description="orders advance with the simulated clock")
    inferred_filters: bool = Field(
        True,
        description="batch-request and error-report listings declare the date, is_ok and "
        "modified_date-order filters docs/omnitron-api.md §9 marks inferred; False ignores "
        "them, as a server that does not declare them would",
    )
