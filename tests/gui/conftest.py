"""The console on the sandbox: a window over both simulators on loopback ports.

Settings live in an INI file under ``tmp_path`` (never the user's real settings),
data and profiles under ``tmp_path`` too. Waits are on signals, never sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PySide6.QtCore import QEvent, QObject, QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from gui.main_window import MainWindow
from gui.profiles_hub import ProfilesHub
from gui.session import ConsoleSession
from gui.views.settings_dialog import ConnectionLimits, SettingsDialog
from gui.workers import SessionState
from service.config import Profile, Secrets, builtin_sandbox
from service.connect import Locations
from service.sandbox.launcher import SandboxOptions
from tests.gui.settings_form import FakeKeyring

W = TypeVar("W", bound=QObject)

READY_TIMEOUT_MS = 30_000


def fetched_sandbox_session(
    qtbot: QtBot,
    tmp_path: Path,
    *,
    orders: int,
    profile: Profile | None = None,
    timeout_ms: int = READY_TIMEOUT_MS,
) -> ConsoleSession:
    """A ready session on the sandbox (``orders`` orders) whose own fetch-orders has run,
    leaving its batches and failures; the caller closes it."""
    opened = ConsoleSession(
        profile or builtin_sandbox(),
        Locations(tmp_path / "data", tmp_path / "profiles.toml"),
        sandbox_options=SandboxOptions(orders=orders),
    )
    opened.start()
    qtbot.waitUntil(lambda: opened.state is not SessionState.STARTING, timeout=timeout_ms)
    assert opened.state is SessionState.READY, opened.error
    assert opened.service is not None
    opened.service.fetch_and_create_order(is_success_log=False)
    return opened


@pytest.fixture(autouse=True)
def delete_widgets_on_the_gui_thread(qapp: QApplication) -> Iterator[None]:
    """After each test, delete the widgets it closed here, on the GUI thread.

    Garbage collection stays automatic (it may run on any thread): what a test leaves
    behind must be Qt objects already deleted, never live ones a worker's collection
    would destroy (tests/gui/test_ownership.py).
    """
    yield
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@dataclass
class FakeClock:
    """The scheduler's clock: moves only when told."""

    now: datetime = field(default_factory=lambda: datetime(2025, 3, 3, 9, 0, 0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@dataclass
class Console:
    """A ready console and what tests need around it."""

    window: MainWindow
    session: ConsoleSession
    settings: QSettings
    clock: FakeClock
    omnitron: httpx.Client  # /_sandbox/ of the Omnitron simulator
    marketplace: httpx.Client  # /_sandbox/ of the marketplace simulator
    omnitron_url: str

    def find(self, kind: type[W], name: str) -> W:
        """The window's child ``name``; fails clearly when it is missing."""
        widget = self.window.findChild(kind, name)
        assert widget is not None, f"no {kind.__name__} named {name!r}"
        return widget


def ini_settings(path: Path) -> QSettings:
    """Settings in an INI file at ``path``."""
    return QSettings(str(path), QSettings.Format.IniFormat)


@pytest.fixture
def locations(tmp_path: Path) -> Locations:
    return Locations(tmp_path / "data", tmp_path / "profiles.toml")


@pytest.fixture
def make_console(
    qtbot: QtBot, tmp_path: Path, locations: Locations, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Console]]:
    """Factory: ``make_console(orders=…, latency_ms=…)`` opens a ready console."""
    consoles: list[Console] = []
    # Closing during a run answers "yes, cancel and quit" unless a test says otherwise.
    monkeypatch.setattr(MainWindow, "confirm_close_during_runs", lambda self: True)

    def make(orders: int = 6, latency_ms: int = 0, **sandbox: Any) -> Console:
        clock = FakeClock()
        settings = ini_settings(tmp_path / "console.ini")
        hub = ProfilesHub.open(
            [builtin_sandbox()],
            locations,
            sandbox_options=SandboxOptions(orders=orders, latency_ms=latency_ms, **sandbox),
        )
        window = MainWindow(hub, settings, clock=clock)
        qtbot.addWidget(window)
        window.show()
        hub.start()
        session = window.session
        qtbot.waitUntil(
            lambda: session.state is not SessionState.STARTING, timeout=READY_TIMEOUT_MS
        )
        assert session.state is SessionState.READY, session.error
        urls = session.sandbox_urls
        assert urls is not None
        console = Console(
            window,
            session,
            settings,
            clock,
            httpx.Client(base_url=urls[0] + "_sandbox/", timeout=10),
            httpx.Client(base_url=urls[1] + "_sandbox/", timeout=10),
            urls[0],
        )
        consoles.append(console)
        return console

    yield make
    for console in reversed(consoles):
        console.omnitron.close()
        console.marketplace.close()
        console.window.close()
        console.session.close()


@pytest.fixture
def keyring_backend() -> FakeKeyring:
    """An empty keyring for the Settings dialog's secrets."""
    return FakeKeyring()


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    """The console's settings in a file of the test's own."""
    return ini_settings(tmp_path / "console.ini")


@pytest.fixture
def dialog(
    qtbot: QtBot, locations: Locations, qsettings: QSettings, keyring_backend: FakeKeyring
) -> SettingsDialog:
    """The Settings dialog over the test's profiles file, with short connection tests."""
    widget = SettingsDialog(
        locations,
        qsettings,
        None,
        Secrets(env={}, keyring_backend=keyring_backend),
        limits=ConnectionLimits(
            omnitron={"max_attempts": 1, "timeout": 2.0, "deadline": 3.0},
            channel={"max_attempts": 1, "retry_deadline": 2.0, "connect_timeout": 1.0},
        ),
    )
    qtbot.addWidget(widget)
    widget.show()
    return widget
