"""Python's garbage collection, kept on the GUI thread.

Flows allocate on pool threads. An automatic collection there can walk the Python
wrappers of widgets the GUI thread is deleting at that moment and crash the
process, so automatic collection is off and the GUI thread collects on a timer.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 1000


def collect_on_gui_thread(parent: QObject) -> QTimer:
    """Turn automatic collection off and collect every second on this thread."""
    gc.disable()
    timer = QTimer(parent)
    timer.setInterval(INTERVAL_MS)
    timer.timeout.connect(gc.collect)
    timer.start()
    return timer
