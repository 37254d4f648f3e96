"""A "updated N s ago" indicator for a data view, like Flower's live indicator.

A view calls :meth:`LastUpdated.mark` when its rows arrive; the label then counts
the seconds since. The text changes once a second at most, and only while the
label is visible, so an idle window does no work for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from PySide6.QtCore import QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QLabel, QWidget

from gui.models.formatting import format_span

TICK_MS = 1_000
NOT_YET = "Not loaded yet"

Clock = Callable[[], float]


def updated_text(seconds: float | None) -> str:
    """``Updated just now``, ``Updated 12 s ago``, ``Updated 3 min ago``; unmarked: not yet."""
    if seconds is None:
        return NOT_YET
    if seconds < 2:
        return "Updated just now"
    return f"Updated {format_span(timedelta(seconds=seconds))} ago"


class LastUpdated(QLabel):
    """How long ago a view last read its rows; object name ``last-updated-<key>``."""

    def __init__(
        self, key: str, parent: QWidget | None = None, *, clock: Clock = time.monotonic
    ) -> None:
        """An indicator for the view ``key`` (``batches``, ``errors``, ``problems``…)."""
        super().__init__(NOT_YET, parent)
        self.setObjectName(f"last-updated-{key}")
        self.setToolTip("When this view last read the local store")
        self._clock = clock
        self._marked: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.update_text)

    def mark(self) -> None:
        """The view's rows were just read."""
        self._marked = self._clock()
        self.update_text()

    def seconds_ago(self) -> float | None:
        """Seconds since the last :meth:`mark`, ``None`` before the first."""
        if self._marked is None:
            return None
        return max(0.0, self._clock() - self._marked)

    def update_text(self) -> None:
        """Show the current age (the timer calls this every second while shown)."""
        self.setText(updated_text(self.seconds_ago()))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        """Count while visible."""
        super().showEvent(event)
        self.update_text()
        self._timer.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802
        """A hidden view (another tab) needs no ticking."""
        super().hideEvent(event)
        self._timer.stop()
