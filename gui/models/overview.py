"""The Overview table: one row per profile, what each channel is doing at a glance.

A row joins two kinds of facts. What the profile's store holds — the last run of each
flow, open problems, pending and stale batches, the outbox — is read by
:func:`read_summary` on the profile's store reader (a worker thread; never the GUI
thread, whatever the number of profiles). What lives in the console — whether the
connection opened, the last health checks of Omnitron and the channel, the next
scheduled run — comes with it in an :class:`OverviewRow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from gui.models.badges import outcome_badge
from gui.models.batches import DEFAULT_STALE_AFTER, PENDING_STATUSES
from gui.models.formatting import format_age, format_time
from gui.models.lazy import BADGE_ROLE
from gui.widgets.outbox_status import outbox_text
from gui.widgets.plain_text import plain_tooltip
from gui.workers import SessionState, flow_title
from service.flows.names import Flow
from service.store import Store
from service.store_records import OutboxCounts, RunRecord

PROFILE_ROLE = Qt.ItemDataRole.UserRole + 40
"""Role of every cell: the name of the row's profile."""

NONE_YET = "—"

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class StoreSummary:
    """What one profile's store says about it."""

    last_runs: dict[Flow, RunRecord]
    open_problems: int
    pending_batches: int
    stale_batches: int
    outbox: OutboxCounts


def read_summary(
    store: Store, *, now: datetime | None = None, stale_after: timedelta = DEFAULT_STALE_AFTER
) -> StoreSummary:
    """Read ``store``'s summary (blocking: run it on a store reader's thread).

    A batch is stale as in the Batches view: pending for longer than ``stale_after``.
    """
    now = now or datetime.now(UTC)
    last_runs = {}
    for flow in Flow:  # one indexed read per flow (runs by flow and start)
        runs = store.list_runs(flow=flow.value, limit=1)
        if runs:
            last_runs[flow] = runs[0]
    pending = sorted(PENDING_STATUSES)
    return StoreSummary(
        last_runs=last_runs,
        open_problems=store.count_open_problems(),
        pending_batches=store.count_batches(statuses=pending),
        stale_batches=store.count_stale_batches(pending, now - stale_after),
        outbox=store.outbox_counts(),
    )


@dataclass(frozen=True)
class Health:
    """One check of a server: reachable or not, what it said, when."""

    ok: bool
    detail: str
    at: datetime


@dataclass(frozen=True)
class OverviewRow:
    """One profile's row. ``state`` is ``None`` when its session could not even open."""

    profile: str
    target: str
    state: SessionState | None
    error: str = ""
    runner: str = "local"
    summary: StoreSummary | None = None
    omnitron: Health | None = None
    channel: Health | None = None
    next_run: str = ""
    next_run_tip: str = ""
    shown: bool = False


@dataclass(frozen=True)
class _Column:
    key: str
    title: str
    badge: bool = False
    numeric: bool = False


FLOW_COLUMN_PREFIX = "flow:"
# What needs attention first, then the last run of each flow (the widest part).
COLUMNS: tuple[_Column, ...] = (
    _Column("profile", "Profile"),
    _Column("state", "Connection", badge=True),
    _Column("omnitron", "Omnitron", badge=True),
    _Column("channel", "Channel", badge=True),
    _Column("problems", "Problems", badge=True, numeric=True),
    _Column("pending", "Pending", numeric=True),
    _Column("stale", "Stale", badge=True, numeric=True),
    _Column("outbox", "Outbox"),
    _Column("next", "Next run"),
    *(_Column(FLOW_COLUMN_PREFIX + flow.value, flow_title(flow), badge=True) for flow in Flow),
)


def _state_cell(row: OverviewRow) -> tuple[str, str | None, str]:
    if row.state is None or row.state is SessionState.FAILED:
        return f"failed: {row.error}" if row.error else "failed", "danger", row.error
    if row.state is SessionState.STARTING:
        return "connecting…", "info", ""
    if row.state is SessionState.CLOSED:
        return "closed", "neutral", ""
    words = "workers" if row.runner == "workers" else "ready"
    return words, "success", row.target


def _health_cell(health: Health | None, name: str) -> tuple[str, str | None, str]:
    if health is None:
        return NONE_YET, None, f"{name} not checked yet"
    when = health.at.astimezone().strftime("%H:%M")
    if health.ok:
        return f"OK ({when})", "success", health.detail
    return f"unreachable ({when})", "danger", health.detail


def _run_cell(run: RunRecord | None, now: datetime) -> tuple[str, str | None, str]:
    if run is None:
        return "never", None, "No run recorded yet"
    label, kind = outcome_badge(run)
    when = run.finished_at or run.started_at
    # "completed with 3 failures" reads "3 failures" here: amber says the rest.
    short = label.removeprefix("completed with ")
    tip = f"{label} — {'started' if run.finished_at is None else 'ended'} {format_time(when)}"
    if run.message:
        tip += f"\n{run.message}"
    return f"{short} · {format_age(when, now)} ago", kind, tip


