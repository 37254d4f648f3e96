"""Store reads on a background thread, with results delivered on the GUI thread.

A broad full-text search over a few hundred thousand error reports takes SQLite a
good part of a second to sort; run on the GUI thread, that would freeze the window.
Every store read of the console therefore goes through a :class:`StoreReader`: a
one-thread lane of the console's :class:`~gui.tasks.TaskRunner` with its own
connection to the store's file (WAL lets it read while a flow writes, and it never
contends for the GUI's connection lock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from gui.tasks import Task, TaskRunner
from service.store import Store

Work = Callable[[Store], Any]
Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class _Connection:
    """The worker's own store (plain Python: used on the reader's one thread only)."""

    def __init__(self, store: Store) -> None:
        self._shared = store
        self._own: Store | None = None

    def store(self) -> Store:
        """The store to read from; called on the worker thread only."""
        if self._shared.path is None:
            # An in-memory store exists only on its own connection; share it (it locks).
            return self._shared
        if self._own is None:
            self._own = Store(self._shared.path)
        return self._own

    def close(self) -> None:
        """Close the worker's connection (on the worker thread, as the last task)."""
        if self._own is not None:
            self._own.close()
            self._own = None


class StoreReader(QObject):
    """Runs ``work(store)`` on a worker thread and calls back on the GUI thread.

    One thread: reads finish, and are delivered, in the order they were submitted.
    """

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        """Read ``store`` (its file, through a second connection) in the background."""
        super().__init__(parent)
        self._connection = _Connection(store)
        self._runner = TaskRunner(max_threads=1, parent=self, name="store-reader")
        self._closed = False

    def submit(self, work: Work, on_done: Done, on_error: Failed | None = None) -> Task:
        """Queue ``work``; ``on_done(result)`` or ``on_error(exc)`` run on the GUI thread.

        Cancelling the returned task before it starts drops the work silently.
        """
        if self._closed:
            raise RuntimeError("the store reader is closed")
        connection = self._connection

        def deliver(task: Task) -> None:
            error = task.exception()
            if error is None:
                on_done(task.result())
            elif on_error is not None:
                on_error(error)
            else:
                raise error

        return self._runner.start(lambda: work(connection.store()), deliver)

    @property
    def busy(self) -> bool:
        """True while some submitted work has not been delivered."""
        return self._runner.busy

    def close(self) -> None:
        """Stop reading: queued work is dropped, the connection closed."""
        if self._closed:
            return
        self._closed = True
        self._runner.close(last=self._connection.close)
