"""A small bar chart of orders created and errors per hour, painted with QPainter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QToolTip, QWidget

from gui.models.badges import badge_colors
from gui.widgets.badge import is_dark

Bucket = tuple[datetime, int, int]

_LEFT = 36
_BOTTOM = 18
_TOP = 18
_RIGHT = 8


def hour_floor(value: datetime) -> datetime:
    """``value`` truncated to its UTC hour."""
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class HourlyChart(QWidget):
    """Created orders and errors for each of the last ``hours`` hours, side by side."""

    def __init__(self, hours: int = 24, parent: QWidget | None = None) -> None:
        """An empty chart of ``hours`` hours ending with the current one."""
        super().__init__(parent)
        self.hours = hours
        self._end = hour_floor(datetime.now(UTC))
        self._created = [0] * hours
        self._errors = [0] * hours
        self.setMinimumHeight(110)

    def set_activity(self, buckets: Sequence[Bucket], now: datetime | None = None) -> None:
        """Show ``(hour, created, errors)`` buckets; hours without one are zero."""
        self._end = hour_floor(now or datetime.now(UTC))
        self._created = [0] * self.hours
        self._errors = [0] * self.hours
        for hour, created, errors in buckets:
            slot = self.slot_of(hour)
            if slot is not None:
                self._created[slot] += created
                self._errors[slot] += errors
        self.update()

    def slot_of(self, hour: datetime) -> int | None:
        """The bar position (0 = oldest) of ``hour``, or ``None`` outside the window."""
        back = int((self._end - hour_floor(hour)) / timedelta(hours=1))
        slot = self.hours - 1 - back
        return slot if 0 <= slot < self.hours else None

    def totals(self) -> tuple[int, int]:
        """Created orders and errors in the window."""
        return sum(self._created), sum(self._errors)

    def series(self) -> tuple[list[int], list[int]]:
        """The bars, oldest hour first: created, errors."""
        return list(self._created), list(self._errors)

    def sizeHint(self) -> QSize:  # noqa: N802
        """Wide and short."""
        return QSize(600, 150)

    def _plot(self) -> QRectF:
        return QRectF(
            _LEFT,
            _TOP,
            max(1, self.width() - _LEFT - _RIGHT),
            max(1, self.height() - _TOP - _BOTTOM),
        )

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        """Axes, two bars per hour, a legend with the window's totals."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        dark = is_dark(palette)
        text = palette.color(QPalette.ColorRole.WindowText)
        grid = QColor(text)
        grid.setAlpha(50)
        created_colour = badge_colors("info", dark=not dark)[0]
        error_colour = badge_colors("danger", dark=not dark)[0]
        plot = self._plot()
        peak = max([1, *self._created, *self._errors])

        painter.setPen(grid)
        for fraction in (0.0, 0.5, 1.0):
            y = plot.bottom() - fraction * plot.height()
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        painter.setPen(text)
        metrics = painter.fontMetrics()
        painter.drawText(
            QRectF(0, plot.top() - metrics.height() / 2, _LEFT - 4, metrics.height()),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            str(peak),
        )
        slot_width = plot.width() / self.hours
        bar = max(1.0, slot_width * 0.38)
        painter.setPen(Qt.PenStyle.NoPen)
        for slot in range(self.hours):
            x = plot.left() + slot * slot_width + slot_width * 0.1
            for offset, value, colour in (
                (0.0, self._created[slot], created_colour),
                (bar, self._errors[slot], error_colour),
            ):
                if value:
                    height = value / peak * plot.height()
                    painter.setBrush(colour)
                    painter.drawRect(QRectF(x + offset, plot.bottom() - height, bar, height))
        painter.setPen(text)
        for slot in range(0, self.hours, 6):
            hour = (self._end - timedelta(hours=self.hours - 1 - slot)).astimezone()
            painter.drawText(
                QPointF(plot.left() + slot * slot_width, self.height() - 4), hour.strftime("%H:00")
            )
        created, errors = self.totals()
        legend = f"■ orders created {created:,}   ■ errors {errors:,}   (last {self.hours} h)"
        painter.drawText(QPointF(plot.left(), metrics.ascent()), legend)
        # Colour the legend's squares like their bars.
        painter.setPen(created_colour)
        painter.drawText(QPointF(plot.left(), metrics.ascent()), "■")
        errors_x = plot.left() + metrics.horizontalAdvance(f"■ orders created {created:,}   ")
        painter.setPen(error_colour)
        painter.drawText(QPointF(errors_x, metrics.ascent()), "■")
        painter.end()

    def event(self, event: object) -> bool:
        """Tooltips: the hour under the mouse with its numbers."""
        if isinstance(event, QHelpEvent):
            plot = self._plot()
            x = event.position().x() if hasattr(event, "position") else event.pos().x()
            slot = int((x - plot.left()) / (plot.width() / self.hours))
            if 0 <= slot < self.hours:
                hour = (self._end - timedelta(hours=self.hours - 1 - slot)).astimezone()
                QToolTip.showText(
                    event.globalPos(),
                    f"{hour:%Y-%m-%d %H:00}: {self._created[slot]} created, "
                    f"{self._errors[slot]} errors",
                    self,
                )
            else:
                QToolTip.hideText()
            return True
        return super().event(event)
