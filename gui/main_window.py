"""The console's main window: flow tabs, data views, menus, status bar and tray.

The window wires things together and decides; it does no slow work itself. Runs go
through :class:`~gui.workers.FlowLanes` (one lane per flow), the schedule through
:class:`~gui.schedule.Scheduler`, the connection and health checks through
:class:`~gui.session.ConsoleSession`. Data views read the session's read-only store
and are refreshed when a run ends and by a cheap timer (another process — the CLI,
a second console — may write to the same store).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QAction, QCloseEvent, QColor, QDesktopServices, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QSystemTrayIcon,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.flow_tab import LOG_MAX_LINES, FlowPanel, FlowTab, progress_text, summary_text
from gui.icons import icon
from gui.models.problems import RetryRequest, describe_problems, items_word
from gui.models.reader import StoreReader
from gui.schedule import Scheduler
from gui.session import ConsoleSession
from gui.theme import apply_theme
from gui.views.batches_view import BatchesView
from gui.views.errors_view import ErrorsView
from gui.views.parked_view import ParkedView
from gui.views.problems_view import ProblemsPage, ProblemsView
from gui.views.runs_view import RunsView
from gui.views.settings_dialog import SettingsDialog
from gui.widgets.outbox_status import OutboxStatus
from gui.widgets.plain_text import plain_message_box, plain_tooltip
from gui.widgets.warning_banner import warning_banner
from gui.workers import FlowLanes, SessionState, flow_title, preflight
from service.config import insecure_http_warnings
from service.flows.context import FlowEvent, Progress
from service.flows.lease import LeaseBusy
from service.flows.names import Flow
from service.flows.registry import flow_tabs
from service.flows.result import FlowResult, RunOutcome
from service.paths import PROJECT_ROOT
from service.store import Store
from service.store_errors import StoreError
from service.store_records import BatchMirror, Problem, RunLogEntry, RunRecord

_log = logging.getLogger(__name__)

HEALTH_INTERVAL_MS = 60_000
REFRESH_INTERVAL_MS = 10_000
PROBLEMS_TITLE = "Problems"
# Closing during a run: how long to wait for the runs to stop and finish their batches.
CLOSE_WAIT_MS = 20_000
# The smallest window: fits a 1280×720 screen with its title bar and a panel.
MINIMUM_SIZE = (960, 600)
BANNER_LINK = "#1d4ed8"
DOCS_CONFIGURATION = PROJECT_ROOT / "docs" / "configuration.md"


class MainWindow(QMainWindow):
    """The ChannelDesk console for one session (profile)."""

    def __init__(
        self,
        session: ConsoleSession,
        settings: QSettings,
        *,
        clock: Callable[[], datetime] = datetime.now,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("main-window")
        self.session = session
        self.settings = settings
        self.lanes = FlowLanes(self)
        # The window's own store reads (outbox counts, last runs) run off the GUI thread.
        self._reader = StoreReader(session.store, self)
        self.scheduler = Scheduler(settings, clock=clock, parent=self)
        self._clock = clock
        self._scheduled_runs: set[Flow] = set()
        self._last_run: tuple[FlowResult, datetime] | None = None
        self._settings_dialog: SettingsDialog | None = None
        self.setWindowTitle(f"ChannelDesk — {session.profile.name}")
        # Explicit, so a view's preferred height (Error reports' detail) cannot push
        # the window past a 720 px screen; views shrink inside it.
        self.setMinimumSize(*MINIMUM_SIZE)

        self.panels: dict[Flow, FlowPanel] = {}
        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.tabs.setDocumentMode(True)
        self._tab_keys: list[str] = []
        self._build_flow_tabs()
        self.problems_view = ProblemsView(session.store, session=session)
        self.batches_view = BatchesView(session.store, settings=settings)
        self.errors_view = ErrorsView(session.store, settings=settings)
        self.runs_view = RunsView(session.store)
        self.parked_view = ParkedView(session.store)
        self.problems_page = ProblemsPage(self.problems_view)
        self._add_tab("problems", PROBLEMS_TITLE, self.problems_page)
        self._add_tab("batches", "Batches", self.batches_view)
        self._add_tab("errors", "Error reports", self.errors_view)
        self._add_tab("runs", "Runs", self.runs_view)
        self._add_tab("parked", "Parked", self.parked_view)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        if session.profile.sandbox:
            layout.addWidget(self._sandbox_banner())
        insecure = insecure_http_warnings(session.profile)
        if insecure:  # allowed in the profile, but never silently
            layout.addWidget(warning_banner("insecure-http-banner", insecure))
        layout.addWidget(self.tabs)
        self.setCentralWidget(central)

        self._build_actions_and_menus()
        self._build_status_bar()
        self.tray = self._build_tray()
        self._connect_signals()

        self._health_timer = QTimer(self)
        self._health_timer.setInterval(HEALTH_INTERVAL_MS)
        self._health_timer.timeout.connect(self.session.ping)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(REFRESH_INTERVAL_MS)
        self._refresh_timer.timeout.connect(self._refresh_current_view)
        self._refresh_timer.start()
        self.refresh_outbox()

        self._restore_settings()
        for flow in Flow:
            self.panels[flow].show_schedule(self.scheduler.schedule(flow))
        self._show_last_records()
        self._update_run_buttons()
        self._update_tray()
        self.scheduler.start()
        if session.is_ready:  # opened before the window existed
            self._session_ready()
        elif session.error:
            self._session_failed(session.error)

    # -- building --------------------------------------------------------------------

    def _build_flow_tabs(self) -> None:
        profile = self.session.profile
        for key, title, flows in flow_tabs():
            panels = []
            for flow in flows:
                panel = FlowPanel(
                    flow,
                    self.settings,
                    default_success_log=profile.is_success_log,
                    workers=profile.workers,
                )
                self.panels[flow] = panel
                panels.append(panel)
            self._add_tab(key, title, FlowTab(key, panels))

    def _add_tab(self, key: str, title: str, widget: QWidget) -> None:
        self._tab_keys.append(key)
        self.tabs.addTab(widget, title)

    def _sandbox_banner(self) -> QFrame:
        banner = QFrame()
        banner.setObjectName("sandbox-banner")
        # Both colours set, so the banner reads the same in light and dark themes.
        banner.setStyleSheet(
            "#sandbox-banner { background: #fff4ce; border-bottom: 1px solid #e0c97a; }"
            "#sandbox-banner QLabel { color: #3d3000; }"
        )
        text = QLabel(
            "<b>Sandbox mode</b> — flows run against the built-in Omnitron and marketplace "
            "simulators on this computer. To connect a real Omnitron, add a profile in "
            '<a href="settings">Settings → Profiles</a> (see '
            '<a href="docs">docs/configuration.md</a>) and start with '
            "<code>--profile NAME</code>."
        )
        text.setObjectName("sandbox-banner-text")
        # Links in a dark-blue that reads on the banner's yellow in either theme (6:1).
        link_palette = text.palette()
        link_palette.setColor(QPalette.ColorRole.Link, QColor(BANNER_LINK))
        text.setPalette(link_palette)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setWordWrap(True)
        text.linkActivated.connect(self._banner_link)
        layout = QHBoxLayout(banner)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.addWidget(text)
        return banner

    def _action(
        self,
        name: str,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence | str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work while the menus are closed
        return action

    def _build_actions_and_menus(self) -> None:
        self.settings_action = self._action(
            "action-settings", "&Settings…", self.open_settings, "Ctrl+,"
        )
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.quit_action = self._action("action-quit", "&Quit", self.close, QKeySequence.Quit)
        self.run_action = self._action(
            "action-run", "&Run current flow", self.run_current, "Ctrl+R"
        )
        self.cancel_action = self._action(
            "action-cancel", "&Cancel current run", self.cancel_current, "Esc"
        )
        self.filter_action = self._action(
            "action-filter", "&Filter", self.focus_filter, QKeySequence.Find
        )
        self.about_action = self._action("action-about", "&About ChannelDesk", self.show_about)

        menu_bar = self.menuBar()
        file_menu = menu_bar.addMenu("&File")
        file_menu.setObjectName("menu-file")
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        view_menu = menu_bar.addMenu("&View")
        view_menu.setObjectName("menu-view")
        for index, key in enumerate(self._tab_keys):
            shortcut = f"Ctrl+{index + 1}" if index < 9 else None
            action = self._action(
                f"action-tab-{key}",
                self.tabs.tabText(index),
                # ``triggered`` passes ``checked``: it must not land in ``i``.
                lambda _checked=False, i=index: self.tabs.setCurrentIndex(i),
                shortcut,
            )
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.run_action)
        view_menu.addAction(self.cancel_action)
        view_menu.addAction(self.filter_action)

        help_menu = menu_bar.addMenu("&Help")
        help_menu.setObjectName("menu-help")
        help_menu.addAction(self.about_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setObjectName("status-bar")
        profile = self.session.profile
        self.status_profile = QLabel(f"Profile: {profile.name}")
        self.status_profile.setObjectName("status-profile")
        self.status_profile.setToolTip(self.session.describe_target())
        self.status_health = QLabel("Connecting…")
        self.status_health.setObjectName("status-health")
        self.status_running = QLabel("Idle")
        self.status_running.setObjectName("status-running")
        for label in (self.status_running, self.status_health, self.status_profile):
            label.setContentsMargins(8, 0, 8, 0)
        self.status_outbox = OutboxStatus(self)
        self.status_outbox.clicked.connect(self.show_outbox)
        bar.addPermanentWidget(self.status_outbox)
        bar.addPermanentWidget(self.status_running)
        bar.addPermanentWidget(self.status_health)
        bar.addPermanentWidget(self.status_profile)

    def _build_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(icon("app"), self)
        tray.setObjectName("tray")
        menu = QMenu(self)
        menu.setObjectName("tray-menu")
        show = menu.addAction("Show ChannelDesk")
        show.triggered.connect(self._show_from_tray)
        menu.addSeparator()
        self._tray_last = menu.addAction("Last run: none")
        self._tray_last.setEnabled(False)
        self._tray_next = menu.addAction("Next run: none scheduled")
        self._tray_next.setEnabled(False)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        tray.setContextMenu(menu)
        tray.activated.connect(self._tray_activated)
        tray.show()
        return tray

    def _connect_signals(self) -> None:
        self.session.ready.connect(self._session_ready)
        self.session.failed.connect(self._session_failed)
        self.session.health_changed.connect(self._health_changed)
        self.lanes.started.connect(self._run_started)
        self.lanes.progress.connect(self._run_progress)
        self.lanes.event.connect(self._run_event)
        self.lanes.finished.connect(self._run_finished)
        self.lanes.crashed.connect(self._run_crashed)
        self.lanes.busy.connect(self._run_busy)
        self.lanes.store_failed.connect(self._store_failed)
        self.lanes.retry_refused.connect(self._retry_refused)
        self.lanes.idle_changed.connect(self._update_run_buttons)
        self.lanes.idle_changed.connect(self._update_running_label)
        self.scheduler.due.connect(self._scheduled_run_due)
        self.scheduler.changed.connect(self._schedule_changed)
        for panel in self.panels.values():
            panel.run_requested.connect(self.run_flow)
            panel.cancel_requested.connect(self.cancel_flow)
            panel.batch_link_activated.connect(self.show_batch)
            panel.failures_link_activated.connect(self.show_run_failures)
            panel.schedule_edited.connect(self.scheduler.set_schedule)
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
        self.tabs.currentChanged.connect(self._tab_changed)

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

    @Slot(object)
    def run_flow(self, flow: Flow, scheduled: bool = False) -> str | None:
        """Start a run of ``flow``; returns why it could not start, or ``None``."""
        panel = self.panels[flow]
        reason = self.preflight(flow, queue=scheduled)
        service = self.session.service
        if reason is None and service is None:
            reason = f"{flow_title(flow)} cannot run: not connected."
        if reason is not None:
            if scheduled:
                panel.log_line(f"Scheduled run skipped: {reason}")
            else:
                self.statusBar().showMessage(reason, 6000)
            return reason
        assert service is not None
        panel.run_started(scheduled=scheduled)
        options = panel.options()
        if scheduled:
            self._scheduled_runs.add(flow)
            # Queued behind a run holding its lease (here or in another process).
            options = options.model_copy(update={"lease_wait_s": None})
        self.lanes.start(flow, service, options)
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
            self.statusBar().showMessage(reason, 6000)
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
        self.statusBar().showMessage(
            f"Retrying {request.describe()} ({flow_title(flow)}); the result shows in its tab.",
            6000,
        )
        return None

    @Slot(object)
    def cancel_flow(self, flow: Flow) -> None:
        """Ask ``flow``'s run to stop at its next safe point."""
        if self.lanes.cancel(flow):
            self.panels[flow].cancel_pending()

    def current_flow(self) -> Flow | None:
        """The flow of the current flow tab (the focused panel's on a two-flow tab)."""
        widget = self.tabs.currentWidget()
        if isinstance(widget, FlowTab):
            return widget.current_panel().flow
        return None

    @Slot()
    def run_current(self) -> None:
        """Ctrl+R: run the current flow tab's flow."""
        flow = self.current_flow()
        if flow is None:
            self.statusBar().showMessage("Ctrl+R runs the flow of the current flow tab.", 4000)
            return
        self.run_flow(flow)

    @Slot()
    def cancel_current(self) -> None:
        """Esc: cancel the current flow tab's run."""
        flow = self.current_flow()
        if flow is not None:
            self.cancel_flow(flow)

    def _check_now(self) -> None:
        self.run_flow(Flow.CHECK_BATCHES)

    def _scheduled_run_due(self, flow: Flow) -> None:
        self.run_flow(flow, scheduled=True)

    def _run_started(self, flow: Flow) -> None:
        self._update_running_label()

    def _run_progress(self, flow: Flow, progress: Progress) -> None:
        self.panels[flow].show_progress(progress)
        self._update_running_label()

    def _run_event(self, flow: Flow, event: FlowEvent) -> None:
        self.panels[flow].show_event(event)
        if event.kind in ("run.waiting", "run.started"):
            self._update_running_label()

    def _run_finished(self, flow: Flow, result: FlowResult) -> None:
        self.panels[flow].show_result(result)
        scheduled = flow in self._scheduled_runs
        self._scheduled_runs.discard(flow)
        self._last_run = (result, datetime.now())
        self.refresh_views()
        self.session.ping()
        self._update_tray()
        if scheduled and result.outcome is RunOutcome.FAILED:
            self._notify(
                f"Scheduled {flow_title(flow)} failed",
                result.message or "The run failed; see its log.",
            )
        elif scheduled and result.failed:
            self._notify(
                f"Scheduled {flow_title(flow)}: {result.failed} failed",
                f"{items_word(flow.value, result.failed)} did not go through; see Problems.",
            )

    def _run_busy(self, flow: Flow, busy: LeaseBusy) -> None:
        self.panels[flow].show_busy(str(busy), cancelled=busy.cancelled)
        self._scheduled_runs.discard(flow)
        self.statusBar().showMessage(str(busy), 8000)

    def _retry_refused(self, flow: Flow, message: str) -> None:
        self.panels[flow].show_busy(message)
        self.statusBar().showMessage(message, 8000)
        self.refresh_views()

    def _store_failed(self, flow: Flow, error: StoreError) -> None:
        self.panels[flow].show_store_failure(str(error))
        self._scheduled_runs.discard(flow)
        # Every later run would fail the same way: stop the schedules until it is fixed.
        self.scheduler.stop()
        plain_message_box(
            self,
            QMessageBox.Icon.Critical,
            "The local store cannot be used",
            f"{flow_title(flow)} stopped. {error}\n\nScheduled runs are paused; restart "
            "ChannelDesk once the store is usable again.",
            name="store-error-dialog",
        ).open()

    def _run_crashed(self, flow: Flow, message: str) -> None:
        self.panels[flow].show_crash(message)
        scheduled = flow in self._scheduled_runs
        self._scheduled_runs.discard(flow)
        self.refresh_views()
        if scheduled:
            self._notify(f"Scheduled {flow_title(flow)} failed", message)

    def _update_run_buttons(self) -> None:
        for flow, panel in self.panels.items():
            panel.set_blocked(self.preflight(flow))

    def _update_running_label(self) -> None:
        running = sorted(self.lanes.running(), key=list(Flow).index)
        if not running:
            self.status_running.setText("Idle")
            return
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
        self.status_running.setText("Running: " + ", ".join(parts))

    # -- session ------------------------------------------------------------------------

    def _session_ready(self) -> None:
        self.status_health.setText("Connected")
        self.status_health.setToolTip(self.session.describe_target())
        self._update_run_buttons()
        self.session.ping()
        self._health_timer.start()

    def _session_failed(self, message: str) -> None:
        self.status_health.setText("Not connected")
        self.status_health.setToolTip(plain_tooltip(message))
        self._update_run_buttons()
        # The message may quote a server's answer: shown as text, never as HTML.
        plain_message_box(
            self,
            QMessageBox.Icon.Warning,
            "ChannelDesk: could not connect",
            f"The profile {self.session.profile.name!r} could not be opened:\n\n{message}\n\n"
            "Check it in Settings → Profiles; the data views still show what the store "
            "holds.",
            name="connect-error-dialog",
        ).exec()

    def _health_changed(self, ok: bool, detail: str) -> None:
        when = datetime.now().strftime("%H:%M")
        if ok:
            self.status_health.setText(f"Omnitron OK ({when})")
        else:
            self.status_health.setText(f"Omnitron unreachable ({when})")
        self.status_health.setToolTip(plain_tooltip(f"{self.session.describe_target()}: {detail}"))

    # -- views ----------------------------------------------------------------------------

    @Slot(int)
    def show_run_failures(self, run_id: int) -> None:
        """Switch to Error reports showing the failures of run ``run_id``."""
        self.tabs.setCurrentWidget(self.errors_view)
        self.errors_view.show_run(run_id)

    @Slot(int)
    def show_report(self, report_id: int) -> None:
        """Switch to Error reports showing report ``report_id``."""
        self.tabs.setCurrentWidget(self.errors_view)
        self.errors_view.show_report(report_id)

    def show_batch(self, pk: int) -> None:
        """Switch to the Batches view and show batch ``pk``."""
        self.tabs.setCurrentWidget(self.batches_view)
        self.batches_view.show_batch(pk)

    def refresh_views(self) -> None:
        """Reload the data views from the store."""
        for view in (
            self.problems_view,
            self.batches_view,
            self.errors_view,
            self.runs_view,
            self.parked_view,
        ):
            view.refresh()
        self.refresh_outbox()

    def refresh_outbox(self) -> None:
        """Show how many error reports wait for Omnitron and how many it refused."""
        # A run that ends while the window closes arrives after the store was closed.
        if self.session.state is SessionState.CLOSED:
            return
        self._reader.submit(lambda store: store.outbox_counts(), self.status_outbox.show_counts)

    @Slot()
    def show_outbox(self) -> None:
        """Switch to the Error reports view, showing the reports Omnitron does not hold."""
        self.tabs.setCurrentWidget(self.errors_view)
        self.errors_view.show_outbox()

    def _refresh_current_view(self) -> None:
        # Only the visible view: the others refresh when shown.
        widget = self.tabs.currentWidget()
        if widget in (self.batches_view, self.errors_view, self.runs_view, self.parked_view):
            widget.refresh()
        # Problems always: its count is the tab's badge and new ones go to the status bar.
        self.problems_view.refresh()
        # Another process (the CLI, a second console) may have run: two indexed counts.
        self.refresh_outbox()

    def _problems_counted(self, count: int) -> None:
        title = f"{PROBLEMS_TITLE} ({count})" if count else PROBLEMS_TITLE
        self.tabs.setTabText(self.tabs.indexOf(self.problems_page), title)

    def _problems_appeared(self, problems: list[Problem]) -> None:
        self.statusBar().showMessage(describe_problems(problems), 15000)

    def _tab_changed(self, _index: int) -> None:
        self._refresh_current_view()

    @Slot()
    def focus_filter(self) -> None:
        """Ctrl+F: focus the current view's filter."""
        widget = self.tabs.currentWidget()
        focus = getattr(widget, "focus_filter", None)
        if callable(focus):
            focus()

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

        self._reader.submit(read, show)

    # -- settings, about, tray --------------------------------------------------------------

    @Slot()
    def open_settings(self) -> None:
        """Ctrl+,: open the settings dialog (window-modal, not blocking the event loop)."""
        if self._settings_dialog is not None:
            self._settings_dialog.raise_()
            self._settings_dialog.activateWindow()
            return
        dialog = SettingsDialog(self.session.locations, self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.theme_changed.connect(self._apply_theme)
        dialog.profiles_changed.connect(self._profiles_changed)
        dialog.destroyed.connect(self._settings_closed)
        self._settings_dialog = dialog
        dialog.open()

    def _settings_closed(self) -> None:
        self._settings_dialog = None

    def _apply_theme(self, name: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)

    def _profiles_changed(self) -> None:
        self.statusBar().showMessage(
            "Profiles saved. Start ChannelDesk with --profile NAME to use another profile.",
            8000,
        )

    @Slot()
    def show_about(self) -> None:
        """Help → About."""
        QMessageBox.about(
            self,
            "About ChannelDesk",
            "<b>ChannelDesk</b><br>A console for the order flows between a sales channel "
            "and Akinon Omnitron.<br><br>"
            f"Profile: {self.session.profile.name} ({self.session.describe_target()})<br>"
            f"Data: {self.session.locations.data_dir}",
        )

    def _banner_link(self, link: str) -> None:
        if link == "settings":
            self.open_settings()
        elif link == "docs":
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(DOCS_CONFIGURATION)))

    def _schedule_changed(self, flow: Flow) -> None:
        self.panels[flow].show_schedule(self.scheduler.schedule(flow))
        self._update_tray()

    def tray_text(self) -> str:
        """Last and next run in one text (the tray's tooltip)."""
        lines = ["ChannelDesk"]
        if self._last_run is not None:
            result, when = self._last_run
            lines.append(
                f"Last run: {flow_title(result.flow)} at {when:%H:%M}, {result.outcome_label}"
                f" ({summary_text(result)})"
            )
        else:
            lines.append("Last run: none")
        upcoming = self.scheduler.next_due()
        if upcoming is not None:
            flow, when = upcoming
            lines.append(f"Next run: {flow_title(flow)} at {when:%H:%M}")
        else:
            lines.append("Next run: none scheduled")
        return "\n".join(lines)

    def _update_tray(self) -> None:
        if self.tray is None:
            return
        text = self.tray_text()
        self.tray.setToolTip(text)
        lines = text.splitlines()
        self._tray_last.setText(lines[1])
        self._tray_next.setText(lines[2])

    def _notify(self, title: str, message: str) -> None:
        _log.warning("%s: %s", title, message)
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            # Freedesktop notification servers may render body markup: server text is data.
            self.tray.showMessage(
                html.escape(title), html.escape(message), QSystemTrayIcon.MessageIcon.Warning
            )
        else:
            self.statusBar().showMessage(f"{title}: {message}", 15000)

    def _tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            self._show_from_tray()

    def _show_from_tray(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    # -- persistence and closing ------------------------------------------------------------

    def _splitters(self) -> list[QSplitter]:
        return [s for s in self.findChildren(QSplitter) if s.objectName()]

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 720)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        for splitter in self._splitters():
            sizes = self.settings.value(f"splitters/{splitter.objectName()}")
            if sizes is not None:
                splitter.restoreState(sizes)
        key = self.settings.value("window/tab")
        if key in self._tab_keys:
            self.tabs.setCurrentIndex(self._tab_keys.index(str(key)))

    def save_settings(self) -> None:
        """Remember geometry, window state, splitter sizes and the current tab."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        for splitter in self._splitters():
            self.settings.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        self.settings.setValue("window/tab", self._tab_keys[self.tabs.currentIndex()])
        self.settings.sync()

    def confirm_close_during_runs(self) -> bool:
        """Ask whether to cancel the runs in progress and quit."""
        names = ", ".join(flow_title(flow) for flow in sorted(self.lanes.running()))
        answer = QMessageBox.question(
            self,
            "Runs in progress",
            f"{names} {'is' if len(self.lanes.running()) == 1 else 'are'} still running.\n\n"
            "Cancel and quit? Each run stops at its next safe point and finishes its batch "
            "request first.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        """Closing during a run asks, cancels, waits (bounded), then closes the session."""
        if self.lanes.running():
            if not self.confirm_close_during_runs():
                event.ignore()
                return
            self.lanes.cancel_all()
            self.statusBar().showMessage("Stopping the runs…")
            if not self.lanes.wait(CLOSE_WAIT_MS):
                _log.warning("runs did not stop within %d ms; closing anyway", CLOSE_WAIT_MS)
        self.scheduler.stop()
        self._health_timer.stop()
        self._refresh_timer.stop()
        self.save_settings()
        if self.tray is not None:
            self.tray.hide()
        self._reader.close()
        self.session.close()
        event.accept()
