"""Set-up shared by the store-backed tables: row selection, SQL sorting, badges."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QSplitter, QTableView, QWidget

from gui.models.lazy import LazyTableModel
from gui.widgets.badge import BadgeDelegate


def configure_table(table: QTableView, model: LazyTableModel, *, sortable: bool = True) -> None:
    """Attach ``model`` to ``table`` with the console's table conventions.

    Sorting is the model's (an ORDER BY in the store, never a proxy); the header
    indicator starts on the model's current order and snaps back when an
    unsortable column is clicked. Columns with badges get a :class:`BadgeDelegate`.
    """
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 10)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setHighlightSections(False)
    delegate = BadgeDelegate(table)
    for number, column in enumerate(model.columns):
        if column.badge is not None:
            table.setItemDelegateForColumn(number, delegate)
    if not sortable:
        return
    current = model.sort_column()
    if current is not None:
        header.setSortIndicator(*current)
    table.setSortingEnabled(True)

    def snap_back(section: int, _order: Qt.SortOrder) -> None:
        if model.columns[section].sort_key is not None:
            return
        shown = model.sort_column()
        header.blockSignals(True)
        try:
            if shown is None:
                header.setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
            else:
                header.setSortIndicator(*shown)
        finally:
            header.blockSignals(False)
        header.viewport().update()

    header.sortIndicatorChanged.connect(snap_back)


def table_beside_detail(
    owner: QWidget,
    key: str,
    model: LazyTableModel,
    detail_factory: Callable[[QSplitter], QWidget],
    column_widths: Sequence[int],
) -> tuple[QSplitter, QTableView, QWidget]:
    """The master-detail layout of the data views: a table left, its detail right.

    Object names follow the views' convention: ``<key>-splitter`` and ``<key>-table``.
    ``detail_factory`` builds the detail pane as a child of the splitter.
    """
    splitter = QSplitter(Qt.Orientation.Horizontal, owner)
    splitter.setObjectName(f"{key}-splitter")
    table = QTableView(splitter)
    table.setObjectName(f"{key}-table")
    configure_table(table, model)
    detail = detail_factory(splitter)
    splitter.addWidget(table)
    splitter.addWidget(detail)
    splitter.setStretchFactor(0, 3)
    splitter.setStretchFactor(1, 2)
    for column, width in enumerate(column_widths):
        table.setColumnWidth(column, width)
    return splitter, table, detail


def keep_place_on_refresh(table: QTableView, model: LazyTableModel) -> None:
    """Keep the rows the user is looking at in place when ``model`` re-reads its rows.

    A refresh (:meth:`LazyTableModel.refresh`) swaps rows in a layout change; new
    rows above the first visible one would push the view down. The first visible
    record is remembered before and scrolled back to the top after, so neither the
    selection (kept by id by the model) nor the scroll position moves. At the very
    top the view stays at the top, where new rows appear.
    """
    anchor: list[int] = []

    def remember() -> None:
        anchor.clear()
        top = table.rowAt(0)
        if top > 0:
            anchor.append(model.record_id(model.record(top)))

    def restore() -> None:
        if not anchor:
            return
        row = model.row_of(anchor.pop())
        if row is None:
            return
        bar = table.verticalScrollBar()
        if table.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerItem:
            bar.setValue(row)
        else:
            bar.setValue(bar.value() + table.rowViewportPosition(row))

    model.layoutAboutToBeChanged.connect(remember)
    model.layoutChanged.connect(restore)
