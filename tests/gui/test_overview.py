"""Every profile in one console: the Overview, switching profiles, schedules of all.

Three profiles: the built-in sandbox, ``shop`` on simulators served by the test (its
secrets in the environment, as a deployment gives them) and ``broken``, whose secrets
nobody gave, so its connection fails. The Overview's cells are read from its model,
the Runs view's rows from the view's model, and Omnitron's side from the simulators.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QComboBox, QPushButton, QTableView
from pytestqt.qtbot import QtBot

from gui.main_window import MainWindow
from gui.profile_workspace import ProfileWorkspace
from gui.profiles_hub import ProfilesHub
from gui.schedule import Scheduler, migrate_legacy_schedules
from gui.workers import SessionState
from service.config import load_profiles
from service.connect import Locations
from service.flows.names import Flow
from service.flows.result import FlowResult
from service.sandbox.launcher import SandboxOptions
from tests.conftest import RunningMarketplace, RunningOmnitron
from tests.gui.conftest import FakeClock, ini_settings
from tests.profiles import sim_profile, sim_secrets, write_profiles
from tests.sandbox.omnitron_api import (
    OmnitronApi,
    create_order,
    new_batch,
    order_objects,
    set_batch,
)

READY_MS = 60_000
RUN_MS = 120_000
SANDBOX_ORDERS = 2
SHOP_ORDERS = 5


@dataclass
class Fleet:
    """A console over three profiles and the simulators of ``shop``."""

    window: MainWindow
    hub: ProfilesHub
    settings: QSettings
    clock: FakeClock
    omnitron: RunningOmnitron
    market: RunningMarketplace
    locations: Locations

    def workspace(self, name: str) -> ProfileWorkspace:
        return self.window.workspace_of(name)


def write_fleet_profiles(path: Path, omnitron: RunningOmnitron, market: RunningMarketplace) -> None:
    """``shop`` on the served simulators; ``broken`` on a port nothing serves."""
    nowhere = "http://127.0.0.1:9/"
    write_profiles(
        path,
        {
            "shop": sim_profile(omnitron.base_url, market.base_url, omnitron=omnitron.config),
            "broken": sim_profile(nowhere, nowhere),
        },
    )


@pytest.fixture
def fleet(
    qtbot: QtBot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_omnitron: Callable[..., RunningOmnitron],
    start_marketplace: Callable[..., RunningMarketplace],
) -> Iterator[Fleet]:
    omnitron = start_omnitron()
    market = start_marketplace(initial_orders=SHOP_ORDERS, broken_share=0.0, arrival_per_hour=0)
    config = tmp_path / "profiles.toml"
    write_fleet_profiles(config, omnitron, market)
    secrets = sim_secrets("shop", omnitron=omnitron.config, marketplace=market.config)
    for variable, value in secrets.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("CHANNELDESK_BROKEN_OMNITRON_PASSWORD", raising=False)
    # No OS keyring: broken's secrets are missing, not looked up on a desktop keyring.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setattr(MainWindow, "confirm_close_during_runs", lambda self: True)
    locations = Locations(tmp_path / "data", config)
    hub = ProfilesHub.open(
        load_profiles(config).values(),
        locations,
        sandbox_options=SandboxOptions(orders=SANDBOX_ORDERS),
    )
    clock = FakeClock()
    settings = ini_settings(tmp_path / "console.ini")
    window = MainWindow(hub, settings, profile="sandbox", clock=clock)
    qtbot.addWidget(window)
    window.show()
    hub.start()
    states = {name: lambda n=name: hub.session(n).state for name in hub.names}
    qtbot.waitUntil(
        lambda: all(state() is not SessionState.STARTING for state in states.values()),
        timeout=READY_MS,
    )
    yield Fleet(window, hub, settings, clock, omnitron, market, locations)
    window.close()
    hub.close()


def run(qtbot: QtBot, workspace: ProfileWorkspace, flow: Flow) -> FlowResult:
    """Start ``flow`` on ``workspace`` (shown or not) and wait for its result."""
    with qtbot.waitSignal(workspace.lanes.finished, timeout=RUN_MS) as finished:
        assert workspace.run_flow(flow) is None
    done, result = finished.args
    assert done is flow
    return result


def overview_text(fleet: Fleet, profile: str, key: str) -> str:
    return fleet.window.overview_model.text(profile, key)


def runs_rows(qtbot: QtBot, window: MainWindow) -> list[tuple[str, str]]:
    """(flow, created) of every row the Runs view shows, once it has loaded some."""
    view = window.runs_view
    view.refresh()
    model = view.model
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=READY_MS)
    flow_col = [c.title for c in model.columns].index("Flow")
    created_col = [c.title for c in model.columns].index("Created")
    return [
        (model.index(r, flow_col).data(), model.index(r, created_col).data())
        for r in range(model.rowCount())
    ]


def double_click_row(qtbot: QtBot, fleet: Fleet, profile: str) -> None:
    table = fleet.window.findChild(QTableView, "overview-table")
    assert table is not None
    fleet.window.tabs.setCurrentWidget(fleet.window.overview_view)
    row = fleet.window.overview_model.row_index(profile)
    assert row >= 0, profile
    rect = table.visualRect(table.model().index(row, 0))
    # A double-click that follows a press, as a real one does.
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(fleet.window.overview_view.profile_activated, timeout=5000):
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_the_overview_shows_every_profile_with_its_last_runs(qtbot: QtBot, fleet: Fleet) -> None:
    window = fleet.window
    # Every profile's workspace is built by itself, one per turn of the event loop.
    qtbot.waitUntil(lambda: set(window.workspaces) == {"sandbox", "shop", "broken"})
    assert window.tabs.tabText(0) == "Overview"
    assert [window.overview_model.profile_at(r) for r in range(3)] == ["sandbox", "shop", "broken"]
    assert overview_text(fleet, "sandbox", "flow:fetch-orders") == "never"

    sandbox = run(qtbot, fleet.workspace("sandbox"), Flow.FETCH_ORDERS)
    shop = run(qtbot, fleet.workspace("shop"), Flow.FETCH_ORDERS)  # not the profile shown
    assert (sandbox.created, shop.created) == (SANDBOX_ORDERS, SHOP_ORDERS)
    # Omnitron's side: the shop's orders are in the shop's Omnitron.
    counts = fleet.omnitron.control.get("summary").json()["counts"]
    assert counts["orders"] == SHOP_ORDERS

    for name in ("sandbox", "shop"):
        qtbot.waitUntil(
            lambda n=name: overview_text(fleet, n, "flow:fetch-orders").startswith("completed"),
            timeout=READY_MS,
        )
        assert fleet.window.overview_model.badge(name, "flow:fetch-orders") == "success"
        assert overview_text(fleet, name, "flow:update-orders") == "never"
        assert overview_text(fleet, name, "state") == "ready"
    assert overview_text(fleet, "sandbox", "profile") == "sandbox (shown)"
    assert overview_text(fleet, "shop", "profile") == "shop"
    # Health comes from each session's pings of Omnitron and of the channel.
    qtbot.waitUntil(
        lambda: (
            overview_text(fleet, "shop", "omnitron").startswith("OK")
            and overview_text(fleet, "shop", "channel").startswith("OK")
        ),
        timeout=READY_MS,
    )


def test_a_profile_that_fails_shows_its_error_in_its_row(qtbot: QtBot, fleet: Fleet) -> None:
    assert fleet.hub.session("broken").state is SessionState.FAILED
    qtbot.waitUntil(lambda: overview_text(fleet, "broken", "state").startswith("failed: "))
    text = overview_text(fleet, "broken", "state")
    assert "CHANNELDESK_BROKEN_OMNITRON_PASSWORD" in text
    assert fleet.window.overview_model.badge("broken", "state") == "danger"
    # The others opened regardless, and the shown one is untouched.
    assert overview_text(fleet, "shop", "state") == "ready"
    assert fleet.window.profile_name == "sandbox"
    # One sandbox: only the sandbox profile started simulators (and keeps their state).
    started = sorted(p.name for p in fleet.locations.data_dir.iterdir() if p.is_dir())
    assert [name for name in started if name.startswith("sandbox")] == ["sandbox"]


def test_double_click_and_the_selector_switch_the_views_to_that_profile(
    qtbot: QtBot, fleet: Fleet
) -> None:
    window = fleet.window
    run(qtbot, fleet.workspace("sandbox"), Flow.FETCH_ORDERS)
    run(qtbot, fleet.workspace("shop"), Flow.FETCH_ORDERS)
    assert runs_rows(qtbot, window) == [("fetch-orders", str(SANDBOX_ORDERS))]

    double_click_row(qtbot, fleet, "shop")
    assert window.profile_name == "shop"
    # The row opens the profile on its Problems, the first time.
    assert window.tabs.currentWidget() is window.problems_page
    window.tabs.setCurrentWidget(window.runs_view)
    assert runs_rows(qtbot, window) == [("fetch-orders", str(SHOP_ORDERS))]
    # The window holds only the shown profile's widgets: lookups by name find the shop's.
    run_button = window.findChild(QPushButton, "run-fetch-orders")
    assert run_button is not None
    assert window.panels[Flow.FETCH_ORDERS].isAncestorOf(run_button)
    assert fleet.workspace("sandbox").panels[Flow.FETCH_ORDERS].window() is not window
    selector = window.findChild(QComboBox, "profile-selector")
    assert selector is not None
    assert selector.currentData() == "shop"  # the selector agrees with the double-click
    assert window.windowTitle() == "ChannelDesk — shop"
    assert overview_text(fleet, "shop", "profile") == "shop (shown)"
    assert overview_text(fleet, "sandbox", "profile") == "sandbox"

    # Back through the selector: the same switch, and the tab stays Runs.
    selector.activated.emit(selector.findData("sandbox"))
    assert window.profile_name == "sandbox"
    assert window.tabs.currentWidget() is window.runs_view
    assert runs_rows(qtbot, window) == [("fetch-orders", str(SANDBOX_ORDERS))]
    assert window.windowTitle() == "ChannelDesk — sandbox"
    assert "sandbox" in window.tray_text().splitlines()[0]

    # From the Overview, a row opens on the profile tab shown last: Runs.
    double_click_row(qtbot, fleet, "shop")
    assert window.tabs.currentWidget() is window.runs_view
    assert runs_rows(qtbot, window) == [("fetch-orders", str(SHOP_ORDERS))]

    # A profile whose connection failed shows too: its store, and why it cannot run.
    assert window.show_profile("broken")
    assert (
        "CHANNELDESK_BROKEN_OMNITRON_PASSWORD"
        in window.panels[Flow.FETCH_ORDERS].run_button.toolTip()
    )


def test_the_last_profile_shown_is_remembered(qtbot: QtBot, fleet: Fleet) -> None:
    fleet.window.show_profile("shop")
    fleet.window.save_settings()
    # The next console (not connected: its views and title need no connection) shows it.
    entries = fleet.hub.entries
    again = ProfilesHub.open([entry.profile for entry in entries], fleet.locations)
    window = MainWindow(again, fleet.settings)
    qtbot.addWidget(window)
    assert window.profile_name == "shop"
    assert window.windowTitle() == "ChannelDesk — shop"
    window.close()
    again.close()


def test_a_schedule_of_a_profile_not_shown_fires_records_and_notifies(
    qtbot: QtBot, fleet: Fleet
) -> None:
    shop = fleet.workspace("shop")
    assert fleet.window.profile_name == "sandbox"
    # Two orders the shop's Omnitron will not take: the run ends with failures.
    generated = fleet.market.control.post("orders/generate", json={"count": 2, "broken_share": 1.0})
    generated.raise_for_status()
    shop.scheduler.set_schedule(Flow.FETCH_ORDERS, 5, True)
    assert fleet.settings.value("schedule/shop/fetch-orders/minutes") in (5, "5")
    qtbot.waitUntil(lambda: overview_text(fleet, "shop", "next") == "Fetch orders at 09:05")
    messages: list[str] = []
    # Without a system tray (offscreen) the notification goes to the status bar.
    fleet.window.statusBar().messageChanged.connect(messages.append)
    fleet.clock.advance(6)
    with qtbot.waitSignal(shop.lanes.finished, timeout=RUN_MS) as finished:
        shop.scheduler.tick()
    result = finished.args[1]
    assert (result.created, result.failed) == (SHOP_ORDERS, 2)
    assert fleet.omnitron.control.get("summary").json()["counts"]["orders"] == SHOP_ORDERS
    runs = shop.session.store.list_runs(flow=Flow.FETCH_ORDERS.value)
    assert [(run.created, run.failed) for run in runs] == [(SHOP_ORDERS, 2)]
    # The notification names the profile, which is not the one shown.
    assert any(m.startswith("shop: Scheduled Fetch orders: 2 failed") for m in messages), messages
    # The sandbox's schedule did not fire with it.
    assert fleet.workspace("sandbox").session.store.list_runs() == []
    qtbot.waitUntil(lambda: overview_text(fleet, "shop", "next") == "Fetch orders at 09:11")
    qtbot.waitUntil(
        lambda: overview_text(fleet, "shop", "flow:fetch-orders").startswith("2 failures"),
        timeout=READY_MS,
    )
    assert fleet.window.overview_model.badge("shop", "flow:fetch-orders") == "warning"


def test_old_schedules_move_under_the_profile_once(tmp_path: Path) -> None:
    settings = ini_settings(tmp_path / "console.ini")
    settings.setValue("schedule/check-batches/minutes", 7)
    settings.setValue("schedule/check-batches/enabled", True)
    settings.setValue("schedule/update-orders/minutes", 3)
    settings.setValue("schedule/shop/update-orders/minutes", 9)  # set already: it wins

    assert migrate_legacy_schedules(settings, "shop")
    assert not migrate_legacy_schedules(settings, "other")  # once: nothing left to move

    scheduler = Scheduler(settings, profile="shop")
    assert scheduler.schedule(Flow.CHECK_BATCHES).minutes == 7
    assert scheduler.schedule(Flow.CHECK_BATCHES).enabled
    assert scheduler.schedule(Flow.UPDATE_ORDERS).minutes == 9
    assert not settings.contains("schedule/check-batches/minutes")
    other = Scheduler(settings, profile="other")
    assert not other.schedule(Flow.CHECK_BATCHES).enabled


def test_the_selector_has_a_shortcut(qtbot: QtBot, fleet: Fleet) -> None:
    window = fleet.window
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    selector = window.findChild(QComboBox, "profile-selector")
    assert selector is not None
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: selector.view().isVisible())  # its list is open
    selector.hidePopup()
    assert [selector.itemData(i) for i in range(selector.count())] == [
        "sandbox",
        "shop",
        "broken",
    ]


def test_a_workers_profile_shows_the_files_schedules_and_fires_none(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = "http://127.0.0.1:9/"
    table = sim_profile(
        nowhere,
        nowhere,
        runner="workers",
        broker_url="redis://127.0.0.1:9/0",
        schedules={"fetch-orders": 10},
    )
    config = write_profiles(tmp_path / "profiles.toml", {"farm": table})
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    profiles = [p for p in load_profiles(config).values() if p.name == "farm"]
    hub = ProfilesHub.open(profiles, Locations(tmp_path / "data", config))
    window = MainWindow(hub, ini_settings(tmp_path / "console.ini"))
    qtbot.addWidget(window)
    farm = window.workspace_of("farm")
    panel = farm.panels[Flow.FETCH_ORDERS]
    assert panel.next_run.text() == "Every 10 min, by main.py beat"
    assert not panel.schedule_enabled.isEnabled()
    assert window.overview_model.text("farm", "next") == "beat: fetch-orders every 10 min"
    # The console does not fire them (its scheduler never ticks): `main.py beat` does.
    assert not farm.scheduler.is_running
    # Nor can they be edited here: an edit is not kept.
    panel.schedule_edited.emit(Flow.FETCH_ORDERS, 3, True)
    assert not farm.scheduler.schedule(Flow.FETCH_ORDERS).enabled
    assert panel.next_run.text() == "Every 10 min, by main.py beat"
    window.close()
    hub.close()


def test_sync_from_omnitron_of_the_profile_shown_shows_the_other_deployments_batch(
    qtbot: QtBot, fleet: Fleet
) -> None:
    # Another deployment of the shop's channel, as a plain HTTP client of its Omnitron.
    config = fleet.omnitron.config
    other = OmnitronApi(
        fleet.omnitron.base_url, config.username, config.password, config.channel_id
    )
    try:
        order = create_order(other)
        batch = new_batch(other)
        set_batch(other, batch, "commit", objects=order_objects(order), content_type="order")
    finally:
        other.close()
    window = fleet.window
    assert window.show_profile("shop")
    window.tabs.setCurrentWidget(window.batches_view)
    shop = fleet.workspace("shop")
    button = window.findChild(QPushButton, "batches-sync")
    assert button is not None
    assert window.batches_view.isAncestorOf(button)
    with qtbot.waitSignal(shop.mirror.finished, timeout=RUN_MS) as synced:
        button.click()
    assert "1 new batch request" in synced.args[0]
    assert synced.args[0] in window.statusBar().currentMessage()
    model = window.batches_view.model
    qtbot.waitUntil(lambda: [b.pk for b in model.records()] == [batch["pk"]], timeout=READY_MS)
    assert model.records()[0].origin == "remote"
    # Only the shop's store has it.
    assert fleet.workspace("sandbox").session.store.count_batches() == 0
