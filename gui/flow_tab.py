"""The flow tabs: run a flow, watch it, read what it did, schedule it.

A :class:`FlowPanel` is everything about one flow: Run and Cancel, the flow's
options, a progress bar with done/total and the current item, the live log of the
run, the last run's summary (its batch as a link into the Batches view) and the
schedule. A :class:`FlowTab` holds one panel, or two for the cancellation requests.

Panels only show things and say what the operator asked for (signals); the main
window decides whether a run can start and starts it.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime

from PySide6.QtCore import QEvent, QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.icons import icon
from gui.schedule import MAX_MINUTES, MIN_MINUTES, Schedule
from gui.workers import flow_title
from service.flows.context import FlowEvent, Progress
from service.flows.names import Flow
from service.flows.result import FlowResult, RunOutcome
from service.flows.run import FlowOptions
from service.store_records import RunRecord

LOG_MAX_LINES = 2_000


class FlowPanel(QWidget):
    """Run, options, progress, log, summary and schedule of one flow."""

    run_requested = Signal(object)  # Flow
    cancel_requested = Signal(object)  # Flow
    batch_link_activated = Signal(int)
    schedule_edited = Signal(object, int, bool)  # Flow, minutes, enabled

    def __init__(
        self,
        flow: Flow,
        settings: QSettings,
        *,
        default_success_log: bool = True,
        workers: int = 4,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.flow = flow
        self._settings = settings
        self._workers = workers
        self._default_success_log = default_success_log
        self._blocked_reason: str | None = None
        self._running = False
        self._last_done = 0
        name = flow.value
        self.setObjectName(f"panel-{name}")

        self.run_button = QPushButton("Run")
        self.run_button.setObjectName(f"run-{name}")
        self.run_button.clicked.connect(lambda: self.run_requested.emit(self.flow))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName(f"cancel-{name}")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop this run at its next safe point (Esc)")
        self.cancel_button.clicked.connect(lambda: self.cancel_requested.emit(self.flow))
        self._set_icons()

        self.success_log = QCheckBox("Report successes too")
        self.success_log.setObjectName(f"success-log-{name}")
        self.success_log.setToolTip(
            "is_success_log: write a report for successful steps, not only for failures"
        )
        self.success_log.setChecked(self._stored_bool("success_log", default_success_log))
        self.success_log.toggled.connect(lambda on: self._store("success_log", on))

        controls = QHBoxLayout()
        controls.addWidget(self.run_button)
        controls.addWidget(self.cancel_button)
        controls.addSpacing(12)
        controls.addWidget(self.success_log)

        self.sync_button: QRadioButton | None = None
        self.async_button: QRadioButton | None = None
        self.with_items: QCheckBox | None = None
        if flow is Flow.UPDATE_ORDERS:
            self._add_update_options(controls)
        controls.addStretch(1)

        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName(f"progress-{name}")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not running")
        self.progress_bar.setTextVisible(True)

        self.summary = QLabel("No run yet.")
        self.summary.setObjectName(f"summary-{name}")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.summary.setOpenExternalLinks(False)
        self.summary.setWordWrap(True)
        self.summary.linkActivated.connect(self._on_link)

        self.interval = QSpinBox()
        self.interval.setObjectName(f"schedule-{name}")
        self.interval.setRange(MIN_MINUTES, MAX_MINUTES)
        self.interval.setSuffix(" min")
        self.interval.setToolTip("How often the flow runs by itself")
        self.schedule_enabled = QCheckBox("Run every")
        self.schedule_enabled.setObjectName(f"schedule-enabled-{name}")
        self.schedule_enabled.setToolTip("Run this flow by itself while the console is open")
        self.next_run = QLabel("Not scheduled")
        self.next_run.setObjectName(f"next-run-{name}")
        self.interval.valueChanged.connect(self._schedule_edited)
        self.schedule_enabled.toggled.connect(self._schedule_edited)
        schedule_row = QHBoxLayout()
        schedule_row.addWidget(self.schedule_enabled)
        schedule_row.addWidget(self.interval)
        schedule_row.addSpacing(12)
        schedule_row.addWidget(self.next_run)
        schedule_row.addStretch(1)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(controls)
        top_layout.addWidget(self.progress_bar)
        top_layout.addWidget(self.summary)
        top_layout.addLayout(schedule_row)
        top.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self.log = QPlainTextEdit()
        self.log.setObjectName(f"log-{name}")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_MAX_LINES)  # a long run must not eat memory
        self.log.setPlaceholderText("The log of the current run appears here.")

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName(f"splitter-{name}")
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.log)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)
        self.set_blocked(None)

    def _add_update_options(self, controls: QHBoxLayout) -> None:
        name = self.flow.value
        self.sync_button = QRadioButton("Sync")
        self.sync_button.setObjectName(f"sync-{name}")
        self.sync_button.setToolTip("Send updates one by one and process the results now")
        self.async_button = QRadioButton("Async")
        self.async_button.setObjectName(f"async-{name}")
        self.async_button.setToolTip(
            "Send updates as one remote batch; Check batches finishes it later"
        )
        is_sync = self._stored_bool("sync", True)
        self.sync_button.setChecked(is_sync)
        self.async_button.setChecked(not is_sync)
        self.sync_button.toggled.connect(lambda on: self._store("sync", on))
        self.with_items = QCheckBox("With items")
        self.with_items.setObjectName(f"with-items-{name}")
        self.with_items.setToolTip("Include the order items in the updates")
        self.with_items.setChecked(self._stored_bool("with_items", False))
        self.with_items.toggled.connect(lambda on: self._store("with_items", on))
        controls.addSpacing(12)
        controls.addWidget(self.sync_button)
        controls.addWidget(self.async_button)
        controls.addWidget(self.with_items)

    # -- what the window asks --------------------------------------------------------

    def options(self) -> FlowOptions:
        """The options the next run starts with."""
        return FlowOptions(
            is_success_log=self.success_log.isChecked(),
            is_sync=self.sync_button.isChecked() if self.sync_button else True,
            add_order_items=self.with_items.isChecked() if self.with_items else False,
            workers=self._workers,
        )

    def set_blocked(self, reason: str | None) -> None:
        """Enable Run, or disable it with ``reason`` as its tooltip."""
        self._blocked_reason = reason
        self.run_button.setEnabled(reason is None)
        self.run_button.setToolTip(reason or f"Run {flow_title(self.flow)} now (Ctrl+R)")

    @property
    def blocked_reason(self) -> str | None:
        """Why Run is disabled, or ``None``."""
        return self._blocked_reason

    @property
    def running(self) -> bool:
        """Whether this panel shows a run in progress."""
        return self._running

    # -- a run -------------------------------------------------------------------------

    def run_started(self, scheduled: bool = False) -> None:
        """Reset the progress and log for a new run."""
        self._running = True
        self._last_done = 0
        self.log.clear()
        self.log_line(f"{flow_title(self.flow)} started" + (" (scheduled)" if scheduled else ""))
        self.progress_bar.setRange(0, 0)  # busy until the flow knows its total
        self.progress_bar.setFormat("Starting…")
        self.cancel_button.setEnabled(True)
        self.summary.setText("Running…")

    def show_progress(self, progress: Progress) -> None:
        """Show ``done`` of ``total`` and the item being worked on."""
        self._last_done = progress.done
        current = f"  —  {progress.current}" if progress.current else ""
        if progress.total is None:
            self.progress_bar.setRange(0, 0)
            self.progress_bar.setFormat(f"{progress.done} done{current}")
            return
        total = max(progress.total, 1) if progress.total == 0 else progress.total
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(min(progress.done, total))
        self.progress_bar.setFormat(f"%v / %m{current}")

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        """Redraw the icons in the new palette's colours after a theme change."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._set_icons()
        super().changeEvent(event)

    def _set_icons(self) -> None:
        self.run_button.setIcon(icon("run"))
        self.cancel_button.setIcon(icon("cancel"))

    def show_event(self, event: FlowEvent) -> None:
        """Add one of the run's events to the log (detail below INFO is left out)."""
        if event.kind == "run.waiting":
            self.show_waiting(event.message)
        elif event.kind == "run.started":
            self.progress_bar.setFormat("Starting…")
            self.summary.setText("Running…")
        if event.level < logging.INFO:
            return
        prefix = ""
        if event.level >= logging.ERROR:
            prefix = "ERROR "
        elif event.level >= logging.WARNING:
            prefix = "warning "
        self.log_line(prefix + event.message)

    def log_line(self, text: str) -> None:
        """Append a time-stamped line to the log."""
        self.log.appendPlainText(f"{datetime.now():%H:%M:%S}  {text}")

    def show_result(self, result: FlowResult) -> None:
        """The run ended: fill the bar, summarise it, link its batch."""
        self._finish_ui()
        if self.progress_bar.maximum() == 0:
            # Still busy (the flow's last word had no total): the items it finished.
            done = result.created + result.updated + result.skipped + result.failed
            self.progress_bar.setRange(0, max(self._last_done, done, 1))
        self.progress_bar.setValue(self.progress_bar.maximum())
        self.progress_bar.setFormat(f"%v / %m  —  {result.outcome.value}")
        self.summary.setText(summary_html(result))
        self.log_line(f"{flow_title(self.flow)} {result.outcome.value}: {summary_text(result)}")

    def show_waiting(self, message: str) -> None:
        """The run is queued behind another run that holds its lease."""
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat("Waiting for another run…")
        self.summary.setText(f"<b>Queued:</b> {html.escape(message)}")

    def show_busy(self, message: str, *, cancelled: bool = False) -> None:
        """The run did not start: another live run holds its lease (``message`` says which).

        ``cancelled``: it was queued for the lease and the operator cancelled it.
        """
        self._finish_ui()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        heading = "Cancelled while queued" if cancelled else "Not started"
        self.progress_bar.setFormat(heading)
        self.summary.setText(f"<b>{heading}:</b> {html.escape(message)}")
        self.log_line(f"{heading}: {message}")

    def show_store_failure(self, message: str) -> None:
        """The run stopped because the local store cannot be used (``message`` says why)."""
        self._finish_ui()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Stopped: the local store cannot be used")
        self.summary.setText(f"<b>Stopped:</b> {html.escape(message)}")
        self.log_line(f"ERROR the local store cannot be used: {message}")

    def show_crash(self, message: str) -> None:
        """The run raised instead of returning a result (a bug, not a flow failure)."""
        self._finish_ui()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Stopped by an unexpected error")
        self.summary.setText(f"<b>Stopped by an unexpected error:</b> {html.escape(message)}")
        self.log_line(f"ERROR the run stopped unexpectedly: {message}")

    def show_last_record(self, record: RunRecord) -> None:
        """Summarise a run recorded earlier (e.g. in a previous session)."""
        when = record.started_at.astimezone().strftime("%Y-%m-%d %H:%M")
        duration = f", {record.duration_s:.1f} s" if record.duration_s is not None else ""
        self.summary.setText(
            f"Last run {when}: <b>{html.escape(str(record.outcome))}</b> — "
            f"{_counts(record.created, record.updated, record.skipped, record.failed)}"
            f"{duration}"
        )

    def _finish_ui(self) -> None:
        self._running = False
        self.cancel_button.setEnabled(False)

    def cancel_pending(self) -> None:
        """Cancel was asked: say so until the run stops."""
        self.cancel_button.setEnabled(False)
        self.progress_bar.setFormat(self.progress_bar.format() + "  (stopping…)")
        self.log_line("Cancel asked: stopping at the next safe point…")

    # -- schedule --------------------------------------------------------------------

    def show_schedule(self, schedule: Schedule) -> None:
        """Show the stored schedule without echoing it back as an edit."""
        for widget in (self.interval, self.schedule_enabled):
            widget.blockSignals(True)
        self.interval.setValue(schedule.minutes)
        self.schedule_enabled.setChecked(schedule.enabled)
        for widget in (self.interval, self.schedule_enabled):
            widget.blockSignals(False)
        if schedule.next_run is None:
            self.next_run.setText("Not scheduled")
        else:
            self.next_run.setText(f"Next run at {schedule.next_run:%H:%M}")
            self.next_run.setToolTip(f"{schedule.next_run:%Y-%m-%d %H:%M:%S}")

    def _schedule_edited(self) -> None:
        self.schedule_edited.emit(
            self.flow, self.interval.value(), self.schedule_enabled.isChecked()
        )

    # -- helpers -----------------------------------------------------------------------

    def _on_link(self, link: str) -> None:
        if link.startswith("batch:"):
            self.batch_link_activated.emit(int(link.removeprefix("batch:")))

    def _key(self, name: str) -> str:
        return f"flows/{self.flow.value}/{name}"

    def _stored_bool(self, name: str, default: bool) -> bool:
        value = self._settings.value(self._key(name), default)
        if isinstance(value, str):  # INI files give strings back
            return value.lower() in ("true", "1", "yes")
        return bool(value)

    def _store(self, name: str, value: bool) -> None:
        self._settings.setValue(self._key(name), value)


