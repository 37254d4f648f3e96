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
