"""Stress for Qt object ownership across threads, with automatic GC on and eager.

``python -m tests.gui.ownership_stress ROUNDS`` opens consoles on the sandbox one after
the other; in each it runs short flows, refreshes every view, reads the store, tests
the connection from Settings and closes the dialog at once, then closes the console.
Python's collector runs with a threshold of 30 allocations, so collections happen
constantly on every thread: the flows' and readers' workers, the simulators' server
threads.

Every Python wrapper of the console's own Qt classes is watched (``weakref.finalize``
records on which thread it dies). It prints one JSON line: how many wrappers of a
live console died on another thread than the GUI thread (must be 0: a worker held
the last reference, or a cycle holding a live Qt object was collected there), and
how many sessions outlived their close as a Python-owned Qt object (must be 0:
a collection on any thread would destroy it there). A crash is the process dying.
"""

from __future__ import annotations

import collections
import gc
import inspect
import json
import pkgutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QRunnable, QSettings
from PySide6.QtWidgets import QApplication

import gui
from gui.main_window import MainWindow
from gui.session import ConsoleSession
from gui.views.settings_dialog import SettingsDialog
from gui.workers import SessionState
from service.config import builtin_sandbox
from service.connect import Locations
from service.flows.names import Flow
from service.sandbox.launcher import SandboxOptions

GC_THRESHOLD = 30
FLOWS = (Flow.FETCH_ORDERS, Flow.UPDATE_ORDERS, Flow.FETCH_CANCELS, Flow.FETCH_ITEM_UPDATES)


class Deaths:
    """Where wrappers of the console's Qt classes die."""

    def __init__(self) -> None:
        # Wrappers of a console that was still open when they died elsewhere: a bug.
        self.live: collections.Counter[str] = collections.Counter()
        # Wrappers of a closed (deleted) console freed by a collection elsewhere: fine,
        # their Qt objects are gone already.
        self.after_close: collections.Counter[str] = collections.Counter()
        self.watched = 0
        self.console = 0
        self.open_consoles: set[int] = set()

    def watch_console_classes(self) -> None:
        for info in pkgutil.walk_packages(gui.__path__, "gui."):
            module = import_module(info.name)
            for name, cls in vars(module).items():
                if (
                    inspect.isclass(cls)
                    and cls.__module__ == module.__name__
                    and issubclass(cls, (QObject, QRunnable))
                ):
                    self._wrap(cls, f"{module.__name__}.{name}")

    def _wrap(self, cls: type, label: str) -> None:
        original = cls.__init__
        deaths = self

        def init(self: object, *args: object, **kwargs: object) -> None:
            original(self, *args, **kwargs)
            deaths.watched += 1
            weakref.finalize(self, deaths.died, label, deaths.console)

        cls.__init__ = init  # type: ignore[misc]

    def died(self, label: str, console: int) -> None:
        thread = threading.current_thread()
        if thread is threading.main_thread():
            return
        key = f"{label} on {thread.name}"
        if console in self.open_consoles:
            self.live[key] += 1
        else:
            self.after_close[key] += 1


def spin(app: QApplication, done: Callable[[], bool], timeout_s: float = 120) -> None:
    """Run the event loop until ``done()``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the console did not get there in time")
        app.processEvents()
        time.sleep(0.002)


def one_console(app: QApplication, data: Path, iterations: int) -> ConsoleSession:
    """Open a console, work it hard, close it; returns its (closed) session."""
    locations = Locations(data / "data", data / "profiles.toml")
    session = ConsoleSession(builtin_sandbox(), locations, sandbox_options=SandboxOptions(orders=4))
    window = MainWindow(session, QSettings(str(data / "console.ini"), QSettings.Format.IniFormat))
    window.show()
    session.start()
    spin(app, lambda: session.state is not SessionState.STARTING)
    assert session.state is SessionState.READY, session.error
    for index in range(iterations):
        for flow in FLOWS:
            window.run_flow(flow)
        window.refresh_views()
        session.ping()
        dialog = SettingsDialog(locations, window.settings, window)
        dialog.show()
        dialog.test_connection("omnitron")
        if index % 2:
            # Closed while its test runs: the answer must find nobody, harmlessly.
            dialog.close()
            dialog.deleteLater()
        else:
            spin(app, lambda dialog=dialog: not dialog.testing())
            dialog.deleteLater()
        spin(app, lambda: not window.lanes.running())
        window.tabs.setCurrentIndex(index % window.tabs.count())
        window.refresh_views()
    window.close()  # closes the session
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return session


def main(argv: list[str]) -> int:
    """Run the stress; prints one JSON line; exit 0 when ownership held."""
    rounds = int(argv[0]) if argv else 3
    iterations = int(argv[1]) if len(argv) > 1 else 4
    app = QApplication.instance() or QApplication(["ownership-stress"])
    assert isinstance(app, QApplication)
    MainWindow.confirm_close_during_runs = lambda self: True  # type: ignore[method-assign]
    deaths = Deaths()
    deaths.watch_console_classes()
    gc.enable()
    gc.set_threshold(GC_THRESHOLD, 5, 5)
    live_sessions = 0
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(1, rounds + 1):
            deaths.console = round_no
            deaths.open_consoles.add(round_no)
            session = one_console(app, Path(tmp) / str(round_no), iterations)
            # The window was deleted on this thread; only wrappers are left to collect.
            deaths.open_consoles.discard(round_no)
            if shiboken6.isValid(session):
                live_sessions += 1
            del session
        gc.collect()
    report = {
        "rounds": rounds,
        "watched": deaths.watched,
        "live_off_thread_deaths": dict(deaths.live),
        "closed_off_thread_deaths": sum(deaths.after_close.values()),
        "sessions_alive_after_close": live_sessions,
    }
    print(json.dumps(report), flush=True)
    return 0 if not deaths.live and not live_sessions else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
