"""Everything the console keeps per profile: its flow tabs, data views, lanes and schedule.

A :class:`ProfileWorkspace` runs one profile whether or not it is shown: its
:class:`~gui.workers.FlowLanes` run the flows, its :class:`~gui.schedule.Scheduler`
fires the profile's schedules, its pages (flow tabs and data views) keep the runs'
progress, its store reader reads for the Overview. The main window shows one
workspace's pages at a time and swaps them when another profile is picked; the
pages of the others wait on a shelf (a hidden widget of their own), so the window
holds only the shown profile's widgets and object names stay unique in it.

What a workspace needs from the window it asks for with signals — a status-bar
message, a notification, a page to show — so a scheduled run of a profile not shown
still records, notifies on failure and updates the Overview.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QSplitter, QWidget

from gui.flow_tab import LOG_MAX_LINES, FlowPanel, FlowTab, progress_text, summary_text
from gui.mirror_sync import MirrorSync
from gui.models.overview import Health, OverviewRow, StoreSummary, read_summary
from gui.models.problems import RetryRequest, describe_problems, items_word
from gui.models.reader import StoreReader
from gui.schedule import Schedule, Scheduler
from gui.session import ConsoleSession
from gui.tasks import TaskRunner
from gui.views.batches_view import BatchesView
from gui.views.errors_view import ErrorsView
from gui.views.parked_view import ParkedView
from gui.views.problems_view import ProblemsPage, ProblemsView
from gui.views.runs_view import RunsView
from gui.widgets.plain_text import plain_message_box
from gui.workers import FlowLanes, RemoteRefusal, SessionState, flow_title, preflight
from service.flows.context import FlowEvent, Progress
from service.flows.lease import LeaseBusy
from service.flows.names import Flow
from service.flows.registry import flow_tabs
from service.flows.result import FlowResult, RunOutcome
from service.store import Store
from service.store_errors import StoreError
from service.store_records import BatchMirror, OutboxCounts, Problem, RunLogEntry, RunRecord

_log = logging.getLogger(__name__)

HEALTH_INTERVAL_MS = 60_000
PROBLEMS_TITLE = "Problems"
# Closing: how long to wait for a channel health check still under way.
CLOSE_WAIT_MS = 15_000
# Events after which a run waits (a lease, a workers' queue) or goes on: "(queued)".
_WAITING_OR_GOING = frozenset({"run.waiting", "run.started", "remote.queued", "remote.taken"})


@dataclass(frozen=True)
class Page:
    """One tab of a workspace: its key (stable across profiles), title and widget."""

    key: str
    title: str
    widget: QWidget


def ping_channel(session: ConsoleSession) -> str:
    """Ask the channel for one page of new orders (blocking: off the GUI thread)."""
    connection = session.connection
    if connection is None:
        raise RuntimeError("not connected")
    orders = connection.channel.fetch_new_orders(datetime.now(UTC))
    try:
        next(iter(orders), None)
    finally:
        close = getattr(orders, "close", None)
        if callable(close):
            close()
    return f"{session.profile.channel.adapter}: answered"


class ProfileWorkspace(QObject):
    """One profile's lanes, schedule, pages and store reader (shown or not)."""

    message = Signal(str, int)  # a status-bar message and how long to show it (ms)
    notify = Signal(str, str)  # title, text: something the operator must hear about
    reveal = Signal(QWidget)  # show this page of the workspace
    running_changed = Signal()  # the runs in progress or their progress changed
    health_changed = Signal()  # the connection or a health check changed
    outbox_changed = Signal(object)  # OutboxCounts
    problems_counted = Signal(int)
    summary_changed = Signal()  # the Overview row must be rebuilt
    last_run_changed = Signal()  # the tray's last/next run changed
    connect_failed = Signal(str)  # the session could not open (shown as a dialog if shown)

    def __init__(
        self,
        session: ConsoleSession,
        settings: QSettings,
        host: QWidget,
        *,
        clock: Callable[[], datetime] = datetime.now,
        parent: QObject | None = None,
    ) -> None:
        """Pages, lanes and schedule of ``session``'s profile; dialogs open over ``host``."""
        super().__init__(parent)
        self.session = session
        self.profile = session.profile
        self.settings = settings
        self._host = host
        self._clock = clock
        self.lanes = FlowLanes(self)
        # Store reads for the Overview and the status bar run off the GUI thread.
        self.reader = StoreReader(session.store, self)
        self.scheduler = Scheduler(settings, profile=self.profile.name, clock=clock, parent=self)
        self._pinger = TaskRunner(max_threads=1, parent=self, name="channel-ping")
        self._pinging_channel = False
        self._sync_asked = False
        self._scheduled_runs: set[Flow] = set()
        self.last_run: tuple[FlowResult, datetime] | None = None
        self.summary: StoreSummary | None = None
        self.channel_health: Health | None = None
        self.outbox = OutboxCounts()
        self.open_problems = 0
        self._closed = False
        # Where the pages wait while another profile is shown (never shown itself).
        self.shelf = QWidget()
        self.shelf.setObjectName(f"shelf-{self.profile.name}")

        self.panels: dict[Flow, FlowPanel] = {}
        self.pages: list[Page] = []
        self._build_flow_tabs()
        self.problems_view = ProblemsView(session.store, session=session)
        self.batches_view = BatchesView(session.store, settings=settings)
        self.errors_view = ErrorsView(session.store, settings=settings)
        self.runs_view = RunsView(session.store)
        self.parked_view = ParkedView(session.store)
        self.problems_page = ProblemsPage(self.problems_view)
        self.pages += [
            Page("problems", PROBLEMS_TITLE, self.problems_page),
            Page("batches", "Batches", self.batches_view),
            Page("errors", "Error reports", self.errors_view),
            Page("runs", "Runs", self.runs_view),
            Page("parked", "Parked", self.parked_view),
        ]
        for page in self.pages:
            page.widget.setParent(self.shelf)
        # "Sync from Omnitron": on the views' action and the profile's own timer.
        self.mirror = MirrorSync(session, self)
        self._connect_signals()

        self._health_timer = QTimer(self)
        self._health_timer.setInterval(HEALTH_INTERVAL_MS)
        self._health_timer.timeout.connect(self.ping)
        for flow in Flow:
            self._show_schedule(flow)
        self.refresh_outbox()
        self._show_last_records()
        self.update_run_buttons()
        if not self.is_workers:
            # A workers profile's schedules are fired by `main.py beat`, not here.
            self.scheduler.start()
        if session.is_ready:  # opened before the workspace existed
            self._session_ready()
        elif session.state is SessionState.FAILED:
            self._session_failed(session.error)

    # -- building --------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The profile's name."""
        return self.profile.name

    @property
    def is_workers(self) -> bool:
        """Whether the profile's flows run on Celery workers."""
        return self.profile.runner == "workers"

    def _build_flow_tabs(self) -> None:
        for key, title, flows in flow_tabs():
            panels = []
            for flow in flows:
                panel = FlowPanel(
                    flow,
                    self.settings,
                    profile=self.profile.name,
                    default_success_log=self.profile.is_success_log,
                    workers=self.profile.workers,
                    runs_on=self.session.runs_on,
                )
                self.panels[flow] = panel
                panels.append(panel)
            self.pages.append(Page(key, title, FlowTab(key, panels)))

    def _connect_signals(self) -> None:
        self.session.ready.connect(self._session_ready)
        self.session.failed.connect(self._session_failed)
        self.session.health_changed.connect(self._omnitron_checked)
        self.lanes.started.connect(self._run_started)
        self.lanes.progress.connect(self._run_progress)
        self.lanes.event.connect(self._run_event)
        self.lanes.finished.connect(self._run_finished)
        self.lanes.crashed.connect(self._run_crashed)
        self.lanes.busy.connect(self._run_busy)
        self.lanes.store_failed.connect(self._store_failed)
        self.lanes.retry_refused.connect(self._retry_refused)
        self.lanes.idle_changed.connect(self.update_run_buttons)
        self.lanes.idle_changed.connect(self.running_changed.emit)
        self.scheduler.due.connect(self._scheduled_run_due)
        self.scheduler.changed.connect(self._schedule_changed)
        for panel in self.panels.values():
            panel.run_requested.connect(self.run_flow)
            panel.cancel_requested.connect(self.cancel_flow)
            panel.batch_link_activated.connect(self.show_batch)
            panel.failures_link_activated.connect(self.show_run_failures)
            panel.schedule_edited.connect(self._schedule_edited)
        self.batches_view.check_now_requested.connect(self._check_now)
        self.problems_view.retry_requested.connect(self.retry)
        self.errors_view.retry_requested.connect(self.retry)
        self.batches_view.retry_requested.connect(self.retry)
        self.problems_view.open_count_changed.connect(self._problems_counted)
        self.problems_view.problems_appeared.connect(self._problems_appeared)
        self.errors_view.batch_link_activated.connect(self.show_batch)
        self.runs_view.batch_link_activated.connect(self.show_batch)
        self.runs_view.reports_requested.connect(self.show_run_failures)
        self.batches_view.report_activated.connect(self.show_report)
        self.batches_view.sync_requested.connect(self.sync_from_omnitron)
        self.errors_view.sync_requested.connect(self.sync_from_omnitron)
        self.mirror.finished.connect(self._mirror_finished)
        self.mirror.failed.connect(self._mirror_failed)
        # A workers profile's session records the runs its workers report.
        recorded = getattr(self.session, "remote_runs_recorded", None)
        if recorded is not None:
            recorded.connect(self._remote_runs_recorded)

    # -- running flows ---------------------------------------------------------------

    def preflight(self, flow: Flow, *, queue: bool = False) -> str | None:
        """Why ``flow`` cannot start now, or ``None`` (``queue``: see workers.preflight)."""
        return preflight(
            flow,
            session_state=self.session.state,
            session_error=self.session.error,
            running=self.lanes.running(),
            queue=queue,
        )

    def run_flow(self, flow: Flow, scheduled: bool = False) -> str | None:
        """Start a run of ``flow``; returns why it could not start, or ``None``."""
        panel = self.panels[flow]
        reason = self.preflight(flow, queue=scheduled)
        # The order service here, or the workers of a workers profile.
        runner = self.session.flow_runner
        if reason is None and runner is None:
            reason = f"{flow_title(flow)} cannot run: not connected."
        if reason is not None:
            if scheduled:
                panel.log_line(f"Scheduled run skipped: {reason}")
            else:
                self.message.emit(reason, 6000)
            return reason
        panel.run_started(scheduled=scheduled)
        options = panel.options()
        if scheduled:
            self._scheduled_runs.add(flow)
            # Queued behind a run holding its lease (here or in another process).
            options = options.model_copy(update={"lease_wait_s": None})
        self.lanes.start(flow, runner, options)
        return None

    def retry(self, request: RetryRequest) -> str | None:
        """Retry failed items on their flow's lane; returns why it could not start, or ``None``.

        Progress and result show in the flow's tab like a run's; the views refresh after.
        """
        flow = request.flow
        reason = self.preflight(flow)
        service = self.session.service
        if reason is None and service is None:
            reason = f"{flow_title(flow)} cannot retry: not connected."
        if reason is not None:
            self.message.emit(reason, 6000)
            return reason
        assert service is not None
        panel = self.panels[flow]
        panel.run_started()
        panel.log_line(f"Retrying {request.describe()}")
        self.lanes.start_retry(
            flow,
            service,
            panel.options(),
            report_ids=request.report_ids,
            cause=request.cause,
            cause_value=request.cause_value,
        )
        self.message.emit(
            f"Retrying {request.describe()} ({flow_title(flow)}); the result shows in its tab.",
            6000,
        )
        return None

    def cancel_flow(self, flow: Flow) -> None:
        """Ask ``flow``'s run to stop at its next safe point."""
        if self.lanes.cancel(flow):
            self.panels[flow].cancel_pending()

    def _check_now(self) -> None:
        self.run_flow(Flow.CHECK_BATCHES)

    def _scheduled_run_due(self, flow: Flow) -> None:
        self.run_flow(flow, scheduled=True)

    def _run_started(self, _flow: Flow) -> None:
        self.running_changed.emit()
        self.refresh_summary()  # the Overview says "running"

    def _run_progress(self, flow: Flow, progress: Progress) -> None:
        self.panels[flow].show_progress(progress)
        self.running_changed.emit()

    def _run_event(self, flow: Flow, event: FlowEvent) -> None:
        self.panels[flow].show_event(event)
        if event.kind in _WAITING_OR_GOING:
            self.running_changed.emit()

    def _run_finished(self, flow: Flow, result: FlowResult) -> None:
        self.panels[flow].show_result(result)
        scheduled = flow in self._scheduled_runs
        self._scheduled_runs.discard(flow)
        self.last_run = (result, datetime.now())
        self.refresh_views()
        self.session.ping()
        self.last_run_changed.emit()
        if scheduled and result.outcome is RunOutcome.FAILED:
            self.notify.emit(
                f"Scheduled {flow_title(flow)} failed",
                result.message or "The run failed; see its log.",
            )
        elif scheduled and result.failed:
            self.notify.emit(
                f"Scheduled {flow_title(flow)}: {result.failed} failed",
                f"{items_word(flow.value, result.failed)} did not go through; see Problems.",
            )

    def _run_busy(self, flow: Flow, busy: LeaseBusy | RemoteRefusal) -> None:
        self.panels[flow].show_busy(str(busy), cancelled=busy.cancelled)
        self._scheduled_runs.discard(flow)
        self.message.emit(str(busy), 8000)

    def _retry_refused(self, flow: Flow, message: str) -> None:
        self.panels[flow].show_busy(message)
        self.message.emit(message, 8000)
        self.refresh_views()

    def _store_failed(self, flow: Flow, error: StoreError) -> None:
        self.panels[flow].show_store_failure(str(error))
        self._scheduled_runs.discard(flow)
        # Every later run would fail the same way: stop the schedules until it is fixed.
        self.scheduler.stop()
        plain_message_box(
            self._host,
            QMessageBox.Icon.Critical,
            "The local store cannot be used",
            f"{flow_title(flow)} of profile {self.name!r} stopped. {error}\n\nScheduled runs "
            "of this profile are paused; restart ChannelDesk once the store is usable again.",
            name="store-error-dialog",
        ).open()

    def _run_crashed(self, flow: Flow, message: str) -> None:
        self.panels[flow].show_crash(message)
        scheduled = flow in self._scheduled_runs
        self._scheduled_runs.discard(flow)
        self.refresh_views()
        if scheduled:
            self.notify.emit(f"Scheduled {flow_title(flow)} failed", message)

    def update_run_buttons(self) -> None:
        """Enable each Run button, or say on it why it cannot run now."""
        for flow, panel in self.panels.items():
            panel.set_blocked(self.preflight(flow))

    def running_text(self) -> str:
        """The status bar's words for the runs in progress: ``Idle`` or ``Running: …``."""
        running = sorted(self.lanes.running(), key=list(Flow).index)
        if not running:
            return "Idle"
        parts = []
        for flow in running:
            progress = self.lanes.last_progress(flow)
            if self.lanes.is_waiting(flow):
                parts.append(f"{flow_title(flow)} (queued)")
            elif progress is not None:
                # The same words as the flow's bar: "12 / 60" or "12 processed · current: …".
                parts.append(f"{flow_title(flow)} {progress_text(progress)}")
            else:
                parts.append(flow_title(flow))
        return "Running: " + ", ".join(parts)

    # -- session and health ----------------------------------------------------------

    def _session_ready(self) -> None:
        self.update_run_buttons()
        self.ping()
        self._health_timer.start()
        self.mirror.start()
        self.health_changed.emit()
        self.summary_changed.emit()

    def _session_failed(self, message: str) -> None:
        self.update_run_buttons()
        self.health_changed.emit()
        self.summary_changed.emit()
        self.connect_failed.emit(message)

    def ping(self) -> None:
        """Check in the background that Omnitron and the channel answer."""
        if self._closed or not self.session.is_ready:
            return
        self.session.ping()
        if self._pinging_channel:
            return
        self._pinging_channel = True
        session = self.session
        self._pinger.submit(
            lambda: ping_channel(session),
            on_done=lambda detail: self._channel_checked(True, detail),
            on_failed=lambda message: self._channel_checked(False, message),
        )

    def _channel_checked(self, ok: bool, detail: str) -> None:
        self._pinging_channel = False
        if self._closed:
            return
        self.channel_health = Health(ok, detail, datetime.now(UTC))
        self.health_changed.emit()
        self.summary_changed.emit()

    def _omnitron_checked(self, _ok: bool, _detail: str) -> None:
        self.health_changed.emit()
        self.summary_changed.emit()

    @property
    def omnitron_health(self) -> Health | None:
        """The last check of Omnitron (the session's ping)."""
        last = self.session.last_health
        if last is None:
            return None
        ok, detail, at = last
        return Health(ok, detail, at.astimezone(UTC))

    def health_text(self) -> tuple[str, str]:
        """(text, tooltip) of the status bar's connection label."""
        state = self.session.state
        target = self.session.describe_target()
        if state is SessionState.STARTING:
            return "Connecting…", target
        if state is SessionState.FAILED:
            return "Not connected", self.session.error
        health = self.omnitron_health
        if health is None:
            return "Connected", target
        when = health.at.astimezone().strftime("%H:%M")
        words = "OK" if health.ok else "unreachable"
        return f"Omnitron {words} ({when})", f"{target}: {health.detail}"

    # -- the mirror ------------------------------------------------------------------

    def sync_from_omnitron(self) -> None:
        """Mirror the channel's batch requests and error reports from Omnitron now."""
        # When it cannot start, ``failed`` says why.
        if self.mirror.sync_now():
            self._sync_asked = True
            self.message.emit("Syncing from Omnitron…", 0)

    def _mirror_finished(self, summary: str) -> None:
        if self._sync_asked:  # the timer's syncs refresh the views without a word
            self.message.emit(summary, 8000)
        self._sync_asked = False
        self.refresh_views()

    def _mirror_failed(self, message: str) -> None:
        self._sync_asked = False
        self.message.emit(message, 10000)

    # -- views -----------------------------------------------------------------------

    def show_run_failures(self, run_id: int) -> None:
        """Show Error reports with the failures of run ``run_id``."""
        self.reveal.emit(self.errors_view)
        self.errors_view.show_run(run_id)

    def show_report(self, report_id: int) -> None:
        """Show Error reports with report ``report_id``."""
        self.reveal.emit(self.errors_view)
        self.errors_view.show_report(report_id)

    def show_batch(self, pk: int) -> None:
        """Show the Batches view with batch ``pk``."""
        self.reveal.emit(self.batches_view)
        self.batches_view.show_batch(pk)

    def show_outbox(self) -> None:
        """Show the Error reports view with the reports Omnitron does not hold."""
        self.reveal.emit(self.errors_view)
        self.errors_view.show_outbox()

    @property
    def data_views(self) -> tuple[QWidget, ...]:
        """The data views that read the store."""
        return (
            self.problems_view,
            self.batches_view,
            self.errors_view,
            self.runs_view,
            self.parked_view,
        )

    def refresh_views(self) -> None:
        """Reload the data views, the outbox count and the Overview's summary."""
        for view in self.data_views:
            view.refresh()  # type: ignore[attr-defined]
        self.refresh_outbox()
        self.refresh_summary()

    def refresh_current(self, widget: QWidget | None) -> None:
        """The timer's refresh: the visible view, Problems (its badge), the outbox."""
        if widget in (self.batches_view, self.errors_view, self.runs_view, self.parked_view):
            widget.refresh()  # type: ignore[union-attr]
        self.problems_view.refresh()
        # Another process (the CLI, a worker, a second console) may have run.
        self.refresh_outbox()

    def refresh_outbox(self) -> None:
        """Read how many error reports wait for Omnitron and how many it refused."""
        if self._closed or self.session.state is SessionState.CLOSED:
            return
        self.reader.submit(lambda store: store.outbox_counts(), self._outbox_read)

    def _outbox_read(self, counts: OutboxCounts) -> None:
        self.outbox = counts
        self.outbox_changed.emit(counts)

    def refresh_summary(self) -> None:
        """Read the Overview's summary of the store in the background."""
        if self._closed or self.session.state is SessionState.CLOSED:
            return
        self.reader.submit(lambda store: read_summary(store), self._summary_read)

    def _summary_read(self, summary: StoreSummary) -> None:
        if self._closed:
            return
        self.summary = summary
        self.summary_changed.emit()

    def _remote_runs_recorded(self, _runs: list[object]) -> None:
        self.runs_view.refresh()
        self.refresh_summary()

    def _problems_counted(self, count: int) -> None:
        self.open_problems = count
        self.problems_counted.emit(count)

    def _problems_appeared(self, problems: list[Problem]) -> None:
        self.message.emit(describe_problems(problems), 15000)

    def _show_last_records(self) -> None:
        flows = list(self.panels)

        def read(
            store: Store,
        ) -> list[tuple[Flow, RunRecord, list[BatchMirror], list[RunLogEntry]]]:
            found = []
            for flow in flows:
                records = store.list_runs(flow=flow.value, limit=1)
                if records and not records[0].is_running:
                    run = records[0]
                    found.append(
                        (
                            flow,
                            run,
                            store.batches_of_run(run.id),
                            store.run_log(run.id, limit=LOG_MAX_LINES, min_level=logging.INFO),
                        )
                    )
            return found

        def show(found: list[tuple[Flow, RunRecord, list[BatchMirror], list[RunLogEntry]]]) -> None:
            for flow, run, batches, log in found:
                if not self.lanes.is_running(flow):  # a run started meanwhile has the panel
                    # As the summary showed it: its colour, sentence, batch link and log.
                    self.panels[flow].show_last_record(run, batches, log)

        self.reader.submit(read, show)

    # -- schedules -------------------------------------------------------------------

    def _schedule_edited(self, flow: Flow, minutes: int, enabled: bool) -> None:
        if self.is_workers:
            # Not stored: `main.py beat` fires the schedules of the profiles file.
            self._show_schedule(flow)
            self.message.emit(
                f"Profile {self.name!r} runs on workers: its schedules are the profiles "
                "file's `schedules`, fired by `main.py beat`.",
                8000,
            )
            return
        self.scheduler.set_schedule(flow, minutes, enabled)

    def _schedule_changed(self, flow: Flow) -> None:
        self._show_schedule(flow)
        self.last_run_changed.emit()
        self.summary_changed.emit()

    def _show_schedule(self, flow: Flow) -> None:
        panel = self.panels[flow]
        if not self.is_workers:
            panel.show_schedule(self.scheduler.schedule(flow))
            return
        minutes = self.profile.schedules.get(flow.value)
        panel.show_schedule(Schedule(minutes or panel.interval.value(), bool(minutes), None))
        panel.next_run.setText(
            f"Every {minutes} min, by main.py beat" if minutes else "Not scheduled (main.py beat)"
        )
        for widget in (panel.interval, panel.schedule_enabled):
            widget.setEnabled(False)
            widget.setToolTip("The profiles file's schedules; `main.py beat` fires them")

    def next_run(self) -> tuple[str, str]:
        """(text, tooltip) of the next scheduled run, for the Overview and the tray."""
        if self.is_workers:
            schedules = self.profile.schedules
            if not schedules:
                return "", "No schedules in the profiles file"
            text = ", ".join(f"{flow} every {minutes} min" for flow, minutes in schedules.items())
            return f"beat: {text}", "Fired by `main.py beat` from the profiles file"
        if not self.scheduler.is_running:
            return "paused", "Scheduled runs are paused (the store failed)"
        upcoming = self.scheduler.next_due()
        if upcoming is None:
            return "", ""
        flow, when = upcoming
        return f"{flow_title(flow)} at {when:%H:%M}", f"{when:%Y-%m-%d %H:%M:%S}"

    def last_run_text(self) -> str:
        """The tray's "Last run: …" line."""
        if self.last_run is None:
            return "Last run: none"
        result, when = self.last_run
        return (
            f"Last run: {flow_title(result.flow)} at {when:%H:%M}, {result.outcome_label}"
            f" ({summary_text(result)})"
        )

    def overview_row(self, *, shown: bool) -> OverviewRow:
        """This profile's row of the Overview."""
        next_text, next_tip = self.next_run()
        state = self.session.state
        return OverviewRow(
            profile=self.name,
            target=self.session.describe_target(),
            state=state,
            error=self.session.error if state is SessionState.FAILED else "",
            runner=self.profile.runner,
            summary=self.summary,
            omnitron=self.omnitron_health,
            channel=self.channel_health,
            next_run=next_text,
            next_run_tip=next_tip,
            shown=shown,
        )

    # -- splitters and closing -------------------------------------------------------

    def splitters(self) -> list[QSplitter]:
        """The named splitters of every page (their sizes are remembered)."""
        found = []
        for page in self.pages:
            found += [s for s in page.widget.findChildren(QSplitter) if s.objectName()]
        return found

    def shelve(self) -> None:
        """Take the pages back from the window (another profile is shown)."""
        for page in self.pages:
            page.widget.setParent(self.shelf)

    def stop(self) -> None:
        """Stop the timers and schedules (the console is closing)."""
        self.scheduler.stop()
        self._health_timer.stop()
        self.mirror.stop()

    def close(self) -> None:
        """Stop everything and close the reader and the session (after the runs ended)."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        self._pinger.wait(CLOSE_WAIT_MS)
        self._pinger.close()
        self.mirror.close()
        self.reader.close()
        self.session.close()
        # The shelf has no parent: delete it (and the pages on it) on the GUI thread.
        self.shelf.deleteLater()
