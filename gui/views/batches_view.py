"""Batch requests: which are pending, which finished, which failed and why."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import QModelIndex, QRect, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
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

from gui.mirror_sync import sync_button
from gui.models.badges import BATCH_STATUS_KINDS, badge_colors
from gui.models.batches import (
    BATCH_HIDDEN_COLUMNS,
    DEFAULT_STALE_AFTER,
    STATUS_GROUPS,
    BatchesModel,
    BatchQuery,
)
from gui.models.formatting import format_age, format_time
from gui.models.lazy import RECORD_ROLE
from gui.models.origin import ORIGIN_CHOICES
from gui.models.problems import RetryRequest
from gui.widgets.badge import is_dark
from gui.widgets.column_chooser import ColumnChooser
from gui.widgets.date_range import DateRangeFilter
from gui.widgets.detail_pane import detail_fields, detail_title
from gui.widgets.empty_state import EmptyState
from gui.widgets.last_updated import LastUpdated
from gui.widgets.plain_text import plain_label, plain_tooltip
from gui.widgets.tables import keep_place_on_refresh, table_beside_detail
from service.flows.names import Flow
from service.store import BatchMirror, ErrorQuery, Store
from service.store_records import BatchEvent, StoredErrorReport

QUICK_FILTERS: tuple[tuple[str, str], ...] = (
    ("all", "All"),
    ("progress", "In progress"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("with-failures", "With failures"),
)
ALL_TYPES = "All types"
CONTENT_TYPES: tuple[str, ...] = tuple(sorted({flow.content_type for flow in Flow}))
# Ages and the stale highlight move with the clock; repaint (no query) this often.
REPAINT_MS = 30_000
DETAIL_REPORTS = 200
# Default widths of the columns (model order); each is widened to fit its title.
COLUMN_WIDTHS: tuple[int, ...] = (110, 70, 60, 55, 0, 135, 110, 135, 50, 220, 160, 70)
STATUS_COLUMN = 4
# The widest status badge: its text plus the delegate's padding and margins.
WIDEST_STATUS = "sent_to_remote"
BADGE_PADDING = 26
# Room beside a header's title for the sort indicator.
HEADER_PADDING = 30
# The timeline's note column, whose text wraps, and its cells' inner margin.
NOTE_COLUMN = 3
NOTE_MARGIN = 3
FLOW_NAMES: frozenset[str] = frozenset(flow.value for flow in Flow)


class BatchesView(QWidget):
    """The batch mirrors of the store with quick filters and a detail pane."""

    check_now_requested = Signal()
    """The user asked to run check-batches now."""
    sync_requested = Signal()
    """The user asked to sync from Omnitron what other deployments wrote ("Sync from Omnitron")."""
    retry_requested = Signal(object)
    """Retry the shown batch's open failures: one :class:`RetryRequest` per flow."""
    report_activated = Signal(int)
    # The shown batch's history and error reports were read (off the GUI thread).
    detail_loaded = Signal()
    """An error report in the detail was double-clicked: show it (its id) in Error reports."""

    def __init__(
        self, store: Store, parent: QWidget | None = None, *, settings: QSettings | None = None
    ) -> None:
        """The view over ``store``; it starts loading at once.

        ``settings`` keeps the columns the user chose (none given: not remembered).
        """
        super().__init__(parent)
        self.setObjectName("batches-view")
        self.store = store
        self.model = BatchesModel(store, parent=self)
        self._shown: BatchMirror | None = None
        self._locating: int | None = None

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_toolbar())
        self.splitter, self.table, self.detail = table_beside_detail(
            self, "batches", self.model, self._build_detail, COLUMN_WIDTHS
        )
        layout.addWidget(self.splitter, 1)
        self._fit_columns()
        self.columns = ColumnChooser("batches", self.table, BATCH_HIDDEN_COLUMNS, settings)
        keep_place_on_refresh(self.table, self.model)
        self.empty_state = EmptyState("batches", self.table, self.model, self._empty_message)

        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.model.loaded.connect(self._loaded)
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
            pk = self._shown.pk
            # Read after the model's queued reads: a batch the refresh filtered away
            # has left the detail by then and is not shown again.
            self.model.read_in_background(
                lambda store: store.get_batch(pk),
                lambda batch: self._refreshed_detail(pk, batch),
                self._read_failed,
            )

    def focus_filter(self) -> None:
        """Focus the quick status filters."""
        checked = self.status_buttons.checkedButton()
        (checked or self.status_buttons.buttons()[0]).setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_batch(self, pk: int) -> None:
        """Select batch ``pk`` and show its detail; filters go back to "all" if they hide it."""
        self.model.read_in_background(
            lambda store: store.get_batch(pk),
            lambda batch: self._show_found_batch(pk, batch),
            self._read_failed,
        )

    def _show_found_batch(self, pk: int, batch: BatchMirror | None) -> None:
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
        widgets = (
            self.type_filter,
            self.origin_filter,
            self.date_range,
            *self.status_buttons.buttons(),
        )
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.status_buttons.button(0).setChecked(True)
            self.type_filter.setCurrentIndex(0)
            self.origin_filter.setCurrentIndex(0)
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
            with_failures=group == "with-failures",
            content_type=None if content_type == ALL_TYPES else content_type,
            origin=self.origin_filter.currentData(),
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

    def _build_toolbar(self) -> QVBoxLayout:
        # Two rows: the status segments and the actions, then the narrowing filters; one
        # row squeezed the segments' labels to unreadable glyphs at 1280 px.
        toolbar = QVBoxLayout()
        bar = QHBoxLayout()
        filters = QHBoxLayout()
        toolbar.addLayout(bar)
        toolbar.addLayout(filters)
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
        bar.addStretch(1)

        self.type_filter = QComboBox(self)
        self.type_filter.setObjectName("batches-type-filter")
        self.type_filter.addItems([ALL_TYPES, *CONTENT_TYPES])
        self.type_filter.currentIndexChanged.connect(self._apply_filters)
        filters.addWidget(self.type_filter)

        self.origin_filter = QComboBox(self)
        self.origin_filter.setObjectName("batches-origin-filter")
        self.origin_filter.setToolTip(
            "This profile's batches, or those other deployments opened (mirrored from Omnitron)"
        )
        for label, value in ORIGIN_CHOICES:
            self.origin_filter.addItem(label, value)
        self.origin_filter.currentIndexChanged.connect(self._apply_filters)
        filters.addWidget(self.origin_filter)

        self.date_range = DateRangeFilter("batches", self)
        self.date_range.changed.connect(self._apply_filters)
        filters.addWidget(self.date_range)

        filters.addWidget(QLabel("Stale after", self))
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
        filters.addWidget(self.stale_minutes)
        filters.addStretch(1)

        self.count_label = plain_label(parent=self)
        self.count_label.setObjectName("batches-count")
        bar.addWidget(self.count_label)
        self.last_updated = LastUpdated("batches", self)
        bar.addWidget(self.last_updated)
        check = QPushButton("Check now", self)
        check.setObjectName("batches-check-now")
        check.setToolTip("Ask the channel for the results of pending batches now")
        check.clicked.connect(self.check_now_requested)
        bar.addWidget(check)
        bar.addWidget(sync_button(self, "batches", self.sync_requested.emit))
        return toolbar

    def _build_detail(self, splitter: QSplitter) -> QWidget:
        detail = QWidget(splitter)
        detail.setObjectName("batch-detail")
        layout = QVBoxLayout(detail)
        layout.setContentsMargins(6, 0, 0, 0)
        # Batch ids, statuses and notes come from Omnitron: plain text.
        # The title can be long (pk, local batch id, status): it wraps, never widens.
        self.detail_title = detail_title(detail, "batch-detail-title")
        title_row = QHBoxLayout()
        title_row.addWidget(self.detail_title, 1)
        # Copying concerns the batch shown, so the button sits with it.
        self.copy_button = QPushButton("Copy ids", detail)
        self.copy_button.setObjectName("batches-copy-ids")
        self.copy_button.setToolTip("Copy the batch's pk, local and remote batch id")
        self.copy_button.clicked.connect(self.copy_ids)
        title_row.addWidget(self.copy_button)
        layout.addLayout(title_row)

        form, self.detail_fields = detail_fields(
            detail,
            "batch-detail",
            (
                ("remote", "Remote batch id"),
                ("flow", "Flow / run"),
                ("created", "Created"),
                ("updated", "Updated"),
            ),
            wrap=False,
        )
        layout.addLayout(form)

        parts = QSplitter(Qt.Orientation.Vertical, detail)
        parts.setObjectName("batch-detail-splitter")
        self.timeline = QTreeWidget()
        self.timeline.setObjectName("batch-timeline")
        self.timeline.setHeaderLabels(["Status", "Time", "Run", "Note"])
        self.timeline.setRootIsDecorated(False)
        # Notes wrap in the last column instead of running off its edge.
        self.timeline.setWordWrap(True)
        self.timeline.setUniformRowHeights(False)
        self.timeline.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.timeline.header().setSectionResizeMode(NOTE_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.timeline.header().setStretchLastSection(True)
        # A tree does not measure wrapped text itself: rows are sized to their notes.
        self.timeline.header().sectionResized.connect(
            lambda column, _old, _new: self._wrap_notes() if column == NOTE_COLUMN else None
        )
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
        self.reports_list.setToolTip("Double-click a report to open it in Error reports")
        self.reports_list.itemActivated.connect(self._report_activated)
        self.reports_box = _boxed("Error reports", self.reports_list)
        self.retry_button = QPushButton("Retry failed", detail)
        self.retry_button.setObjectName("batch-retry")
        self.retry_button.setToolTip("Retry the items of this batch's open failure reports")
        self.retry_button.clicked.connect(self.retry_failed)
        self.reports_box.layout().addWidget(self.retry_button)
        self._retry: list[RetryRequest] = []
        parts.addWidget(self.reports_box)
        layout.addWidget(parts, 1)
        return detail

    # -- behaviour -------------------------------------------------------------------

    def _apply_filters(self, *_args: object) -> None:
        self.model.set_query(self.current_query())

    def _loaded(self) -> None:
        self.last_updated.mark()
        self._update_count()
        # A refresh may drop the shown batch from the filter (it finished, say): the
        # detail must not keep showing what the table no longer lists.
        if (
            self._shown is not None
            and self._locating is None
            and self.model.row_of(self._shown.pk) is None
        ):
            self.table.clearSelection()
            self._show_batch_detail(None)

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.model.total_text()} batches")

    def _empty_message(self) -> str:
        group = QUICK_FILTERS[max(0, self.status_buttons.checkedId())][0]
        if group == "with-failures":
            return "No batch holds failed objects — all clear"
        if self.current_query() == BatchQuery(
            order_by=self.model.query.order_by, descending=self.model.query.descending
        ):
            return "No batch requests yet — run Fetch orders"
        return "No batches match these filters — choose All to see every batch"

    def _fit_columns(self) -> None:
        metrics = self.table.fontMetrics()
        for column, spec in enumerate(self.model.columns):
            title = metrics.horizontalAdvance(spec.title) + HEADER_PADDING
            self.table.setColumnWidth(column, max(self.table.columnWidth(column), title))
        badge = metrics.horizontalAdvance(WIDEST_STATUS) + BADGE_PADDING
        self.table.setColumnWidth(STATUS_COLUMN, max(self.table.columnWidth(STATUS_COLUMN), badge))

    def _report_activated(self, item: QListWidgetItem) -> None:
        report_id = item.data(Qt.ItemDataRole.UserRole)
        if report_id is not None:
            self.report_activated.emit(int(report_id))

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
        self._set_retry([])
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
        if batch.origin == "remote":
            fields["flow"].setText("another deployment (mirrored from Omnitron)")
        else:
            fields["flow"].setText(f"{batch.flow or '—'}{run}")
        fields["created"].setText(format_time(batch.created_at))
        fields["updated"].setText(format_time(batch.updated_at))
        self._fill_objects(batch)
        pk = batch.pk
        self.model.read_in_background(
            lambda store: (
                store.batch_events(pk),
                store.search_error_reports(ErrorQuery(batch_pk=pk, limit=DETAIL_REPORTS)),
            ),
            lambda found: self._fill_read_detail(pk, *found),
            self._read_failed,
        )

    def _refreshed_detail(self, pk: int, batch: BatchMirror | None) -> None:
        if self._shown is not None and self._shown.pk == pk:
            self._show_batch_detail(batch)

    def _fill_read_detail(
        self, pk: int, events: list[BatchEvent], reports: list[StoredErrorReport]
    ) -> None:
        if self._shown is None or self._shown.pk != pk:
            return  # another batch (or none) is shown by now
        self.timeline.clear()
        self.reports_list.clear()
        self._fill_timeline(events)
        self._fill_reports(reports)
        self.detail_loaded.emit()

    def _read_failed(self, error: BaseException) -> None:
        self.count_label.setText(f"Could not read the local store: {error}")

    def _fill_timeline(self, events: list[BatchEvent]) -> None:
        dark = is_dark(self.palette())
        for event in events:
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
            item.setToolTip(NOTE_COLUMN, plain_tooltip(event.note))
            self.timeline.addTopLevelItem(item)
        self._wrap_notes()

    def _wrap_notes(self) -> None:
        width = self.timeline.header().sectionSize(NOTE_COLUMN) - 2 * NOTE_MARGIN
        if width <= 0:
            return
        metrics = self.timeline.fontMetrics()
        for number in range(self.timeline.topLevelItemCount()):
            item = self.timeline.topLevelItem(number)
            text = metrics.boundingRect(
                QRect(0, 0, width, 100_000), Qt.TextFlag.TextWordWrap, item.text(NOTE_COLUMN)
            )
            height = max(text.height(), metrics.height()) + 2 * NOTE_MARGIN
            item.setSizeHint(NOTE_COLUMN, QSize(width, height))

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

    def _fill_reports(self, reports: list[StoredErrorReport]) -> None:
        open_failures: dict[Flow, list[int]] = {}
        for report in reports:
            # Another deployment's failures (mirrored) are that deployment's to retry.
            retryable = report.origin == "local" and report.flow in FLOW_NAMES
            if not report.is_ok and report.resolved_at is None and retryable:
                open_failures.setdefault(Flow(report.flow), []).append(report.id)
            mark = "✓" if report.is_ok else "✗"
            item = QListWidgetItem(f"{mark} {report.code}\n    {report.description}")
            item.setToolTip(plain_tooltip(report.description))
            item.setData(Qt.ItemDataRole.UserRole, report.id)
            self.reports_list.addItem(item)
        more = "+" if len(reports) == DETAIL_REPORTS else ""
        self.reports_box.setTitle(f"Error reports ({len(reports)}{more})")
        self._set_retry(
            [RetryRequest(flow, tuple(ids), count=len(ids)) for flow, ids in open_failures.items()]
        )

    def retry_failed(self) -> None:
        """Ask for a retry of the shown batch's open failures (:attr:`retry_requested`)."""
        for request in self._retry:
            self.retry_requested.emit(request)

    def _set_retry(self, requests: list[RetryRequest]) -> None:
        self._retry = requests
        count = sum(request.count for request in requests)
        self.retry_button.setEnabled(count > 0)
        self.retry_button.setText(f"Retry {count} failed" if count else "Retry failed")


def _boxed(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(widget)
    return box
