"""The flow tabs: run a flow, watch it, read what it did, schedule it.

A :class:`FlowPanel` is everything about one flow: Run and Cancel, the flow's
options, a progress bar with done/total and the current item (or "N processed ·
current: …" while the total is unknown), the live log of the run, the last run's
summary — its outcome in the outcome's colour (:mod:`service.flows.outcome`), its
failures as a link into Error reports, its batch as a link into the Batches view —
and the schedule. After a restart the summary and the log of the last run are read
back from the store. For a ``runner = "workers"`` profile a line says where its runs go
(the profile's queue), and the summary says when a sent run waits for a worker. A
:class:`FlowTab` holds one panel, or two for the cancellation requests.

Panels only show things and say what the operator asked for (signals); the main
window decides whether a run can start and starts it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
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
from gui.models.badges import TONE_KINDS, badge_colors
from gui.schedule import MAX_MINUTES, MIN_MINUTES, Schedule
from gui.workers import flow_title
from service.flows.context import FlowEvent, Progress
from service.flows.names import Flow
from service.flows.outcome import RunLike, describe_outcome
from service.flows.result import FlowResult
from service.flows.run import FlowOptions
from service.store_records import BatchMirror, RunLogEntry, RunRecord

LOG_MAX_LINES = 2_000


class FlowPanel(QWidget):
    """Run, options, progress, log, summary and schedule of one flow."""

    run_requested = Signal(object)  # Flow
    cancel_requested = Signal(object)  # Flow
    batch_link_activated = Signal(int)
    # A run id: its failure reports are wanted (the summary's "N failures" link).
    failures_link_activated = Signal(int)
    schedule_edited = Signal(object, int, bool)  # Flow, minutes, enabled

    def __init__(
        self,
        flow: Flow,
        settings: QSettings,
        *,
        profile: str = "",
        default_success_log: bool = True,
        workers: int = 12,
        runs_on: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """The panel of ``flow`` of ``profile`` (its options are kept per profile);
        ``runs_on`` says where its runs go when not here (``ConsoleSession.runs_on``:
        "Runs on the workers of queue channeldesk.acme")."""
        super().__init__(parent)
        self.flow = flow
        self._profile = profile
        self._settings = settings
        self._workers = workers
        self._default_success_log = default_success_log
        self._blocked_reason: str | None = None
        self._running = False
        self._last_done = 0
        # What the summary shows, to draw it again in a new theme's colours.
        self._shown: tuple[RunLike, Sequence[tuple[int, str]]] | None = None
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

        # Where runs go, for a profile whose flows run on its workers.
        self.runs_on = QLabel(runs_on or "")
        self.runs_on.setObjectName(f"runs-on-{name}")
        self.runs_on.setTextFormat(Qt.TextFormat.PlainText)
        self.runs_on.setVisible(runs_on is not None)

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
        top_layout.addWidget(self.runs_on)
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
        self.progress_bar.setProperty("tone", "")
        self.cancel_button.setEnabled(True)
        self._shown = None
        self.summary.setText("Running…")

    def show_progress(self, progress: Progress) -> None:
        """Show ``done / total`` (or "N processed" while the total is unknown) and the item."""
        self._last_done = progress.done
        self.progress_bar.setFormat(progress_text(progress))
        if progress.total is None:
            self.progress_bar.setRange(0, 0)  # indeterminate, but labelled
            return
        # An empty total is not "1 / 1": the bar stays empty and says so.
        total = max(progress.total, 1)
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(min(progress.done, progress.total))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        """Redraw the icons in the new palette's colours after a theme change."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._set_icons()
            if self._shown is not None:
                self._render_summary(*self._shown)
        super().changeEvent(event)

    def _set_icons(self) -> None:
        self.run_button.setIcon(icon("run"))
        self.cancel_button.setIcon(icon("cancel"))

    def show_event(self, event: FlowEvent) -> None:
        """Add one of the run's events to the log (detail below INFO is left out)."""
        if event.kind == "run.waiting":
            self.show_waiting(event.message)
        elif event.kind == "remote.queued":
            self.show_waiting(event.message, what="Waiting for a worker…", heading="Sent")
        elif event.kind in ("run.started", "remote.taken"):
            self.progress_bar.setFormat("Starting…")
            self.summary.setText(
                "Running…" if event.kind == "run.started" else html.escape(event.message)
            )
        if event.level < logging.INFO:
            return
        self.log_line(_log_prefix(event.level) + event.message)

    def log_line(self, text: str) -> None:
        """Append a time-stamped line to the log."""
        self.log.appendPlainText(f"{datetime.now():%H:%M:%S}  {text}")

    def show_result(self, result: FlowResult) -> None:
        """The run ended: the bar and the summary say how, its failures and batch are links."""
        self._finish_ui()
        label, tone = describe_outcome(result)
        done = result.created + result.updated + result.skipped + result.failed + result.waiting
        total = result.total if result.total is not None else done
        if result.outcome == "completed" and not result.created + result.updated + result.failed:
            # Nothing new (at most skipped again): no "1 / 1", just the words.
            total = shown = 0
        elif result.outcome == "completed":
            total = max(total, done)
            shown = total  # completed: the bar is full
        else:
            total = max(total, done, self._last_done)
            shown = min(done, total)  # stopped: the bar shows how far it got
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(shown if total else 1)
        counted = f"{shown} / {total}  —  " if total else ""
        self.progress_bar.setFormat(f"{counted}{label}")
        self._set_tone(tone)
        self._render_summary(result, [(b.pk, b.status) for b in result.batches])
        self.log_line(f"{flow_title(self.flow)} {label}: {summary_text(result)}")

    def show_waiting(
        self, message: str, *, what: str = "Waiting for another run…", heading: str = "Queued"
    ) -> None:
        """The run is queued: behind another run that holds its lease, or (``what``,
        ``heading``) on the workers' queue with no worker taking it yet."""
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat(what)
        self.summary.setText(f"<b>{heading}:</b> {html.escape(message)}")

    def show_busy(self, message: str, *, cancelled: bool = False) -> None:
        """The run did not start; ``message`` says why (another live run holds its lease,
        or a retry found nothing left to retry).

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

    def show_last_record(
        self,
        record: RunRecord,
        batches: Sequence[BatchMirror] = (),
        log: Sequence[RunLogEntry] = (),
    ) -> None:
        """Show a run recorded earlier (e.g. before a restart) as its own summary showed it.

        ``batches`` are the run's batch requests (linked), ``log`` its stored events
        (the log shows those at INFO and above, as it did live).
        """
        self._render_summary(record, [(b.pk, b.status) for b in batches])
        label, tone = describe_outcome(record)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"Last run: {label}")
        self._set_tone(tone)
        if log:
            self.log.clear()
            for entry in log:
                if entry.level >= logging.INFO:
                    self.log.appendPlainText(
                        f"{entry.at.astimezone():%H:%M:%S}  {_log_prefix(entry.level)}"
                        f"{entry.message}"
                    )

    def _render_summary(self, run: RunLike, batches: Sequence[tuple[int, str]]) -> None:
        self._shown = (run, batches)
        dark = self.palette().window().color().lightness() < 128
        self.summary.setText(summary_html(run, batches, dark=dark))

    def _set_tone(self, tone: str) -> None:
        # The style sheet colours the bar by tone (QProgressBar[tone="bad"] in app.qss).
        self.progress_bar.setProperty("tone", tone)
        self.progress_bar.style().unpolish(self.progress_bar)
        self.progress_bar.style().polish(self.progress_bar)

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
        elif link.startswith("failures:"):
            self.failures_link_activated.emit(int(link.removeprefix("failures:")))

    def _key(self, name: str) -> str:
        return f"flows/{self._profile}/{self.flow.value}/{name}"

    def _stored_bool(self, name: str, default: bool) -> bool:
        # Options chosen before they were kept per profile still count until changed.
        earlier = self._settings.value(f"flows/{self.flow.value}/{name}", default)
        value = self._settings.value(self._key(name), earlier)
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


def progress_text(progress: Progress) -> str:
    """The bar's label: ``done / total · item``, or ``N processed · current: item``."""
    current = progress.current
    if progress.total is None:
        text = f"{progress.done} processed"
        return f"{text} · current: {current}" if current else text
    text = f"{min(progress.done, progress.total)} / {progress.total}"
    return f"{text} · {current}" if current else text


