"""CSV cells that spreadsheets read as text, never as formulas.

A cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as
a formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(…)``, ``=cmd|…``,
``@SUM(…)``). Error reports carry text from marketplaces and Omnitron, so every
exported cell that begins so gets a leading ``'``, which those programs take as
"this is text" and do not show.
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` as it may go into a CSV cell: text that could start a formula gets a ``'``.

    Numbers and ``None`` are returned unchanged (a negative number is data, not a
    formula, and stays a number).
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[object]) -> list[object]:
    """Every cell of a row through :func:`safe_cell`."""
    return [safe_cell(value) for value in values]
