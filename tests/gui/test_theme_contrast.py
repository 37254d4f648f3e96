"""WCAG AA in both themes: text 4.5:1, control outlines 3:1 — read from the palette,
the style sheet and what Qt draws."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)
from pytestqt.qtbot import QtBot

from gui.models.badges import badge_colors
from gui.theme import THEME_COLOURS, apply_theme, contrast_ratio, palette_for, style_sheet

TEXT = 4.5
OUTLINE = 3.0
Role = QPalette.ColorRole
THEMES = ("light", "dark")


@pytest.fixture
def themed(qapp: QApplication) -> Iterator[QApplication]:
    """The application; its theme is set back to light afterwards."""
    yield qapp
    apply_theme(qapp, "light")


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize(
    ("fore", "back"),
    [
        (Role.WindowText, Role.Window),
        (Role.Text, Role.Base),
        (Role.Text, Role.AlternateBase),
        (Role.ButtonText, Role.Button),
        (Role.HighlightedText, Role.Highlight),
        (Role.ToolTipText, Role.ToolTipBase),
        (Role.Link, Role.Window),
        (Role.Link, Role.Base),
    ],
)
def test_palette_text_reads(theme: str, fore: QPalette.ColorRole, back: QPalette.ColorRole) -> None:
    palette = palette_for(theme)
    ratio = contrast_ratio(palette.color(fore), palette.color(back))
    assert ratio >= TEXT, f"{theme} {fore.name} on {back.name}: {ratio:.2f}"


@pytest.mark.parametrize("theme", THEMES)
def test_style_sheet_colours_read(theme: str) -> None:
    colours = THEME_COLOURS[theme]
    for text in ("danger_text", "ok_text"):
        assert contrast_ratio(colours[text], colours["window"]) >= TEXT, text
    for outline in ("outline", "accent"):
        for back in ("window", "field"):
            assert contrast_ratio(colours[outline], colours[back]) >= OUTLINE, (outline, back)
    sheet = style_sheet(theme)
    assert "@" not in sheet
    # Badges: white text on each fill.
    fills = re.findall(r'QLabel\[badge="\w+"\]\s*\{\s*background-color:\s*(#[0-9a-f]{6})', sheet)
    assert len(fills) >= 5
    for fill in fills:
        assert contrast_ratio("#ffffff", fill) >= TEXT, fill
    # A finished run's bar: its text on the outcome's tint, and on the empty part.
    for back in ("ok_fill", "warn_fill", "bad_fill", "field"):
        assert contrast_ratio(colours["text"], colours[back]) >= TEXT, back
    assert 'QProgressBar[tone="warn"]::chunk' in sheet


def _outline_contrast(widget: QWidget) -> float:
    """The strongest contrast against the window colour inside the indicator."""
    widget.resize(80, 24)
    image: QImage = widget.grab().toImage()
    window = widget.palette().color(Role.Window)
    best = 1.0
    for y in range(image.height()):
        for x in range(18):  # the indicator sits at the left, the label after it
            best = max(best, contrast_ratio(QColor(image.pixel(x, y)), window))
    return best


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("kind", [QCheckBox, QRadioButton])
def test_unchecked_indicators_are_outlined(
    themed: QApplication, qtbot: QtBot, theme: str, kind: type[QWidget]
) -> None:
    apply_theme(themed, theme)
    widget = kind("")
    qtbot.addWidget(widget)
    assert _outline_contrast(widget) >= OUTLINE


def _frame_contrast(widget: QWidget) -> float:
    """The strongest contrast against the window colour along the frame's left edge."""
    widget.resize(120, 30)
    image: QImage = widget.grab().toImage()
    window = widget.palette().color(Role.Window)
    row = image.height() // 2
    return max(contrast_ratio(QColor(image.pixel(x, row)), window) for x in range(4))


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("kind", [QLineEdit, QPushButton, QComboBox, QSpinBox])
def test_fields_and_buttons_are_outlined(
    themed: QApplication, qtbot: QtBot, theme: str, kind: type[QWidget]
) -> None:
    apply_theme(themed, theme)
    widget = kind()
    qtbot.addWidget(widget)
    assert _frame_contrast(widget) >= OUTLINE


def _link_pixels(label: QLabel) -> set[str]:
    image = label.grab().toImage()
    background = label.palette().color(Role.Window).name()
    return {
        QColor(image.pixel(x, y)).name()
        for y in range(image.height())
        for x in range(image.width())
    } - {background}


def test_links_follow_a_theme_switch(themed: QApplication, qtbot: QtBot) -> None:
    apply_theme(themed, "light")
    label = QLabel('<a href="batch:1">batch 1</a>')
    label.setTextFormat(Qt.TextFormat.RichText)
    qtbot.addWidget(label)
    label.show()
    apply_theme(themed, "dark")
    dark_link = palette_for("dark").color(Role.Link).name()
    assert dark_link in _link_pixels(label)
    assert palette_for("light").color(Role.Link).name() not in _link_pixels(label)


@pytest.mark.parametrize("theme", THEMES)
def test_badge_and_outcome_colours_read(theme: str) -> None:
    # Badges draw their text on their fill; a flow's summary draws the outcome in the
    # badge's text colour on the window.
    dark = theme == "dark"
    window = THEME_COLOURS[theme]["window"]
    for kind in ("success", "danger", "warning", "info", "neutral"):
        fill, ink = badge_colors(kind, dark=dark)
        assert contrast_ratio(ink, fill) >= TEXT, (kind, "on its fill")
        assert contrast_ratio(ink, window) >= TEXT, (kind, "on the window")
