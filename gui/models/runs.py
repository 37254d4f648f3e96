"""The recent runs table."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject

from gui.models.badges import RUN_OUTCOME_KINDS
from gui.models.formatting import format_duration, format_time
from gui.models.lazy import Column, LazyTableModel
from service.store import RunRecord, Store


@dataclass(frozen=True)
class RunQuery:
    """Which runs to list: every flow, or one."""

    flow: str | None = None


RUN_COLUMNS: tuple[Column, ...] = (
    Column("Flow", lambda r: r.flow),
    Column("Started", lambda r: format_time(r.started_at)),
    Column(
        "Outcome",
        lambda r: r.outcome,
        badge=lambda r: RUN_OUTCOME_KINDS.get(r.outcome, "neutral"),
    ),
    Column("Created", lambda r: str(r.created), numeric=True),
    Column("Updated", lambda r: str(r.updated), numeric=True),
    Column("Skipped", lambda r: str(r.skipped), numeric=True),
    Column("Failed", lambda r: str(r.failed), numeric=True),
    Column("Errors", lambda r: str(r.error_count), numeric=True),
    Column("Duration", lambda r: format_duration(r.duration_s), numeric=True),
    Column("Message", lambda r: r.message, tooltip=lambda r: r.message or None),
)


class RunsModel(LazyTableModel):
    """Runs newest first (the store lists them only in that order), optionally of one flow."""

    def __init__(
        self, store: Store, query: RunQuery | None = None, parent: QObject | None = None
    ) -> None:
        """A model over the runs of ``store``."""
        super().__init__(store, RUN_COLUMNS, query or RunQuery(), parent=parent)

    def fetch_rows(self, store: Store, query: RunQuery, offset: int, limit: int) -> list[RunRecord]:
        """One page of runs."""
        return store.list_runs(flow=query.flow, limit=limit, offset=offset)

    def record_id(self, record: RunRecord) -> int:
        """The run's id."""
        return record.id
