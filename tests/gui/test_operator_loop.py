"""The operator's loop, end to end on the sandbox, driven by object name.

A run fails three orders for three reasons (an unknown city, an unknown cargo company,
an unmapped SKU) → three problem groups → each fixed through the mapping assistant and
retried from the prompt that follows → the orders exist in Omnitron (asked over its
REST API) and no problem is left. The clicks from "which orders failed, and why?" to
the cause and what to do are counted.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QTabWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot

from gui.views.problems_view import ProblemsView
from service.causes import Cause, info
from service.flows.names import Flow
from service.flows.result import FlowResult
from service.store_records import Problem
from tests.gui.conftest import Console
from tests.gui.test_console_runs import RUN_TIMEOUT_MS, click_run

LOAD_MS = 10_000
# At most this many clicks from the console to a failure's cause and what to do.
CLICKS_TO_CAUSE = 3


class Clicks:
    """Mouse clicks on the console, counted."""

    def __init__(self, qtbot: QtBot) -> None:
        self.qtbot = qtbot
        self.count = 0

    def on(self, widget: QWidget, pos: QPoint | None = None) -> None:
        self.count += 1
        if pos is None:
            self.qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
        else:
            self.qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)

    def on_row(self, view: QAbstractItemView, row: int) -> None:
        index = view.model().index(row, 0)
        view.scrollTo(index)
        self.on(view.viewport(), view.visualRect(index).center())


def _omnitron_order(console: Console, number: str) -> list[dict[str, object]]:
    """Omnitron's orders with ``number``, asked over its REST API as any client would."""
    connection = console.session.connection
    assert connection is not None
    channel = connection.omnitron.settings.channel_id
    base = f"{console.omnitron_url}api/v1/"
    with httpx.Client(base_url=base, timeout=10) as api:
        login = api.post("auth/login/", json={"username": "sandbox", "password": "sandbox"})
        login.raise_for_status()
        api.headers["Authorization"] = f"Token {login.json()['key']}"
        answer = api.get(f"channel/{channel}/orders/", params={"number": number})
        answer.raise_for_status()
        results: list[dict[str, object]] = answer.json()["results"]
        return results


def _row_of(view: ProblemsView, cause: Cause) -> int:
    for row in range(view.model.rowCount()):
        if view.model.record(row).cause == cause:
            return row
    raise AssertionError(f"no {cause} problem among {view.model.records()}")


def _fix_and_retry(
    qtbot: QtBot, console: Console, view: ProblemsView, clicks: Clicks, problem: Problem
) -> str:
    """Fix → pick the best candidate → Save → "Retry now?" Yes; returns the picked text."""
    clicks.on(console.find(QPushButton, "problem-fix"))
    qtbot.waitUntil(lambda: view.fix_dialog is not None, timeout=LOAD_MS)
    dialog = view.fix_dialog
    assert isinstance(dialog, QDialog)
    assert dialog.objectName() == "mapping-dialog"
    if problem.cause == Cause.UNMAPPED_SKU:
        # Omnitron's products are searched; the channel's SKU finds the product.
        search = dialog.findChild(QLineEdit, "mapping-search")
        assert search is not None
        search.clear()
        qtbot.keyClicks(search, problem.cause_value)
    candidates = dialog.findChild(QAbstractItemView, "mapping-candidates")
    assert candidates is not None
    qtbot.waitUntil(
        lambda: candidates.model() is not None and candidates.model().rowCount() > 0,
        timeout=LOAD_MS,
    )
    picked = str(candidates.model().index(0, 0).data())
    clicks.on_row(candidates, 0)
    save = dialog.findChild(QPushButton, "mapping-save")
    assert save is not None
    qtbot.waitUntil(save.isEnabled, timeout=LOAD_MS)
    with qtbot.waitSignal(dialog.saved, timeout=LOAD_MS):
        clicks.on(save)

    def shown_prompt() -> QMessageBox | None:
        # An earlier, answered prompt may still await its deletion: take the one shown.
        boxes = view.findChildren(QMessageBox, "problem-retry-prompt")
        return next((box for box in boxes if box.isVisible()), None)

    qtbot.waitUntil(lambda: shown_prompt() is not None, timeout=LOAD_MS)
    prompt = shown_prompt()
    assert prompt is not None
    assert f"Retry the {problem.count} order" in prompt.text()
    with qtbot.waitSignal(
        console.window.lanes.finished,
        timeout=RUN_TIMEOUT_MS,
        check_params_cb=lambda flow, _result: flow is Flow.FETCH_ORDERS,
    ) as finished:
        clicks.on(prompt.button(QMessageBox.StandardButton.Yes))
    result = finished.args[1]
    assert isinstance(result, FlowResult)
    assert (result.created, result.failed) == (problem.count, 0), result
    return picked


