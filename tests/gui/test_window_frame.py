"""The window's frame: tab actions and shortcuts, title, minimum size, Qt libraries."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QPushButton
from pytestqt.qtbot import QtBot

from gui.app import configure_application
from gui.main_window import MainWindow
from gui.qt_libs import missing_libraries, packages_for, uses_xcb
from gui.session import ConsoleSession
from gui.theme import apply_theme, contrast_ratio
from service.config import builtin_sandbox
from service.connect import Locations
from service.flows.names import Flow
from service.flows.registry import flow_tabs
from service.paths import PROJECT_ROOT


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """A console window whose connection is never opened (the frame needs none)."""
    session = ConsoleSession(builtin_sandbox(), Locations(tmp_path / "data", tmp_path / "p.toml"))
    settings = QSettings(str(tmp_path / "console.ini"), QSettings.Format.IniFormat)
    window = MainWindow(session, settings)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()
    session.close()


def test_every_view_action_opens_its_own_tab(window: MainWindow) -> None:
    keys = window._tab_keys
    assert len(keys) > 2
    # Backwards, so the first tab is never the current one by accident.
    for index in reversed(range(len(keys))):
        action = window.findChild(QAction, f"action-tab-{keys[index]}")
        assert action is not None
        action.trigger()
        assert window.tabs.currentIndex() == index, keys[index]


def test_ctrl_digit_switches_to_that_tab(window: MainWindow, qtbot: QtBot) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    for digit in (3, 9, 2):
        qtbot.keyClick(window, getattr(Qt.Key, f"Key_{digit}"), Qt.KeyboardModifier.ControlModifier)
        assert window.tabs.currentIndex() == digit - 1


def test_every_registered_flow_has_its_tab_and_panel(window: MainWindow) -> None:
    for key, title, flows in flow_tabs():
        index = window._tab_keys.index(key)
        assert window.tabs.tabText(index) == title
        tab = window.tabs.widget(index)
        for flow in flows:
            assert window.panels[flow].parent() is not None
            assert tab.isAncestorOf(window.panels[flow]), flow
            assert tab.findChild(QPushButton, f"run-{flow.value}") is not None, flow
    assert set(window.panels) == set(Flow)


def test_title_names_the_profile_once(window: MainWindow, qapp: QApplication) -> None:
    configure_application(qapp)
    assert window.windowTitle() == "ChannelDesk — sandbox"
    # Qt appends a set display name to every title on X11; none may be set. Without
    # one, the display name follows the application name.
    name = qapp.applicationName()
    try:
        qapp.setApplicationName("probe")
        assert qapp.applicationDisplayName() == "probe"
    finally:
        qapp.setApplicationName(name)


def test_window_fits_a_1280_by_720_screen(window: MainWindow, qtbot: QtBot) -> None:
    # 720 px less a title bar and a panel.
    minimum = window.minimumSize()
    assert minimum.width() <= 1280, minimum
    assert minimum.height() <= 640, minimum
    window.resize(1280, 640)
    qtbot.waitUntil(lambda: window.height() == 640)
    assert window.width() == 1280


def test_banner_links_read_on_the_banner_in_the_dark_theme(
    window: MainWindow, qapp: QApplication
) -> None:
    apply_theme(qapp, "dark")
    try:
        text = window.findChild(QLabel, "sandbox-banner-text")
        assert text is not None
        link = text.palette().color(QPalette.ColorRole.Link)
        # The banner's yellow is the same in both themes.
        assert contrast_ratio(link, "#fff4ce") >= 4.5
    finally:
        apply_theme(qapp, "light")


LDD = """\
\tlibQt6XcbQpa.so.6 => /opt/Qt/lib/libQt6XcbQpa.so.6 (0x00007f6a565d4000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f6a56530000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibfoo.so.3 => not found
"""


def test_missing_xcb_libraries_become_package_names() -> None:
    assert missing_libraries(LDD) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libfoo.so.3"]
    assert packages_for(missing_libraries(LDD)) == [
        "libxcb-icccm4",
        "libxcb-keysyms1",
        "libfoo.so.3",
    ]


def test_only_an_x11_start_is_checked() -> None:
    assert uses_xcb({}, "linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not uses_xcb({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not uses_xcb({}, "darwin")


def test_console_start_names_the_packages_qt_lacks(tmp_path: Path) -> None:
    # An ldd that answers like the one on a fresh Debian machine (the libraries missing
    # there), first on PATH: the check must run before Qt aborts with its own message.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_ldd = bin_dir / "ldd"
    fake_ldd.write_text(f"#!/bin/sh\ncat <<'EOF'\n{LDD}EOF\n", encoding="utf-8")
    fake_ldd.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "QT_QPA_PLATFORM": "xcb",
        "DISPLAY": ":0",
        "CHANNELDESK_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run(
        [sys.executable, "main.py"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "xcb-cursor0 or libxcb-cursor0 is needed" not in done.stderr
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libfoo.so.3" in done.stderr