def summary_text(run: RunLike) -> str:
    """The counts of a run (and its duration, when it has one), as plain text."""
    counts = _counts(run.created, run.updated, run.skipped, run.failed)
    if run.waiting:
        counts += f", {run.waiting} still waiting"
    duration = getattr(run, "duration_s", None)
    return counts if duration is None else f"{counts}, {duration:.1f} s"


def summary_html(
    run: RunLike, batches: Sequence[tuple[int, str]] = (), *, dark: bool = False
) -> str:
    """The run's summary: its outcome in the outcome's colour, counts, links, its sentence.

    ``run`` is a ``FlowResult`` or a stored ``RunRecord`` (then it is headed "Last
    run" with its start time); ``batches`` are ``(pk, status)`` of its batch requests.
    A run with failures links them (``failures:<run id>``); each batch links as
    ``batch:<pk>``. Everything from a server or the channel is escaped.
    """
    label, tone = describe_outcome(run)
    _, colour = badge_colors(TONE_KINDS.get(tone, "neutral"), dark=dark)
    run_id = run.run_id if isinstance(run, FlowResult) else getattr(run, "id", 0)
    outcome = html.escape(label)
    if run.failed and str(run.outcome) == "completed":
        noun = "failure" if run.failed == 1 else "failures"
        link = f'<a href="failures:{run_id}">{run.failed} {noun}</a>'
        outcome = outcome.replace(f"{run.failed} {noun}", link, 1)
    parts = [
        f'<b><span style="color:{colour.name()}">{outcome}</span></b> — '
        f"{html.escape(summary_text(run))}"
    ]
    error_count = run.error_count if isinstance(run, FlowResult) else getattr(run, "error_count", 0)
    if error_count:
        parts.append(f"{error_count} error reports")
    links = [
        f'<a href="batch:{pk}">batch {pk}</a> ({html.escape(status)})' for pk, status in batches
    ]
    if links:
        parts.append(", ".join(links))
    text = " · ".join(parts)
    if isinstance(run, RunRecord):
        when = run.started_at.astimezone().strftime("%Y-%m-%d %H:%M")
        text = f"Last run {when}: {text}"
    if run.message:
        text += f"<br>{html.escape(run.message)}"
    return text


def _log_prefix(level: int) -> str:
    if level >= logging.ERROR:
        return "ERROR "
    if level >= logging.WARNING:
        return "warning "
    return ""


def _counts(created: int, updated: int, skipped: int, failed: int) -> str:
    counts = [f"{created} created"]
    if updated:
        counts.append(f"{updated} updated")
    counts += [f"{skipped} skipped", f"{failed} failed"]
    return ", ".join(counts)
