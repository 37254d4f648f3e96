"""Batch requests: which are pending, which finished, which failed and why."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.models.badges import BATCH_STATUS_KINDS, badge_colors
from gui.models.batches import (
    DEFAULT_STALE_AFTER,
    STATUS_GROUPS,
    BatchesModel,
    BatchQuery,
)
from gui.models.formatting import format_age, format_time
from gui.models.lazy import RECORD_ROLE
from gui.widgets.badge import is_dark
from gui.widgets.date_range import DateRangeFilter
from gui.widgets.plain_text import plain_label, plain_tooltip
from gui.widgets.tables import table_beside_detail
from service.flows.names import Flow
from service.store import BatchMirror, ErrorQuery, Store

QUICK_FILTERS: tuple[tuple[str, str], ...] = (
    ("all", "All"),
    ("progress", "In progress"),
    ("done", "Done"),
    ("failed", "Failed"),
)
ALL_TYPES = "All types"
CONTENT_TYPES: tuple[str, ...] = tuple(sorted({flow.content_type for flow in Flow}))
# Ages and the stale highlight move with the clock; repaint (no query) this often.
REPAINT_MS = 30_000
DETAIL_REPORTS = 200


class BatchesView(QWidget):
    """The batch mirrors of the store with quick filters and a detail pane."""

    check_now_requested = Signal()
    """The user asked to run check-batches now."""

    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        """The view over ``store``; it starts loading at once."""
        super().__init__(parent)
        self.setObjectName("batches-view")
        self.store = store
        self.model = BatchesModel(store, parent=self)
        self._shown: BatchMirror | None = None
        self._locating: int | None = None

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_toolbar())
        self.splitter, self.table, self.detail = table_beside_detail(
            self, "batches", self.model, self._build_detail, (70, 220, 130, 110, 120, 90, 150, 80)
        )
        layout.addWidget(self.splitter, 1)

        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.model.loaded.connect(self._update_count)
        self.model.total_changed.connect(self._update_count)
        self.model.modelReset.connect(self._after_reset)
        self.model.load_failed.connect(
            lambda message: self.count_label.setText(f"Could not read the batches: {message}")
        )
        self._repaint = QTimer(self)
        self._repaint.setInterval(REPAINT_MS)
        self._repaint.timeout.connect(self.table.viewport().update)
        self._repaint.start()
        self._show_batch_detail(None)
        self._apply_filters()

    # -- public ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the loaded batches and the total (selection and detail kept)."""
        self.model.refresh()
        if self._shown is not None:
            self._show_batch_detail(self.store.get_batch(self._shown.pk))

    def focus_filter(self) -> None:
        """Focus the quick status filters."""
        checked = self.status_buttons.checkedButton()
        (checked or self.status_buttons.buttons()[0]).setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_batch(self, pk: int) -> None:
        """Select batch ``pk`` and show its detail; filters go back to "all" if they hide it."""
        batch = self.store.get_batch(pk)
        if batch is None:
            self.count_label.setText(f"Batch {pk} is not in the local store")
            return
        self._show_batch_detail(batch)
        if not self.current_query().admits(batch):
            self.clear_filters()
        self._locating = pk
        self.model.locate(pk, self._located)

    def clear_filters(self) -> None:
        """Every filter back to "all"."""
        widgets = (self.type_filter, self.date_range, *self.status_buttons.buttons())
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.status_buttons.button(0).setChecked(True)
            self.type_filter.setCurrentIndex(0)
            self.date_range.reset()
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._apply_filters()

    def current_query(self) -> BatchQuery:
        """The query the filters describe, in the table's current order."""
        group = QUICK_FILTERS[max(0, self.status_buttons.checkedId())][0]
        content_type = self.type_filter.currentText()
        since, until = self.date_range.range()
        order = self.model.query
        return BatchQuery(
            statuses=STATUS_GROUPS[group],
            content_type=None if content_type == ALL_TYPES else content_type,
            since=since,
            until=until,
            order_by=order.order_by,
            descending=order.descending,
        )

    def copy_ids(self) -> str:
        """Copy the shown batch's pk, local and remote batch id; returns the text."""
        batch = self._shown
        if batch is None:
            return ""
        text = (
            f"pk: {batch.pk}\nlocal_batch_id: {batch.local_batch_id}\n"
            f"remote_batch_id: {batch.remote_batch_id or ''}"
        )
        QGuiApplication.clipboard().setText(text)
        return text

    # -- building -------------------------------------------------------------------

    def _build_toolbar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        segments = QFrame(self)
        segments.setObjectName("batches-status-filters")
        segment_layout = QHBoxLayout(segments)
        segment_layout.setContentsMargins(0, 0, 0, 0)
        segment_layout.setSpacing(0)
        self.status_buttons = QButtonGroup(self)
        self.status_buttons.setExclusive(True)
        for number, (key, label) in enumerate(QUICK_FILTERS):
            button = QPushButton(label, segments)
            button.setObjectName(f"batches-filter-{key}")
            button.setCheckable(True)
            button.setChecked(number == 0)
            self.status_buttons.addButton(button, number)
            segment_layout.addWidget(button)
        self.status_buttons.idToggled.connect(
            lambda _id, checked: self._apply_filters() if checked else None
        )
        bar.addWidget(segments)

        self.type_filter = QComboBox(self)
        self.type_filter.setObjectName("batches-type-filter")
        self.type_filter.addItems([ALL_TYPES, *CONTENT_TYPES])
        self.type_filter.currentIndexChanged.connect(self._apply_filters)
        bar.addWidget(self.type_filter)

        self.date_range = DateRangeFilter("batches", self)
        self.date_range.changed.connect(self._apply_filters)
        bar.addWidget(self.date_range)

        bar.addWidget(QLabel("Stale after", self))
        self.stale_minutes = QSpinBox(self)
        self.stale_minutes.setObjectName("batches-stale-minutes")
        self.stale_minutes.setRange(1, 7 * 24 * 60)
        self.stale_minutes.setSuffix(" min")
        self.stale_minutes.setValue(int(DEFAULT_STALE_AFTER.total_seconds() // 60))
        self.stale_minutes.setToolTip(
            "Batches initialized, committed, sent or ongoing for longer than this are amber"
        )
        self.stale_minutes.valueChanged.connect(
            lambda minutes: setattr(self.model, "stale_after", timedelta(minutes=minutes))
        )
        bar.addWidget(self.stale_minutes)
        bar.addStretch(1)

        self.count_label = plain_label(parent=self)
        self.count_label.setObjectName("batches-count")
        bar.addWidget(self.count_label)
        check = QPushButton("Check now", self)
        check.setObjectName("batches-check-now")
        check.setToolTip("Ask the channel for the results of pending batches now")
        check.clicked.connect(self.check_now_requested)
        bar.addWidget(check)
        return bar

    def _build_detail(self, splitter: QSplitter) -> QWidget:
        detail = QWidget(splitter)
        detail.setObjectName("batch-detail")
        layout = QVBoxLayout(detail)
        layout.setContentsMargins(6, 0, 0, 0)
        # Batch ids, statuses and notes come from Omnitron: plain text.
        self.detail_title = plain_label(parent=detail)
        self.detail_title.setObjectName("batch-detail-title")
        self.detail_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont(self.detail_title.font())
        font.setBold(True)
        self.detail_title.setFont(font)
        # The title can be long (pk, local batch id, status): let it wrap, never widen.
        self.detail_title.setWordWrap(True)
        title_row = QHBoxLayout()
        title_row.addWidget(self.detail_title, 1)
        # Copying concerns the batch shown, so the button sits with it.
        self.copy_button = QPushButton("Copy ids", detail)
        self.copy_button.setObjectName("batches-copy-ids")
        self.copy_button.setToolTip("Copy the batch's pk, local and remote batch id")
        self.copy_button.clicked.connect(self.copy_ids)
        title_row.addWidget(self.copy_button)
        layout.addLayout(title_row)

        form = QFormLayout()
        self.detail_fields: dict[str, QLabel] = {}
        for key, label in (
            ("remote", "Remote batch id"),
            ("flow", "Flow / run"),
            ("created", "Created"),
            ("updated", "Updated"),
        ):
            value = plain_label(parent=detail)
            value.setObjectName(f"batch-detail-{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(label, value)
            self.detail_fields[key] = value
        layout.addLayout(form)

        parts = QSplitter(Qt.Orientation.Vertical, detail)
        parts.setObjectName("batch-detail-splitter")
        self.timeline = QTreeWidget()
        self.timeline.setObjectName("batch-timeline")
        self.timeline.setHeaderLabels(["Status", "Time", "Run", "Note"])
        self.timeline.setRootIsDecorated(False)
        self.timeline.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.timeline.header().setStretchLastSection(True)
        parts.addWidget(_boxed("State history", self.timeline))

        self.objects_table = QTableWidget(0, 4)
        self.objects_table.setObjectName("batch-objects")
        self.objects_table.setHorizontalHeaderLabels(
            ["Object", "Content type", "Remote id", "Failure reason"]
        )
        self.objects_table.verticalHeader().setVisible(False)
        self.objects_table.horizontalHeader().setStretchLastSection(True)
        self.objects_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.objects_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.objects_box = _boxed("Objects", self.objects_table)
        parts.addWidget(self.objects_box)

        self.reports_list = QListWidget()
        self.reports_list.setObjectName("batch-errors")
        self.reports_list.setWordWrap(True)
        self.reports_box = _boxed("Error reports", self.reports_list)
        parts.addWidget(self.reports_box)
        layout.addWidget(parts, 1)
        return detail

    # -- behaviour -------------------------------------------------------------------

    def _apply_filters(self, *_args: object) -> None:
        self.model.set_query(self.current_query())

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.model.total_text()} batches")

    def _after_reset(self) -> None:
        if self._locating is not None:
            return  # show_batch selects its batch once the rows are in
        if self._shown is not None:
            row = self.model.row_of(self._shown.pk)
            if row is not None:
                self.table.selectRow(row)
                return
        self._show_batch_detail(None)

    def _located(self, row: int | None) -> None:
        self._locating = None
        if row is None:
            return
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtCenter)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        record = current.data(RECORD_ROLE) if current.isValid() else None
        if record is None:
            return  # keep the detail while rows are re-read
        if self._shown is None or record != self._shown:
            self._show_batch_detail(record)

    def _show_batch_detail(self, batch: BatchMirror | None) -> None:
        self._shown = batch
        self.detail.setEnabled(batch is not None)
        self.copy_button.setEnabled(batch is not None)
        self.timeline.clear()
        self.objects_table.setRowCount(0)
        self.reports_list.clear()
        if batch is None:
            self.detail_title.setText("Select a batch to see its history")
            for label in self.detail_fields.values():
                label.clear()
            return
        age = format_age(batch.created_at)
        self.detail_title.setText(
            f"Batch {batch.pk} · {batch.local_batch_id} · {batch.status} ({age} old)"
        )
        fields = self.detail_fields
        fields["remote"].setText(batch.remote_batch_id or "—")
        run = f" / run {batch.run_id}" if batch.run_id is not None else ""
        fields["flow"].setText(f"{batch.flow or '—'}{run}")
        fields["created"].setText(format_time(batch.created_at))
        fields["updated"].setText(format_time(batch.updated_at))
        self._fill_timeline(batch)
        self._fill_objects(batch)
        self._fill_reports(batch)

    def _fill_timeline(self, batch: BatchMirror) -> None:
        dark = is_dark(self.palette())
        for event in self.store.batch_events(batch.pk):
            item = QTreeWidgetItem(
                [
                    event.status,
                    format_time(event.at),
                    "" if event.run_id is None else str(event.run_id),
                    event.note,
                ]
            )
            fill, ink = badge_colors(BATCH_STATUS_KINDS.get(event.status), dark=dark)
            item.setForeground(0, ink)
            item.setBackground(0, fill)
            item.setToolTip(3, plain_tooltip(event.note))
            self.timeline.addTopLevelItem(item)

    def _fill_objects(self, batch: BatchMirror) -> None:
        failed_ink = badge_colors("danger", dark=is_dark(self.palette()))[1]
        self.objects_table.setRowCount(len(batch.objects))
        for row, obj in enumerate(batch.objects):
            reason = obj.get("failed_reason_type") or ""
            values = (
                str(obj.get("pk", "")),
                str(obj.get("content_type") or ""),
                str(obj.get("remote_id") or ""),
                str(reason),
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if reason:
                    item.setForeground(QColor(failed_ink))
                self.objects_table.setItem(row, column, item)
        failed = batch.failed_count
        self.objects_box.setTitle(
            f"Objects ({len(batch.objects)}, {failed} failed)"
            if failed
            else f"Objects ({len(batch.objects)})"
        )

    def _fill_reports(self, batch: BatchMirror) -> None:
        reports = self.store.search_error_reports(
            ErrorQuery(batch_pk=batch.pk, limit=DETAIL_REPORTS)
        )
        for report in reports:
            mark = "✓" if report.is_ok else "✗"
            item = QListWidgetItem(f"{mark} {report.code}\n    {report.description}")
            item.setToolTip(plain_tooltip(report.description))
            item.setData(Qt.ItemDataRole.UserRole, report.id)
            self.reports_list.addItem(item)
        more = "+" if len(reports) == DETAIL_REPORTS else ""
        self.reports_box.setTitle(f"Error reports ({len(reports)}{more})")


def _boxed(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(widget)
    return box
