"""Recent runs of every flow, sortable, with the last day's activity and a run's detail.

Double-click a run (or press Enter on it) to open it beside the table: its counts,
its persisted log (kept in the store, so it survives a restart), a link to its
batch request and one to its error reports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.models.formatting import format_duration, format_time
from gui.models.lazy import ID_ROLE
from gui.models.runs import RunQuery, RunsModel
from gui.widgets.detail_pane import detail_fields, detail_title
from gui.widgets.empty_state import EmptyState
from gui.widgets.hourly_chart import HourlyChart, hour_floor
from gui.widgets.last_updated import LastUpdated
from gui.widgets.plain_text import plain_label
from gui.widgets.tables import configure_table, keep_place_on_refresh
from service.flows.names import Flow
from service.store import BatchMirror, ErrorQuery, RunRecord, Store
from service.store_records import RunLogEntry

CHART_HOURS = 24
ALL_FLOWS = "All flows"
# The detail shows the end of a long run's log; the CLI's -v has all of it.
LOG_LINES = 2_000
_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


@dataclass(frozen=True)
class RunDetail:
    """What the detail pane shows of one run, read together in the background."""

    run: RunRecord
    log: list[RunLogEntry]
    batches: list[BatchMirror]
    failures: int


def read_run_detail(store: Store, run_id: int) -> RunDetail:
    """Run ``run_id`` with its log, its batches and how many failure reports it wrote."""
    return RunDetail(
        run=store.get_run(run_id),
        log=store.run_log(run_id, limit=LOG_LINES),
        batches=store.batches_of_run(run_id),
        failures=store.count_error_reports(ErrorQuery(run_id=run_id, is_ok=False)),
    )


def log_line(entry: RunLogEntry) -> str:
    """One log entry as a line: local time, level (when not INFO), subject, message."""
    time = entry.at.astimezone().strftime("%H:%M:%S")
    level = "" if entry.level == logging.INFO else f"{logging.getLevelName(entry.level)} "
    subject = f"{entry.subject}: " if entry.subject else ""
    return f"{time}  {level}{subject}{entry.message}"


def process_text(run: RunRecord) -> str:
    """The process that ran ``run``: "pid 4242 on worker-1, task …" (a worker's task)."""
    if run.pid is None and not run.host:
        return "—"
    where = " on ".join(part for part in (f"pid {run.pid}" if run.pid else "", run.host) if part)
    return f"{where}, task {run.task_id}" if run.task_id else where


OUTCOME_COLUMN = 2


class RunsView(QWidget):
    """The runs of the store, newest first, the last day's chart, and an opened run."""

    run_activated = Signal(int)
    """A run was opened (double-click or Enter), its id."""
    batch_link_activated = Signal(int)
    """The user asked to see the opened run's batch (its pk) in Batches."""
    reports_requested = Signal(int)
    """The user asked to see the opened run's error reports (its id) in Error reports."""
    activity_loaded = Signal()
    """The chart's numbers were read."""
    detail_loaded = Signal()
    """An opened run's detail (log, batch, reports) was read and shown."""

    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        """The view over ``store``; it starts loading at once."""
        super().__init__(parent)
        self.setObjectName("runs-view")
        self.store = store
        self.model = RunsModel(store, parent=self)
        self._opened: RunDetail | None = None

        self.flow_filter = QComboBox(self)
        self.flow_filter.setObjectName("runs-flow-filter")
        self.flow_filter.addItem(ALL_FLOWS, None)
        for flow in Flow:
            self.flow_filter.addItem(flow.value, flow.value)
        self.flow_filter.currentIndexChanged.connect(self._apply_filter)
        self.count_label = plain_label(parent=self)
        self.count_label.setObjectName("runs-count")
        self.last_updated = LastUpdated("runs", self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Flow", self))
        bar.addWidget(self.flow_filter)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        bar.addWidget(self.last_updated)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("runs-splitter")
        self.chart = HourlyChart(CHART_HOURS, self.splitter)
        self.chart.setObjectName("runs-chart")
        lower = QSplitter(Qt.Orientation.Horizontal, self.splitter)
        lower.setObjectName("runs-detail-splitter")
        self.table = QTableView(lower)
        self.table.setObjectName("runs-table")
        configure_table(self.table, self.model)
        keep_place_on_refresh(self.table, self.model)
        self.detail = self._build_detail(lower)
        lower.addWidget(self.table)
        lower.addWidget(self.detail)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        self.splitter.addWidget(self.chart)
        self.splitter.addWidget(lower)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        for column, width in enumerate((130, 140, 90, 60, 60, 60, 60, 60, 70, 110, 60)):
            self.table.setColumnWidth(column, width)
        self.empty_state = EmptyState("runs", self.table, self.model, self._empty_message)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)

        self.table.doubleClicked.connect(self._activated)
        self.table.installEventFilter(self)
        self.model.loaded.connect(self._loaded)
        self.model.total_changed.connect(self._update_count)
        self.model.load_failed.connect(
            lambda message: self.count_label.setText(f"Could not read the runs: {message}")
        )
        self._show_detail(None)
        self.model.set_query(RunQuery())
        self._load_activity()

    # -- public ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the runs, the chart and the opened run (selection and scroll kept)."""
        self.model.refresh()
        self._load_activity()
        if self._opened is not None:
            self.open_run(self._opened.run.id)

    def focus_filter(self) -> None:
        """Focus the flow filter."""
        self.flow_filter.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def open_run(self, run_id: int) -> None:
        """Show run ``run_id`` in the detail: its log, its batch, its reports."""

        def done(detail: RunDetail) -> None:
            self._show_detail(detail)
            self.detail_loaded.emit()

        def failed(error: BaseException) -> None:
            self._show_detail(None)
            self.detail_title.setText(f"Could not read run {run_id}: {error}")

        self.model.read_in_background(lambda store: read_run_detail(store, run_id), done, failed)

    @property
    def opened_run(self) -> RunRecord | None:
        """The run the detail shows."""
        return None if self._opened is None else self._opened.run

    # -- building -------------------------------------------------------------------

    def _build_detail(self, parent: QWidget) -> QWidget:
        detail = QWidget(parent)
        detail.setObjectName("runs-detail")
        layout = QVBoxLayout(detail)
        layout.setContentsMargins(6, 0, 0, 0)
        # The run's message and log hold server and channel text: plain.
        self.detail_title = detail_title(detail, "run-detail-title")
        layout.addWidget(self.detail_title)

        form, self.detail_fields = detail_fields(
            detail,
            "run-detail",
            (
                ("counts", "Counts"),
                ("duration", "Duration"),
                ("process", "Ran in"),
                ("message", "Message"),
            ),
        )
        layout.addLayout(form)

        links = QHBoxLayout()
        self.batch_button = _link_button("runs-open-batch", detail)
        self.batch_button.clicked.connect(self._open_batch)
        self.reports_button = _link_button("runs-open-reports", detail)
        self.reports_button.clicked.connect(self._open_reports)
        links.addWidget(self.batch_button)
        links.addWidget(self.reports_button)
        links.addStretch(1)
        layout.addLayout(links)

        self.log = QPlainTextEdit(detail)
        self.log.setObjectName("run-log")
        self.log.setReadOnly(True)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(self.log, 1)
        return detail

    # -- behaviour -------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Enter on the table opens the current run, like a double-click."""
        if (
            watched is self.table
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in _ENTER_KEYS
        ):
            self._activated(self.table.currentIndex())
            return True
        return super().eventFilter(watched, event)

    def _apply_filter(self) -> None:
        order = self.model.query
        self.model.set_query(
            RunQuery(
                flow=self.flow_filter.currentData(),
                order_by=order.order_by,
                descending=order.descending,
            )
        )

    def _loaded(self) -> None:
        self.last_updated.mark()
        self._update_count()
        # Outcome badges ("completed with 12 failures") get the room they need.
        self.table.setColumnWidth(
            OUTCOME_COLUMN,
            max(
                self.table.columnWidth(OUTCOME_COLUMN), self.table.sizeHintForColumn(OUTCOME_COLUMN)
            ),
        )

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.model.total_text()} runs")

    def _empty_message(self) -> str:
        if self.flow_filter.currentData() is not None:
            return "No runs of this flow yet — run it from its tab (Ctrl+R)"
        return "No runs yet — open a flow's tab and press Run (Ctrl+R)"

    def _activated(self, index: QModelIndex) -> None:
        run_id = index.data(ID_ROLE) if index.isValid() else None
        if run_id is None:
            return
        self.open_run(int(run_id))
        self.run_activated.emit(int(run_id))

    def _show_detail(self, detail: RunDetail | None) -> None:
        self._opened = detail
        self.detail.setEnabled(detail is not None)
        if detail is None:
            self.detail_title.setText("Double-click a run (or press Enter) to open its log")
            for label in self.detail_fields.values():
                label.clear()
            self.log.clear()
            self.batch_button.hide()
            self.reports_button.hide()
            return
        run = detail.run
        self.detail_title.setText(
            f"Run {run.id} · {run.flow} · {run.outcome} · {format_time(run.started_at)}"
        )
        counts = (
            f"{run.created} created, {run.updated} updated, {run.skipped} skipped, "
            f"{run.failed} failed"
        )
        if run.waiting:
            counts += f", {run.waiting} still waiting"
        self.detail_fields["counts"].setText(counts)
        self.detail_fields["duration"].setText(format_duration(run.duration_s) or "—")
        self.detail_fields["process"].setText(process_text(run))
        self.detail_fields["message"].setText(run.message or "—")
        lines = [log_line(entry) for entry in detail.log]
        self.log.setPlainText("\n".join(lines) if lines else "No log was kept for this run.")
        if detail.batches:
            batch = detail.batches[-1]
            self.batch_button.setText(f"Open batch {batch.pk} ({batch.status})")
            self.batch_button.show()
        else:
            self.batch_button.hide()
        noun = "failure" if detail.failures == 1 else "failures"
        self.reports_button.setText(f"Show its error reports ({detail.failures} {noun})")
        self.reports_button.show()

    def _open_batch(self) -> None:
        if self._opened is not None and self._opened.batches:
            self.batch_link_activated.emit(self._opened.batches[-1].pk)

    def _open_reports(self) -> None:
        if self._opened is not None:
            self.reports_requested.emit(self._opened.run.id)

    def _load_activity(self) -> None:
        now = datetime.now(UTC)
        since = hour_floor(now) - timedelta(hours=CHART_HOURS - 1)

        def done(buckets: list[tuple[datetime, int, int]]) -> None:
            self.chart.set_activity(buckets, now)
            self.activity_loaded.emit()

        self.model.read_in_background(
            lambda store: store.hourly_activity(since), done, lambda _error: None
        )


def _link_button(name: str, parent: QWidget) -> QPushButton:
    """A flat, underlined button that reads as a link."""
    button = QPushButton(parent)
    button.setObjectName(name)
    button.setFlat(True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    button.setStyleSheet("text-align: left; text-decoration: underline;")
    return button
