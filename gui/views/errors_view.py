"""Error reports: what failed, why, and what to do — local, searchable, exportable.

Failures are listed by default (a toggle adds successes) with the columns an operator
reads first: when, flow, subject, cause, description, status. The rest (log id, log
type, …) is behind the header's column menu, remembered in ``QSettings``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.mirror_sync import sync_button
from gui.models.errors import (
    ERROR_HIDDEN_COLUMNS,
    ErrorReportsModel,
    cause_text,
    export_error_reports_csv,
    state_text,
    subject_text,
)
from gui.models.formatting import format_time, pretty_payload, pretty_request
from gui.models.lazy import RECORD_ROLE
from gui.models.origin import ORIGIN_CHOICES
from gui.models.problems import RetryRequest
from gui.widgets.column_chooser import ColumnChooser
from gui.widgets.date_range import DateRangeFilter
from gui.widgets.detail_pane import detail_fields, detail_title
from gui.widgets.empty_state import EmptyState
from gui.widgets.last_updated import LastUpdated
from gui.widgets.plain_text import plain_label
from gui.widgets.tables import keep_place_on_refresh, table_beside_detail
from service.causes import CAUSES, info
from service.flows.names import Flow
from service.store import ErrorQuery, Store, StoredErrorReport

SEARCH_DELAY_MS = 250
# Whether a failure's item went through later (ErrorQuery.resolved).
STATUS_CHOICES: tuple[tuple[str, bool | None], ...] = (
    ("Any status", None),
    ("Open", False),
    ("Resolved", True),
)
ALL_CAUSES = "All causes"
# Default widths of When, Flow, Subject, Cause; Description takes what is left and
# Status fits its text. Together they fit a 1366 px window beside the detail.
COLUMN_WIDTHS: tuple[int, ...] = (135, 95, 105, 150)
DESCRIPTION_COLUMN = 4
STATUS_COLUMN = 5
# Where a report is on its way to Omnitron (ErrorQuery.delivery).
DELIVERY_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("Any delivery", None),
    ("Not in Omnitron", "undelivered"),
    ("Waiting in the outbox", "waiting"),
    ("Refused by Omnitron", "refused"),
)
# The content types the flows report on; the combo is editable for any other.
LOG_TYPES: tuple[str, ...] = ("order", "orderitem", "cancellationrequest", "batchrequest")
ALL_TYPES = "All types"

PathProvider = Callable[[], str | None]
FLOW_NAMES: frozenset[str] = frozenset(flow.value for flow in Flow)


class ErrorsView(QWidget):
    """The error reports of the store, filtered, searched and sorted in SQL."""

    batch_link_activated = Signal(int)
    """The user asked to see the batch (its pk) a report belongs to."""
    export_finished = Signal(str, int)
    """A CSV export was written: its path and how many rows it holds."""
    export_failed = Signal(str)
    """A CSV export failed: why."""
    retry_requested = Signal(object)
    """Retry the selected failures: one :class:`~gui.models.problems.RetryRequest` per flow."""
    sync_requested = Signal()
    """The user asked to sync from Omnitron what other deployments wrote ("Sync from Omnitron")."""

    def __init__(
        self, store: Store, parent: QWidget | None = None, *, settings: QSettings | None = None
    ) -> None:
        """The view over ``store``; it starts loading at once.

        ``settings`` keeps the columns the user chose (none given: not remembered).
        """
        super().__init__(parent)
        self.setObjectName("errors-view")
        self.store = store
        self.model = ErrorReportsModel(store, parent=self)
        # Asked for the CSV file name; replace to export without a dialog.
        self.path_provider: PathProvider = self._ask_export_path
        self._shown: StoredErrorReport | None = None

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self._apply_filters)

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_filters())
        self.splitter, self.table, self.detail = table_beside_detail(
            self, "errors", self.model, self._build_detail, COLUMN_WIDTHS
        )
        layout.addWidget(self.splitter, 1)
        # The table reads first: about 70 % of the width, so the six columns fit 1366 px.
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 2)
        self._fit_columns()
        self.columns = ColumnChooser("errors", self.table, ERROR_HIDDEN_COLUMNS, settings)
        # Several failures can be retried at once; the detail shows the current one.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        keep_place_on_refresh(self.table, self.model)
        self.empty_state = EmptyState("errors", self.table, self.model, self._empty_message)
        self._store_is_empty = False

        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.selectionModel().selectionChanged.connect(self._update_retry)
        self.model.loaded.connect(self._update_retry)
        self.model.loaded.connect(self._loaded)
        self.model.total_changed.connect(self._update_count)
        self.model.modelReset.connect(self._after_reset)
        self.model.load_failed.connect(self._load_failed)
        self._show_report(None)
        self._apply_filters()

    # -- public ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the loaded reports and the total (new reports appear, selection stays)."""
        self.model.refresh()

    def focus_filter(self) -> None:
        """Put the cursor in the search box."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def show_run(self, run_id: int) -> None:
        """Show the reports of run ``run_id`` only (other filters cleared)."""
        self.clear_filters(apply=False)
        self.run_filter.setValue(run_id)
        self._apply_filters()

    def show_outbox(self) -> None:
        """Show the reports Omnitron does not hold: waiting and refused (filters cleared)."""
        self.clear_filters(apply=False)
        self.show_successes.setChecked(True)  # success reports wait in the outbox too
        self.delivery_filter.setCurrentIndex(self.delivery_filter.findData("undelivered"))
        self._apply_filters()

    def show_report(self, report_id: int) -> None:
        """Select report ``report_id`` and show it; filters are cleared to let it through."""

        def located(row: int | None) -> None:
            if row is None:
                self.count_label.setText(f"Report {report_id} is not in the local store")
                return
            self.table.selectRow(row)
            self.table.scrollTo(
                self.model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtCenter
            )

        def read(report: StoredErrorReport) -> None:
            self.clear_filters(apply=False)
            self.show_successes.setChecked(report.is_ok)
            self._shown = report
            self._apply_filters()
            self.model.locate(report.id, located)

        self.model.read_in_background(
            lambda store: store.get_error_report(report_id),
            read,
            lambda error: self.count_label.setText(f"Could not read report {report_id}: {error}"),
        )

    def clear_filters(self, *, apply: bool = True) -> None:
        """Every filter back to "all"."""
        widgets = (
            self.search,
            self.show_successes,
            self.cause_filter,
            self.code_filter,
            self.status_filter,
            self.delivery_filter,
            self.type_filter,
            self.origin_filter,
            self.run_filter,
            self.batch_filter,
            self.date_range,
        )
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.search.clear()
            self.show_successes.setChecked(False)
            self.cause_filter.setCurrentIndex(0)
            self.code_filter.clear()
            self.status_filter.setCurrentIndex(0)
            self.delivery_filter.setCurrentIndex(0)
            self.type_filter.setCurrentIndex(0)
            self.origin_filter.setCurrentIndex(0)
            self.run_filter.setValue(0)
            self.batch_filter.setValue(0)
            self.date_range.reset()
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        if apply:
            self._apply_filters()

    def current_query(self) -> ErrorQuery:
        """The query the filters describe, in the table's current order."""
        text = self.search.text().strip()
        code = self.code_filter.text().strip()
        content_type = self.type_filter.currentText().strip()
        since, until = self.date_range.range()
        order = self.model.query
        return ErrorQuery(
            text=text or None,
            code_contains=code or None,
            is_ok=None if self.show_successes.isChecked() else False,
            cause=self.cause_filter.currentData(),
            resolved=self.status_filter.currentData(),
            delivery=self.delivery_filter.currentData(),
            content_type=None if content_type in ("", ALL_TYPES) else content_type,
            origin=self.origin_filter.currentData(),
            run_id=self.run_filter.value() or None,
            batch_pk=self.batch_filter.value() or None,
            since=since,
            until=until,
            order_by=order.order_by,
            descending=order.descending,
        )

    def export_to(self, path: str | Path) -> None:
        """Write the filtered reports to a CSV file in the background.

        :attr:`export_finished` (or :attr:`export_failed`) says when it is done.
        """
        target = str(path)
        query = self.model.query
        self.export_button.setEnabled(False)
        self.count_label.setText(f"Exporting to {Path(target).name}…")

        def done(count: int) -> None:
            self.export_button.setEnabled(True)
            self._update_count()
            noun = "report" if count == 1 else "reports"
            message = f"Exported {count:,} {noun} to {target}"
            self.export_result.setText(message)
            self.export_result.setToolTip(target)
            self.export_result.show()
            window = self.window()
            if isinstance(window, QMainWindow):
                window.statusBar().showMessage(message, 15_000)
            self.export_finished.emit(target, count)

        def failed(error: BaseException) -> None:
            self.export_button.setEnabled(True)
            self._update_count()
            self.export_failed.emit(f"Export failed: {error}")

        self.model.read_in_background(
            lambda store: export_error_reports_csv(store, query, target), done, failed
        )

    # -- building -------------------------------------------------------------------

    def _build_filters(self) -> QVBoxLayout:
        self.search = QLineEdit(self)
        self.search.setObjectName("errors-search")
        self.search.setPlaceholderText("Search order numbers, messages, values…")
        self.search.setToolTip(
            "Matches words (as prefixes) in the subject, log id, description and the values "
            "of the raw request and response — not JSON keys"
        )
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filters_typed)

        self.count_label = plain_label(parent=self)
        self.count_label.setObjectName("errors-count")
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.setObjectName("errors-export")
        self.export_button.setToolTip("Save the reports matching the filters as CSV")
        self.export_button.clicked.connect(self._export_clicked)
        self.retry_button = QPushButton("Retry", self)
        self.retry_button.setObjectName("errors-retry")
        self.retry_button.setToolTip("Retry the items of the selected open failures")
        self.retry_button.clicked.connect(self.retry_selected)
        self.retry_button.setEnabled(False)  # until a failure is selected
        clear = QPushButton("Clear filters", self)
        clear.setObjectName("errors-clear-filters")
        clear.clicked.connect(lambda: self.clear_filters())

        self.code_filter = QLineEdit(self)
        self.code_filter.setObjectName("errors-code-filter")
        self.code_filter.setPlaceholderText("Log id contains…")
        self.code_filter.setClearButtonEnabled(True)
        # Room for its hint: the combo boxes beside it would otherwise take it all.
        self.code_filter.setMinimumWidth(
            self.code_filter.fontMetrics().horizontalAdvance("Log id contains…") + 40
        )
        self.code_filter.textChanged.connect(self._filters_typed)

        self.status_filter = QComboBox(self)
        self.status_filter.setObjectName("errors-status-filter")
        self.status_filter.setToolTip("Open failures, or failures whose item went through later")
        for label, value in STATUS_CHOICES:
            self.status_filter.addItem(label, value)
        self.status_filter.currentIndexChanged.connect(self._apply_filters)

        self.show_successes = QCheckBox("Show successes", self)
        self.show_successes.setObjectName("errors-show-successes")
        self.show_successes.setToolTip("List the success reports too (failures only otherwise)")
        self.show_successes.toggled.connect(self._apply_filters)

        self.cause_filter = QComboBox(self)
        self.cause_filter.setObjectName("errors-cause-filter")
        self.cause_filter.addItem(ALL_CAUSES, None)
        for cause, cause_info in CAUSES.items():
            self.cause_filter.addItem(cause_info.title, cause.value)
        self.cause_filter.currentIndexChanged.connect(self._apply_filters)

        self.export_result = plain_label(parent=self)
        self.export_result.setObjectName("errors-export-result")
        self.export_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_result.hide()
        self.last_updated = LastUpdated("errors", self)

        self.delivery_filter = QComboBox(self)
        self.delivery_filter.setObjectName("errors-delivery-filter")
        self.delivery_filter.setToolTip("Delivery to Omnitron (the outbox)")
        for label, value in DELIVERY_CHOICES:
            self.delivery_filter.addItem(label, value)
        self.delivery_filter.currentIndexChanged.connect(self._apply_filters)

        self.type_filter = QComboBox(self)
        self.type_filter.setObjectName("errors-type-filter")
        self.type_filter.setEditable(True)
        self.type_filter.addItems([ALL_TYPES, *LOG_TYPES])
        self.type_filter.setToolTip("Log type (content type)")
        self.type_filter.currentTextChanged.connect(self._filters_typed)

        self.origin_filter = QComboBox(self)
        self.origin_filter.setObjectName("errors-origin-filter")
        self.origin_filter.setToolTip(
            "This profile's reports, or those other deployments wrote (mirrored from Omnitron)"
        )
        for label, value in ORIGIN_CHOICES:
            self.origin_filter.addItem(label, value)
        self.origin_filter.currentIndexChanged.connect(self._apply_filters)

        self.date_range = DateRangeFilter("errors", self)
        self.date_range.changed.connect(self._apply_filters)

        self.run_filter = _id_filter("errors-run-filter", "Any run", "Run ", self)
        self.run_filter.valueChanged.connect(self._filters_typed)
        self.batch_filter = _id_filter("errors-batch-filter", "Any batch", "Batch ", self)
        self.batch_filter.valueChanged.connect(self._filters_typed)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.show_successes)
        top.addWidget(self.count_label)
        top.addWidget(self.last_updated)
        top.addWidget(self.retry_button)
        top.addWidget(clear)
        top.addWidget(self.export_button)
        top.addWidget(sync_button(self, "errors", self.sync_requested.emit))
        filters = QHBoxLayout()
        for widget in (
            self.cause_filter,
            self.status_filter,
            self.delivery_filter,
            self.type_filter,
            self.origin_filter,
            self.date_range,
            self.run_filter,
            self.batch_filter,
            self.code_filter,
        ):
            filters.addWidget(widget)
        filters.addStretch(1)
        rows = QVBoxLayout()
        rows.addLayout(top)
        rows.addLayout(filters)
        rows.addWidget(self.export_result)
        return rows

    def _build_detail(self, splitter: QSplitter) -> QWidget:
        detail = QWidget(splitter)
        detail.setObjectName("error-detail")
        layout = QVBoxLayout(detail)
        layout.setContentsMargins(6, 0, 0, 0)
        # Codes and every field below come from servers and channels: plain text.
        self.detail_title = detail_title(detail, "error-detail-title")
        layout.addWidget(self.detail_title)

        form, self.detail_fields = detail_fields(
            detail,
            "error-detail",
            (
                ("subject", "Subject"),
                ("cause", "Cause"),
                ("status", "Status"),
                ("code", "Log id"),
                ("type", "Log type"),
                ("object", "Object"),
                ("flow", "Flow / run"),
                ("created", "Created"),
                ("seen", "Attempts"),
                ("delivered", "Sent to Omnitron"),
            ),
        )
        layout.addLayout(form)

        self.batch_button = QPushButton(detail)
        self.batch_button.setObjectName("error-open-batch")
        self.batch_button.setFlat(True)
        self.batch_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.batch_button.setStyleSheet("text-align: left; text-decoration: underline;")
        self.batch_button.clicked.connect(self._open_batch)
        layout.addWidget(self.batch_button)

        self.description = QPlainTextEdit(detail)
        self.description.setObjectName("error-description")
        self.description.setReadOnly(True)
        self.description.setMaximumHeight(90)
        # What to do sits beside what happened, so the next step is read with it.
        self.what_to_do = plain_label(parent=detail)
        self.what_to_do.setObjectName("error-what-to-do")
        self.what_to_do.setWordWrap(True)
        self.what_to_do.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.what_to_do.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        explained = QHBoxLayout()
        explained.addWidget(self.description, 3)
        explained.addWidget(self.what_to_do, 2)
        layout.addLayout(explained)

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.request_text, request_box = self._raw_box("Raw request", "request", mono, detail)
        self.response_text, response_box = self._raw_box("Raw response", "response", mono, detail)
        raw = QSplitter(Qt.Orientation.Vertical, detail)
        raw.setObjectName("error-raw-splitter")
        raw.addWidget(request_box)
        raw.addWidget(response_box)
        layout.addWidget(raw, 1)
        return detail

    def _raw_box(
        self, title: str, name: str, font: QFont, parent: QWidget
    ) -> tuple[QPlainTextEdit, QGroupBox]:
        box = QGroupBox(title, parent)
        text = QPlainTextEdit(box)
        text.setObjectName(f"error-{name}")
        text.setReadOnly(True)
        text.setFont(font)
        text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        copy = QPushButton("Copy", box)
        copy.setObjectName(f"error-copy-{name}")
        copy.setToolTip(f"Copy the {title.lower()} to the clipboard")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(text.toPlainText()))
        head = QHBoxLayout()
        head.addStretch(1)
        head.addWidget(copy)
        layout = QVBoxLayout(box)
        layout.addLayout(head)
        layout.addWidget(text)
        return text, box

    # -- behaviour -------------------------------------------------------------------

    def _filters_typed(self, *_args: object) -> None:
        # Typing restarts the wait, so a word is searched once, not per keystroke.
        self._debounce.start()

    def _apply_filters(self, *_args: object) -> None:
        self._debounce.stop()
        self.model.set_query(self.current_query())

    def _loaded(self) -> None:
        self.last_updated.mark()
        self._update_count()
        if self.model.rowCount() == 0:
            # Whether the store holds any report at all decides what the empty table says.
            self.model.read_in_background(
                lambda store: store.count_error_reports(ErrorQuery()) == 0,
                self._empty_store_known,
                lambda _error: None,
            )

    def _empty_store_known(self, empty: bool) -> None:
        self._store_is_empty = empty
        self.empty_state.update_state()

    def _empty_message(self) -> str:
        if self._store_is_empty:
            return "No error reports yet — run Fetch orders"
        if self.current_query() == self._default_query():
            return "No failures — all clear"
        return "No reports match these filters — Clear filters shows them all"

    def _default_query(self) -> ErrorQuery:
        order = self.model.query
        return ErrorQuery(is_ok=False, order_by=order.order_by, descending=order.descending)

    def _fit_columns(self) -> None:
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(DESCRIPTION_COLUMN, QHeaderView.ResizeMode.Stretch)
        # Room for the longest status badge ("resolved · not sent") and its padding.
        widest = max(("resolved · not sent", "Status"), key=self.fontMetrics().horizontalAdvance)
        self.table.setColumnWidth(STATUS_COLUMN, self.fontMetrics().horizontalAdvance(widest) + 28)

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.model.total_text()} reports")

    def _load_failed(self, message: str) -> None:
        self.count_label.setText(f"Could not read the reports: {message}")

    def _after_reset(self) -> None:
        # A new filter: keep showing the report in the detail only if it is still listed.
        if self._shown is not None:
            row = self.model.row_of(self._shown.id)
            if row is not None:
                self.table.selectRow(row)
                return
        self._show_report(None)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        record = current.data(RECORD_ROLE) if current.isValid() else None
        if record is None and self._shown is not None:
            return  # a refresh moves the selection around; the detail keeps its report
        self._show_report(record)

    def _show_report(self, report: StoredErrorReport | None) -> None:
        self._shown = report
        self.detail.setEnabled(report is not None)
        if report is None:
            self.detail_title.setText("Select a report to see its request and response")
            for label in self.detail_fields.values():
                label.clear()
            self.description.clear()
            self.what_to_do.clear()
            self.request_text.clear()
            self.response_text.clear()
            self.batch_button.hide()
            return
        subject = subject_text(report)
        cause = cause_text(report) or "Success"
        self.detail_title.setText(f"{subject} — {cause}" if subject else cause)
        fields = self.detail_fields
        fields["subject"].setText(subject or "—")
        fields["cause"].setText(cause)
        fields["status"].setText(state_text(report))
        fields["code"].setText(report.code)
        fields["type"].setText(report.content_type or "—")
        fields["object"].setText(
            " · ".join(part for part in (report.object_id, report.subject) if part) or "—"
        )
        run = f" / run {report.run_id}" if report.run_id is not None else ""
        if report.origin == "remote":
            run = " / another deployment's run"
        fields["flow"].setText(f"{report.flow or '—'}{run}")
        fields["created"].setText(format_time(report.created_at))
        fields["seen"].setText(
            f"{report.attempts}, last {format_time(report.last_seen_at)}"
            if report.attempts > 1
            else "1"
        )
        fields["delivered"].setText(delivery_text(report))
        self.description.setPlainText(report.description)
        self.what_to_do.setText("" if report.is_ok else info(report.cause).what_to_do)
        self.request_text.setPlainText(pretty_request(report.raw_request))
        self.response_text.setPlainText(pretty_payload(report.raw_response))
        if report.batch_pk is not None:
            local = f" ({report.local_batch_id})" if report.local_batch_id else ""
            self.batch_button.setText(f"Open batch {report.batch_pk}{local}")
            self.batch_button.show()
        else:
            self.batch_button.hide()

    def _open_batch(self) -> None:
        if self._shown is not None and self._shown.batch_pk is not None:
            self.batch_link_activated.emit(self._shown.batch_pk)

    # -- retry ------------------------------------------------------------------------

    def retry_requests(self) -> list[RetryRequest]:
        """The selected open failures as retries, one per flow (a retry is one flow's run)."""
        by_flow: dict[Flow, list[int]] = {}
        for index in self.table.selectionModel().selectedRows():
            report: StoredErrorReport = self.model.record(index.row())
            if report.is_ok or report.resolved_at is not None or report.flow not in FLOW_NAMES:
                continue
            if report.origin == "remote":
                continue  # another deployment's: its payload and run are not ours to retry
            by_flow.setdefault(Flow(report.flow), []).append(report.id)
        return [RetryRequest(flow, tuple(ids), count=len(ids)) for flow, ids in by_flow.items()]

    def retry_selected(self) -> None:
        """Ask for a retry of the selected open failures (:attr:`retry_requested`)."""
        for request in self.retry_requests():
            self.retry_requested.emit(request)

    def _update_retry(self, *_args: object) -> None:
        requests = self.retry_requests()
        self.retry_button.setEnabled(bool(requests))
        count = sum(request.count for request in requests)
        self.retry_button.setText(f"Retry {count} selected" if count > 1 else "Retry")

    def _export_clicked(self) -> None:
        path = self.path_provider()
        if path:
            self.export_to(path)

    def _ask_export_path(self) -> str | None:
        path, _filter = QFileDialog.getSaveFileName(
            self, "Export error reports", "error-reports.csv", "CSV files (*.csv)"
        )
        return path or None


def delivery_text(report: StoredErrorReport) -> str:
    """Whether Omnitron holds the report (and its id there), and if not, its last answer."""
    if report.origin == "remote":
        return f"written there by another deployment (Omnitron id {report.remote_pk}), mirrored"
    if report.delivered:
        held = f" (Omnitron id {report.remote_pk})" if report.remote_pk is not None else ""
        return f"yes, {format_time(report.delivered_at)}{held}"
    if report.dead:
        return f"refused by Omnitron for good: {report.delivery_error or 'no answer kept'}"
    if report.delivery_error:
        return f"not yet, waiting in the outbox (last answer: {report.delivery_error})"
    return "not yet, waiting in the outbox"


def _id_filter(name: str, empty: str, prefix: str, parent: QWidget) -> QSpinBox:
    """A spin box for an id filter where 0 means "any"."""
    spin = QSpinBox(parent)
    spin.setObjectName(name)
    spin.setRange(0, 2_000_000_000)
    spin.setSpecialValueText(empty)
    spin.setPrefix(prefix)
    spin.setAccelerated(True)
    return spin
