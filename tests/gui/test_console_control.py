"""Cancelling, closing during a run, the schedule, one run per flow, remembered layout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
)
from pytestqt.qtbot import QtBot

import main as entry_point
from gui.main_window import MainWindow
from gui.session import ConsoleSession
from gui.workers import SessionState, preflight
from service.config import builtin_sandbox
from service.connect import Locations
from service.flows.names import Flow
from service.flows.result import RunOutcome
from service.store import Store
from tests.gui.conftest import Console, ini_settings

FINAL = {"done", "fail"}
# "Stops within a second": the wait allows a few, it measures nothing.
STOP_TIMEOUT_MS = 5_000


def long_console(make_console: Callable[..., Console]) -> Console:
    """A console whose fetch-orders takes many seconds (many orders, slow simulators)."""
    return make_console(orders=120, latency_ms=40)


def start_long_fetch(qtbot: QtBot, console: Console) -> None:
    """Click Run on fetch-orders and wait until it is creating orders."""
    qtbot.mouseClick(console.find(QPushButton, "run-fetch-orders"), Qt.MouseButton.LeftButton)
    # New orders stream in: the total stays unknown while ``done`` counts up.
    qtbot.waitUntil(
        lambda: (
            (p := console.window.lanes.last_progress(Flow.FETCH_ORDERS)) is not None and p.done >= 2
        ),
        timeout=30_000,
    )


def test_cancel_stops_a_long_run_and_finishes_its_batch(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = long_console(make_console)
    start_long_fetch(qtbot, console)
    cancel = console.find(QPushButton, "cancel-fetch-orders")
    assert cancel.isEnabled()

    with qtbot.waitSignal(console.window.lanes.finished, timeout=STOP_TIMEOUT_MS) as finished:
        qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)

    result = finished.args[1]
    assert result.outcome is RunOutcome.CANCELLED
    assert result.created + result.failed < 120
    (batch,) = result.batches
    assert batch.status in FINAL
    mirror = console.session.store.get_batch(batch.pk)
    assert mirror is not None
    assert mirror.status in FINAL
    in_omnitron = console.omnitron.get("summary").json()["batch_requests_by_status"]
    assert set(in_omnitron) <= FINAL
    assert "cancelled" in console.find(QLabel, "summary-fetch-orders").text()
    assert console.find(QPushButton, "run-fetch-orders").isEnabled()


def test_closing_during_a_run_asks_then_cancels_and_leaves_no_batch_open(
    qtbot: QtBot,
    make_console: Callable[..., Console],
    locations: Locations,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console = long_console(make_console)
    window = console.window
    start_long_fetch(qtbot, console)

    asked: list[bool] = []
    monkeypatch.setattr(MainWindow, "confirm_close_during_runs", lambda self: asked.append(False))
    window.close()
    assert asked == [False]
    assert window.isVisible()
    assert window.lanes.is_running(Flow.FETCH_ORDERS)

    monkeypatch.setattr(MainWindow, "confirm_close_during_runs", lambda self: True)
    window.close()  # cancels, waits for the run (bounded), closes the session

    assert not window.isVisible()
    assert console.session.state is SessionState.CLOSED
    with Store.for_profile("sandbox", data_dir=locations.data_dir) as store:
        (run,) = store.list_runs(flow=Flow.FETCH_ORDERS.value)
        assert run.outcome == RunOutcome.CANCELLED
        assert store.open_batches() == []
        assert {b.status for b in store.list_batches()} <= FINAL


def test_the_schedule_runs_a_flow_when_due_and_shows_the_next_run(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=2)
    window, clock = console.window, console.clock
    flow = Flow.CHECK_BATCHES
    next_run = console.find(QLabel, f"next-run-{flow.value}")
    assert next_run.text() == "Not scheduled"

    console.find(QSpinBox, f"schedule-{flow.value}").setValue(5)
    console.find(QCheckBox, f"schedule-enabled-{flow.value}").setChecked(True)
    assert next_run.text() == "Next run at 09:05"
    assert console.settings.value(f"schedule/sandbox/{flow.value}/minutes") in (5, "5")

    clock.advance(4)
    window.scheduler.tick()
    assert not window.lanes.is_running(flow)

    clock.advance(1)
    with qtbot.waitSignal(window.lanes.finished, timeout=30_000) as finished:
        window.scheduler.tick()
        assert window.lanes.is_running(flow)
        # Due again while it still runs (its result is not delivered yet): skipped.
        clock.advance(5)
        window.scheduler.tick()
    assert finished.args[1].outcome is RunOutcome.COMPLETED
    log = console.find(QPlainTextEdit, f"log-{flow.value}").toPlainText()
    assert "Check batches started (scheduled)" in log
    assert "Scheduled run skipped: Check batches is already running" in log
    assert next_run.text() == "Next run at 09:15"

    # After a long sleep the missed runs are caught up once, not once per interval.
    due: list[Flow] = []
    window.scheduler.due.connect(due.append)
    clock.advance(120)
    with qtbot.waitSignal(window.lanes.finished, timeout=30_000):
        window.scheduler.tick()
        window.scheduler.tick()
    assert due == [flow]
    assert next_run.text() == "Next run at 11:15"
    assert "Next run: Check batches at 11:15" in window.tray_text()


def test_two_runs_of_one_flow_never_overlap(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=4)
    window = console.window
    run = console.find(QPushButton, "run-fetch-orders")

    with qtbot.waitSignal(window.lanes.finished, timeout=30_000):
        qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
        # Until its result arrives on the GUI thread the flow counts as running.
        assert not run.isEnabled()
        assert "already running" in run.toolTip()
        assert window.run_flow(Flow.FETCH_ORDERS) == run.toolTip()
        window.run_action.trigger()  # Ctrl+R on this tab: refused the same way
        assert window.lanes.running() == {Flow.FETCH_ORDERS}
        # Another flow has its own lane.
        assert console.find(QPushButton, "run-check-batches").isEnabled()

    assert run.isEnabled()
    assert run.toolTip() == "Run Fetch orders now (Ctrl+R)"
    with Store.for_profile("sandbox", data_dir=console.session.locations.data_dir) as store:
        assert len(store.list_runs(flow=Flow.FETCH_ORDERS.value)) == 1


def test_preflight_says_why_a_run_cannot_start() -> None:
    flow = Flow.UPDATE_ORDERS
    assert preflight(flow, session_state=SessionState.READY) is None
    # Omnitron's commit lock: one committing flow per content type at a time.
    waits = preflight(flow, session_state=SessionState.READY, running={Flow.FETCH_ORDERS})
    assert waits is not None
    assert "waits for Fetch orders" in waits
    assert preflight(Flow.CHECK_BATCHES, session_state=SessionState.READY, running={flow}) is None
    other_type = Flow.FETCH_CANCELLATION_REQUESTS
    assert preflight(other_type, session_state=SessionState.READY, running={flow}) is None
    assert "still connecting" in (preflight(flow, session_state=SessionState.STARTING) or "")
    failed = preflight(flow, session_state=SessionState.FAILED, session_error="login refused")
    assert failed == "Update orders cannot run: the connection failed: login refused"
    busy = preflight(flow, session_state=SessionState.READY, running={flow})
    assert busy == "Update orders is already running; it can run again when this run ends."


def test_run_buttons_wait_for_the_connection(
    qtbot: QtBot, locations: Locations, tmp_path: Path
) -> None:
    session = ConsoleSession(builtin_sandbox(), locations)  # never started
    window = MainWindow(session, ini_settings(tmp_path / "console.ini"))
    qtbot.addWidget(window)
    run = window.findChild(QPushButton, "run-fetch-orders")
    assert run is not None
    assert not run.isEnabled()
    assert "still connecting" in run.toolTip()
    assert window.findChild(QLabel, "sandbox-banner-text") is not None
    window.close()


def test_geometry_splitters_and_last_tab_are_restored(
    qtbot: QtBot, locations: Locations, tmp_path: Path
) -> None:
    path = tmp_path / "console.ini"

    def open_window() -> MainWindow:
        window = MainWindow(ConsoleSession(builtin_sandbox(), locations), ini_settings(path))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    first = open_window()
    # Small, so the offscreen screen (800x800) holds it: unlike the default 1100x720.
    size = first.minimumSize().expandedTo(QSize(600, 600))
    first.resize(size)
    qtbot.waitUntil(lambda: first.size() == size)
    first.tabs.setCurrentWidget(first.runs_view)
    splitter = first.findChild(QSplitter, "splitter-fetch-orders")
    assert splitter is not None
    splitter.setSizes([150, 300])
    sizes = splitter.sizes()
    first.close()

    second = open_window()
    assert second.size() == size
    assert second.tabs.currentWidget() is second.runs_view
    restored = second.findChild(QSplitter, "splitter-fetch-orders")
    assert restored is not None
    # The controls keep their height; the log takes whatever the window gives.
    assert restored.sizes()[0] == sizes[0]
    second.close()


@pytest.mark.parametrize(
    ("argv", "gui"),
    [
        ([], True),
        (["gui", "--profile", "x"], True),
        (["--data-dir", "run"], True),
        (["--profile", "gui", "runs"], False),
        (["run", "fetch-orders"], False),
    ],
)
def test_main_opens_the_console_without_a_command(
    argv: list[str], gui: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[tuple[str, list[str]]] = []
    monkeypatch.setattr("gui.app.main", lambda a: called.append(("gui", a)) or 0)
    monkeypatch.setattr("service.cli.main", lambda a: called.append(("cli", a)) or 0)
    assert entry_point.main(argv) == 0
    ((which, passed),) = called
    assert which == ("gui" if gui else "cli")
    assert passed == ([a for a in argv if a != "gui"] if argv[:1] == ["gui"] else argv)


def test_a_store_that_fills_up_mid_run_stops_the_run_with_a_dialog(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = long_console(make_console)
    start_long_fetch(qtbot, console)
    # The flows' own store (not the views' read-only one) reaches its size limit: SQLite
    # reports it exactly as a full disk.
    connection = console.session._connection
    assert connection is not None
    flow_store = connection.store._db
    pages = flow_store.execute("PRAGMA page_count").fetchone()[0]
    with qtbot.waitSignal(console.window.lanes.store_failed, timeout=30_000) as failed:
        flow_store.execute(f"PRAGMA max_page_count = {pages}")

    assert failed.args[0] is Flow.FETCH_ORDERS
    assert "the disk is full" in str(failed.args[1])
    summary = console.find(QLabel, "summary-fetch-orders").text()
    assert "the disk is full" in summary
    dialog = console.window.findChild(QMessageBox, "store-error-dialog")
    assert dialog is not None
    assert dialog.isVisible()
    assert str(connection.store.path) in dialog.text()
    assert not console.window.scheduler.is_running
