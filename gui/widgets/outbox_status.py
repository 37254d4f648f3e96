"""The status bar's outbox indicator: error reports Omnitron does not hold yet."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QLabel, QWidget

from service.store import OutboxCounts


def outbox_text(counts: OutboxCounts) -> str:
    """``Outbox: 12 waiting, 1 refused``; empty when nothing waits and nothing was refused."""
    if not counts.waiting and not counts.refused:
        return ""
    parts = [f"{counts.waiting} waiting"]
    if counts.refused:
        parts.append(f"{counts.refused} refused")
    return "Outbox: " + ", ".join(parts)


class OutboxStatus(QLabel):
    """Shows the outbox's backlog and refused count; hidden while both are zero.

    A click asks for the reports themselves (:attr:`clicked`).
    """

    clicked = Signal()
    """The operator clicked the indicator."""

    def __init__(self, parent: QWidget | None = None) -> None:
        """An indicator with nothing to show yet."""
        super().__init__(parent)
        self.setObjectName("status-outbox")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setContentsMargins(8, 0, 8, 0)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.counts = OutboxCounts()
        self.hide()

    def show_counts(self, counts: OutboxCounts) -> None:
        """Show ``counts``; hide when the outbox is empty and nothing was refused."""
        self.counts = counts
        text = outbox_text(counts)
        self.setText(text)
        self.setToolTip(
            "Error reports that Omnitron does not hold yet: waiting ones are sent by the "
            "next run; refused ones Omnitron will not take (click to see them and its answer)."
            if text
            else ""
        )
        self.setVisible(bool(text))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        """A left click asks for the reports."""
        if event.button() is Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)
