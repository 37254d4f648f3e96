"""Recent runs of every flow, with orders created and errors per hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.models.lazy import ID_ROLE
from gui.models.runs import RunQuery, RunsModel
from gui.widgets.hourly_chart import HourlyChart, hour_floor
from gui.widgets.plain_text import plain_label
from gui.widgets.tables import configure_table
from service.flows.names import Flow
from service.store import Store

CHART_HOURS = 24
ALL_FLOWS = "All flows"


class RunsView(QWidget):
    """The runs of the store, newest first, and the last day's activity chart."""

    run_activated = Signal(int)
    """A run was double-clicked (its id): e.g. to show its error reports."""
    activity_loaded = Signal()
    """The chart's numbers were read."""

    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        """The view over ``store``; it starts loading at once."""
        super().__init__(parent)
        self.setObjectName("runs-view")
        self.store = store
        self.model = RunsModel(store, parent=self)

        self.flow_filter = QComboBox(self)
        self.flow_filter.setObjectName("runs-flow-filter")
        self.flow_filter.addItem(ALL_FLOWS, None)
        for flow in Flow:
            self.flow_filter.addItem(flow.value, flow.value)
        self.flow_filter.currentIndexChanged.connect(self._apply_filter)
        self.count_label = plain_label(parent=self)
        self.count_label.setObjectName("runs-count")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Flow", self))
        bar.addWidget(self.flow_filter)
        bar.addStretch(1)
        bar.addWidget(self.count_label)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("runs-splitter")
        self.chart = HourlyChart(CHART_HOURS, self.splitter)
        self.chart.setObjectName("runs-chart")
        self.table = QTableView(self.splitter)
        self.table.setObjectName("runs-table")
        configure_table(self.table, self.model, sortable=False)
        self.splitter.addWidget(self.chart)
        self.splitter.addWidget(self.table)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        for column, width in enumerate((170, 150, 100, 70, 70, 70, 70, 70, 90)):
            self.table.setColumnWidth(column, width)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)

        self.table.doubleClicked.connect(self._activated)
        self.model.loaded.connect(self._update_count)
        self.model.load_failed.connect(
            lambda message: self.count_label.setText(f"Could not read the runs: {message}")
        )
        self.model.set_query(RunQuery())
        self._load_activity()

    def refresh(self) -> None:
        """Re-read the runs and the chart."""
        self.model.refresh()
        self._load_activity()

    def focus_filter(self) -> None:
        """Focus the flow filter."""
        self.flow_filter.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _apply_filter(self) -> None:
        self.model.set_query(RunQuery(flow=self.flow_filter.currentData()))

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.model.total_text()} runs")

    def _activated(self, index: QModelIndex) -> None:
        run_id = index.data(ID_ROLE)
        if run_id is not None:
            self.run_activated.emit(int(run_id))

    def _load_activity(self) -> None:
        now = datetime.now(UTC)
        since = hour_floor(now) - timedelta(hours=CHART_HOURS - 1)

        def done(buckets: list[tuple[datetime, int, int]]) -> None:
            self.chart.set_activity(buckets, now)
            self.activity_loaded.emit()

        self.model.read_in_background(
            lambda store: store.hourly_activity(since), done, lambda _error: None
        )
