"""Themes change the palette; every icon loads and is drawn in the palette's colours."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from gui.flow_tab import FlowPanel
from gui.icons import ICON_DIR, ICON_NAMES, icon, render
from gui.theme import THEMES, apply_theme, current_theme, palette_for, resolve_theme
from service.flows.names import Flow


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    """The application, with its palette, style sheet and theme restored afterwards."""
    palette, sheet, theme = qapp.palette(), qapp.styleSheet(), qapp.property("channeldeskTheme")
    yield qapp
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)
    qapp.setProperty("channeldeskTheme", theme)


def window_colour(app: QApplication) -> QColor:
    return app.palette().color(QPalette.ColorRole.Window)


def test_light_and_dark_change_the_window_colour(app: QApplication) -> None:
    apply_theme(app, "light")
    light = window_colour(app)
    assert light.lightness() > 200
    apply_theme(app, "dark")
    dark = window_colour(app)
    assert dark.lightness() < 60
    assert light != dark
    assert current_theme(app) == "dark"
    assert "#sandbox-banner" in app.styleSheet()


def test_system_follows_the_platform_or_falls_back_to_light(app: QApplication) -> None:
    apply_theme(app, "system")
    expected = palette_for(resolve_theme(app, "system")).color(QPalette.ColorRole.Window)
    assert window_colour(app) == expected
    assert resolve_theme(app, "system") in ("light", "dark")


def test_unknown_theme_is_refused(app: QApplication) -> None:
    assert THEMES == ("system", "light", "dark")
    with pytest.raises(ValueError, match="unknown theme"):
        apply_theme(app, "solarized")


def test_every_icon_name_has_a_file() -> None:
    assert {path.stem for path in ICON_DIR.glob("*.svg")} == set(ICON_NAMES)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_icons_load_in_both_themes(app: QApplication, theme: str) -> None:
    apply_theme(app, theme)
    for name in ICON_NAMES:
        loaded = icon(name)
        assert not loaded.isNull(), name
        assert not loaded.pixmap(24, 24).isNull(), name
        assert not loaded.pixmap(24, 24, QIcon.Mode.Disabled).isNull(), name


def test_icons_take_the_palette_text_colour() -> None:
    for theme in ("light", "dark"):
        text = palette_for(theme).color(QPalette.ColorRole.Text)
        image = render("run", text.name(), 24).toImage()
        opaque = {
            (colour.red(), colour.green(), colour.blue())
            for colour in (image.pixelColor(x, y) for x in range(24) for y in range(24))
            if colour.alpha() == 255
        }
        assert opaque == {(text.red(), text.green(), text.blue())}, theme


def test_unknown_icon_is_refused(qapp: QApplication) -> None:
    with pytest.raises(ValueError, match="unknown icon"):
        icon("no-such-icon")


def _opaque_colours(button_icon: QIcon) -> set[int]:
    image = button_icon.pixmap(24).toImage()
    return {
        image.pixel(x, y)
        for x in range(image.width())
        for y in range(image.height())
        if image.pixel(x, y) >> 24 == 0xFF
    }


def test_flow_buttons_redraw_their_icons_when_the_theme_changes(
    app: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    apply_theme(app, "light")
    panel = FlowPanel(
        Flow.FETCH_ORDERS, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(panel)
    light = _opaque_colours(panel.run_button.icon())

    apply_theme(app, "dark")
    app.processEvents()

    dark = _opaque_colours(panel.run_button.icon())
    assert light
    assert dark
    assert light != dark
