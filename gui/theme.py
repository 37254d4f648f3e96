"""Light, dark and system themes: the Fusion style, a palette and a small style sheet.

Fusion draws the same on every platform and takes its colours from the palette, so
one palette per theme is all a theme is. ``resources/styles/app.qss`` adds what a
palette cannot say: spacing, the sandbox banner and status badge colours, and the
check box and radio button outlines (Fusion draws those in the window colour
darkened, which is 1.1:1 on a dark window); its ``@name`` tokens are the theme's
:data:`THEME_COLOURS`. Text reaches WCAG AA (4.5:1) and control outlines 3:1 in both
themes (tests/gui/test_theme_contrast.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

THEMES: tuple[str, ...] = ("system", "light", "dark")
STYLES_DIR = Path(__file__).resolve().parent.parent / "resources" / "styles"
STYLE_SHEET = STYLES_DIR / "app.qss"
# The theme last applied is kept on the application object itself (no module state),
# so a change of the system colour scheme can be followed while "system" is chosen.
_THEME_PROPERTY = "channeldeskTheme"
_FOLLOWING_PROPERTY = "channeldeskFollowsScheme"

_Role = QPalette.ColorRole
_Group = QPalette.ColorGroup

_LIGHT: dict[QPalette.ColorRole, str] = {
    _Role.Window: "#f3f4f6",
    _Role.WindowText: "#1f2328",
    _Role.Base: "#ffffff",
    _Role.AlternateBase: "#f1f3f5",
    _Role.ToolTipBase: "#ffffff",
    _Role.ToolTipText: "#1f2328",
    _Role.PlaceholderText: "#80868e",
    _Role.Text: "#1f2328",
    _Role.Button: "#e9ebee",
    _Role.ButtonText: "#1f2328",
    _Role.BrightText: "#ffffff",
    _Role.Light: "#ffffff",
    _Role.Midlight: "#eceef1",
    _Role.Mid: "#c4c8cd",
    _Role.Dark: "#9ea3a9",
    _Role.Shadow: "#5f6368",
    _Role.Highlight: "#2563eb",
    _Role.HighlightedText: "#ffffff",
    _Role.Link: "#1d4ed8",
    _Role.LinkVisited: "#6d28d9",
}
_LIGHT_DISABLED: dict[QPalette.ColorRole, str] = {
    _Role.WindowText: "#9aa0a6",
    _Role.Text: "#9aa0a6",
    _Role.ButtonText: "#9aa0a6",
    _Role.Highlight: "#b7c4dc",
}

_DARK: dict[QPalette.ColorRole, str] = {
    _Role.Window: "#1f2124",
    _Role.WindowText: "#e3e5e8",
    _Role.Base: "#17181b",
    _Role.AlternateBase: "#222428",
    _Role.ToolTipBase: "#2b2e33",
    _Role.ToolTipText: "#e3e5e8",
    _Role.PlaceholderText: "#868b93",
    _Role.Text: "#e3e5e8",
    _Role.Button: "#2b2e33",
    _Role.ButtonText: "#e3e5e8",
    _Role.BrightText: "#ffffff",
    _Role.Light: "#3a3e44",
    _Role.Midlight: "#32353a",
    _Role.Mid: "#26282c",
    _Role.Dark: "#141517",
    _Role.Shadow: "#000000",
    _Role.Highlight: "#3b72d9",
    _Role.HighlightedText: "#ffffff",
    _Role.Link: "#7aa7ff",
    _Role.LinkVisited: "#b39cff",
}
_DARK_DISABLED: dict[QPalette.ColorRole, str] = {
    _Role.WindowText: "#6b7078",
    _Role.Text: "#6b7078",
    _Role.ButtonText: "#6b7078",
    _Role.Highlight: "#34404f",
}


# The style sheet's ``@name`` colours per theme. ``window``/``field`` repeat the
# palette's Window/Base so the contrast test can pair them with what sits on them.
THEME_COLOURS: dict[str, dict[str, str]] = {
    "light": {
        "window": _LIGHT[_Role.Window],
        "field": _LIGHT[_Role.Base],
        "outline": "#6b7078",
        "disabled_outline": "#c4c8cd",
        "accent": _LIGHT[_Role.Highlight],
        "danger_text": "#c62828",
        "ok_text": "#2b7a35",
        # Push buttons drawn by the style sheet keep the palette's button colour.
        "button": _LIGHT[_Role.Button],
        "button_pressed": "#dde1e6",
        # A finished run's progress bar, filled in its outcome's tint under normal text.
        "text": _LIGHT[_Role.WindowText],
        "ok_fill": "#b7e4c7",
        "warn_fill": "#ffd8a8",
        "bad_fill": "#ffc9c9",
    },
    "dark": {
        "window": _DARK[_Role.Window],
        "field": _DARK[_Role.Base],
        "outline": "#8b9098",
        "disabled_outline": "#4a4e55",
        "accent": _DARK[_Role.Highlight],
        "danger_text": "#ff7b72",
        "ok_text": "#56d364",
        "button": _DARK[_Role.Button],
        "button_pressed": "#3a3f48",
        "text": _DARK[_Role.WindowText],
        "ok_fill": "#1d4a2b",
        "warn_fill": "#5a3a00",
        "bad_fill": "#5c1f1f",
    },
}
_TOKEN = re.compile(r"@([a-z_]+)")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def contrast_ratio(first: str | QColor, second: str | QColor) -> float:
    """WCAG 2 contrast ratio of two colours (1.0 … 21.0)."""

    def luminance(colour: str | QColor) -> float:
        rgb = QColor(colour)
        channels = []
        for value in (rgb.redF(), rgb.greenF(), rgb.blueF()):
            linear = value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
            channels.append(linear)
        red, green, blue = channels
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def resolve_theme(app: QApplication, name: str) -> str:
    """``"light"`` or ``"dark"``: what ``name`` means now (``"system"`` asks the platform)."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}; one of {', '.join(THEMES)}")
    if name != "system":
        return name
    hints = app.styleHints()
    # QStyleHints.colorScheme() exists from Qt 6.5; without it (or when the platform
    # does not say) the light theme is the safe default.
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None and scheme() == Qt.ColorScheme.Dark:
        return "dark"
    return "light"


