"""A yellow strip above the tabs that says something the operator must not miss."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QWidget

from gui.widgets.plain_text import plain_label


def warning_banner(name: str, lines: list[str], parent: QWidget | None = None) -> QFrame:
    """A banner named ``name`` showing ``lines`` as plain text, one per line."""
    banner = QFrame(parent)
    banner.setObjectName(name)
    # Both colours set, so the banner reads the same in light and dark themes.
    banner.setStyleSheet(
        f"#{name} {{ background: #fde7c8; border-bottom: 1px solid #d9a35b; }}"
        f"#{name} QLabel {{ color: #4a2a00; }}"
    )
    text = plain_label("\n".join(lines), banner)
    text.setObjectName(f"{name}-text")
    text.setWordWrap(True)
    layout = QHBoxLayout(banner)
    layout.setContentsMargins(10, 4, 10, 4)
    layout.addWidget(text)
    return banner
