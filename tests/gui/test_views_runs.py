"""The runs view over a real store file: the table, the flow filter, the chart."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from gui.models.lazy import BADGE_ROLE
from gui.views.runs_view import RunsView
from gui.widgets.hourly_chart import HourlyChart
from service.store import BatchMirror, NewErrorReport, Store
from service.store_records import RunLogEntry


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def _run(store: Store, flow: str, created: int, outcome: str = "completed") -> int:
    run_id = store.start_run(flow, {}, pid=4242, host="worker-1")
    store.finish_run(
        run_id,
        outcome=outcome,
        created=created,
        updated=1,
        skipped=2,
        failed=3,
        error_count=4,
        message=f"{flow} done",
        duration_s=12.5,
    )
    return run_id


def test_lists_runs_filters_by_flow_and_charts_the_day(qtbot: QtBot, store: Store) -> None:
    _run(store, "fetch-orders", 5)
    _run(store, "update-orders", 0, outcome="failed")
    _run(store, "fetch-orders", 2)
    store.add_error_report(NewErrorReport(code="x"))
    view = RunsView(store)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)
    model = view.model
    assert [model.index(r, 0).data() for r in range(3)] == [
        "fetch-orders",
        "update-orders",
        "fetch-orders",
    ]
    assert model.index(1, 2).data() == "failed"
    assert model.index(1, 2).data(BADGE_ROLE) == "danger"
    assert [model.index(0, c).data() for c in range(3, 12)] == [
        "2", "1", "2", "3", "4", "12.5 s", "worker-1", "4242", "fetch-orders done",
    ]  # fmt: skip

    chart = view.findChild(HourlyChart, "runs-chart")
    qtbot.waitUntil(lambda: chart.totals() == (7, 1), timeout=5000)
    assert chart.series()[0][-1] == 7  # this hour is the last bar

    with qtbot.waitSignal(model.loaded, timeout=5000):
        view.flow_filter.setCurrentText("update-orders")
    assert model.rowCount() == 1

    _run(store, "update-orders", 0)
    with qtbot.waitSignal(view.activity_loaded, timeout=5000):
        view.refresh()
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=5000)
    view.grab()  # paints the chart and the badges without error


def _settle(qtbot: QtBot, view: RunsView) -> None:
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=5000)


def _flows(view: RunsView) -> list[str]:
    return [view.model.index(r, 0).data() for r in range(view.model.rowCount())]


def test_a_header_click_sorts_in_sql(qtbot: QtBot, store: Store) -> None:
    _run(store, "fetch-orders", 5)
    _run(store, "update-orders", 9)
    _run(store, "check-batches", 1)
    view = RunsView(store)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)
    assert _flows(view) == ["check-batches", "update-orders", "fetch-orders"]  # newest first

    created = [view.model.headerData(c, Qt.Orientation.Horizontal) for c in range(10)].index(
        "Created"
    )
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.table.sortByColumn(created, Qt.SortOrder.DescendingOrder)
    _settle(qtbot, view)
    assert view.model.query.order_by == "created"
    assert [view.model.index(r, created).data() for r in range(3)] == ["9", "5", "1"]
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert _flows(view) == ["check-batches", "fetch-orders", "update-orders"]
    # The filter keeps the order the user chose.
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.flow_filter.setCurrentText("fetch-orders")
    assert view.model.query.order_by == "flow"
    assert _flows(view) == ["fetch-orders"]


def test_double_click_opens_the_run_with_its_log_batch_and_reports(
    qtbot: QtBot, store: Store
) -> None:
    first = _run(store, "fetch-orders", 2)
    run_id = _run(store, "fetch-orders", 3)
    store.append_run_log(
        run_id,
        [
            RunLogEntry(run_id=run_id, at=datetime.now(UTC), kind="start", message="run started"),
            RunLogEntry(
                run_id=run_id,
                at=datetime.now(UTC),
                level=logging.WARNING,
                kind="failed",
                subject="order ORD-7",
                message="Unknown city 'Istambul'",
            ),
        ],
    )
    store.record_batch(
        BatchMirror(
            pk=41, local_batch_id="lb-41", status="done", flow="fetch-orders", run_id=run_id
        )
    )
    store.add_error_report(NewErrorReport(code="f1", run_id=run_id, flow="fetch-orders"))
    store.add_error_report(NewErrorReport(code="ok", run_id=run_id, is_ok=True))
    store.add_error_report(NewErrorReport(code="other", run_id=first))
    view = RunsView(store)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    detail = view.findChild(QWidget, "runs-detail")
    log = view.findChild(QPlainTextEdit, "run-log")
    assert not detail.isEnabled()
    assert log.toPlainText() == ""

    row = view.model.row_of(run_id)
    rect = view.table.visualRect(view.model.index(row, 0))
    # A view acts on a double-click that follows a press, as a real one does.
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(view.detail_loaded, timeout=5000):
        qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert detail.isEnabled()
    assert view.findChild(QLabel, "run-detail-process").text() == "pid 4242 on worker-1"
    lines = log.toPlainText().splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == [
        "run started",
        "WARNING order ORD-7: Unknown city 'Istambul'",
    ]
    batch = view.findChild(QPushButton, "runs-open-batch")
    assert batch.text() == "Open batch 41 (done)"
    with qtbot.waitSignal(view.batch_link_activated) as opened:
        qtbot.mouseClick(batch, Qt.MouseButton.LeftButton)
    assert opened.args == [41]
    reports = view.findChild(QPushButton, "runs-open-reports")
    assert reports.text() == "Show its error reports (1 failure)"
    with qtbot.waitSignal(view.reports_requested) as asked:
        qtbot.mouseClick(reports, Qt.MouseButton.LeftButton)
    assert asked.args == [run_id]

    # Enter on another run opens that one; it has no batch and no log.
    view.table.setCurrentIndex(view.model.index(view.model.row_of(first), 0))
    with qtbot.waitSignal(view.detail_loaded, timeout=5000):
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert view.opened_run is not None
    assert view.opened_run.id == first
    assert log.toPlainText() == "No log was kept for this run."
    assert not batch.isVisible()


def test_empty_runs_say_what_to_do(qtbot: QtBot, store: Store) -> None:
    view = RunsView(store)
    qtbot.addWidget(view)
    view.show()
    empty = view.findChild(QLabel, "runs-empty")
    qtbot.waitUntil(lambda: empty.isVisible(), timeout=5000)
    assert empty.text() == "No runs yet — open a flow's tab and press Run (Ctrl+R)"
    _run(store, "fetch-orders", 1)
    view.refresh()
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=5000)
    assert not empty.isVisible()
    assert view.findChild(QLabel, "last-updated-runs").text() == "Updated just now"


def test_outcome_badges_get_the_room_they_need(qtbot: QtBot, store: Store) -> None:
    _run(store, "fetch-orders", 5)  # completed with 3 failures
    view = RunsView(store)
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.show()
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=5000)

    label = view.model.index(0, 2).data()
    assert label == "completed with 3 failures"
    metrics = view.table.fontMetrics()
    assert view.table.columnWidth(2) >= metrics.horizontalAdvance(label) + 20
