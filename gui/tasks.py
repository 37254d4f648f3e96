"""The console's one way to run work in the background: :class:`TaskRunner`.

``runner.submit(fn, on_done=…, on_failed=…)`` runs ``fn()`` on one of the runner's
worker threads and returns a :class:`Task` — a :class:`concurrent.futures.Future`
(``cancel()`` while it waits, ``done()``, ``result()``, ``exception()`` kept for
later). The callbacks then run on the GUI thread, woken by a queued signal: nothing
polls.

Object ownership across threads is the point of this module. A Python wrapper of a Qt
object, or a closure holding one, must never lose its last reference on a worker
thread, and a worker must never touch a Qt object the GUI thread may be deleting:

- worker threads are plain Python threads; they hold the task only while calling
  ``fn`` and drop it (and the result) *before* waking the GUI thread, so the GUI
  thread's registry always holds the last reference to the callable, its closures,
  the result and the callbacks, and lets go of them on the GUI thread;
- the only Qt object a worker touches is the process-wide :class:`_Dispatcher`,
  created on the GUI thread and never deleted while the process runs; a runner
  deleted meanwhile simply gets no callbacks;
- a failure's traceback is kept without the frames' local variables, so it cannot
  keep a closure alive in a reference cycle that a collection on another thread
  would free;
- progress from inside ``fn`` goes through a :class:`Channel` (``send`` from any
  thread, the callback on the GUI thread, one wake-up for all messages waiting), not
  through a signal of a QObject the callable holds.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from service.config import ProfileError
from service.store_errors import StoreError

_log = logging.getLogger(__name__)

_ids = itertools.count(1)


class Task(Future[Any]):
    """The handle of one submitted callable (a ``Future``; its ``id`` is unique)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.id = next(_ids)
        self._fn: Callable[[], Any] | None = fn


@dataclass(slots=True)
class _Entry:
    """What the GUI thread keeps of a task until it is delivered."""

    task: Task
    runner: TaskRunner
    deliver: Callable[[Task], None]


@dataclass(slots=True)
class _Listener:
    runner: TaskRunner
    receive: Callable[[Any], None]
    channel: Channel


class _Dispatcher(QObject):
    """Wakes the GUI thread: the one Qt object worker threads touch. Made once, on the
    GUI thread, and kept for the life of the process (a module global)."""

    finished = Signal(int)  # task id
    messages = Signal(int)  # channel id: it has messages waiting

    def __init__(self) -> None:
        super().__init__()
        # Touched on the GUI thread only.
        self.entries: dict[int, _Entry] = {}
        self.listeners: dict[int, _Listener] = {}
        self.finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self.messages.connect(self._relay, Qt.ConnectionType.QueuedConnection)

    @Slot(int)
    def _deliver(self, task_id: int) -> None:
        entry = self.entries.pop(task_id, None)
        if entry is None:
            return
        task = entry.task
        task._fn = None
        runner = entry.runner
        runner._tasks.discard(task_id)
        if task.cancelled() or not shiboken6.isValid(runner) or runner._closed:
            return
        entry.deliver(task)

    @Slot(int)
    def _relay(self, channel_id: int) -> None:
        listener = self.listeners.get(channel_id)
        if listener is None:
            return
        payloads = listener.channel._take()
        for payload in payloads:
            if channel_id not in self.listeners or not shiboken6.isValid(listener.runner):
                return  # closed by an earlier message's receiver
            listener.receive(payload)


_dispatcher: _Dispatcher | None = None


def _the_dispatcher() -> _Dispatcher:
    """The dispatcher; made on first use, which must be on the GUI thread."""
    global _dispatcher
    if _dispatcher is None:
        app = QCoreApplication.instance()
        if app is None or QThread.currentThread() is not app.thread():
            raise RuntimeError("the first TaskRunner must be made on the GUI thread")
        _dispatcher = _Dispatcher()
    return _dispatcher


class Channel:
    """Messages from a running task to the GUI thread (no Qt object of the caller's).

    Messages sent while the GUI thread has not taken the earlier ones yet share one
    wake-up: each wake-up costs the GUI thread the GIL, which busy workers hold for up
    to the switch interval, so a wake-up per message (a flow sends several per order)
    would keep the GUI thread waiting in turn for every one of them.
    """

    def __init__(self, channel_id: int, dispatcher: _Dispatcher) -> None:
        self._id = channel_id
        self._dispatcher = dispatcher
        self._lock = threading.Lock()
        self._waiting: list[object] = []

    def send(self, payload: object) -> None:
        """Queue ``payload`` for the channel's callback; callable from any thread."""
        with self._lock:
            self._waiting.append(payload)
            if len(self._waiting) > 1:
                return  # a wake-up is on its way and will take this one too
        self._dispatcher.messages.emit(self._id)

    def _take(self) -> list[object]:
        """The messages sent so far, in order (GUI thread)."""
        with self._lock:
            taken, self._waiting = self._waiting, []
        return taken


# A worker thread with nothing to do for this long ends (another starts when needed).
IDLE_S = 10.0


