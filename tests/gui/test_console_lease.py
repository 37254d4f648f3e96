"""The console and run leases: a run held elsewhere is refused or queued, never doubled.

"Another process" is a lease row in the profile's store held by a live process (a
child that sleeps) with a fresh heartbeat, exactly what a CLI run leaves there.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QPlainTextEdit, QPushButton, QSpinBox
from pytestqt.qtbot import QtBot

from service.flows.lease import lease_names, this_host
from service.flows.names import Flow
from service.flows.result import RunOutcome
from service.store import Store
from tests.gui.conftest import Console

RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process standing for a CLI run on the same profile."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield process
    process.kill()
    process.wait()


def hold(console: Console, flow: Flow, pid: int) -> tuple[Store, str]:
    """Take ``flow``'s leases in the console's profile store for process ``pid``."""
    store = Store.for_profile("sandbox", data_dir=console.session.locations.data_dir)
    taken = store.take_leases(
        lease_names(flow),
        token="cli-run",
        flow=flow.value,
        pid=pid,
        host=this_host(),
        is_gone=lambda _: False,
    )
    assert taken is None
    (lease,) = [lease for lease in store.leases() if lease.name == f"flow:{flow.value}"]
    since = f"{lease.started_at.astimezone():%H:%M}"
    return store, f"{flow.value} is already running (pid {pid} on {this_host()} since {since})."


def runs_of(console: Console, flow: Flow) -> list[RunOutcome]:
    return [RunOutcome(run.outcome) for run in console.session.store.list_runs(flow=flow.value)]


def test_a_run_held_by_another_process_is_refused_with_its_owner(
    qtbot: QtBot,
    make_console: Callable[..., Console],
    other_process: subprocess.Popen[bytes],
) -> None:
    console = make_console(orders=2)
    store, sentence = hold(console, Flow.FETCH_ORDERS, other_process.pid)

    with qtbot.waitSignal(console.window.lanes.busy, timeout=RUN_TIMEOUT_MS) as busy:
        qtbot.mouseClick(console.find(QPushButton, "run-fetch-orders"), Qt.MouseButton.LeftButton)

    assert str(busy.args[1]) == sentence
    summary = console.find(QLabel, "summary-fetch-orders")
    assert summary.text() == f"<b>Not started:</b> {sentence}"
    assert sentence in console.find(QPlainTextEdit, "log-fetch-orders").toPlainText()
    assert console.window.statusBar().currentMessage() == sentence
    assert console.find(QPushButton, "run-fetch-orders").isEnabled()
    assert runs_of(console, Flow.FETCH_ORDERS) == []
    store.close()


def test_a_scheduled_run_queues_behind_another_process_and_starts_when_it_frees(
    qtbot: QtBot,
    make_console: Callable[..., Console],
    other_process: subprocess.Popen[bytes],
) -> None:
    console = make_console(orders=3)
    window, flow = console.window, Flow.FETCH_ORDERS
    store, sentence = hold(console, flow, other_process.pid)
    console.find(QSpinBox, f"schedule-{flow.value}").setValue(5)
    console.find(QCheckBox, f"schedule-enabled-{flow.value}").setChecked(True)
    summary = console.find(QLabel, f"summary-{flow.value}")
    status = console.find(QLabel, "status-running")

    console.clock.advance(5)
    window.scheduler.tick()
    qtbot.waitUntil(lambda: window.lanes.is_waiting(flow), timeout=RUN_TIMEOUT_MS)

    waiting = f"{sentence} This run starts when it ends."
    assert summary.text() == f"<b>Queued:</b> {waiting}"
    assert status.text() == "Running: Fetch orders (queued)"
    assert runs_of(console, flow) == []

    with qtbot.waitSignal(window.lanes.finished, timeout=RUN_TIMEOUT_MS) as finished:
        store.release_leases("cli-run")

    result = finished.args[1]
    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert result.created == 3
    assert runs_of(console, flow) == [RunOutcome.COMPLETED]
    log = console.find(QPlainTextEdit, f"log-{flow.value}").toPlainText()
    assert "Fetch orders started (scheduled)" in log
    assert f"warning {waiting}" in log
    assert "fetch-orders is no longer running; this run starts." in log
    assert store.leases() == []
    store.close()


def test_a_scheduled_run_queues_behind_a_run_of_this_console_committing_the_same_type(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=60, latency_ms=30)
    window = console.window
    qtbot.mouseClick(console.find(QPushButton, "run-fetch-orders"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: any(lease.flow == "fetch-orders" for lease in console.session.store.leases()),
        timeout=RUN_TIMEOUT_MS,
    )
    flow = Flow.UPDATE_ORDERS
    # A click is refused at once: this console already commits order batches.
    assert not console.find(QPushButton, f"run-{flow.value}").isEnabled()
    console.find(QSpinBox, f"schedule-{flow.value}").setValue(5)
    console.find(QCheckBox, f"schedule-enabled-{flow.value}").setChecked(True)

    finished: list[tuple[Flow, RunOutcome]] = []
    window.lanes.finished.connect(lambda f, result: finished.append((f, result.outcome)))
    console.clock.advance(5)
    window.scheduler.tick()
    qtbot.waitUntil(lambda: window.lanes.is_waiting(flow), timeout=RUN_TIMEOUT_MS)
    summary = console.find(QLabel, f"summary-{flow.value}").text()
    assert summary.startswith("<b>Queued:</b> update-orders cannot start while fetch-orders")

    qtbot.waitUntil(lambda: len(finished) == 2, timeout=RUN_TIMEOUT_MS)

    assert finished == [
        (Flow.FETCH_ORDERS, RunOutcome.COMPLETED),
        (flow, RunOutcome.COMPLETED),
    ]
    fetch, update = (
        console.session.store.list_runs(flow=name)[0] for name in ("fetch-orders", flow.value)
    )
    assert fetch.finished_at is not None
    assert update.started_at >= fetch.finished_at


def test_a_queued_run_can_be_cancelled_before_it_starts(
    qtbot: QtBot,
    make_console: Callable[..., Console],
    other_process: subprocess.Popen[bytes],
) -> None:
    console = make_console(orders=2)
    window, flow = console.window, Flow.FETCH_CANCELS
    store, sentence = hold(console, flow, other_process.pid)
    console.find(QSpinBox, f"schedule-{flow.value}").setValue(5)
    console.find(QCheckBox, f"schedule-enabled-{flow.value}").setChecked(True)
    console.clock.advance(5)
    window.scheduler.tick()
    qtbot.waitUntil(lambda: window.lanes.is_waiting(flow), timeout=RUN_TIMEOUT_MS)

    with qtbot.waitSignal(window.lanes.busy, timeout=RUN_TIMEOUT_MS) as busy:
        qtbot.mouseClick(
            console.find(QPushButton, f"cancel-{flow.value}"), Qt.MouseButton.LeftButton
        )

    assert busy.args[1].cancelled
    summary = console.find(QLabel, f"summary-{flow.value}").text()
    assert summary == f"<b>Cancelled while queued:</b> {sentence}"
    assert runs_of(console, flow) == []
    assert not window.lanes.is_running(flow)
    assert {lease.token for lease in store.leases()} == {"cli-run"}
    store.close()
