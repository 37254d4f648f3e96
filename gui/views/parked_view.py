"""Parked records: what the channel sent that waits for its order in Omnitron.

Every flow that reads a channel feed parks a line update, cancel or cancellation
request whose order is not in Omnitron yet and retries it on its later runs. This
view lists them oldest first with their age, so work that waits too long (an order
parked for a mapping nobody fixed) is visible; the detail shows why and the record.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.models.formatting import format_age, format_time
from gui.models.lazy import RECORD_ROLE
from gui.models.parked import ParkedModel, ParkedQuery
from gui.widgets.detail_pane import detail_fields, detail_title, selectable_label
from gui.widgets.empty_state import EmptyState
from gui.widgets.last_updated import LastUpdated
from gui.widgets.tables import keep_place_on_refresh, table_beside_detail
from service.flows.names import Flow
from service.store import ParkedItem, Store

ALL_FLOWS = "All flows"
# The flows that park channel records.
PARKING_FLOWS: tuple[Flow, ...] = (
    Flow.FETCH_ORDERS,
    Flow.FETCH_ITEM_UPDATES,
    Flow.FETCH_CANCELS,
    Flow.FETCH_CANCELLATION_REQUESTS,
)


class ParkedView(QWidget):
    """The store's parked records, oldest first, with a flow filter and a detail pane."""

    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        """The view over ``store``; it starts loading at once."""
        super().__init__(parent)
        self.setObjectName("parked-view")
        self.store = store
        self.model = ParkedModel(store, parent=self)

        self.flow_filter = QComboBox(self)
        self.flow_filter.setObjectName("parked-flow-filter")
        self.flow_filter.addItem(ALL_FLOWS, None)
        for flow in PARKING_FLOWS:
            self.flow_filter.addItem(flow.value, flow.value)
        self.flow_filter.currentIndexChanged.connect(self._apply_filter)
        self.count_label = selectable_label(self)
        self.count_label.setObjectName("parked-count")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Flow", self))
        bar.addWidget(self.flow_filter)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        self.last_updated = LastUpdated("parked", self)
        bar.addWidget(self.last_updated)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        self.splitter, self.table, self.detail = table_beside_detail(
            self, "parked", self.model, self._build_detail, (170, 160, 90, 70, 150)
        )
        layout.addWidget(self.splitter, 1)
        keep_place_on_refresh(self.table, self.model)
        self.empty_state = EmptyState("parked", self.table, self.model, self._empty_message)

        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.model.loaded.connect(self.last_updated.mark)
        self.model.loaded.connect(self._update_count)
        self.model.total_changed.connect(self._update_count)
        self.model.load_failed.connect(
            lambda message: self.count_label.setText(
                f"Could not read the parked records: {message}"
            )
        )
        self.show_record(None)
        self.model.set_query(ParkedQuery())

    def refresh(self) -> None:
        """Re-read the parked records (ages move on, records come and go)."""
        self.model.refresh()

    def focus_filter(self) -> None:
        """Focus the flow filter."""
        self.flow_filter.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_record(self, item: ParkedItem | None) -> None:
        """Show ``item`` in the detail pane (``None`` clears it)."""
        self.detail.setEnabled(item is not None)
        if item is None:
            self.detail_title.setText("No parked record selected")
            for label in self.detail_fields.values():
                label.clear()
            self.reason.clear()
            self.record_text.clear()
            return
        self.detail_title.setText(f"{item.flow}: {item.subject or item.remote_id}")
        values = {
            "key": item.remote_id,
            "parked": f"{format_time(item.first_seen_at)} ({format_age(item.first_seen_at)} ago)",
            "attempts": str(item.attempts),
            "last-tried": format_time(item.last_seen_at),
            "report": "" if item.error_report_id is None else str(item.error_report_id),
        }
        for key, value in values.items():
            self.detail_fields[key].setText(value)
        self.reason.setPlainText(item.reason)
        record = item.payload.get("record", item.payload)
        self.record_text.setPlainText(json.dumps(record, indent=2, ensure_ascii=False))

    def _build_detail(self, splitter: QSplitter) -> QWidget:
        detail = QWidget(splitter)
        detail.setObjectName("parked-detail")
        layout = QVBoxLayout(detail)
        layout.setContentsMargins(6, 0, 0, 0)
        self.detail_title = detail_title(detail, "parked-detail-title")
        layout.addWidget(self.detail_title)

        form, self.detail_fields = detail_fields(
            detail,
            "parked-detail",
            (
                ("key", "Key"),
                ("parked", "Parked"),
                ("attempts", "Attempts"),
                ("last-tried", "Last tried"),
                ("report", "Error report"),
            ),
        )
        layout.addLayout(form)

        self.reason = QPlainTextEdit(detail)
        self.reason.setObjectName("parked-reason")
        self.reason.setReadOnly(True)
        self.reason.setMaximumHeight(70)
        layout.addWidget(self.reason)

        self.record_text = QPlainTextEdit(detail)
        self.record_text.setObjectName("parked-record")
        self.record_text.setReadOnly(True)
        self.record_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(QLabel("Record from the channel", detail))
        layout.addWidget(self.record_text, 1)
        return detail

    def _apply_filter(self) -> None:
        self.show_record(None)
        self.model.set_query(ParkedQuery(flow=self.flow_filter.currentData()))

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.model.total_text()} parked")

    def _empty_message(self) -> str:
        if self.flow_filter.currentData() is not None:
            return "Nothing of this flow is parked — all clear"
        return (
            "Nothing parked — everything the channel sent found its order in Omnitron. "
            "Records whose order is not there yet wait here until a run applies them."
        )

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        item = current.data(RECORD_ROLE) if current.isValid() else None
        self.show_record(item)