class OverviewModel(QAbstractTableModel):
    """Rows of :class:`OverviewRow`, in the order profiles were added."""

    def __init__(self, parent: QObject | None = None) -> None:
        """An empty overview."""
        super().__init__(parent)
        self._rows: list[OverviewRow] = []
        self.now: datetime = datetime.now(UTC)

    # -- content --------------------------------------------------------------------

    def set_row(self, row: OverviewRow, now: datetime | None = None) -> None:
        """Add or replace the row of ``row.profile``."""
        if now is not None:
            self.now = now
        for index, old in enumerate(self._rows):
            if old.profile == row.profile:
                self._rows[index] = row
                self.dataChanged.emit(self.index(index, 0), self.index(index, len(COLUMNS) - 1))
                return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(row)
        self.endInsertRows()

    def row_of(self, profile: str) -> OverviewRow | None:
        """The row of ``profile``."""
        return next((row for row in self._rows if row.profile == profile), None)

    def profile_at(self, row: int) -> str:
        """The profile name of row ``row``."""
        return self._rows[row].profile

    def row_index(self, profile: str) -> int:
        """The row number of ``profile`` (``-1`` when it has none)."""
        return next((i for i, row in enumerate(self._rows) if row.profile == profile), -1)

    def text(self, profile: str, key: str) -> str:
        """The text the cell ``key`` of ``profile``'s row shows."""
        row = self.row_of(profile)
        if row is None:
            raise KeyError(profile)
        return self._cell(row, key)[0]

    def describe(self, profile: str) -> str:
        """Everything about ``profile``'s row in full words (the view's detail line)."""
        row = self.row_of(profile)
        if row is None:
            raise KeyError(profile)
        state = self._cell(row, "state")[0]
        lines = [f"{row.profile} — {row.target} — {state}"]
        if row.summary is not None:
            runs = [
                f"{flow_title(flow)}: {self._cell(row, FLOW_COLUMN_PREFIX + flow.value)[2]}"
                for flow in Flow
                if flow in row.summary.last_runs
            ]
            lines += [line.splitlines()[0] for line in runs]
        return "\n".join(lines)

    def badge(self, profile: str, key: str) -> str | None:
        """The badge kind of the cell ``key`` of ``profile``'s row."""
        row = self.row_of(profile)
        if row is None:
            raise KeyError(profile)
        return self._cell(row, key)[1]

    # -- cells ----------------------------------------------------------------------

    def _cell(self, row: OverviewRow, key: str) -> tuple[str, str | None, str]:
        """(text, badge kind, tooltip) of one cell."""
        summary = row.summary
        if key == "profile":
            name = f"{row.profile} (shown)" if row.shown else row.profile
            return name, None, f"{row.profile}: {row.target}"
        if key == "state":
            return _state_cell(row)
        if key == "omnitron":
            return _health_cell(row.omnitron, "Omnitron")
        if key == "channel":
            return _health_cell(row.channel, "The channel")
        if key == "next":
            return row.next_run or "none scheduled", None, row.next_run_tip
        if summary is None:
            return NONE_YET, None, "Not read yet"
        if key.startswith(FLOW_COLUMN_PREFIX):
            flow = Flow(key.removeprefix(FLOW_COLUMN_PREFIX))
            return _run_cell(summary.last_runs.get(flow), self.now)
        if key == "problems":
            count = summary.open_problems
            return str(count), ("warning" if count else "success"), "Open problems (causes)"
        if key == "pending":
            return str(summary.pending_batches), None, "Pending batch requests (not finished)"
        if key == "stale":
            count = summary.stale_batches
            limit = int(DEFAULT_STALE_AFTER.total_seconds() // 60)
            tip = f"Batch requests pending for longer than {limit} min"
            return str(count), ("warning" if count else None), tip
        if key == "outbox":
            text = outbox_text(summary.outbox).removeprefix("Outbox: ")
            return text or "empty", None, "Error reports Omnitron does not hold yet"
        raise KeyError(key)

    # -- Qt -------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        """One row per profile."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        """The columns of :data:`COLUMNS`."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles."""
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, tooltip, badge kind and profile of a cell."""
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = COLUMNS[index.column()]
        if role == PROFILE_ROLE:
            return row.profile
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, BADGE_ROLE):
            text, kind, tip = self._cell(row, column.key)
            if role == Qt.ItemDataRole.DisplayRole:
                return text
            if role == Qt.ItemDataRole.ToolTipRole:
                # Errors quote servers: shown as text, never as HTML.
                return plain_tooltip(tip) if tip else None
            return kind
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and row.shown and column.key == "profile":
            font = QFont()
            font.setBold(True)
            return font
        return None
