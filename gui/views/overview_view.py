"""The Overview tab: every profile in one table; double-click one to show it."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.models.overview import COLUMNS, PROFILE_ROLE, OverviewModel
from gui.widgets.badge import BadgeDelegate
from gui.widgets.last_updated import LastUpdated

MAX_COLUMN_WIDTH = 300


class _OverviewTable(QTableView):
    """The table; Enter on a row says ``enter_pressed`` (a double-click says ``doubleClicked``)."""

    enter_pressed = Signal(QModelIndex)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        """Enter or Return shows the current row's profile."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.enter_pressed.emit(self.currentIndex())
            return
        super().keyPressEvent(event)


class OverviewView(QWidget):
    """One row per profile (:class:`~gui.models.overview.OverviewModel`).

    ``profile_activated(name)`` when a row is double-clicked or Enter is pressed on it.
    """

    profile_activated = Signal(str)

    def __init__(self, model: OverviewModel, parent: QWidget | None = None) -> None:
        """A view over ``model``."""
        super().__init__(parent)
        self.setObjectName("overview-view")
        self.model = model
        hint = QLabel(
            "Every profile at a glance. Double-click a row (or Enter) to show that profile."
        )
        hint.setObjectName("overview-hint")
        self.last_updated = LastUpdated("overview", self)
        self.table = _OverviewTable(self)
        self.table.setObjectName("overview-table")
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self._delegate = BadgeDelegate(self.table)
        for index, column in enumerate(COLUMNS):
            if column.badge:
                self.table.setItemDelegateForColumn(index, self._delegate)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # A long error stays in its cell, elided; the detail line below shows it whole.
        header.setMaximumSectionSize(MAX_COLUMN_WIDTH)
        header.setStretchLastSection(True)
        self.detail = QLabel(self)
        self.detail.setObjectName("overview-detail")
        self.detail.setTextFormat(Qt.TextFormat.PlainText)  # errors quote servers
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table.doubleClicked.connect(self._activated)
        self.table.enter_pressed.connect(self._activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        top = QVBoxLayout()
        top.addWidget(hint)
        top.addWidget(self.last_updated)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_detail())
        model.dataChanged.connect(lambda *_: self._show_detail())
        model.dataChanged.connect(self.last_updated.mark)
        model.rowsInserted.connect(self.last_updated.mark)

    def _show_detail(self) -> None:
        index = self.table.currentIndex()
        name = index.data(PROFILE_ROLE) if index.isValid() else None
        self.detail.setText(self.model.describe(str(name)) if name else "")

    def _activated(self, index: QModelIndex) -> None:
        name = index.data(PROFILE_ROLE)
        if name:
            self.profile_activated.emit(str(name))

    def select_profile(self, name: str) -> None:
        """Make ``name``'s row current (without activating it)."""
        row = self.model.row_index(name)
        if row >= 0:
            self.table.selectRow(row)

    def focus_filter(self) -> None:
        """Ctrl+F: the overview has no filter; the table takes the focus."""
        self.table.setFocus()
