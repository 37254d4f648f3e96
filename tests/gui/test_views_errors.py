"""The error reports view over a real store file: filters, search, sort, paging, export."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QMainWindow,
)
from pytestqt.qtbot import QtBot

from gui.models.errors import ErrorReportsModel, export_error_reports_csv
from gui.models.formatting import pretty_payload, pretty_request
from gui.models.lazy import BADGE_ROLE, ID_ROLE
from gui.views.errors_view import ErrorsView
from service.causes import info
from service.store import ErrorQuery, NewErrorReport, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def _report(code: str, **kw: object) -> NewErrorReport:
    fields: dict[str, object] = {
        "code": code,
        "description": f"{code} failed",
        "flow": "fetch-orders",
        "content_type": "order",
    }
    fields.update(kw)
    return NewErrorReport(**fields)


def _fill(store: Store) -> dict[str, int]:
    """Five reports with distinct codes, statuses, types and texts; code → id."""
    ids = {}
    for report in (
        _report("lb-1-Channel-GetOrders-aa", is_ok=True, description="fetched 20 orders"),
        _report(
            "lb-1-CreateOrder_ORD-1-bb",
            description="city Istambul not found",
            subject="ORD-1",
            cause="unknown_city",
            cause_value="Istambul",
            raw_request='POST - https://omni.example/api/v1/orders/ - {"number": "ORD-1"}',
            raw_response='{"city": ["Unknown city Istambul"]}',
            batch_pk=7,
            local_batch_id="lb-1",
            run_id=3,
        ),
        _report(
            "lb-1-CreateOrder_ORD-2-cc",
            description="cargo company ACME unknown",
            subject="ORD-2",
            cause="unknown_cargo",
            cause_value="ACME",
            run_id=3,
        ),
        _report(
            "lb-2-UpdateOrders-dd",
            content_type="orderitem",
            description="timeout",
            subject="ORD-3",
            cause="network",
            run_id=4,
        ),
        _report("lb-2-Channel-SendUpdates-ee", is_ok=True, description="sent 3 updates", run_id=4),
    ):
        ids[report.code] = store.add_error_report(report)
    return ids


@pytest.fixture
def view(qtbot: QtBot, store: Store) -> ErrorsView:
    widget = ErrorsView(store)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    return widget


def _settle(qtbot: QtBot, view: ErrorsView, change: Callable[[], object] | None = None) -> None:
    """Apply ``change`` (if any) and wait until the resulting query has been read."""
    if change is not None:
        with qtbot.waitSignal(view.model.loaded, timeout=5000):
            change()
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=5000)


def _codes(view: ErrorsView) -> list[str]:
    return [r.code for r in view.model.records()]


def _cells(view: ErrorsView, row: int) -> list[str]:
    """What the visible columns of ``row`` show, in order."""
    return [
        view.model.index(row, column).data()
        for column in range(view.model.columnCount())
        if not view.table.isColumnHidden(column)
    ]


def test_opens_with_failures_only_newest_first(qtbot: QtBot, store: Store) -> None:
    ids = _fill(store)
    view = ErrorsView(store)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)
    failures = [rid for code, rid in ids.items() if "Channel" not in code]
    assert [view.model.index(r, 0).data(ID_ROLE) for r in range(3)] == sorted(
        failures, reverse=True
    )
    qtbot.waitUntil(lambda: view.model.total == 3, timeout=5000)
    assert view.findChild(type(view.count_label), "errors-count").text() == "3 of 3 reports"
    headers = [
        view.model.headerData(c, Qt.Orientation.Horizontal)
        for c in range(view.model.columnCount())
        if not view.table.isColumnHidden(c)
    ]
    assert headers == ["When", "Flow", "Subject", "Cause", "Description", "Status"]
    _when, *rest = _cells(view, view.model.row_of(ids["lb-1-CreateOrder_ORD-1-bb"]))
    assert rest == [
        "fetch-orders",
        "ORD-1",
        "Unknown city: Istambul",
        "city Istambul not found",
        "open · not sent",
    ]

    toggle = view.findChild(QCheckBox, "errors-show-successes")
    _settle(qtbot, view, lambda: qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton))
    assert view.model.rowCount() == 5
    success = view.model.row_of(ids["lb-2-Channel-SendUpdates-ee"])
    assert _cells(view, success)[3:] == ["", "sent 3 updates", "ok · not sent"]


def test_resolved_failures_read_resolved_and_filter(qtbot: QtBot, store: Store) -> None:
    ids = _fill(store)
    assert store.resolve_reports("fetch-orders", "ORD-2") == 1
    store.mark_delivered(ids["lb-1-CreateOrder_ORD-2-cc"])
    view = ErrorsView(store)
    qtbot.addWidget(view)
    _settle(qtbot, view, view.refresh)
    row = view.model.row_of(ids["lb-1-CreateOrder_ORD-2-cc"])
    assert _cells(view, row)[-1] == "resolved"
    assert view.model.index(row, 5).data(BADGE_ROLE) == "success"
    status = view.findChild(QComboBox, "errors-status-filter")
    _settle(qtbot, view, lambda: status.setCurrentText("Open"))
    assert sorted(_codes(view)) == ["lb-1-CreateOrder_ORD-1-bb", "lb-2-UpdateOrders-dd"]
    _settle(qtbot, view, lambda: status.setCurrentText("Resolved"))
    assert _codes(view) == ["lb-1-CreateOrder_ORD-2-cc"]


def test_cause_filter_and_what_to_do(qtbot: QtBot, store: Store, view: ErrorsView) -> None:
    ids = _fill(store)
    _settle(qtbot, view, view.refresh)
    causes = view.findChild(QComboBox, "errors-cause-filter")
    _settle(qtbot, view, lambda: causes.setCurrentIndex(causes.findData("unknown_cargo")))
    assert causes.currentText() == "Unknown cargo company"
    assert _codes(view) == ["lb-1-CreateOrder_ORD-2-cc"]
    view.table.selectRow(0)
    assert view.detail_title.text() == "ORD-2 — Unknown cargo company: ACME"
    what = view.findChild(QLabel, "error-what-to-do")
    assert what.text() == info("unknown_cargo").what_to_do
    assert view.detail_fields["code"].text() == "lb-1-CreateOrder_ORD-2-cc"
    _settle(qtbot, view, lambda: causes.setCurrentIndex(0))
    assert view.model.row_of(ids["lb-2-UpdateOrders-dd"]) is not None


def test_search_matches_values_not_json_keys(qtbot: QtBot, store: Store, view: ErrorsView) -> None:
    """Every order payload has a ``city`` key; searching ``city`` finds only reports about one."""
    for number in range(4):
        store.add_error_report(
            _report(
                f"lb-9-CreateOrder_N{number}-x",
                description="customer has no e-mail",
                raw_request=f'POST - https://o/orders/ - {{"city": "Ankara", "n": {number}}}',
                raw_response='{"email": ["This field is required."]}',
            )
        )
    _fill(store)  # one report says "city Istambul not found"
    _settle(qtbot, view, view.refresh)
    search = view.findChild(QLineEdit, "errors-search")
    _settle(qtbot, view, lambda: search.setText("city"))
    assert _codes(view) == ["lb-1-CreateOrder_ORD-1-bb"]
    _settle(qtbot, view, lambda: search.setText("ankara"))
    assert len(_codes(view)) == 4  # a value is found
    _settle(qtbot, view, lambda: search.setText("required"))
    assert len(_codes(view)) == 4  # so is a message in the response


def test_status_code_and_search_filters_narrow_the_table(
    qtbot: QtBot, store: Store, view: ErrorsView
) -> None:
    _fill(store)
    _settle(qtbot, view, view.refresh)
    assert view.model.rowCount() == 3
    assert all(not r.is_ok for r in view.model.records())
    _settle(qtbot, view, lambda: view.show_successes.setChecked(True))
    assert view.model.rowCount() == 5

    code = view.findChild(type(view.code_filter), "errors-code-filter")
    # Typing is debounced: one query after the last key, not one per key.
    _settle(qtbot, view, lambda: qtbot.keyClicks(code, "CreateOrder"))
    assert sorted(_codes(view)) == ["lb-1-CreateOrder_ORD-1-bb", "lb-1-CreateOrder_ORD-2-cc"]

    _settle(qtbot, view, code.clear)
    search = view.findChild(type(view.search), "errors-search")
    _settle(qtbot, view, lambda: search.setText("istambul"))
    assert _codes(view) == ["lb-1-CreateOrder_ORD-1-bb"]
    qtbot.waitUntil(lambda: view.model.total == 1, timeout=5000)

    _settle(qtbot, view, lambda: search.setText("cargo"))
    assert _codes(view) == ["lb-1-CreateOrder_ORD-2-cc"]

    _settle(qtbot, view, lambda: view.type_filter.setCurrentText("orderitem"))
    assert view.model.rowCount() == 0
    _settle(qtbot, view, lambda: search.clear())
    assert _codes(view) == ["lb-2-UpdateOrders-dd"]


def test_show_run_filters_by_run(qtbot: QtBot, store: Store, view: ErrorsView) -> None:
    _fill(store)
    _settle(qtbot, view, lambda: view.show_successes.setChecked(True))
    _settle(qtbot, view, lambda: view.show_run(4))
    assert _codes(view) == ["lb-2-UpdateOrders-dd"]  # its failures
    assert view.run_filter.value() == 4


def test_sorting_by_a_column_requeries_in_sql(qtbot: QtBot, store: Store, view: ErrorsView) -> None:
    _fill(store)
    _settle(qtbot, view, lambda: view.show_successes.setChecked(True))
    assert _codes(view)[0] == "lb-2-Channel-SendUpdates-ee"  # newest first
    log_id = 6  # behind the column chooser, sortable once shown
    _settle(qtbot, view, lambda: view.table.sortByColumn(log_id, Qt.SortOrder.AscendingOrder))
    assert view.model.query.order_by == "code"
    assert _codes(view)[0] == "lb-1-Channel-GetOrders-aa"
    _settle(qtbot, view, lambda: view.table.sortByColumn(log_id, Qt.SortOrder.DescendingOrder))
    assert _codes(view)[0] == "lb-2-UpdateOrders-dd"
    _settle(qtbot, view, lambda: view.table.sortByColumn(1, Qt.SortOrder.AscendingOrder))
    assert view.model.query.order_by == "flow"


def test_unsortable_column_keeps_the_order(qtbot: QtBot, store: Store, view: ErrorsView) -> None:
    _fill(store)
    _settle(qtbot, view, view.refresh)
    view.table.sortByColumn(5, Qt.SortOrder.AscendingOrder)  # status: no index to sort by
    assert view.model.query.order_by == "created_at"
    assert view.table.horizontalHeader().sortIndicatorSection() == 0


def test_scrolling_fetches_more_pages(qtbot: QtBot, store: Store, view: ErrorsView) -> None:
    for number in range(260):
        store.add_error_report(_report(f"code-{number:04d}"))
    _settle(qtbot, view, view.refresh)
    assert view.model.rowCount() == 200
    assert view.model.canFetchMore()
    view.table.scrollToBottom()
    qtbot.waitUntil(lambda: view.model.rowCount() == 260, timeout=5000)
    assert not view.model.canFetchMore()
    assert len({r.id for r in view.model.records()}) == 260
    qtbot.waitUntil(lambda: view.count_label.text() == "260 of 260 reports", timeout=5000)


def test_selecting_a_report_shows_it_pretty_printed(
    qtbot: QtBot, store: Store, view: ErrorsView
) -> None:
    ids = _fill(store)
    _settle(qtbot, view, view.refresh)
    row = view.model.row_of(ids["lb-1-CreateOrder_ORD-1-bb"])
    assert row is not None
    view.table.selectRow(row)
    detail = view.findChild(type(view.detail), "error-detail")
    assert detail.isEnabled()
    response = detail.findChild(type(view.response_text), "error-response").toPlainText()
    assert response == '{\n  "city": [\n    "Unknown city Istambul"\n  ]\n}'
    request = detail.findChild(type(view.request_text), "error-request").toPlainText()
    assert request == 'POST https://omni.example/api/v1/orders/\n\n{\n  "number": "ORD-1"\n}'

    qtbot.mouseClick(
        view.findChild(type(view.batch_button), "error-copy-response"), Qt.MouseButton.LeftButton
    )
    assert QGuiApplication.clipboard().text() == response
    qtbot.mouseClick(
        view.findChild(type(view.batch_button), "error-copy-request"), Qt.MouseButton.LeftButton
    )
    assert QGuiApplication.clipboard().text() == request

    link = view.findChild(type(view.batch_button), "error-open-batch")
    assert link.text() == "Open batch 7 (lb-1)"
    with qtbot.waitSignal(view.batch_link_activated) as blocker:
        qtbot.mouseClick(link, Qt.MouseButton.LeftButton)
    assert blocker.args == [7]


def test_refresh_keeps_the_selection_by_id(qtbot: QtBot, store: Store, view: ErrorsView) -> None:
    ids = _fill(store)
    _settle(qtbot, view, view.refresh)
    chosen = ids["lb-1-CreateOrder_ORD-2-cc"]
    view.table.selectRow(view.model.row_of(chosen))
    store.add_error_report(_report("lb-3-CreateOrder_ORD-9-ff"))
    _settle(qtbot, view, view.refresh)
    assert view.model.rowCount() == 4  # the failures, the new one included
    (selected,) = view.table.selectionModel().selectedRows()
    assert selected.data(ID_ROLE) == chosen
    assert selected.row() == view.model.row_of(chosen)
    assert view.detail_title.text() == "ORD-2 — Unknown cargo company: ACME"


def test_export_writes_exactly_the_filtered_rows(
    qtbot: QtBot, store: Store, view: ErrorsView, tmp_path: Path
) -> None:
    ids = _fill(store)
    _settle(qtbot, view, view.refresh)
    target = tmp_path / "out.csv"
    view.path_provider = lambda: str(target)
    with qtbot.waitSignal(view.export_finished, timeout=5000) as blocker:
        qtbot.mouseClick(
            view.findChild(type(view.export_button), "errors-export"), Qt.MouseButton.LeftButton
        )
    assert blocker.args == [str(target), 3]
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    expected = {code: rid for code, rid in ids.items() if "Channel" not in code}
    assert {row["code"]: int(row["id"]) for row in rows} == expected
    assert {row["status"] for row in rows} == {"fail"}
    by_code = {row["code"]: row for row in rows}
    assert by_code["lb-1-CreateOrder_ORD-1-bb"]["raw_response"] == (
        '{"city": ["Unknown city Istambul"]}'
    )


def test_export_function_streams_pages(store: Store, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("gui.models.errors.EXPORT_PAGE_SIZE", 4)
    for number in range(10):
        store.add_error_report(_report(f"code-{number}", is_ok=number % 2 == 0))
    target = tmp_path / "all.csv"
    assert export_error_reports_csv(store, ErrorQuery(is_ok=False, order_by="code"), target) == 5
    with target.open(newline="", encoding="utf-8") as handle:
        codes = [row["code"] for row in csv.DictReader(handle)]
    assert codes == ["code-9", "code-7", "code-5", "code-3", "code-1"]


def test_model_counts_once_per_filter(qtbot: QtBot, store: Store, monkeypatch) -> None:
    _fill(store)
    model = ErrorReportsModel(store, ErrorQuery())
    counted: list[ErrorQuery] = []
    original = model.count_rows
    monkeypatch.setattr(model, "count_rows", lambda s, q: counted.append(q) or original(s, q))
    with qtbot.waitSignal(model.total_changed, timeout=5000):
        model.refresh()
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.sort(0, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: not model.is_loading)
    assert len(counted) == 1  # a new order does not change the total
    assert model.total_text() == "5 of 5"
    model.shutdown()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1}', '{\n  "a": 1\n}'),
        ("not json {", "not json {"),
        ("42", "42"),
        ("", ""),
    ],
)
def test_pretty_payload(raw: str, expected: str) -> None:
    assert pretty_payload(raw) == expected


def test_pretty_request_keeps_a_body_that_is_not_json() -> None:
    assert pretty_request("GET - https://x.example/a?b=1 - ") == "GET https://x.example/a?b=1\n\n"
    body = json.dumps({"k": [1, 2]})
    assert pretty_request(f"PATCH - https://x/ - {body}").endswith('"k": [\n    1,\n    2\n  ]\n}')
    assert pretty_request("free text - with dashes") == "free text - with dashes"


def test_empty_table_says_what_to_do(qtbot: QtBot, store: Store, view: ErrorsView) -> None:
    view.show()
    empty = view.findChild(QLabel, "errors-empty")
    qtbot.waitUntil(empty.isVisible, timeout=5000)
    qtbot.waitUntil(lambda: empty.text() == "No error reports yet — run Fetch orders", timeout=5000)
    store.add_error_report(_report("lb-1-Channel-GetOrders-aa", is_ok=True))
    _settle(qtbot, view, view.refresh)
    qtbot.waitUntil(lambda: empty.text() == "No failures — all clear", timeout=5000)
    assert empty.isVisible()
    _settle(qtbot, view, lambda: view.show_successes.setChecked(True))
    assert not empty.isVisible()
    _settle(qtbot, view, lambda: view.search.setText("nothing-like-this"))
    assert empty.isVisible()
    assert empty.text() == "No reports match these filters — Clear filters shows them all"


def test_export_confirms_with_path_and_row_count(
    qtbot: QtBot, store: Store, tmp_path: Path
) -> None:
    _fill(store)
    window = QMainWindow()
    qtbot.addWidget(window)
    view = ErrorsView(store)
    window.setCentralWidget(view)
    window.show()
    _settle(qtbot, view, view.refresh)
    target = tmp_path / "failures.csv"
    view.path_provider = lambda: str(target)
    result = view.findChild(QLabel, "errors-export-result")
    assert not result.isVisible()
    with qtbot.waitSignal(view.export_finished, timeout=5000):
        qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    assert result.isVisible()
    assert result.text() == f"Exported 3 reports to {target}"
    assert window.statusBar().currentMessage() == f"Exported 3 reports to {target}"


def test_column_chooser_shows_hidden_columns_and_remembers(
    qtbot: QtBot, store: Store, tmp_path: Path
) -> None:
    settings = QSettings(str(tmp_path / "view.ini"), QSettings.Format.IniFormat)
    _fill(store)
    view = ErrorsView(store, settings=settings)
    qtbot.addWidget(view)
    log_id = 6
    assert view.table.isColumnHidden(log_id)
    menu = view.columns.menu()
    assert menu.objectName() == "errors-columns-menu"
    (action,) = [a for a in menu.actions() if a.text() == "Log id"]
    assert not action.isChecked()
    action.trigger()
    assert not view.table.isColumnHidden(log_id)
    assert view.table.columnWidth(log_id) > 0
    (status,) = [a for a in view.columns.menu().actions() if a.text() == "Status"]
    status.trigger()
    assert view.table.isColumnHidden(5)

    again = ErrorsView(store, settings=settings)
    qtbot.addWidget(again)
    assert not again.table.isColumnHidden(log_id)
    assert again.table.isColumnHidden(5)
    assert "Log type" in again.columns.hidden()


def test_columns_fit_a_1366_window_without_horizontal_scrolling(qtbot: QtBot, store: Store) -> None:
    for number in range(30):
        store.add_error_report(
            _report(
                f"lb-{number}-CreateOrder_ORD-{number}-{'x' * 30}",
                subject=f"order 70045{number:02d}",
                cause="unknown_township",
                cause_value="Kadıköy Merkez Mahallesi",
                description="Township 'Kadıköy Merkez Mahallesi' of city İstanbul not found " * 3,
            )
        )
    window = QMainWindow()
    qtbot.addWidget(window)
    view = ErrorsView(store)
    window.setCentralWidget(view)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    _settle(qtbot, view, view.refresh)
    assert view.model.rowCount() == 30
    QApplication.processEvents()
    assert view.table.horizontalScrollBar().maximum() == 0
    header = view.table.horizontalHeader()
    visible = [c for c in range(view.model.columnCount()) if not view.table.isColumnHidden(c)]
    assert sum(header.sectionSize(c) for c in visible) <= view.table.viewport().width()
    # Every column keeps room for its title; the description takes what is left.
    metrics = view.table.fontMetrics()
    for column in visible:
        title = view.model.headerData(column, Qt.Orientation.Horizontal)
        assert header.sectionSize(column) >= metrics.horizontalAdvance(title), title
    assert header.sectionSize(4) >= 250


def test_refresh_keeps_selection_and_scroll_position(
    qtbot: QtBot, store: Store, view: ErrorsView
) -> None:
    for number in range(150):
        store.add_error_report(_report(f"code-{number:04d}"))
    view.show()
    _settle(qtbot, view, view.refresh)
    chosen = view.model.record(60).id
    view.table.selectRow(60)
    view.table.scrollTo(view.model.index(50, 0), QAbstractItemView.ScrollHint.PositionAtTop)
    top = view.model.record(view.table.rowAt(0)).id
    for number in range(7):  # newer reports land above what is on screen
        store.add_error_report(_report(f"new-{number}"))
    _settle(qtbot, view, view.refresh)
    assert view.model.rowCount() == 157
    assert view.model.record(view.table.rowAt(0)).id == top
    (selected,) = view.table.selectionModel().selectedRows()
    assert selected.data(ID_ROLE) == chosen
    assert view.findChild(QLabel, "last-updated-errors").text() == "Updated just now"


def test_show_report_finds_and_selects_it(qtbot: QtBot, store: Store, view: ErrorsView) -> None:
    ids = _fill(store)
    _settle(qtbot, view, lambda: view.search.setText("cargo"))
    wanted = ids["lb-2-Channel-SendUpdates-ee"]  # a success: hidden by default
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.show_report(wanted)
    qtbot.waitUntil(lambda: view.table.selectionModel().hasSelection(), timeout=5000)
    (selected,) = view.table.selectionModel().selectedRows()
    assert selected.data(ID_ROLE) == wanted
    assert view.search.text() == ""
    assert view.show_successes.isChecked()
    assert view.detail_fields["code"].text() == "lb-2-Channel-SendUpdates-ee"
