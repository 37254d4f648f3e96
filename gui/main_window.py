"""The console's main window: the Overview, the shown profile's tabs, menus, status bar, tray.

The console holds every profile at once (:class:`~gui.profiles_hub.ProfilesHub`): each
runs in its own :class:`~gui.profile_workspace.ProfileWorkspace` — lanes, schedule,
flow tabs and data views — whether or not it is shown. The window shows the Overview
(first tab, one row per profile) and the tabs of one profile; double-clicking a row,
or picking a profile in the toolbar's selector (Ctrl+P), swaps them without a restart.
The window wires things together and decides; it does no slow work itself: the
Overview's numbers are read on each profile's store reader.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QAction, QCloseEvent, QColor, QDesktopServices, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
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

from gui.flow_tab import FlowPanel, FlowTab
from gui.icons import icon
from gui.models.overview import OverviewModel, OverviewRow
from gui.models.problems import RetryRequest
from gui.profile_workspace import PROBLEMS_TITLE, ProfileWorkspace
from gui.profiles_hub import ProfilesHub
from gui.schedule import Scheduler, migrate_legacy_schedules
from gui.session import ConsoleSession
from gui.theme import apply_theme
from gui.views.batches_view import BatchesView
from gui.views.errors_view import ErrorsView
from gui.views.overview_view import OverviewView
from gui.views.parked_view import ParkedView
from gui.views.problems_view import ProblemsPage, ProblemsView
from gui.views.runs_view import RunsView
from gui.views.settings_dialog import SettingsDialog
from gui.widgets.outbox_status import OutboxStatus
from gui.widgets.plain_text import plain_message_box, plain_tooltip
from gui.widgets.warning_banner import warning_banner
from gui.workers import FlowLanes, flow_title
from service.config import insecure_http_warnings
from service.flows.names import Flow
from service.paths import PROJECT_ROOT

_log = logging.getLogger(__name__)

REFRESH_INTERVAL_MS = 10_000
# Overview rows changed within this long are rebuilt together.
ROW_UPDATE_MS = 100
# Closing during a run: how long to wait for the runs to stop and finish their batches.
CLOSE_WAIT_MS = 20_000
# The smallest window: fits a 1280×720 screen with its title bar and a panel.
MINIMUM_SIZE = (960, 600)
BANNER_LINK = "#1d4ed8"
DOCS_CONFIGURATION = PROJECT_ROOT / "docs" / "configuration.md"
OVERVIEW_KEY = "overview"
PROFILE_KEY = "window/profile"


class MainWindow(QMainWindow):
    """The ChannelDesk console over every profile of ``sessions`` (one session: a hub of one).

    ``profile`` is shown first; without it the one shown last (remembered), else the first.
    """

    def __init__(
        self,
        sessions: ProfilesHub | ConsoleSession,
        settings: QSettings,
        *,
        profile: str | None = None,
        clock: Callable[[], datetime] = datetime.now,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("main-window")
        self.hub = sessions if isinstance(sessions, ProfilesHub) else ProfilesHub.single(sessions)
        self.settings = settings
        self._settings_dialog: SettingsDialog | None = None
        # Explicit, so a view's preferred height (Error reports' detail) cannot push
        # the window past a 720 px screen; views shrink inside it.
        self.setMinimumSize(*MINIMUM_SIZE)

        first = self._first_profile(profile)
        # Schedules of a console that served one profile belong to the profile it opens.
        migrate_legacy_schedules(settings, first)
        self._clock = clock
        self.workspaces: dict[str, ProfileWorkspace] = {}
        self._current: ProfileWorkspace | None = None
        # Overview rows to rebuild: coalesced, a profile's checks and reads come in bursts.
        self._dirty_rows: set[str] = set()
        self._row_timer = QTimer(self)
        self._row_timer.setSingleShot(True)
        self._row_timer.setInterval(ROW_UPDATE_MS)
        self._row_timer.timeout.connect(self._update_dirty_rows)
        self.overview_model = OverviewModel(self)
        # The profile shown first is built now; the others one per turn of the event
        # loop (_build_next_workspace), so the window never freezes for all of them.
        self._build_timer = QTimer(self)
        self._build_timer.setSingleShot(True)
        self._build_timer.setInterval(0)
        self._build_timer.timeout.connect(self._build_next_workspace)
        openable = [entry.name for entry in self.hub.entries if entry.session is not None]
        if first not in openable and openable:
            first = openable[0]
        if openable:
            self._ensure_workspace(first)
        self._unbuilt = [name for name in openable if name != first]
        # The profile tab shown last: where a row of the Overview opens its profile.
        self._last_page = "problems"

        self.overview_view = OverviewView(self.overview_model)
        self.overview_view.profile_activated.connect(self.open_profile)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.overview_view, "Overview")
        # Tab keys are the same for every profile: the Overview, then the workspace's pages.
        any_workspace = self._current_or_any()
        self._tab_keys: list[str] = [OVERVIEW_KEY] + [
            page.key for page in (any_workspace.pages if any_workspace else [])
        ]
        self._tab_titles = [page.title for page in (any_workspace.pages if any_workspace else [])]

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self._banners = QVBoxLayout()
        self._banners.setContentsMargins(0, 0, 0, 0)
        self._banners.setSpacing(0)
        layout.addLayout(self._banners)
        layout.addWidget(self.tabs)
        self.setCentralWidget(central)

        self._build_actions_and_menus()
        self._build_profile_selector()
        self._build_status_bar()
        self.tray = self._build_tray()
        self.tabs.currentChanged.connect(self._tab_changed)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(REFRESH_INTERVAL_MS)
        self._refresh_timer.timeout.connect(self._refresh)
        self._refresh_timer.start()
        for entry in self.hub.entries:
            self._update_overview_row(entry.name)

        self._restore_settings()
        self.show_profile(first)
        key = self.settings.value("window/tab")
        if key in self._tab_keys:
            self.tabs.setCurrentIndex(self._tab_keys.index(str(key)))
        if self._unbuilt:
            self._build_timer.start()

    def _current_or_any(self) -> ProfileWorkspace | None:
        return self._current or next(iter(self.workspaces.values()), None)

    def _ensure_workspace(self, name: str) -> ProfileWorkspace | None:
        """The workspace of ``name``, built now if it was not yet (``None``: no session)."""
        workspace = self.workspaces.get(name)
        if workspace is not None:
            return workspace
        entry = self.hub.entry(name)
        if entry.session is None:
            return None
        workspace = ProfileWorkspace(
            entry.session, self.settings, self, clock=self._clock, parent=self
        )
        self.workspaces[name] = workspace
        self._connect_workspace(workspace)
        for splitter in workspace.splitters():
            sizes = self.settings.value(f"splitters/{splitter.objectName()}")
            if sizes is not None:
                splitter.restoreState(sizes)
        self._update_overview_row(name)
        workspace.refresh_summary()
        return workspace

    def _build_next_workspace(self) -> None:
        while self._unbuilt:
            name = self._unbuilt.pop(0)
            if name not in self.workspaces:
                self._ensure_workspace(name)
                break
        if self._unbuilt:
            self._build_timer.start()

    def _first_profile(self, wanted: str | None) -> str:
        names = self.hub.names
        if wanted in names:
            return str(wanted)
        remembered = self.settings.value(PROFILE_KEY)
        return str(remembered) if remembered in names else names[0]

    def _connect_workspace(self, workspace: ProfileWorkspace) -> None:
        name = workspace.name

        def shown() -> bool:
            return self._current is workspace

        workspace.message.connect(lambda text, ms: self._workspace_message(workspace, text, ms))
        workspace.notify.connect(lambda title, text: self._notify_from(workspace, title, text))
        workspace.reveal.connect(lambda widget: self._reveal(workspace, widget))
        workspace.running_changed.connect(lambda: self._update_running_label() if shown() else None)
        workspace.health_changed.connect(lambda: self._update_health_label() if shown() else None)
        workspace.outbox_changed.connect(
            lambda counts: self.status_outbox.show_counts(counts) if shown() else None
        )
        workspace.problems_counted.connect(lambda count: self._problems_counted(workspace, count))
        workspace.summary_changed.connect(lambda: self._row_changed(name))
        workspace.last_run_changed.connect(lambda: self._update_tray() if shown() else None)
        workspace.connect_failed.connect(lambda message: self._connect_failed(workspace, message))

    # -- the shown profile -----------------------------------------------------------

    @property
    def workspace(self) -> ProfileWorkspace:
        """The workspace of the profile shown."""
        assert self._current is not None, "no profile could be opened"
        return self._current

    def workspace_of(self, name: str) -> ProfileWorkspace:
        """The workspace of profile ``name`` (built now if it was not yet)."""
        workspace = self._ensure_workspace(name)
        if workspace is None:
            raise KeyError(name)
        return workspace

    @property
    def profile_name(self) -> str:
        """The name of the profile shown."""
        return self.workspace.name

    # The shown profile's parts, under the names the window always had.

    @property
    def session(self) -> ConsoleSession:
        """The shown profile's session."""
        return self.workspace.session

    @property
    def lanes(self) -> FlowLanes:
        """The shown profile's lanes."""
        return self.workspace.lanes

    @property
    def scheduler(self) -> Scheduler:
        """The shown profile's scheduler."""
        return self.workspace.scheduler

    @property
    def panels(self) -> dict[Flow, FlowPanel]:
        """The shown profile's panels."""
        return self.workspace.panels

    @property
    def problems_view(self) -> ProblemsView:
        """The shown profile's problems view."""
        return self.workspace.problems_view

    @property
    def problems_page(self) -> ProblemsPage:
        """The shown profile's problems page."""
        return self.workspace.problems_page

    @property
    def batches_view(self) -> BatchesView:
        """The shown profile's batches view."""
        return self.workspace.batches_view

    @property
    def errors_view(self) -> ErrorsView:
        """The shown profile's errors view."""
        return self.workspace.errors_view

    @property
    def runs_view(self) -> RunsView:
        """The shown profile's runs view."""
        return self.workspace.runs_view

    @property
    def parked_view(self) -> ParkedView:
        """The shown profile's parked view."""
        return self.workspace.parked_view

    @Slot(str)
    def show_profile(self, name: str) -> bool:
        """Show profile ``name``'s flow tabs and data views; ``False`` when it cannot be."""
        workspace = self._ensure_workspace(name) if name in self.hub.names else None
        if workspace is None:
            if name in self.hub.names:
                error = self.hub.entry(name).error
                self.statusBar().showMessage(f"Profile {name!r} cannot be shown: {error}", 10000)
            self._select_in_selector(self._current.name if self._current else "")
            return False
        old = self._current
        if workspace is old:
            self._select_in_selector(name)
            return True
        key = self._tab_keys[self.tabs.currentIndex()] if self.tabs.count() else OVERVIEW_KEY
        self.tabs.blockSignals(True)
        while self.tabs.count() > 1:
            self.tabs.removeTab(1)
        if old is not None:
            old.shelve()
        self._current = workspace
        for page in workspace.pages:
            self.tabs.addTab(page.widget, page.title)
        self._problems_counted(workspace, workspace.open_problems)
        self.tabs.setCurrentIndex(self._tab_keys.index(key))
        self.tabs.blockSignals(False)
        self._show_banners(workspace)
        self.setWindowTitle(f"ChannelDesk — {name}")
        self.status_profile.setText(f"Profile: {name}")
        self.status_profile.setToolTip(workspace.session.describe_target())
        self.status_outbox.show_counts(workspace.outbox)
        self._update_health_label()
        self._update_running_label()
        self._update_tray()
        self._select_in_selector(name)
        for profile in [old.name if old else None, name]:
            if profile is not None:
                self._update_overview_row(profile)
        self.settings.setValue(PROFILE_KEY, name)
        self._refresh()
        return True

    @Slot(str)
    def open_profile(self, name: str) -> bool:
        """Show profile ``name`` on the tab of a profile shown last (at first Problems)."""
        if not self.show_profile(name):
            return False
        self.tabs.setCurrentIndex(self._tab_keys.index(self._last_page))
        return True

    def _show_banners(self, workspace: ProfileWorkspace) -> None:
        while self._banners.count():
            item = self._banners.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        profile = workspace.profile
        if profile.sandbox:
            self._banners.addWidget(self._sandbox_banner())
        insecure = insecure_http_warnings(profile)
        if insecure:  # allowed in the profile, but never silently
            self._banners.addWidget(warning_banner("insecure-http-banner", insecure))

    def _reveal(self, workspace: ProfileWorkspace, widget: QWidget) -> None:
        if workspace is not self._current:
            self.show_profile(workspace.name)
        self.tabs.setCurrentWidget(widget)

    # -- building --------------------------------------------------------------------

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
            '<a href="docs">docs/configuration.md</a>) and pick it in the toolbar.'
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
        self.profile_action = self._action(
            "action-profile", "Switch &profile…", self.pick_profile, "Ctrl+P"
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
        titles = ["Overview", *self._tab_titles]
        for index, key in enumerate(self._tab_keys):
            shortcut = f"Ctrl+{index + 1}" if index < 9 else None
            action = self._action(
                f"action-tab-{key}",
                titles[index],
                # ``triggered`` passes ``checked``: it must not land in ``i``.
                lambda _checked=False, i=index: self.tabs.setCurrentIndex(i),
                shortcut,
            )
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.profile_action)
        view_menu.addAction(self.run_action)
        view_menu.addAction(self.cancel_action)
        view_menu.addAction(self.filter_action)

        help_menu = menu_bar.addMenu("&Help")
        help_menu.setObjectName("menu-help")
        help_menu.addAction(self.about_action)

    def _build_profile_selector(self) -> None:
        toolbar = self.addToolBar("Profile")
        toolbar.setObjectName("toolbar-profile")
        toolbar.setMovable(False)
        label = QLabel("Profile: ")
        label.setContentsMargins(8, 0, 0, 0)
        toolbar.addWidget(label)
        self.profile_selector = QComboBox()
        self.profile_selector.setObjectName("profile-selector")
        self.profile_selector.setToolTip("The profile whose flows and data are shown (Ctrl+P)")
        label.setBuddy(self.profile_selector)
        for name in self.hub.names:
            self.profile_selector.addItem(name, name)
        self.profile_selector.activated.connect(
            lambda index: self.show_profile(str(self.profile_selector.itemData(index)))
        )
        toolbar.addWidget(self.profile_selector)

    def _select_in_selector(self, name: str) -> None:
        index = self.profile_selector.findData(name)
        if index >= 0:
            self.profile_selector.setCurrentIndex(index)

    @Slot()
    def pick_profile(self) -> None:
        """Ctrl+P: open the profile selector."""
        self.profile_selector.setFocus()
        self.profile_selector.showPopup()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setObjectName("status-bar")
        self.status_profile = QLabel("Profile:")
        self.status_profile.setObjectName("status-profile")
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
        self._tray_profile = menu.addAction("Profile: none")
        self._tray_profile.setEnabled(False)
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

    # -- running flows (the shown profile's) -----------------------------------------

    def preflight(self, flow: Flow, *, queue: bool = False) -> str | None:
        """Why the shown profile's ``flow`` cannot start now, or ``None``."""
        return self.workspace.preflight(flow, queue=queue)

    @Slot(object)
    def run_flow(self, flow: Flow, scheduled: bool = False) -> str | None:
        """Start a run of the shown profile's ``flow``; why it could not start, or ``None``."""
        return self.workspace.run_flow(flow, scheduled)

    def retry(self, request: RetryRequest) -> str | None:
        """Retry failed items of the shown profile (see ``ProfileWorkspace.retry``)."""
        return self.workspace.retry(request)

    @Slot(object)
    def cancel_flow(self, flow: Flow) -> None:
        """Ask the shown profile's ``flow`` run to stop at its next safe point."""
        self.workspace.cancel_flow(flow)

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

    def _update_running_label(self) -> None:
        self.status_running.setText(self.workspace.running_text())

    def _update_health_label(self) -> None:
        text, tip = self.workspace.health_text()
        self.status_health.setText(text)
        # The detail may quote a server's answer: shown as text, never as HTML.
        self.status_health.setToolTip(plain_tooltip(tip))

    # -- what workspaces ask for ---------------------------------------------------------

    def _workspace_message(self, workspace: ProfileWorkspace, text: str, ms: int) -> None:
        if workspace is not self._current:
            text = f"{workspace.name}: {text}"
        self.statusBar().showMessage(text, ms)

    def _notify_from(self, workspace: ProfileWorkspace, title: str, text: str) -> None:
        if len(self.hub.entries) > 1:
            title = f"{workspace.name}: {title}"
        self._notify(title, text)

    def _connect_failed(self, workspace: ProfileWorkspace, message: str) -> None:
        if workspace is not self._current:
            # The Overview's row says why; a dialog per profile would bury the window.
            self.statusBar().showMessage(
                f"Profile {workspace.name!r} could not be opened: {message}", 10000
            )
            return
        # The message may quote a server's answer: shown as text, never as HTML.
        plain_message_box(
            self,
            QMessageBox.Icon.Warning,
            "ChannelDesk: could not connect",
            f"The profile {workspace.name!r} could not be opened:\n\n{message}\n\n"
            "Check it in Settings → Profiles; the data views still show what the store "
            "holds.",
            name="connect-error-dialog",
        ).open()

    def _problems_counted(self, workspace: ProfileWorkspace, count: int) -> None:
        if workspace is not self._current:
            return
        title = f"{PROBLEMS_TITLE} ({count})" if count else PROBLEMS_TITLE
        self.tabs.setTabText(self.tabs.indexOf(workspace.problems_page), title)

    # -- views ----------------------------------------------------------------------------

    @Slot(int)
    def show_run_failures(self, run_id: int) -> None:
        """Switch to Error reports showing the failures of run ``run_id``."""
        self.workspace.show_run_failures(run_id)

    @Slot(int)
    def show_report(self, report_id: int) -> None:
        """Switch to Error reports showing report ``report_id``."""
        self.workspace.show_report(report_id)

    def show_batch(self, pk: int) -> None:
        """Switch to the Batches view and show batch ``pk``."""
        self.workspace.show_batch(pk)

    @Slot()
    def show_outbox(self) -> None:
        """Switch to Error reports, showing the reports Omnitron does not hold."""
        self.workspace.show_outbox()

    def refresh_views(self) -> None:
        """Reload the shown profile's data views from its store."""
        self.workspace.refresh_views()

    def refresh_outbox(self) -> None:
        """Read the shown profile's outbox counts again."""
        self.workspace.refresh_outbox()

    def refresh_overview(self) -> None:
        """Read every profile's summary again (each on its own store reader)."""
        for workspace in self.workspaces.values():
            workspace.refresh_summary()

    def _row_changed(self, name: str) -> None:
        self._dirty_rows.add(name)
        if not self._row_timer.isActive():
            self._row_timer.start()

    def _update_dirty_rows(self) -> None:
        for name in sorted(self._dirty_rows):
            self._update_overview_row(name)
        self._dirty_rows.clear()

    def _update_overview_row(self, name: str) -> None:
        workspace = self.workspaces.get(name)
        now = datetime.now(UTC)
        if workspace is not None:
            row = workspace.overview_row(shown=workspace is self._current)
        else:
            entry = self.hub.entry(name)
            profile = entry.profile
            target = (
                "built-in sandbox" if profile.sandbox else str(getattr(profile.omnitron, "url", ""))
            )
            session = entry.session
            row = OverviewRow(
                profile=name,
                target=target,
                state=None if session is None else session.state,
                error=entry.error if session is None else session.error,
            )
        self.overview_model.set_row(row, now)

    def _refresh(self) -> None:
        if self._current is not None:
            self._current.refresh_current(self.tabs.currentWidget())
        if self.tabs.currentWidget() is self.overview_view:
            self.refresh_overview()

    def _tab_changed(self, index: int) -> None:
        if index > 0:
            self._last_page = self._tab_keys[index]
        self._refresh()

    @Slot()
    def focus_filter(self) -> None:
        """Ctrl+F: focus the current view's filter."""
        widget = self.tabs.currentWidget()
        focus = getattr(widget, "focus_filter", None)
        if callable(focus):
            focus()

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
            "Profiles saved. Restart ChannelDesk to open the profiles added or changed.",
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
            f"Profile: {html.escape(self.profile_name)} "
            f"({html.escape(self.session.describe_target())})<br>"
            f"Profiles open: {len(self.workspaces)}<br>"
            f"Data: {html.escape(str(self.session.locations.data_dir))}",
        )

    def _banner_link(self, link: str) -> None:
        if link == "settings":
            self.open_settings()
        elif link == "docs":
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(DOCS_CONFIGURATION)))

    def tray_text(self) -> str:
        """The shown profile, its last and next run in one text (the tray's tooltip)."""
        workspace = self.workspace
        next_text, _tip = workspace.next_run()
        return "\n".join(
            [
                f"ChannelDesk — {workspace.name}",
                workspace.last_run_text(),
                f"Next run: {next_text}" if next_text else "Next run: none scheduled",
            ]
        )

    def _update_tray(self) -> None:
        if self.tray is None or self._current is None:
            return
        text = self.tray_text()
        self.tray.setToolTip(text)
        lines = text.splitlines()
        self._tray_profile.setText(f"Profile: {self._current.name}")
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
        found = [s for s in self.findChildren(QSplitter) if s.objectName()]
        for workspace in self.workspaces.values():
            if workspace is not self._current:
                found += workspace.splitters()
        return found

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

    def save_settings(self) -> None:
        """Remember geometry, window state, splitter sizes, the current tab and profile."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        # The shown profile's splitters: those the operator last arranged.
        shown = self._current.splitters() if self._current else []
        for splitter in shown:
            self.settings.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        self.settings.setValue("window/tab", self._tab_keys[self.tabs.currentIndex()])
        if self._current is not None:
            self.settings.setValue(PROFILE_KEY, self._current.name)
        self.settings.sync()

    def running_flows(self) -> list[tuple[str, Flow]]:
        """(profile, flow) of every run in progress, in every profile."""
        return [
            (workspace.name, flow)
            for workspace in self.workspaces.values()
            for flow in sorted(workspace.lanes.running())
        ]

    def runs_here(self) -> list[tuple[str, Flow]]:
        """(profile, flow) of every run in progress in this process: closing stops them.

        Runs of ``runner = "workers"`` profiles go on on their workers without the console.
        """
        return [
            (workspace.name, flow)
            for workspace in self.workspaces.values()
            if workspace.session.profile.runner == "local"
            for flow in sorted(workspace.lanes.running())
        ]

    def confirm_close_during_runs(self) -> bool:
        """Ask whether to cancel the runs in progress here and quit."""
        running = self.runs_here()
        several = len(self.workspaces) > 1
        names = ", ".join(
            f"{profile}: {flow_title(flow)}" if several else flow_title(flow)
            for profile, flow in running
        )
        answer = QMessageBox.question(
            self,
            "Runs in progress",
            f"{names} {'is' if len(running) == 1 else 'are'} still running.\n\n"
            "Cancel and quit? Each run stops at its next safe point and finishes its batch "
            "request first.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        """Closing during a run here asks, cancels, waits (bounded), then closes every
        profile; runs on workers are left to go on there."""
        if self.runs_here() and not self.confirm_close_during_runs():
            event.ignore()
            return
        if self.running_flows():
            for workspace in self.workspaces.values():
                if workspace.session.profile.runner == "local":
                    workspace.lanes.cancel_all()
                else:
                    workspace.lanes.detach_all()
            self.statusBar().showMessage("Stopping the runs…")
            for workspace in self.workspaces.values():
                if not workspace.lanes.wait(CLOSE_WAIT_MS):
                    _log.warning(
                        "runs of %s did not stop within %d ms; closing anyway",
                        workspace.name,
                        CLOSE_WAIT_MS,
                    )
        self._refresh_timer.stop()
        self._row_timer.stop()
        self._build_timer.stop()
        self._unbuilt.clear()
        for workspace in self.workspaces.values():
            workspace.stop()
        self.save_settings()
        if self.tray is not None:
            self.tray.hide()
        for workspace in self.workspaces.values():
            workspace.close()
        self.hub.close()
        event.accept()
