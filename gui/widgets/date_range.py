"""A date-range filter: presets (last hour, day, week, ...) or a custom from/to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QDateTime, Signal
from PySide6.QtWidgets import QComboBox, QDateTimeEdit, QHBoxLayout, QLabel, QWidget

PRESETS: tuple[tuple[str, timedelta | None], ...] = (
    ("Any time", None),
    ("Last hour", timedelta(hours=1)),
    ("Last 24 hours", timedelta(days=1)),
    ("Last 7 days", timedelta(days=7)),
    ("Last 30 days", timedelta(days=30)),
)
CUSTOM = "Custom…"


class DateRangeFilter(QWidget):
    """Emits :attr:`changed` when the range changes; :meth:`range` gives ``(since, until)``."""

    changed = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        """A filter whose widgets are named ``<name>-date-range``, ``-from``, ``-to``."""
        super().__init__(parent)
        self.setObjectName(f"{name}-date-range")
        self.preset = QComboBox(self)
        self.preset.setObjectName(f"{name}-date-preset")
        for label, _span in PRESETS:
            self.preset.addItem(label)
        self.preset.addItem(CUSTOM)
        self.preset.setToolTip("Created within")
        now = QDateTime.currentDateTime()
        self.since_edit = QDateTimeEdit(now.addDays(-1), self)
        self.since_edit.setObjectName(f"{name}-date-from")
        self.until_edit = QDateTimeEdit(now, self)
        self.until_edit.setObjectName(f"{name}-date-to")
        self._to_label = QLabel("to", self)
        for edit in (self.since_edit, self.until_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.dateTimeChanged.connect(self._custom_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.preset)
        layout.addWidget(self.since_edit)
        layout.addWidget(self._to_label)
        layout.addWidget(self.until_edit)
        self.preset.currentIndexChanged.connect(self._preset_changed)
        self._show_custom(False)

    def is_custom(self) -> bool:
        """Whether the from/to edits are in use."""
        return self.preset.currentText() == CUSTOM

    def range(self) -> tuple[datetime | None, datetime | None]:
        """``(since, until)`` in UTC; ``None`` for an open end."""
        if self.is_custom():
            return _utc(self.since_edit.dateTime()), _utc(self.until_edit.dateTime())
        span = PRESETS[self.preset.currentIndex()][1]
        # A preset is relative to the moment it is read: "last hour" stays the last hour.
        return (datetime.now(UTC) - span if span is not None else None), None

    def set_range(self, since: datetime | None, until: datetime | None) -> None:
        """Show a custom range (or "Any time" when both ends are ``None``)."""
        if since is None and until is None:
            self.reset()
            return
        self.blockSignals(True)
        try:
            if since is not None:
                self.since_edit.setDateTime(QDateTime(since.astimezone()))
            if until is not None:
                self.until_edit.setDateTime(QDateTime(until.astimezone()))
            self.preset.setCurrentText(CUSTOM)
        finally:
            self.blockSignals(False)
        self.changed.emit()

    def reset(self) -> None:
        """Back to "Any time"."""
        if self.preset.currentIndex() != 0:
            self.preset.setCurrentIndex(0)

    def _show_custom(self, shown: bool) -> None:
        for widget in (self.since_edit, self._to_label, self.until_edit):
            widget.setVisible(shown)

    def _preset_changed(self) -> None:
        self._show_custom(self.is_custom())
        self.changed.emit()

    def _custom_changed(self) -> None:
        if self.is_custom():
            self.changed.emit()


def _utc(value: QDateTime) -> datetime:
    return value.toPython().astimezone(UTC)
