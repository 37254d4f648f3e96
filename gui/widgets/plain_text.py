"""Text from servers and channels shown as text, never interpreted as HTML.

Qt guesses whether a label, tooltip or message box holds rich text
(``Qt::mightBeRichText``), so an order number such as ``<img src=file:///…>`` or an
error ``detail`` with ``<a href=…>`` would be drawn as an image or a link. Every
widget that shows such text is made plain here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that shows ``text`` (and any later text) literally."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def plain_tooltip(text: str) -> str:
    """``text`` as a tooltip that shows literally (tooltips cannot be set to plain).

    The text is escaped and wrapped as rich text, so Qt draws the escaped characters
    instead of guessing; an empty text stays empty (no tooltip).
    """
    if not text:
        return ""
    return GuiQt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)


def plain_message_box(
    parent: QWidget | None,
    icon: QMessageBox.Icon,
    title: str,
    text: str,
    *,
    name: str = "",
) -> QMessageBox:
    """A message box showing ``text`` literally, with an OK button; ``exec()`` it.

    ``name`` becomes its object name, so tests and automation can find it.
    """
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        box.setObjectName(name)
    return box
