"""The Problems view: open failures grouped by cause and value, their items, Retry, Fix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableView,
    QTabWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot

from gui.flow_tab import FlowTab
from gui.models.problems import RetryRequest, items_word
from gui.views.problems_view import NO_PROBLEMS, ProblemsView
from service.causes import Cause, info
from service.flows.names import Flow
from service.flows.result import FlowResult
from service.store import NewErrorReport, Store
from service.store_records import Alias
from tests.gui.conftest import Console
from tests.gui.test_console_runs import RUN_TIMEOUT_MS, click_run

LOAD_MS = 5000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def _fail(
    store: Store,
    subject: str,
    cause: Cause,
    value: str = "",
    *,
    flow: str = "fetch-orders",
    is_ok: bool = False,
) -> int:
    return store.add_error_report(
        NewErrorReport(
            code=f"{flow}-{subject}-{cause}-{value}-{is_ok}",
            description=f"Order {subject}: {info(cause).title} {value}".strip(),
            is_ok=is_ok,
            flow=flow,
            content_type="order",
            object_id=subject,
            subject=f"order {subject}",
            cause="" if is_ok else cause,
            cause_value=value,
        )
    )


def _rows(view: ProblemsView) -> list[list[str]]:
    model = view.model
    return [
        [model.index(row, column).data() for column in range(3)] for row in range(model.rowCount())
    ]


def _select(view: ProblemsView, text: str) -> None:
    table = view.findChild(QTableView, "problems-table")
    for row in range(view.model.rowCount()):
        if view.model.index(row, 0).data() == text:
            table.selectRow(row)
            return
    raise AssertionError(f"no problem {text!r} in {_rows(view)}")


def test_groups_open_failures_by_cause_and_value_with_items_and_what_to_do(
    qtbot: QtBot, store: Store
) -> None:
    for number in ("7001", "7002", "7003"):
        _fail(store, number, Cause.UNKNOWN_CITY, "Istambul")
    _fail(store, "7001", Cause.UNKNOWN_CITY, "Istambul")  # the same order again: one item
    _fail(store, "7004", Cause.UNKNOWN_CARGO, "horoz")
    _fail(store, "7005", Cause.MISSING_EMAIL)
    _fail(store, "7006", Cause.OTHER, is_ok=True)  # a success is no problem
    _fail(store, "7007", Cause.UNKNOWN_CITY, "Ankra")
    store.resolve_reports("fetch-orders", "order 7007")  # went through later: resolved

    view = ProblemsView(store)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=LOAD_MS)

    assert sorted(_rows(view)) == [
        ["Missing e-mail", "fetch-orders", "1 order"],
        ["Unknown cargo company 'horoz'", "fetch-orders", "1 order"],
        ["Unknown city 'Istambul'", "fetch-orders", "3 orders"],
    ]
    qtbot.waitUntil(
        lambda: view.findChild(QLabel, "problems-count").text() == "3 open problems",
        timeout=LOAD_MS,
    )

    _select(view, "Unknown city 'Istambul'")
    items = view.findChild(QTableView, "problem-items")
    qtbot.waitUntil(lambda: items.model().rowCount() == 3, timeout=LOAD_MS)
    subjects = sorted(items.model().index(row, 0).data() for row in range(3))
    assert subjects == ["order 7001", "order 7002", "order 7003"]
    assert (
        view.findChild(QLabel, "problem-what-to-do").text() == info(Cause.UNKNOWN_CITY).what_to_do
    )
    title = view.findChild(QLabel, "problem-detail-title")
    assert title.text() == "Unknown city 'Istambul' — 3 orders (fetch-orders)"
    retry = view.findChild(QPushButton, "problem-retry")
    assert retry.isEnabled()
    assert retry.text() == "Retry 3 orders"
    # Without a session there is nothing to fix with; a cause without a fix never has one.
    assert not view.findChild(QPushButton, "problem-fix").isEnabled()


def test_retry_asks_for_the_group_or_the_selected_items(qtbot: QtBot, store: Store) -> None:
    ids = [_fail(store, number, Cause.UNMAPPED_SKU, "ABC-42") for number in ("1", "2", "3")]
    view = ProblemsView(store)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=LOAD_MS)
    _select(view, "Unmapped product 'ABC-42'")
    items = view.findChild(QTableView, "problem-items")
    qtbot.waitUntil(lambda: items.model().rowCount() == 3, timeout=LOAD_MS)
    retry = view.findChild(QPushButton, "problem-retry")

    with qtbot.waitSignal(view.retry_requested, timeout=LOAD_MS) as group:
        qtbot.mouseClick(retry, Qt.MouseButton.LeftButton)
    # The whole group, by its listed reports: a retry keeps to the problem's flow.
    assert group.args[0] == RetryRequest(Flow.FETCH_ORDERS, tuple(reversed(ids)), count=3)

    selection = items.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in (0, 2):
        selection.select(items.model().index(row, 0), flags)
    assert retry.text() == "Retry 2 orders"
    with qtbot.waitSignal(view.retry_requested, timeout=LOAD_MS) as picked:
        qtbot.mouseClick(retry, Qt.MouseButton.LeftButton)
    request = picked.args[0]
    assert request.flow is Flow.FETCH_ORDERS
    assert request.cause is None
    assert sorted(request.report_ids) == sorted([ids[0], ids[2]])


def test_a_resolved_problem_disappears_and_a_new_one_is_announced(
    qtbot: QtBot, store: Store
) -> None:
    _fail(store, "1", Cause.UNKNOWN_CARGO, "horoz")
    view = ProblemsView(store)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=LOAD_MS)
    _select(view, "Unknown cargo company 'horoz'")
    assert view.shown_problem is not None

    _fail(store, "2", Cause.UNKNOWN_DISTRICT, "Merkez", flow="fetch-orders")
    with qtbot.waitSignal(view.problems_appeared, timeout=LOAD_MS) as appeared:
        view.refresh()
    assert [problem.cause_value for problem in appeared.args[0]] == ["Merkez"]

    store.resolve_reports("fetch-orders", "order 1")
    store.resolve_reports("fetch-orders", "order 2")
    with qtbot.waitSignal(view.open_count_changed, timeout=LOAD_MS) as counted:
        view.refresh()
    assert counted.args == [0]
    qtbot.waitUntil(lambda: view.model.rowCount() == 0, timeout=LOAD_MS)
    assert view.shown_problem is None
    assert view.findChild(QLabel, "problems-count").text() == "No open problems"
    assert view.findChild(QLabel, "problems-empty").text() == NO_PROBLEMS
    assert not view.findChild(QPushButton, "problem-retry").isEnabled()


def test_items_word_speaks_of_each_flows_items() -> None:
    assert items_word("fetch-orders", 12) == "12 orders"
    assert items_word("fetch-orders", 1) == "1 order"
    assert items_word("fetch-item-updates", 1) == "1 line update"
    assert items_word("fetch-cancellation-requests", 2) == "2 cancellation requests"


def test_console_lists_a_runs_problems_first_with_a_badge(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=2)
    generated = console.marketplace.post("orders/generate", json={"count": 3, "broken_share": 1.0})
    generated.raise_for_status()
    kinds = sorted(order["broken"] for order in generated.json()["orders"])
    assert kinds == ["unknown_cargo", "unknown_city", "unmapped_sku"]

    result = click_run(qtbot, console, Flow.FETCH_ORDERS)
    assert result.failed == 3, result

    tabs = console.find(QTabWidget, "tabs")
    page = console.find(QWidget, "tab-problems")
    position = tabs.indexOf(page)
    # First among the data views: after the Overview and the flow tabs, before Batches.
    assert tabs.tabText(0) == "Overview"
    assert all(isinstance(tabs.widget(index), FlowTab) for index in range(1, position))
    assert tabs.indexOf(console.window.batches_view) == position + 1
    qtbot.waitUntil(lambda: tabs.tabText(tabs.indexOf(page)) == "Problems (3)", timeout=LOAD_MS)

    tabs.setCurrentWidget(page)
    view = console.find(ProblemsView, "problems-view")
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=LOAD_MS)
    assert sorted(row[0] for row in _rows(view)) == [
        "Unknown cargo company 'horoz'",
        "Unknown city 'Istambul'",
        f"Unmapped product {view.model.record(_sku_row(view)).cause_value!r}",
    ]


def _sku_row(view: ProblemsView) -> int:
    for row in range(view.model.rowCount()):
        if view.model.record(row).cause == Cause.UNMAPPED_SKU:
            return row
    raise AssertionError("no unmapped SKU problem")


def _broken_run(qtbot: QtBot, console: Console, count: int) -> FlowResult:
    """``count`` broken orders (unknown city, unknown cargo, … in rotation), fetched once."""
    generated = console.marketplace.post(
        "orders/generate", json={"count": count, "broken_share": 1.0}
    )
    generated.raise_for_status()
    result = click_run(qtbot, console, Flow.FETCH_ORDERS)
    assert result.failed == count, result
    return result


def _retried(qtbot: QtBot, console: Console, button: QPushButton) -> FlowResult:
    with qtbot.waitSignal(
        console.window.lanes.finished,
        timeout=RUN_TIMEOUT_MS,
        check_params_cb=lambda flow, _result: flow is Flow.FETCH_ORDERS,
    ) as finished:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    result = finished.args[1]
    assert isinstance(result, FlowResult)
    return result


def test_errors_retry_retries_the_selected_failure_and_resolves_it(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=2)
    _broken_run(qtbot, console, 2)  # an unknown city and an unknown cargo company
    store = console.session.store
    connection = console.session.connection
    assert connection is not None
    cargo = connection.omnitron.list_cargo_companies()[0]
    store.set_alias(Alias(kind="cargo", channel_value="horoz", omnitron_pk=cargo.pk))

    errors = console.window.errors_view
    console.window.tabs.setCurrentWidget(errors)
    errors.refresh()
    table = console.find(QTableView, "errors-table")
    retry = console.find(QPushButton, "errors-retry")

    def cargo_row() -> int | None:
        for row in range(errors.model.rowCount()):
            if errors.model.record(row).cause == Cause.UNKNOWN_CARGO:
                return row
        return None

    qtbot.waitUntil(lambda: cargo_row() is not None, timeout=LOAD_MS)
    row = cargo_row()
    assert row is not None
    report_id = errors.model.record(row).id
    table.selectRow(row)
    assert retry.isEnabled()

    result = _retried(qtbot, console, retry)

    assert (result.created, result.failed) == (1, 0), result
    assert store.get_error_report(report_id).resolved_at is not None
    # The city failure was not selected: still open, alone.
    assert [problem.cause for problem in store.open_problems()] == [Cause.UNKNOWN_CITY]


def test_batch_retry_retries_the_batchs_open_failures_as_a_run_of_their_flow(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=2)
    first = _broken_run(qtbot, console, 1)  # an unknown city, not fixed
    assert first.batches
    batches = console.window.batches_view
    console.window.show_batch(first.batches[0].pk)
    retry = console.find(QPushButton, "batch-retry")
    qtbot.waitUntil(retry.isEnabled, timeout=LOAD_MS)
    assert retry.text() == "Retry 1 failed"

    result = _retried(qtbot, console, retry)

    # Still unknown: retried as a run of its own, the order still waits for its fix.
    assert result.run_id != first.run_id
    assert (result.created, result.waiting) == (0, 1), result
    assert batches.store.count_open_problems() == 1


def test_a_scheduled_run_with_failures_notifies_and_new_problems_are_announced(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=2)
    window, flow = console.window, Flow.FETCH_ORDERS
    messages: list[str] = []
    # Without a system tray (offscreen) the notification goes to the status bar.
    window.statusBar().messageChanged.connect(messages.append)
    console.marketplace.post(
        "orders/generate", json={"count": 2, "broken_share": 1.0}
    ).raise_for_status()
    console.find(QSpinBox, f"schedule-{flow.value}").setValue(5)
    console.find(QCheckBox, f"schedule-enabled-{flow.value}").setChecked(True)

    console.clock.advance(5)
    with qtbot.waitSignal(window.lanes.finished, timeout=RUN_TIMEOUT_MS) as finished:
        window.scheduler.tick()
    assert finished.args[1].failed == 2

    assert "Scheduled Fetch orders: 2 failed: 2 orders did not go through; see Problems." in (
        messages
    )
    qtbot.waitUntil(lambda: any(m.startswith("2 new problems") for m in messages), timeout=LOAD_MS)


def test_the_count_badges_fit_and_the_problem_takes_the_room_left(
    qtbot: QtBot, store: Store
) -> None:
    for number in range(12):
        _fail(store, f"75{number:02}", Cause.ORDER_NOT_IN_OMNITRON, flow="fetch-cancels")
    _fail(store, "7601", Cause.UNKNOWN_CITY, "Istambul")
    view = ProblemsView(store)
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.show()
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=LOAD_MS)

    table = view.findChild(QTableView, "problems-table")
    metrics = table.fontMetrics()
    for row in range(view.model.rowCount()):
        text = view.model.index(row, 2).data()
        assert table.columnWidth(2) >= metrics.horizontalAdvance(text) + 20, text
    assert not table.horizontalScrollBar().isVisible()
