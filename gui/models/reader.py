"""Store reads on a background thread, with results delivered on the GUI thread.

A broad full-text search over a few hundred thousand error reports takes SQLite a
good part of a second to sort; run on the GUI thread, that would freeze the window.
Every table query therefore goes through a :class:`StoreReader`: one worker thread
per model with its own connection to the store's file (WAL lets it read while a
flow writes, and it never contends for the GUI's connection lock).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, QTimer

from service.store import Store

Work = Callable[[Store], Any]
Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]

# How often the GUI thread looks for finished reads while any are pending.
POLL_MS = 4


class _ReaderThread:
    """The executor and the worker's own store (plain Python: no Qt object crosses threads)."""

    def __init__(self, store: Store) -> None:
        self._shared = store
        self._own: Store | None = None
        self._lock = threading.Lock()
        self._futures: set[Future[Any]] = set()
        self._closed = False
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-reader")

    def store(self) -> Store:
        """The store to read from; called on the worker thread only."""
        if self._shared.path is None:
            # An in-memory store exists only on its own connection; share it (it locks).
            return self._shared
        if self._own is None:
            self._own = Store(self._shared.path)
        return self._own

    def submit(self, run: Callable[[], Any]) -> Future[Any]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the store reader is closed")
            future = self.executor.submit(run)
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _close_own(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None

    def close(self, *_args: object) -> None:
        """Drop queued reads, close the worker's connection, let the thread end."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for future in list(self._futures):
                future.cancel()
            self.executor.submit(self._close_own)
        self.executor.shutdown(wait=False)


class StoreReader(QObject):
    """Runs ``work(store)`` on a worker thread and calls back on the GUI thread.

    The worker never touches a Qt object: it only completes a future. A timer on the
    GUI thread, running only while work is pending, hands finished results to their
    callbacks in submission order. So nothing can reach a view Qt is deleting.
    """

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        """Read ``store`` (its file, through a second connection) in the background."""
        super().__init__(parent)
        self._thread = _ReaderThread(store)
        self._waiting: deque[tuple[Future[Any], Done, Failed | None]] = deque()
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._deliver)
        # No close on ``destroyed``: connecting it to a plain callable trips a PySide
        # refcount bug at exit. Unreferenced, the executor's thread ends by itself and
        # the worker's connection is closed when collected; close() is for the eager.

    def submit(self, work: Work, on_done: Done, on_error: Failed | None = None) -> Future[Any]:
        """Queue ``work``; ``on_done(result)`` or ``on_error(exc)`` run on the GUI thread.

        Cancelling the returned future before it starts drops the work silently.
        """
        thread = self._thread
        future = thread.submit(lambda: work(thread.store()))
        self._waiting.append((future, on_done, on_error))
        if not self._poll.isActive():
            self._poll.start()
        return future

    @property
    def busy(self) -> bool:
        """True while some submitted work has not been delivered."""
        return bool(self._waiting)

    def close(self) -> None:
        """Stop reading: queued work is dropped, the connection closed."""
        self._poll.stop()
        self._waiting.clear()
        self._thread.close()

    def _deliver(self) -> None:
        # One worker thread: futures finish in the order they were queued.
        while self._waiting and self._waiting[0][0].done():
            future, on_done, on_error = self._waiting.popleft()
            if future.cancelled():
                continue
            error = future.exception()
            if error is None:
                on_done(future.result())
            elif on_error is not None:
                on_error(error)
            else:
                raise error
        if not self._waiting:
            self._poll.stop()
