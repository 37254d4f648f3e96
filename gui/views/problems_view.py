"""Problems: what failed, grouped by why, with the next step and the actions to take it.

One row per open problem (a cause and its value in one flow, e.g. "Unknown city
'Istambul' — 12 orders"); selecting one lists its items and says what to do. *Fix*
opens the mapping assistant for causes a mapping can fix and then offers to retry the
affected items; *Retry* retries the whole group or the selected items. A problem
disappears by itself once its items have gone through.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.models.lazy import RECORD_ROLE
from gui.models.problems import (
    ProblemItemsModel,
    ProblemsModel,
    RetryRequest,
    flow_text,
    items_word,
    problem_id,
    problem_text,
)
from gui.session import ConsoleSession
from gui.views.mapping_dialog import MappingDialog
from gui.widgets.detail_pane import detail_title
from gui.widgets.empty_state import EmptyState
from gui.widgets.last_updated import LastUpdated
from gui.widgets.plain_text import plain_label
from gui.widgets.tables import configure_table, table_beside_detail
from service.causes import info
from service.flows.names import Flow
from service.store import Store
from service.store_records import Problem

NO_PROBLEMS = (
    "No open problems — every failure has gone through. Failed items of later runs show up here."
)


def _flow_of(problem: Problem) -> Flow | None:
    """The problem's flow, or ``None`` when it cannot be retried here: no known flow wrote
    its reports, or another deployment did (mirrored: its payload and run are not ours)."""
    if problem.origin == "remote":
        return None
    try:
        return Flow(problem.flow)
    except ValueError:
        return None


PROBLEM_COLUMN = 0
AFFECTED_COLUMN = 2
NARROWEST_COUNT = "999 orders"  # the room kept even before rows arrive
BADGE_PADDING = 32  # the badge's rounded ends and the cell's margins


class ProblemsView(QWidget):
    """Open problems with their items, what to do, Fix and Retry."""

    retry_requested = Signal(object)
    """The operator asked to retry (a :class:`~gui.models.problems.RetryRequest`)."""
    open_count_changed = Signal(int)
    """How many problems are open, each time it was counted."""
    problems_appeared = Signal(list)
    """Problems not listed by the previous read (``list[Problem]``), never on the first."""

    def __init__(
        self,
        store: Store,
        *,
        session: ConsoleSession | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """The view over ``store``; ``session`` (for Fix) may be ``None``, then Fix is off."""
        super().__init__(parent)
        self.setObjectName("problems-view")
        self.store = store
        self.session = session
        self.model = ProblemsModel(store, parent=self)
        self.items_model = ProblemItemsModel(store, parent=self)
        self._shown: Problem | None = None
        self._known: set[int] | None = None
        self.fix_dialog: QDialog | None = None

        self.count_label = plain_label(parent=self)
        self.count_label.setObjectName("problems-count")
        self.last_updated = LastUpdated("problems", self)
        bar = QHBoxLayout()
        bar.addWidget(self.count_label, 1)
        bar.addWidget(self.last_updated)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        self.splitter, self.table, self.detail = table_beside_detail(
            self, "problems", self.model, self._build_detail, (300, 110, 100, 150)
        )
        layout.addWidget(self.splitter, 1)
        self._fit_columns()
        self.model.loaded.connect(self._fit_columns)
        self.empty_state = EmptyState("problems", self.table, self.model, lambda: NO_PROBLEMS)

        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.items_table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.loaded.connect(self._problems_loaded)
        self.model.total_changed.connect(self._total_changed)
        self.model.load_failed.connect(
            lambda message: self.count_label.setText(f"Could not read the problems: {message}")
        )
        self.items_model.loaded.connect(self._update_buttons)
        self.show_problem(None)
        self.model.refresh()

    # -- public ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the problems, then the shown problem's items (selection kept)."""
        self.model.refresh()

    def focus_filter(self) -> None:
        """Ctrl+F: the problems table (the view has no filter to type into)."""
        self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    @property
    def shown_problem(self) -> Problem | None:
        """The problem in the detail pane."""
        return self._shown

    def show_problem(self, problem: Problem | None) -> None:
        """Show ``problem``'s items, what to do and actions (``None`` clears the pane)."""
        same = (
            problem is not None
            and self._shown is not None
            and problem_id(problem) == problem_id(self._shown)
        )
        self._shown = problem
        self.detail.setEnabled(problem is not None)
        if problem is None:
            self.detail_title.setText(
                "Select a problem to see its items and what to do"
                if self.model.rowCount()
                else NO_PROBLEMS
            )
            self.what_to_do.clear()
            self.items_model.show_problem(None)
            self._update_buttons()
            return
        where = flow_text(problem) if problem.origin == "remote" else problem.flow
        self.detail_title.setText(
            f"{problem_text(problem)} — {items_word(problem.flow, problem.count)} ({where})"
        )
        self.what_to_do.setText(info(problem.cause).what_to_do)
        if same:
            self.items_model.refresh()  # the same group re-read: keep the item selection
        else:
            self.items_model.show_problem(problem)
        self._update_buttons()

    def retry_request(self) -> RetryRequest | None:
        """What Retry would retry now: the selected items, else the whole group."""
        problem = self._shown
        flow = _flow_of(problem) if problem is not None else None
        if problem is None or flow is None:
            return None
        rows = sorted({index.row() for index in self.items_table.selectionModel().selectedRows()})
        if rows:
            ids = tuple(self.items_model.record(row).id for row in rows)
            return RetryRequest(flow, report_ids=ids, count=len(ids))
        return self._group_request(problem, flow)

    def _group_request(self, problem: Problem, flow: Flow) -> RetryRequest:
        """The whole group: its listed reports when all are listed, else by cause and value.

        The reports' ids keep the retry to this problem's flow; a retry by cause and value
        would also take the same cause and value of other flows.
        """
        rows = self.items_model.rowCount()
        if rows and rows == problem.count and self.items_model.query.flow == problem.flow:
            ids = tuple(report.id for report in self.items_model.records())
            return RetryRequest(flow, report_ids=ids, count=len(ids))
        return RetryRequest(
            flow, cause=problem.cause, cause_value=problem.cause_value, count=problem.count
        )

    def retry(self) -> None:
        """Retry the selected items, or the whole group (:attr:`retry_requested`)."""
        request = self.retry_request()
        if request is not None:
            self.retry_requested.emit(request)

    def open_fix(self) -> QDialog | None:
        """Open the mapping assistant for the shown problem; after its fix, offer a retry."""
        problem = self._shown
        if problem is None or self.session is None or info(problem.cause).fix is None:
            return None
        dialog = MappingDialog(self.session, problem, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda _fix: self._fixed(problem))
        dialog.destroyed.connect(self._fix_closed)
        self.fix_dialog = dialog
        dialog.open()
        return dialog

    # -- building -------------------------------------------------------------------

    def _build_detail(self, splitter: QSplitter) -> QWidget:
        detail = QWidget(splitter)
        detail.setObjectName("problem-detail")
        layout = QVBoxLayout(detail)
        layout.setContentsMargins(6, 0, 0, 0)
        # Cause values come from the channel ("Istambul", an SKU): plain text.
        self.detail_title = detail_title(detail, "problem-detail-title")
        layout.addWidget(self.detail_title)

        self.what_to_do = plain_label(parent=detail)
        self.what_to_do.setObjectName("problem-what-to-do")
        self.what_to_do.setWordWrap(True)
        layout.addWidget(self.what_to_do)

        buttons = QHBoxLayout()
        self.fix_button = QPushButton("Fix…", detail)
        self.fix_button.setObjectName("problem-fix")
        self.fix_button.clicked.connect(self.open_fix)
        self.retry_button = QPushButton("Retry", detail)
        self.retry_button.setObjectName("problem-retry")
        self.retry_button.clicked.connect(self.retry)
        buttons.addWidget(self.fix_button)
        buttons.addWidget(self.retry_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        self.items_table = QTableView(detail)
        self.items_table.setObjectName("problem-items")
        configure_table(self.items_table, self.items_model, sortable=False)
        # Retry takes a selection of items, so more than one row can be selected.
        self.items_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        for column, width in enumerate((140, 150)):
            self.items_table.setColumnWidth(column, width)
        layout.addWidget(QLabel("Affected items (latest report of each)", detail))
        layout.addWidget(self.items_table, 1)
        return detail

    def _fit_columns(self) -> None:
        """The problem's text takes the room left; the count badges are never clipped."""
        metrics = self.table.fontMetrics()
        # The badge delegate knows its pill's padding; the floor keeps room before rows.
        floor = metrics.horizontalAdvance(NARROWEST_COUNT) + BADGE_PADDING
        self.table.setColumnWidth(
            AFFECTED_COLUMN, max(floor, self.table.sizeHintForColumn(AFFECTED_COLUMN))
        )
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(PROBLEM_COLUMN, QHeaderView.ResizeMode.Stretch)

    # -- behaviour -------------------------------------------------------------------

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        record = current.data(RECORD_ROLE) if current.isValid() else None
        if record is None and self._shown is not None:
            return  # a refresh moves the selection around; the detail keeps its problem
        self.show_problem(record)

    def _problems_loaded(self) -> None:
        self.last_updated.mark()
        records: list[Problem] = self.model.records()
        ids = {problem_id(problem) for problem in records}
        if self._known is not None:
            new = [problem for problem in records if problem_id(problem) not in self._known]
            if new:
                self.problems_appeared.emit(new)
        self._known = ids
        if self._shown is not None:
            row = self.model.row_of(problem_id(self._shown))
            # Resolved (gone) clears the pane; still open shows its new count.
            self.show_problem(None if row is None else self.model.record(row))
        else:
            self.show_problem(None)
        self._update_count()

    def _total_changed(self) -> None:
        self._update_count()
        total = self.model.total
        if total is not None:
            self.open_count_changed.emit(total)

    def _update_count(self) -> None:
        total = self.model.total
        if total is None:
            total = self.model.rowCount()
        self.count_label.setText(
            f"{total:,} open problem{'s' if total != 1 else ''}" if total else "No open problems"
        )

    def _update_buttons(self, *_args: object) -> None:
        problem = self._shown
        request = self.retry_request()
        self.retry_button.setEnabled(request is not None)
        self.retry_button.setText(f"Retry {request.describe()}" if request is not None else "Retry")
        self.retry_button.setToolTip(
            "Another deployment reported these failures (mirrored from Omnitron): it retries "
            "them, this console cannot"
            if problem is not None and problem.origin == "remote"
            else ""
        )
        fixable = problem is not None and info(problem.cause).fix is not None
        self.fix_button.setEnabled(fixable and self.session is not None)
        self.fix_button.setToolTip(
            "Map the channel's value to an Omnitron object, then retry"
            if fixable
            else "This cause has no mapping to fix; see what to do above"
        )

    def _fixed(self, problem: Problem) -> None:
        """The mapping was saved: ask whether to retry the affected items now."""
        flow = _flow_of(problem)
        if flow is None:
            return
        request = self._group_request(problem, flow)
        self.refresh()
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Retry now?",
            f"Retry the {request.describe()} affected by {problem_text(problem)} now?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("problem-retry-prompt")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: self._answered(box, request))
        box.open()

    def _answered(self, box: QMessageBox, request: RetryRequest) -> None:
        if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes:
            self.retry_requested.emit(request)

    def _fix_closed(self) -> None:
        self.fix_dialog = None


class ProblemsPage(QWidget):
    """The Problems tab's page (``tab-problems``, like a flow tab's) holding the view."""

    def __init__(self, view: ProblemsView, parent: QWidget | None = None) -> None:
        """A page around ``view``, without margins of its own."""
        super().__init__(parent)
        self.setObjectName("tab-problems")
        self.view = view
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)

    def refresh(self) -> None:
        """Refresh the view."""
        self.view.refresh()

    def focus_filter(self) -> None:
        """Ctrl+F goes to the view."""
        self.view.focus_filter()
