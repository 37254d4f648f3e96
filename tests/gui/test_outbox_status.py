"""The outbox in the console: the status bar's backlog and refused count, and the view."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QTabWidget
from pytestqt.qtbot import QtBot

from gui.views.errors_view import ErrorsView
from service.flows.names import Flow
from service.flows.result import RunOutcome
from service.store import NewErrorReport, Store
from tests.gui.conftest import Console
from tests.gui.test_console_runs import click_run
from tests.sandbox.omnitron_api import OmnitronApi


def test_status_bar_shows_the_outbox_and_leads_to_the_refused_reports(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=4)
    indicator = console.find(QLabel, "status-outbox")
    assert indicator.isHidden()  # nothing waits, nothing was refused

    # Two reports an earlier run left: one waits for Omnitron, one Omnitron refused.
    path = console.session.store.path
    assert path is not None
    with Store(path) as writer:
        waiting = {
            "action_content_type": "batchrequest",
            "action_object_id": 0,
            "obj_modified_date": "2026-12-01 10:00:00",
            "error_code": "run0-FetchOrders-waiting",
            "error_desc": "left by a crash",
            "is_ok": False,
        }
        writer.add_error_report(
            NewErrorReport(
                code=waiting["error_code"],
                description="left by a crash",
                omnitron_payload=waiting,
            )
        )
        refused = writer.add_error_report(
            NewErrorReport(code="run0-FetchOrders-refused", description="a 5 MB report")
        )
        writer.mark_dead(refused, "POST error_reports/: unexpected HTTP 413: too large")
    console.window.refresh_views()
    # Counted off the GUI thread.
    qtbot.waitUntil(lambda: indicator.text() == "Outbox: 1 waiting, 1 refused")
    assert not indicator.isHidden()
    assert indicator.textFormat() is Qt.TextFormat.PlainText

    # The next run delivers the waiting one; the refused one stays, and says so.
    result = click_run(qtbot, console, Flow.FETCH_ORDERS)
    assert result.outcome is RunOutcome.COMPLETED, result.message
    qtbot.waitUntil(lambda: indicator.text() == "Outbox: 0 waiting, 1 refused")
    api = OmnitronApi(console.omnitron_url)
    try:
        reports = api.all_pages(api.ch("error_reports/"))  # not filtered by error_code
        held = [r for r in reports if r["error_code"] == "run0-FetchOrders-waiting"]
    finally:
        api.close()
    assert len(held) == 1

    qtbot.mouseClick(indicator, Qt.MouseButton.LeftButton)
    view = console.find(ErrorsView, "errors-view")
    assert console.find(QTabWidget, "tabs").currentWidget() is view
    delivery = console.find(QComboBox, "errors-delivery-filter")
    assert delivery.currentData() == "undelivered"
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=5000)
    qtbot.waitUntil(lambda: [r.id for r in view.model.records()] == [refused], timeout=5000)
    view.table.selectRow(0)
    shown = console.find(QLabel, "error-detail-delivered").text()
    assert shown == (
        "refused by Omnitron for good: POST error_reports/: unexpected HTTP 413: too large"
    )
