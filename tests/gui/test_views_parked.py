"""The Parked view: records waiting for their order in Omnitron, with their age."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTableView
from pytestqt.qtbot import QtBot

from gui.models.lazy import BADGE_ROLE
from gui.views.parked_view import ParkedView
from service.flows.names import Flow
from service.store import ParkedItem, Store
from tests.gui.conftest import Console
from tests.gui.test_console_runs import click_run


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def _park(store: Store, flow: str, key: str, age: timedelta, subject: str = "") -> None:
    store.park(
        ParkedItem(
            flow=flow,
            remote_id=key,
            subject=subject or key,
            payload={"item": {}, "record": {"id": key, "order_id": "7000001"}},
            reason=f"Cannot apply {key} yet: the order is not in Omnitron.",
            first_seen_at=datetime.now(UTC) - age,
        )
    )


def test_lists_parked_records_oldest_first_with_age_badges_and_detail(
    qtbot: QtBot, store: Store
) -> None:
    _park(store, "fetch-cancels", "c-1", timedelta(days=8, hours=2))
    _park(store, "fetch-item-updates", "700000101", timedelta(days=1, hours=5))
    # Channel text is data: an order number made of markup shows as typed.
    _park(store, "fetch-item-updates", "700000201", timedelta(minutes=5), "<b>x</b><img src=y>")
    view = ParkedView(store)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)
    model = view.model

    assert [model.index(r, 1).data() for r in range(3)] == [
        "c-1",
        "700000101",
        "<b>x</b><img src=y>",
    ]
    assert [model.index(r, 2).data() for r in range(3)] == ["8 d 2 h", "1 d 5 h", "5 min"]
    assert [model.index(r, 2).data(BADGE_ROLE) for r in range(3)] == [
        "danger",
        "warning",
        "neutral",
    ]
    qtbot.waitUntil(lambda: view.count_label.text() == "3 of 3 parked", timeout=5000)

    table = view.findChild(QTableView, "parked-table")
    table.selectRow(2)
    title = view.findChild(QLabel, "parked-detail-title")
    assert title.textFormat() == Qt.TextFormat.PlainText
    assert title.text() == "fetch-item-updates: <b>x</b><img src=y>"
    assert view.findChild(QLabel, "parked-detail-key").text() == "700000201"
    assert "not in Omnitron" in view.findChild(QPlainTextEdit, "parked-reason").toPlainText()
    assert '"order_id": "7000001"' in view.findChild(QPlainTextEdit, "parked-record").toPlainText()

    with qtbot.waitSignal(model.loaded, timeout=5000):
        view.flow_filter.setCurrentText("fetch-cancels")
    assert model.rowCount() == 1

    store.unpark("fetch-cancels", "c-1")
    with qtbot.waitSignal(model.loaded, timeout=5000):
        view.refresh()
    assert model.rowCount() == 0
    view.grab()  # paints the badges without error


def test_empty_parked_view_says_so_and_refresh_keeps_the_selection(
    qtbot: QtBot, store: Store
) -> None:
    view = ParkedView(store)
    qtbot.addWidget(view)
    view.show()
    empty = view.findChild(QLabel, "parked-empty")
    qtbot.waitUntil(empty.isVisible, timeout=5000)
    assert empty.text().startswith("Nothing parked — ")
    _park(store, "fetch-cancels", "c-1", timedelta(hours=3))
    _park(store, "fetch-cancels", "c-2", timedelta(hours=2))
    view.refresh()
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    assert not empty.isVisible()
    view.table.selectRow(1)
    _park(store, "fetch-cancels", "c-0", timedelta(hours=9))  # older: lists first
    view.refresh()
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)
    (selected,) = view.table.selectionModel().selectedRows()
    assert view.model.record(selected.row()).remote_id == "c-2"
    assert view.findChild(QLabel, "last-updated-parked").text() == "Updated just now"


def test_console_shows_what_a_run_parked_until_the_order_arrives(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=4)
    order_id = console.marketplace.get("orders").json()["orders"][0]["id"]
    line_id = int(order_id) * 100 + 1
    response = console.marketplace.post(
        f"lines/{line_id}/update", json={"status": "Invoiced", "invoice_number": "CDM1"}
    )
    assert response.status_code == 200, response.text

    parked = click_run(qtbot, console, Flow.FETCH_ITEM_UPDATES)

    assert parked.failed == 1, parked
    view = console.find(ParkedView, "parked-view")
    console.window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=5000)
    assert view.model.index(0, 0).data() == "fetch-item-updates"
    assert view.model.index(0, 1).data() == str(line_id)

    click_run(qtbot, console, Flow.FETCH_ORDERS)
    applied = click_run(qtbot, console, Flow.FETCH_ITEM_UPDATES)

    assert (applied.updated, applied.failed) == (1, 0), applied
    console.window.refresh_views()
    qtbot.waitUntil(lambda: view.model.rowCount() == 0, timeout=5000)
