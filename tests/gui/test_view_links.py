"""The console's views lead to each other: a run to its batch and its failures, a
batch's report to the Error reports view."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget, QPushButton, QTableView
from pytestqt.qtbot import QtBot

from gui.models.problems import RetryRequest
from service.flows.names import Flow
from service.store import ErrorQuery
from tests.gui.conftest import Console
from tests.gui.test_console_runs import click_run

LOAD_TIMEOUT_MS = 10_000


def _run_with_failures(qtbot: QtBot, console: Console) -> int:
    broken = console.marketplace.post("orders/generate", json={"count": 2, "broken_share": 1.0})
    broken.raise_for_status()
    result = click_run(qtbot, console, Flow.FETCH_ORDERS)
    assert result.failed == 2
    return result.run_id


def test_a_run_opens_its_batch_and_its_failures(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=3)
    run_id = _run_with_failures(qtbot, console)
    window = console.window
    window.tabs.setCurrentWidget(window.runs_view)
    window.runs_view.open_run(run_id)
    batch_button = console.find(QPushButton, "runs-open-batch")
    qtbot.waitUntil(batch_button.isVisible, timeout=LOAD_TIMEOUT_MS)

    (batch,) = window.session.store.batches_of_run(run_id)
    qtbot.mouseClick(batch_button, Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.batches_view
    title = window.batches_view.detail_title
    qtbot.waitUntil(lambda: batch.local_batch_id in title.text(), timeout=LOAD_TIMEOUT_MS)

    window.tabs.setCurrentWidget(window.runs_view)
    qtbot.mouseClick(console.find(QPushButton, "runs-open-reports"), Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.errors_view
    table = console.find(QTableView, "errors-table")
    qtbot.waitUntil(lambda: table.model().rowCount() == 2, timeout=LOAD_TIMEOUT_MS)


def test_a_report_in_a_batch_detail_opens_in_error_reports(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=3)
    _run_with_failures(qtbot, console)
    window = console.window
    batch = window.session.store.list_batches()[0]
    window.show_batch(batch.pk)
    reports = console.find(QListWidget, "batch-errors")
    qtbot.waitUntil(lambda: reports.count() >= 2, timeout=LOAD_TIMEOUT_MS)

    store = window.session.store
    items = [reports.item(row) for row in range(reports.count())]
    item, report = next(
        (item, found)
        for item in items
        if not (found := store.get_error_report(int(item.data(Qt.ItemDataRole.UserRole)))).is_ok
    )
    reports.itemActivated.emit(item)

    assert window.tabs.currentWidget() is window.errors_view
    title = window.errors_view.detail_title
    qtbot.waitUntil(lambda: report.subject in title.text(), timeout=LOAD_TIMEOUT_MS)


def test_a_retry_with_nothing_left_says_so_instead_of_crashing(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=3)
    run_id = _run_with_failures(qtbot, console)
    store = console.window.session.store
    failure = store.search_error_reports(ErrorQuery(run_id=run_id, is_ok=False))[0]
    # Something else resolved it meanwhile (another console, the CLI).
    store.resolve_reports(failure.flow, failure.subject)

    with qtbot.waitSignal(console.window.lanes.retry_refused, timeout=LOAD_TIMEOUT_MS) as refused:
        console.window.retry(RetryRequest(Flow.FETCH_ORDERS, report_ids=(failure.id,), count=1))

    assert "retry" in refused.args[1].lower()
    summary = console.find(QLabel, "summary-fetch-orders").text()
    assert "Not started" in summary
    assert "unexpected error" not in summary