class _Pool:
    """Plain Python worker threads (started as needed, up to ``size``)."""

    def __init__(self, size: int, name: str) -> None:
        self._size = max(1, size)
        self._name = name
        self._queue: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Condition()
        self._outstanding = 0
        self._idle = 0
        self._closed = False

    def start(self, task: Task) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the task runner is closed")
            self._outstanding += 1
            self._queue.put(task)
            if self._idle < self._queue.qsize() and len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-worker", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def wait(self, timeout_s: float | None) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self._outstanding == 0, timeout_s)

    @property
    def outstanding(self) -> int:
        with self._lock:
            return self._outstanding

    def close(self) -> None:
        """No new tasks; the threads end once the queued ones are done."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            count = len(self._threads)
        for _ in range(count):
            self._queue.put(None)

    def _work(self) -> None:
        dispatcher = _the_dispatcher()
        while True:
            with self._lock:
                self._idle += 1
            try:
                task = self._queue.get(timeout=IDLE_S)
            except queue.Empty:
                with self._lock:
                    self._idle -= 1
                    # start() puts under the lock: empty here means nothing is coming.
                    if self._queue.empty():
                        self._threads.remove(threading.current_thread())
                        return
                continue
            with self._lock:
                self._idle -= 1
            if task is None:
                with self._lock:
                    self._threads.remove(threading.current_thread())
                return
            task_id = task.id
            _call(task)
            # The GUI thread's registry now holds the last reference: let go first.
            del task
            with self._lock:
                self._outstanding -= 1
                self._lock.notify_all()
            dispatcher.finished.emit(task_id)


def _call(task: Task) -> None:
    """Run the task's callable on this worker; the outcome is kept on the task."""
    if not task.set_running_or_notify_cancel():
        return
    fn = task._fn
    assert fn is not None
    error: BaseException | None = None
    try:
        result = fn()
    except BaseException as exc:  # failures arrive as data, never lost in a thread
        error = exc
    del fn
    if error is None:
        task.set_result(result)
        return
    task.set_exception(_without_locals(error))


def _without_locals(error: BaseException) -> BaseException:
    """``error`` with its traceback (and its causes') kept for the record, but without
    this module's frame and without the frames' local variables: they would keep the
    callable's closures — GUI objects — alive in a cycle a collection on any thread
    frees."""
    trace = error.__traceback__
    error.__traceback__ = trace.tb_next if trace is not None else None
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__
    return error


def describe(exc: BaseException) -> str:
    """A one-line description of an exception for the operator.

    Errors written for the operator (a profile that cannot be used, a store that
    cannot be opened) read as they are; anything else is named by its type.
    """
    text = str(exc).strip() or "".join(traceback.format_exception_only(exc)).strip()
    text = " ".join(text.split())
    if isinstance(exc, ProfileError | StoreError):
        return text
    return f"{type(exc).__name__}: {text}"


class TaskRunner(QObject):
    """Runs callables on its own worker threads and calls back on the GUI thread.

    Make it on the GUI thread. Callbacks of a runner that was deleted are dropped.
    """

    def __init__(
        self, max_threads: int = 4, parent: QObject | None = None, *, name: str = "task"
    ) -> None:
        super().__init__(parent)
        self._dispatcher = _the_dispatcher()
        self._pool = _Pool(max_threads, name)
        self._tasks: set[int] = set()
        self._closed = False

    def submit(
        self,
        fn: Callable[[], Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
    ) -> Task:
        """Run ``fn()`` in the background; ``on_done(result)`` or ``on_failed(message)``
        is then called on the GUI thread. The returned task keeps the exception."""

        def deliver(task: Task) -> None:
            error = task.exception()
            if error is None:
                if on_done is not None:
                    on_done(task.result())
                return
            _log.error("background task failed", exc_info=error)
            if on_failed is not None:
                on_failed(describe(error))

        return self.start(fn, deliver)

    def start(self, fn: Callable[[], Any], deliver: Callable[[Task], None]) -> Task:
        """Run ``fn()`` in the background; ``deliver(task)`` follows on the GUI thread
        once it returned or raised (not when it was cancelled before it started)."""
        task = Task(fn)
        self._dispatcher.entries[task.id] = _Entry(task, self, deliver)
        self._tasks.add(task.id)
        self._pool.start(task)
        return task

    def channel(self, receive: Callable[[Any], None]) -> Channel:
        """A channel whose messages reach ``receive`` on the GUI thread until closed."""
        channel = Channel(next(_ids), self._dispatcher)
        self._dispatcher.listeners[channel._id] = _Listener(self, receive, channel)
        return channel

    def close_channel(self, channel: Channel) -> None:
        """Stop delivering ``channel``'s messages (later ones are dropped)."""
        self._dispatcher.listeners.pop(channel._id, None)

    @property
    def busy(self) -> bool:
        """Whether a task is running or its outcome not yet delivered."""
        return bool(self._tasks)

    def wait(self, timeout_ms: int) -> bool:
        """Block until every task has returned (not delivered); ``False`` on timeout."""
        return self._pool.wait(None if timeout_ms < 0 else timeout_ms / 1000)

    def close(self, last: Callable[[], None] | None = None) -> None:
        """Cancel the tasks not started yet, run ``last()`` (if given) after the running
        ones on a worker thread, and let the threads end. Nothing is delivered after."""
        self._closed = True
        for task_id in list(self._tasks):
            entry = self._dispatcher.entries.get(task_id)
            if entry is not None:
                entry.task.cancel()
        if last is not None:
            self.start(last, lambda _task: None)
        self._pool.close()
