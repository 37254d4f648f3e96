"""A delegate painting a cell as a rounded, coloured state badge."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from gui.models.badges import badge_colors
from gui.models.lazy import BADGE_ROLE

_PAD_X = 8
_PAD_Y = 2
_MARGIN = 3

Index = QModelIndex | QPersistentModelIndex


def is_dark(palette: QPalette) -> bool:
    """Whether ``palette`` is a dark theme (its base is darker than mid-grey)."""
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


class BadgeDelegate(QStyledItemDelegate):
    """Paints the cell's text as a pill coloured by the model's ``BADGE_ROLE`` kind."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        """The item's usual background (selection included), then the pill."""
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        if not text:
            return
        fill, ink = badge_colors(index.data(BADGE_ROLE), dark=is_dark(opt.palette))
        metrics = opt.fontMetrics
        width = min(metrics.horizontalAdvance(text) + 2 * _PAD_X, opt.rect.width() - 2 * _MARGIN)
        height = min(metrics.height() + 2 * _PAD_Y, opt.rect.height() - 2)
        rect = QRectF(
            opt.rect.left() + _MARGIN,
            opt.rect.top() + (opt.rect.height() - height) / 2,
            width,
            height,
        )
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, height / 2, height / 2)
        painter.setPen(ink)
        painter.setFont(opt.font)
        # Elide only to the room the cell has: eliding to the text's own measured width
        # cuts it short whenever drawing rounds a pixel differently.
        room = opt.rect.width() - 2 * (_MARGIN + _PAD_X)
        elided = (
            text
            if metrics.horizontalAdvance(text) <= room
            else metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)
        )
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, elided)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        """Room for the text plus the pill's padding."""
        base = super().sizeHint(option, index)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        width = option.fontMetrics.horizontalAdvance(text) + 2 * (_PAD_X + _MARGIN)
        return QSize(max(base.width(), width), base.height())