class FlowTab(QWidget):
    """One tab: the panel of one flow, or two panels side by side."""

    def __init__(self, key: str, panels: list[FlowPanel], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName(f"tab-{key}")
        self.panels = panels
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.splitter: QSplitter | None = None
        if len(panels) == 1:
            layout.addWidget(panels[0])
            return
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName(f"splitter-{key}")
        for panel in panels:
            box = QGroupBox(flow_title(panel.flow))
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(2, 2, 2, 2)
            box_layout.addWidget(panel)
            self.splitter.addWidget(box)
        layout.addWidget(self.splitter)

    @property
    def flows(self) -> list[Flow]:
        """The flows of this tab."""
        return [panel.flow for panel in self.panels]

    def current_panel(self) -> FlowPanel:
        """The panel the operator works in: the one holding focus, else the first."""
        focus = self.focusWidget()
        for panel in self.panels:
            if focus is not None and (focus is panel or panel.isAncestorOf(focus)):
                return panel
        return self.panels[0]


def summary_text(result: FlowResult) -> str:
    """The counts and duration of a run, as plain text."""
    return (
        f"{_counts(result.created, result.updated, result.skipped, result.failed)}, "
        f"{result.duration_s:.1f} s"
    )


def summary_html(result: FlowResult) -> str:
    """The run's summary for the panel: outcome, counts, duration, its batches as links."""
    colour = {
        RunOutcome.COMPLETED: "",
        RunOutcome.CANCELLED: "#b26a00",
        RunOutcome.FAILED: "#c62828",
        RunOutcome.INTERRUPTED: "#b26a00",
    }[result.outcome]
    outcome = html.escape(result.outcome.value)
    if colour:
        outcome = f'<span style="color:{colour}">{outcome}</span>'
    parts = [f"<b>{outcome}</b> — {html.escape(summary_text(result))}"]
    if result.error_count:
        parts.append(f"{result.error_count} error reports")
    links = [
        f'<a href="batch:{batch.pk}">batch {batch.pk}</a> ({html.escape(batch.status)})'
        for batch in result.batches
    ]
    if links:
        parts.append(", ".join(links))
    text = " · ".join(parts)
    if result.message:
        text += f"<br>{html.escape(result.message)}"
    return text


def _counts(created: int, updated: int, skipped: int, failed: int) -> str:
    counts = [f"{created} created"]
    if updated:
        counts.append(f"{updated} updated")
    counts += [f"{skipped} skipped", f"{failed} failed"]
    return ", ".join(counts)
