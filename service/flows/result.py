"""The typed outcome of one run of a flow."""

from __future__ import annotations

import threading
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from service.flows.names import Flow
from service.flows.outcome import describe_outcome, outcome_key


class RunOutcome(StrEnum):
    """How a run ended. Per-item failures still make a ``completed`` run.

    "Completed with failures" is derived from ``failed`` (:mod:`service.flows.outcome`).

    ``interrupted``: the run's owner stopped before the run could end — its process
    died (a later run records that), or it stalled so long that another run took its
    lease over and it stopped at its next safe point.
    """

    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class BatchOutcome(BaseModel):
    """A batch request a run opened or moved, as it stood when the run ended."""

    model_config = ConfigDict(frozen=True)

    pk: int
    local_batch_id: str
    status: str
    content_type: str | None = None
    remote_batch_id: str | None = None
    objects: int = 0
    failed_objects: int = 0


class FlowResult(BaseModel):
    """What a run did: counts, its batches, its error reports, how long it took."""

    model_config = ConfigDict(frozen=True)

    flow: Flow
    run_id: int
    outcome: RunOutcome
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    # Parked items retried that still wait: counted apart from this run's failures.
    waiting: int = 0
    # How many items the run knew it had (its last progress), ``None`` if never known.
    total: int | None = None
    batches: tuple[BatchOutcome, ...] = ()
    error_report_ids: tuple[int, ...] = ()
    duration_s: float = 0.0
    message: str = ""

    @property
    def error_count(self) -> int:
        """How many failure reports the run wrote."""
        return len(self.error_report_ids)

    @property
    def outcome_key(self) -> str:
        """``completed_with_failures`` for a completed run that failed items, else the outcome."""
        return outcome_key(self.outcome, self.failed)

    @property
    def outcome_label(self) -> str:
        """The outcome as people read it: "completed with 3 failures", "nothing new", …"""
        return describe_outcome(self).label

    @property
    def outcome_tone(self) -> str:
        """``ok``, ``warn``, ``bad`` or ``neutral`` (see :mod:`service.flows.outcome`)."""
        return describe_outcome(self).tone


class Tally:
    """Counters a flow bumps from several worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.created = 0
        self.updated = 0
        self.skipped = 0
        self.failed = 0
        self.waiting = 0

    def add(
        self,
        *,
        created: int = 0,
        updated: int = 0,
        skipped: int = 0,
        failed: int = 0,
        waiting: int = 0,
    ) -> None:
        """Add to the counters atomically.

        ``waiting``: an item left waiting — a parked item retried that still waits, or
        an order sent to the channel whose verdict check-batches brings. It is not a
        failure of this run and not ``done``; the run says "still waiting (N)".
        """
        with self._lock:
            self.created += created
            self.updated += updated
            self.skipped += skipped
            self.failed += failed
            self.waiting += waiting

    @property
    def done(self) -> int:
        """Items finished in any way (a retried parked item that still waits included)."""
        with self._lock:
            return self.created + self.updated + self.skipped + self.failed + self.waiting


class RunSummary(BaseModel):
    """The counts a flow hands back to the runner, which adds run id, batches and timing."""

    model_config = ConfigDict(frozen=True)

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    message: str = ""
    extra: dict[str, int] = Field(default_factory=dict)
