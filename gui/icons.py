"""The console's icons: small SVGs drawn in the palette's text colour.

Each icon in ``resources/icons/<name>.svg`` is a 24×24 line drawing that paints with
``currentColor``. :func:`icon` replaces that with the current palette's text colour
(and the disabled text colour for the disabled mode) and renders it at 1x and 2x,
so the same files read on light and dark themes. Call :func:`icon` again after a
theme change: the returned :class:`QIcon` keeps the colours it was made with.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

ICON_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"
ICON_NAMES: tuple[str, ...] = (
    "app",
    "run",
    "cancel",
    "refresh",
    "batches",
    "errors",
    "runs",
    "settings",
    "export",
    "copy",
    "check",
    "schedule",
    "warning",
)
# Logical sizes rendered into every icon; each also at 2x for high-DPI screens.
_SIZES: tuple[int, ...] = (16, 24, 32)
_RATIOS: tuple[float, ...] = (1.0, 2.0)


@functools.lru_cache(maxsize=128)
def svg_source(name: str, colour: str) -> bytes:
    """The SVG of icon ``name`` with ``currentColor`` replaced by ``colour`` (``#rrggbb``)."""
    path = ICON_DIR / f"{name}.svg"
    if name not in ICON_NAMES or not path.is_file():
        raise ValueError(f"unknown icon {name!r}; available: {', '.join(ICON_NAMES)}")
    return path.read_text(encoding="utf-8").replace("currentColor", colour).encode("utf-8")


def render(name: str, colour: str, size: int, ratio: float = 1.0) -> QPixmap:
    """Icon ``name`` in ``colour`` as a ``size``×``size`` pixmap at device pixel ``ratio``."""
    renderer = QSvgRenderer(QByteArray(svg_source(name, colour)))
    pixels = round(size * ratio)
    pixmap = QPixmap(pixels, pixels)
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


def icon(name: str, palette: QPalette | None = None) -> QIcon:
    """Icon ``name`` coloured for ``palette`` (default: the application's palette)."""
    palette = palette or QGuiApplication.palette()
    modes = (
        (QIcon.Mode.Normal, palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Text)),
        (
            QIcon.Mode.Disabled,
            palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text),
        ),
    )
    result = QIcon()
    for mode, colour in modes:
        hex_colour = _hex(colour)
        for size in _SIZES:
            for ratio in _RATIOS:
                result.addPixmap(render(name, hex_colour, size, ratio), mode)
    return result


def _hex(colour: QColor) -> str:
    return colour.name(QColor.NameFormat.HexRgb)
