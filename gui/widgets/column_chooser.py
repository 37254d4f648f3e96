"""Which columns a table shows: a header context menu, remembered in ``QSettings``."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QMenu, QTableView


class ColumnChooser:
    """Right-click on ``table``'s header lists its columns with a check box each.

    Columns are known by their titles (stable across versions, unlike numbers);
    ``default_hidden`` are hidden until the user shows them. The choice is kept under
    ``<key>/hidden_columns`` in ``settings`` when given. The last visible column
    cannot be hidden.
    """

    def __init__(
        self,
        key: str,
        table: QTableView,
        default_hidden: Iterable[str],
        settings: QSettings | None = None,
    ) -> None:
        """Apply the remembered (or default) choice to ``table`` and offer the menu."""
        self._table = table
        self._settings = settings
        self._setting = f"{key}/hidden_columns"
        self._menu_name = f"{key}-columns-menu"
        hidden = set(default_hidden)
        if settings is not None and settings.contains(self._setting):
            stored = settings.value(self._setting, [], type=list)
            hidden = {str(title) for title in stored or []}
        for column, title in enumerate(self.titles()):
            table.setColumnHidden(column, title in hidden)
        header = table.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._show_menu)
        header.setToolTip("Right-click to choose the columns")

    def titles(self) -> list[str]:
        """Every column's title, in model order."""
        model = self._table.model()
        return [
            str(model.headerData(c, Qt.Orientation.Horizontal)) for c in range(model.columnCount())
        ]

    def hidden(self) -> list[str]:
        """The titles of the hidden columns."""
        return [t for c, t in enumerate(self.titles()) if self._table.isColumnHidden(c)]

    def set_visible(self, title: str, visible: bool) -> None:
        """Show or hide the column ``title`` and remember the choice."""
        titles = self.titles()
        column = titles.index(title)
        shown = [c for c in range(len(titles)) if not self._table.isColumnHidden(c)]
        if not visible and shown == [column]:
            return  # a table with no column cannot be right-clicked back
        self._table.setColumnHidden(column, not visible)
        if visible and self._table.columnWidth(column) == 0:
            self._table.setColumnWidth(column, 100)
        if self._settings is not None:
            self._settings.setValue(self._setting, self.hidden())

    def menu(self) -> QMenu:
        """The menu of columns (checked = shown)."""
        menu = QMenu(self._table)
        menu.setObjectName(self._menu_name)
        for column, title in enumerate(self.titles()):
            action = menu.addAction(title)
            action.setCheckable(True)
            action.setChecked(not self._table.isColumnHidden(column))
            action.toggled.connect(lambda on, t=title: self.set_visible(t, on))
        return menu

    def _show_menu(self, position: QPoint) -> None:
        header = self._table.horizontalHeader()
        self.menu().exec(header.mapToGlobal(position))
