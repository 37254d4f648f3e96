"""What an empty table says: a centred line over its viewport telling what to do.

An empty grid gives no guidance; :class:`EmptyState` covers the table's viewport
while its model has no rows (and is not loading) with a sentence the view chooses —
"No error reports yet — run Fetch orders", or "No failures — all clear" when filters
hide everything.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QTableView

from gui.models.lazy import LazyTableModel

Message = Callable[[], str]


class EmptyState(QLabel):
    """A plain-text overlay shown on ``table`` while ``model`` holds no rows.

    Its object name is ``<key>-empty``; ``message()`` is asked for the text each time
    the table becomes empty, so it can depend on the filters.
    """

    def __init__(
        self, key: str, table: QTableView, model: LazyTableModel, message: Message
    ) -> None:
        """Cover ``table``'s viewport when ``model`` is empty."""
        super().__init__(table.viewport())
        self.setObjectName(f"{key}-empty")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._table = table
        self._model = model
        self._message = message
        table.viewport().installEventFilter(self)
        for signal in (
            model.loaded,
            model.modelReset,
            model.rowsInserted,
            model.rowsRemoved,
            model.load_failed,
        ):
            signal.connect(self.update_state)
        self.hide()

    def update_state(self, *_args: object) -> None:
        """Show (with a fresh message) or hide, as the model's rows say."""
        if self._model.rowCount() > 0 or self._model.is_loading:
            self.hide()
            return
        self.setText(self._message())
        self._fit()
        self.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Follow the viewport's size."""
        if event.type() == QEvent.Type.Resize:
            self._fit()
        return False

    def _fit(self) -> None:
        self.setGeometry(self._table.viewport().rect().adjusted(16, 16, -16, -16))
