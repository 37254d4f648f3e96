"""The recent runs table, sortable by any column in SQL."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace

from PySide6.QtCore import QObject

from gui.models.badges import outcome_badge
from gui.models.formatting import format_duration, format_time
from gui.models.lazy import Column, LazyTableModel
from service.store import RunRecord, Store


@dataclass(frozen=True)
class RunQuery:
    """Which runs to list (every flow, or one) and in which order."""

    flow: str | None = None
    order_by: str = "started_at"
    descending: bool = True


def _worker_tooltip(run: RunRecord) -> str | None:
    """Which Celery task a worker ran the run for (none for a run of this machine)."""
    return f"Run on the workers as task {run.task_id}" if run.task_id else None


RUN_COLUMNS: tuple[Column, ...] = (
    Column("Flow", lambda r: r.flow, sort_key="flow"),
    Column("Started", lambda r: format_time(r.started_at), sort_key="started_at"),
    Column(
        "Outcome",
        # "completed with 3 failures" (amber), "nothing new", "cancelled after 8", …
        lambda r: outcome_badge(r)[0],
        sort_key="outcome",
        badge=lambda r: outcome_badge(r)[1],
    ),
    Column("Created", lambda r: str(r.created), sort_key="created", numeric=True),
    Column("Updated", lambda r: str(r.updated), sort_key="updated", numeric=True),
    Column("Skipped", lambda r: str(r.skipped), sort_key="skipped", numeric=True),
    Column("Failed", lambda r: str(r.failed), sort_key="failed", numeric=True),
    Column("Errors", lambda r: str(r.error_count), sort_key="error_count", numeric=True),
    Column(
        "Duration", lambda r: format_duration(r.duration_s), sort_key="duration_s", numeric=True
    ),
    # The process that ran it: this console, the CLI, or a worker anywhere in the fleet.
    Column("Host", lambda r: r.host, sort_key="host", tooltip=_worker_tooltip),
    Column(
        "PID",
        lambda r: "" if r.pid is None else str(r.pid),
        sort_key="pid",
        numeric=True,
        tooltip=_worker_tooltip,
    ),
    Column("Message", lambda r: r.message, tooltip=lambda r: r.message or None),
)


class RunsModel(LazyTableModel):
    """Runs newest first by default, optionally of one flow; a header click re-sorts in SQL."""

    def __init__(
        self, store: Store, query: RunQuery | None = None, parent: QObject | None = None
    ) -> None:
        """A model over the runs of ``store``."""
        super().__init__(store, RUN_COLUMNS, query or RunQuery(), parent=parent)

    def fetch_rows(self, store: Store, query: RunQuery, offset: int, limit: int) -> list[RunRecord]:
        """One page of runs."""
        return store.list_runs(
            flow=query.flow,
            order_by=query.order_by,
            descending=query.descending,
            limit=limit,
            offset=offset,
        )

    def count_rows(self, store: Store, query: RunQuery) -> int:
        """How many runs match."""
        return store.count_runs(flow=query.flow)

    def count_key(self, query: RunQuery) -> Hashable:
        """The filter alone."""
        return query.flow

    def ordered(self, query: RunQuery, sort_key: str, descending: bool) -> RunQuery:
        """``query`` in a new order."""
        return replace(query, order_by=sort_key, descending=descending)

    def sort_state(self) -> tuple[str | None, bool]:
        """The current order."""
        return self.query.order_by, self.query.descending

    def record_id(self, record: RunRecord) -> int:
        """The run's id."""
        return record.id
