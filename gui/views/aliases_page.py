"""Settings → Mappings: the operator's aliases, listed, picked again and removed.

Each alias maps a channel's spelling (a city, township, district or cargo code) to
an Omnitron object; the flows use it before asking Omnitron. The page reads and
removes them on its own :class:`~gui.tasks.TaskRunner`; "Edit…" opens the mapping
assistant on the alias to pick its Omnitron object again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.session import ConsoleSession
from gui.tasks import TaskRunner
from gui.views.mapping_dialog import AliasProblem, MappingDialog
from gui.widgets.plain_text import plain_label
from service.mapping import target_of_alias
from service.store import Alias

COLUMNS = ("Kind", "Channel spelling", "Omnitron object", "Under", "Saved")
_KINDS = {"city": "City", "township": "Township", "district": "District", "cargo": "Cargo"}


class AliasesPage(QWidget):
    """The aliases of the session's profile, with Edit… and Remove."""

    changed = Signal()  # an alias was removed or picked again

    def __init__(self, session: ConsoleSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settings-aliases-page")
        self._session = session
        self._aliases: list[Alias] = []
        self._runner = TaskRunner(max_threads=1, parent=self, name="aliases")
        intro = plain_label(
            "How this profile reads the channel's spellings: each line maps what the channel "
            "sends to an Omnitron object, used by every run before Omnitron is asked. "
            "Fix a problem to add one.",
            self,
        )
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("settings-aliases")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.edit_button = QPushButton("Edit…", self)
        self.edit_button.setObjectName("settings-alias-edit")
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setObjectName("settings-alias-remove")
        self.status = plain_label("", self)
        self.status.setObjectName("settings-aliases-status")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.edit_selected())
        self.edit_button.clicked.connect(self.edit_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self._update_buttons()
        self.reload()

    def reload(self) -> None:
        """Read the aliases again (in the background) and show them."""
        store = self._session.store
        self._runner.submit(store.aliases, on_done=self._fill, on_failed=self.status.setText)

    def _fill(self, aliases: list[Alias]) -> None:
        self._aliases = aliases
        self.table.setRowCount(len(aliases))
        for row, alias in enumerate(aliases):
            saved = (
                alias.created_at.astimezone().strftime("%Y-%m-%d %H:%M") if alias.created_at else ""
            )
            cells = (
                _KINDS.get(alias.kind, alias.kind),
                alias.channel_value,
                f"{alias.label or '?'} (pk {alias.omnitron_pk})",
                alias.scope and f"pk {alias.scope}",
                saved,
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        if not aliases:
            self.status.setText("No mappings yet: Fix on a problem adds one.")
        self._update_buttons()

    def selected(self) -> Alias | None:
        """The alias of the selected row."""
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._aliases):
            return None
        return self._aliases[rows[0].row()]

    def _update_buttons(self) -> None:
        chosen = self.selected() is not None
        self.remove_button.setEnabled(chosen)
        self.edit_button.setEnabled(chosen and self._session.connection is not None)

    def remove_selected(self) -> None:
        """Forget the selected alias; runs after it ask Omnitron for the spelling again."""
        alias = self.selected()
        if alias is None:
            return
        store = self._session.store
        self.remove_button.setEnabled(False)

        def removed(_: object) -> None:
            self.status.setText(f"Removed: '{alias.channel_value}' → {alias.label}.")
            self.changed.emit()
            self.reload()

        self._runner.submit(
            lambda: store.delete_alias(alias.kind, alias.scope, alias.channel_value),
            on_done=removed,
            on_failed=self.status.setText,
        )

    def edit_selected(self) -> MappingDialog | None:
        """Open the mapping assistant on the selected alias; returns the dialog opened."""
        alias = self.selected()
        if alias is None or self._session.connection is None:
            return None
        dialog = MappingDialog(
            self._session, AliasProblem.of(alias), self, target=target_of_alias(alias)
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda _result: (self.changed.emit(), self.reload()))
        dialog.open()
        return dialog
