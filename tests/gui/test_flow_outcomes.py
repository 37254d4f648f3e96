"""What the flow tab, the status bar and the Runs table say about a run, after a click.

A run with failures reads "completed with N failures" in amber, the count a link to
those reports; a run with nothing new says so (no "1 / 1") and opens no batch; the bar
is labelled while the total is unknown; after a restart the last run's summary keeps
its colour, sentence and links, and its log is read back from the store.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QPlainTextEdit, QProgressBar, QSpinBox
from pytestqt.qtbot import QtBot

from gui.models.badges import badge_colors
from service.flows.context import Progress
from service.flows.names import Flow
from tests.gui.conftest import Console
from tests.gui.test_console_runs import click_run

FLOW = Flow.FETCH_ORDERS


def _batches_in_omnitron(console: Console) -> int:
    counts = console.omnitron.get("summary").json()["batch_requests_by_status"]
    return sum(counts.values())


def _outcome_cell(qtbot: QtBot, console: Console, run_id: int) -> str:
    """The Outcome cell of the newest run in the Runs table, once it lists ``run_id``."""
    view = console.window.runs_view
    model = view.model
    view.refresh()
    qtbot.waitUntil(
        lambda: (
            not model.is_loading
            and model.rowCount() > 0
            and model.record(0) is not None
            and model.record(0).id == run_id
        ),
        timeout=5000,
    )
    headers = [
        model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        for c in range(model.columnCount())
    ]
    column = headers.index("Outcome")
    return str(model.data(model.index(0, column), Qt.ItemDataRole.DisplayRole))


def test_failures_amber_with_a_link_then_nothing_new_without_a_batch(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=4)
    console.marketplace.post(
        "orders/generate", json={"count": 2, "broken_share": 1.0}
    ).raise_for_status()
    bar = console.find(QProgressBar, f"progress-{FLOW.value}")
    seen: list[tuple[int, str]] = []

    def after_progress(flow: Flow, _progress: Progress) -> None:
        if flow is FLOW:  # connected after the window's own slot: the bar is updated
            seen.append((bar.maximum(), bar.format()))

    console.window.lanes.progress.connect(after_progress)

    result = click_run(qtbot, console, FLOW)

    assert result.failed >= 1, result
    noun = "failure" if result.failed == 1 else "failures"
    label = f"completed with {result.failed} {noun}"
    # While the total was unknown, the busy bar always said how far the run was.
    assert seen
    assert all(fmt for _, fmt in seen)
    assert all("processed" in fmt for maximum, fmt in seen if maximum == 0)
    assert bar.format().endswith(label)
    summary = console.find(QLabel, f"summary-{FLOW.value}")
    text = summary.text()
    dark = summary.palette().window().color().lightness() < 128
    amber = badge_colors("warning", dark=dark)[1].name()
    assert f'<span style="color:{amber}">' in text
    assert f'<a href="failures:{result.run_id}">{result.failed} {noun}</a>' in text
    assert f'href="batch:{result.batches[0].pk}"' in text
    assert _outcome_cell(qtbot, console, result.run_id) == label

    # The count is a link to those reports: Error reports, this run's.
    summary.linkActivated.emit(f"failures:{result.run_id}")
    assert console.window.tabs.currentWidget() is console.window.errors_view
    assert console.find(QSpinBox, "errors-run-filter").value() == result.run_id
    assert not console.find(QCheckBox, "errors-show-successes").isChecked()

    batches = _batches_in_omnitron(console)
    again = click_run(qtbot, console, FLOW)

    assert (again.created, again.failed) == (0, 0), again
    assert again.batches == ()
    assert _batches_in_omnitron(console) == batches
    assert "1 / 1" not in bar.format()
    # The failed orders were parked and retried: nothing new, only those still waiting.
    expected = f"still waiting ({again.waiting})" if again.waiting else "nothing new"
    assert bar.format().startswith(expected)
    assert "batch:" not in summary.text()
    assert _outcome_cell(qtbot, console, again.run_id).startswith(expected)
    status = console.find(QLabel, "status-running")
    assert status.text() == "Idle"


def test_restored_summary_keeps_colour_sentence_links_and_log(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    first = make_console(orders=3)
    first.marketplace.post(
        "orders/generate", json={"count": 1, "broken_share": 1.0}
    ).raise_for_status()
    result = click_run(qtbot, first, FLOW)
    assert result.failed >= 1, result
    live_log = first.find(QPlainTextEdit, f"log-{FLOW.value}").toPlainText()
    first.window.close()
    first.session.close()

    second = make_console(orders=3)  # the same data directory: a restart

    summary = second.find(QLabel, f"summary-{FLOW.value}")
    # Read from the store in the background: shown once that read is back.
    qtbot.waitUntil(lambda: summary.text().startswith("Last run "), timeout=5000)
    text = summary.text()
    noun = "failure" if result.failed == 1 else "failures"
    assert text.startswith("Last run ")
    assert "completed with " in text
    dark = summary.palette().window().color().lightness() < 128
    amber = badge_colors("warning", dark=dark)[1].name()
    assert f'<span style="color:{amber}">' in text
    assert f'<a href="failures:{result.run_id}">{result.failed} {noun}</a>' in text
    assert f'href="batch:{result.batches[0].pk}"' in text
    log = second.find(QPlainTextEdit, f"log-{FLOW.value}").toPlainText()
    # The run's own events as the live log showed them, read back from the store.

    def events(text: str) -> list[str]:
        lines = [line.split("  ", 1)[1] for line in text.splitlines()]
        return [line for line in lines if line.startswith(("Created order", "Opened batch"))]

    # Worker threads may interleave the two paths: the same lines, in any order.
    assert sorted(events(log)) == sorted(events(live_log))
    assert len(events(log)) == result.created + 1
    assert log.splitlines()[-1].endswith(
        f"fetch-orders completed with {result.failed} {noun}: {result.created} created, "
        f"0 updated, 0 skipped, {result.failed} failed, {result.error_count} error reports "
        f"in {result.duration_s:.1f}s."
    )