def palette_for(theme: str) -> QPalette:
    """The palette of ``theme`` (``"light"`` or ``"dark"``)."""
    colours, disabled = (_DARK, _DARK_DISABLED) if theme == "dark" else (_LIGHT, _LIGHT_DISABLED)
    palette = QPalette()
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role, colour in disabled.items():
        palette.setColor(_Group.Disabled, role, QColor(colour))
    return palette


def style_sheet(theme: str = "light") -> str:
    """The application style sheet in ``theme``'s colours (empty when the file is missing)."""
    try:
        text = STYLE_SHEET.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    colours = {**THEME_COLOURS[theme], "styles": STYLES_DIR.as_posix()}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in colours:
            raise KeyError(f"{STYLE_SHEET.name}: no theme colour @{name}")
        return colours[name]

    return _TOKEN.sub(substitute, _COMMENT.sub("", text))


def apply_theme(app: QApplication, name: str) -> None:
    """Apply theme ``name`` (``"light"``, ``"dark"`` or ``"system"``) to ``app``.

    With ``"system"`` the theme follows the platform's colour scheme, also when it
    changes while the console runs (where Qt reports such changes).
    """
    theme = resolve_theme(app, name)
    app.setProperty(_THEME_PROPERTY, name)
    app.setStyle("Fusion")
    app.setPalette(palette_for(theme))
    app.setStyleSheet(style_sheet(theme))
    _relayout_rich_text(app)
    _follow_system_scheme(app)


def current_theme(app: QApplication) -> str:
    """The theme name last passed to :func:`apply_theme` (``"system"`` if none)."""
    value = app.property(_THEME_PROPERTY)
    return value if isinstance(value, str) and value in THEMES else "system"


def repolish(widget: QWidget) -> None:
    """Re-apply the style sheet to ``widget`` after one of its properties changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


def _relayout_rich_text(app: QApplication) -> None:
    # A rich-text label lays its links out in the palette's Link colour once, when its
    # text is set, and keeps that colour through a palette change: lay it out again
    # (setText with the same text is a no-op, hence the empty text first).
    for widget in app.allWidgets():
        if isinstance(widget, QLabel) and widget.textFormat() is not Qt.TextFormat.PlainText:
            text = widget.text()
            if "<a " in text:
                widget.setText("")
                widget.setText(text)


def _follow_system_scheme(app: QApplication) -> None:
    if app.property(_FOLLOWING_PROPERTY):
        return
    hints = app.styleHints()
    changed = getattr(hints, "colorSchemeChanged", None)
    if changed is None:
        return

    def reapply(*_: object) -> None:
        if current_theme(app) == "system":
            apply_theme(app, "system")

    changed.connect(reapply)
    app.setProperty(_FOLLOWING_PROPERTY, True)
