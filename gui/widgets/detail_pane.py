"""The parts every data view's detail pane is made of: a bold title and a form of
fields, all showing server and channel text literally and selectable for copying."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from gui.widgets.plain_text import plain_label


def selectable_label(parent: QWidget, *, wrap: bool = True) -> QLabel:
    """A plain-text label the operator can select and copy from (wrapping by default)."""
    label = plain_label(parent=parent)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(wrap)
    return label


def detail_title(parent: QWidget, name: str) -> QLabel:
    """The pane's bold title, named ``name``; it wraps rather than widening the pane."""
    title = selectable_label(parent)
    title.setObjectName(name)
    font = QFont(title.font())
    font.setBold(True)
    title.setFont(font)
    return title


def detail_fields(
    parent: QWidget, prefix: str, rows: Sequence[tuple[str, str]], *, wrap: bool = True
) -> tuple[QFormLayout, dict[str, QLabel]]:
    """A form of ``(key, label)`` rows; each value is named ``<prefix>-<key>``."""
    form = QFormLayout()
    fields: dict[str, QLabel] = {}
    for key, label in rows:
        value = selectable_label(parent, wrap=wrap)
        value.setObjectName(f"{prefix}-{key}")
        form.addRow(label, value)
        fields[key] = value
    return form, fields
