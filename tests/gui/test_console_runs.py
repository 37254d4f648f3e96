"""The console runs flows against the simulators: Run, progress, summary, batches."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTableView,
)
from pytestqt.qtbot import QtBot

from gui.workers import FlowLanes
from service.flows.names import Flow
from service.flows.result import FlowResult, RunOutcome
from service.store import ErrorQuery
from tests.gui.conftest import Console

RUN_TIMEOUT_MS = 60_000
PREPARING_AFTER_S = 31 * 60  # the Omnitron simulator moves approved orders on after 30 min


def click_run(qtbot: QtBot, console: Console, flow: Flow) -> FlowResult:
    """Click ``run-<flow>`` and wait for that run's result."""
    button = console.find(QPushButton, f"run-{flow.value}")
    assert button.isEnabled(), button.toolTip()
    lanes: FlowLanes = console.window.lanes
    with qtbot.waitSignal(
        lanes.finished, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda f, _r: f is flow
    ) as finished:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    result = finished.args[1]
    assert isinstance(result, FlowResult)
    return result


def test_fetch_orders_creates_orders_and_shows_the_summary(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=6)
    # Two more that cannot be created, so the error path shows up.
    broken = console.marketplace.post("orders/generate", json={"count": 2, "broken_share": 1.0})
    broken.raise_for_status()

    result = click_run(qtbot, console, Flow.FETCH_ORDERS)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert result.created >= 1
    assert result.failed >= 1
    # The orders are in Omnitron (asked over HTTP on the simulator's URL).
    summary = console.omnitron.get("summary").json()
    assert summary["counts"]["orders"] == result.created
    assert summary["batch_requests_by_status"] == {"done": 1}

    bar = console.find(QProgressBar, "progress-fetch-orders")
    assert bar.maximum() == result.created + result.failed + result.skipped
    assert bar.value() == bar.maximum()
    text = console.find(QLabel, "summary-fetch-orders").text()
    assert f"{result.created} created" in text
    assert f"{result.failed} failed" in text
    assert f'href="batch:{result.batches[0].pk}"' in text
    log = console.find(QPlainTextEdit, "log-fetch-orders").toPlainText()
    assert "Fetch orders completed" in log

    # The broken orders are error reports with the raw exchange...
    reports = console.session.store.search_error_reports(
        ErrorQuery(is_ok=False, run_id=result.run_id)
    )
    assert len({r.subject for r in reports}) >= result.failed
    # (the channel's order, or the call that failed, is the raw request)...
    with_request = next(r for r in reports if r.raw_request)
    # ...listed by the Error reports view (refreshed when the run finished), whose
    # detail pane shows the raw request and links to the batch.
    errors = console.window.errors_view
    console.window.tabs.setCurrentWidget(errors)
    table = console.find(QTableView, "errors-table")
    qtbot.waitUntil(lambda: errors.model.row_of(with_request.id) is not None, timeout=10_000)
    listed = {record.id for record in errors.model.records()}
    assert {r.id for r in reports} <= listed
    row = errors.model.row_of(with_request.id)
    assert row is not None
    table.selectRow(row)
    request = console.find(QPlainTextEdit, "error-request").toPlainText()
    assert request
    assert request.split()[0] in with_request.raw_request
    shown: list[int] = []
    console.window.batches_view.show_batch = shown.append  # type: ignore[method-assign]
    qtbot.mouseClick(console.find(QPushButton, "error-open-batch"), Qt.MouseButton.LeftButton)
    assert console.window.tabs.currentWidget() is console.window.batches_view
    assert shown == [result.batches[0].pk]

    # The summary's batch link leads there too.
    shown.clear()
    console.window.tabs.setCurrentIndex(console.window._tab_keys.index("fetch-orders"))
    console.find(QLabel, "summary-fetch-orders").linkActivated.emit(f"batch:{result.batches[0].pk}")
    assert console.window.tabs.currentWidget() is console.window.batches_view
    assert shown == [result.batches[0].pk]


def test_async_update_then_check_batches_finishes_the_batch(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=4)
    console.marketplace.patch(
        "behaviour", json={"update_failure_share": 0, "batch_failure_share": 0}
    ).raise_for_status()
    fetched = click_run(qtbot, console, Flow.FETCH_ORDERS)
    assert fetched.created >= 1, fetched.message
    console.omnitron.post("clock/advance", json={"seconds": PREPARING_AFTER_S}).raise_for_status()

    console.window.tabs.setCurrentIndex(console.window._tab_keys.index("update-orders"))
    qtbot.mouseClick(console.find(QRadioButton, "async-update-orders"), Qt.MouseButton.LeftButton)
    assert not console.window.panels[Flow.UPDATE_ORDERS].options().is_sync
    sent = click_run(qtbot, console, Flow.UPDATE_ORDERS)
    assert sent.outcome is RunOutcome.COMPLETED, sent.message
    (batch,) = sent.batches
    assert batch.status == "sent_to_remote"

    # Check now (Batches view) while the marketplace still works on it: ongoing.
    with qtbot.waitSignal(console.window.lanes.finished, timeout=RUN_TIMEOUT_MS) as first:
        console.window.batches_view.check_now_requested.emit()
    assert first.args[0] is Flow.CHECK_BATCHES
    assert [(b.pk, b.status) for b in first.args[1].batches] == [(batch.pk, "ongoing")]

    # The marketplace finishes its async batch after a few (simulated) seconds.
    console.marketplace.post("clock/advance", json={"seconds": 60}).raise_for_status()
    checked = click_run(qtbot, console, Flow.CHECK_BATCHES)

    assert checked.outcome is RunOutcome.COMPLETED, checked.message
    assert [(b.pk, b.status) for b in checked.batches] == [(batch.pk, "done")]
    store = console.session.store
    mirror = store.get_batch(batch.pk)
    assert mirror is not None
    assert mirror.status == "done"
    assert [e.status for e in store.batch_events(batch.pk)] == [
        "initialized",
        "commit",
        "sent_to_remote",
        "ongoing",
        "done",
    ]
    assert "done" in console.find(QLabel, "summary-check-batches").text()