def test_a_failed_run_is_fixed_and_retried_from_the_problems_view(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=2)
    generated = console.marketplace.post("orders/generate", json={"count": 3, "broken_share": 1.0})
    generated.raise_for_status()
    broken = {order["broken"]: str(order["number"]) for order in generated.json()["orders"]}
    assert sorted(broken) == ["unknown_cargo", "unknown_city", "unmapped_sku"]
    first = click_run(qtbot, console, Flow.FETCH_ORDERS)
    assert first.failed == 3, first
    for number in broken.values():
        assert _omnitron_order(console, number) == []

    # "Which orders failed today, and why?" — from the flow tab, by mouse.
    clicks = Clicks(qtbot)
    tabs = console.find(QTabWidget, "tabs")
    page = console.find(QWidget, "tab-problems")
    position = tabs.indexOf(page)
    qtbot.waitUntil(lambda: tabs.tabText(position) == "Problems (3)", timeout=LOAD_MS)
    clicks.on(tabs.tabBar(), tabs.tabBar().tabRect(position).center())
    assert tabs.currentWidget() is page
    view = console.find(ProblemsView, "problems-view")
    table = console.find(QTableView, "problems-table")
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=LOAD_MS)
    assert {view.model.record(row).cause for row in range(3)} == {
        Cause.UNKNOWN_CITY,
        Cause.UNKNOWN_CARGO,
        Cause.UNMAPPED_SKU,
    }
    clicks.on_row(table, _row_of(view, Cause.UNKNOWN_CITY))
    what_to_do = console.find(QLabel, "problem-what-to-do")
    assert what_to_do.text() == info(Cause.UNKNOWN_CITY).what_to_do
    assert (
        console.find(QLabel, "problem-detail-title")
        .text()
        .startswith("Unknown city 'Istambul' — 1 order")
    )
    items = console.find(QTableView, "problem-items")
    qtbot.waitUntil(lambda: items.model().rowCount() == 1, timeout=LOAD_MS)
    assert broken["unknown_city"] in items.model().index(0, 0).data()
    clicks_to_cause = clicks.count
    assert clicks_to_cause <= CLICKS_TO_CAUSE
    print(f"clicks from the console to the cause and what to do: {clicks_to_cause}")

    # Fix each group and retry it; a resolved group leaves the table.
    city = view.shown_problem
    assert city is not None
    assert "stanbul" in _fix_and_retry(qtbot, console, view, clicks, city)
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=LOAD_MS)
    for cause in (Cause.UNKNOWN_CARGO, Cause.UNMAPPED_SKU):
        clicks.on_row(table, _row_of(view, cause))
        problem = view.shown_problem
        assert problem is not None
        assert problem.cause == cause
        _fix_and_retry(qtbot, console, view, clicks, problem)

    qtbot.waitUntil(lambda: view.model.rowCount() == 0, timeout=LOAD_MS)
    qtbot.waitUntil(lambda: tabs.tabText(position) == "Problems", timeout=LOAD_MS)
    assert console.session.store.count_open_problems() == 0
    for kind, number in broken.items():
        orders = _omnitron_order(console, number)
        assert len(orders) == 1, f"{kind} order {number} is not in Omnitron once: {orders}"
    print(f"clicks from the console to three problems fixed and retried: {clicks.count}")
