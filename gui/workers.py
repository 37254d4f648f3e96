"""Background work for the GUI: a task runner and one lane per flow.

Everything slow (opening the connection, pinging Omnitron, running a flow) runs on a
``QThreadPool``. Results come back to the GUI thread only through queued signals,
as typed payloads (:class:`Progress`, :class:`FlowEvent`, :class:`FlowResult`);
code running in the background never touches a widget.

:class:`TaskRunner` is the small general tool (think ``run_in_background`` with a
done and a failed callback); :class:`FlowLanes` builds the flow lanes on it: at most
one run per flow at a time, cancellable, with progress and events relayed.
"""

from __future__ import annotations

import itertools
import logging
import traceback
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from service.flows.context import CancelToken, FlowEvent, Progress, RunContext
from service.flows.lease import LeaseBusy
from service.flows.names import Flow
from service.flows.result import FlowResult
from service.flows.run import FlowOptions
from service.order_service import OrderService
from service.store_errors import StoreError

_log = logging.getLogger(__name__)


class _Task(QRunnable):
    """Runs one callable and hands the outcome to its runner (from the worker thread)."""

    def __init__(self, runner: TaskRunner, task_id: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        # Not auto-deleted: the runner holds the only reference until the outcome has
        # been delivered on the GUI thread, so Qt never sees a half-collected object.
        self.setAutoDelete(False)
        self._runner = runner
        self._task_id = task_id
        self._fn = fn

    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # failures arrive as data, never lost in a thread
            _log.error("background task failed", exc_info=exc)
            self._runner._failed_in_worker.emit(self._task_id, _describe(exc))
        else:
            self._runner._done_in_worker.emit(self._task_id, result)


def _describe(exc: BaseException) -> str:
    """A one-line description of an unexpected exception for the operator."""
    text = str(exc).strip() or "".join(traceback.format_exception_only(exc)).strip()
    return f"{type(exc).__name__}: {' '.join(text.split())}"


@dataclass(slots=True)
class _Pending:
    task: _Task
    on_done: Callable[[Any], None] | None
    on_failed: Callable[[str], None] | None


class TaskRunner(QObject):
    """Runs callables on its own thread pool and calls back on the GUI thread."""

    # Emitted from worker threads; connected queued to the slots below.
    _done_in_worker = Signal(int, object)
    _failed_in_worker = Signal(int, str)

    def __init__(self, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._done_in_worker.connect(self._deliver_done, Qt.ConnectionType.QueuedConnection)
        self._failed_in_worker.connect(self._deliver_failed, Qt.ConnectionType.QueuedConnection)

    def submit(
        self,
        fn: Callable[[], Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
    ) -> None:
        """Run ``fn()`` in the background; ``on_done(result)`` or ``on_failed(message)``
        is then called on the GUI thread."""
        task_id = next(self._ids)
        task = _Task(self, task_id, fn)
        self._pending[task_id] = _Pending(task, on_done, on_failed)
        self._pool.start(task)

    @property
    def busy(self) -> bool:
        """Whether a task is running or its outcome not yet delivered."""
        return bool(self._pending)

    def wait(self, timeout_ms: int) -> bool:
        """Block until every task has returned (not delivered); ``False`` on timeout."""
        return self._pool.waitForDone(timeout_ms)

    @Slot(int, object)
    def _deliver_done(self, task_id: int, result: object) -> None:
        pending = self._pending.pop(task_id, None)
        if pending is not None and pending.on_done is not None:
            pending.on_done(result)

    @Slot(int, str)
    def _deliver_failed(self, task_id: int, message: str) -> None:
        pending = self._pending.pop(task_id, None)
        if pending is not None and pending.on_failed is not None:
            pending.on_failed(message)


class SessionState(StrEnum):
    """Where the console's connection stands."""

    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"


def flow_title(flow: Flow) -> str:
    """The flow's name as people read it: ``fetch-orders`` → ``Fetch orders``."""
    return flow.value.replace("-", " ").capitalize()


def preflight(
    flow: Flow,
    *,
    session_state: SessionState,
    session_error: str = "",
    running: Collection[Flow] = (),
    queue: bool = False,
) -> str | None:
    """Why ``flow`` cannot start now, or ``None`` when it can.

    A pure function so the Run button's tooltip, the scheduler and tests all give the
    same answer. The commit-lock answer is only a hint from this console's own lanes:
    the run lease (service/flows/lease.py) is what keeps two committing runs apart,
    here and across processes. With ``queue`` (a scheduled run) that hint does not
    block: the run starts and waits for the lease instead.
    """
    title = flow_title(flow)
    if session_state is SessionState.STARTING:
        return f"{title} can run once the connection is ready (still connecting)."
    if session_state is SessionState.FAILED:
        return f"{title} cannot run: the connection failed: {session_error or 'unknown error'}"
    if session_state is SessionState.CLOSED:
        return f"{title} cannot run: the console is closing."
    if flow in running:
        return f"{title} is already running; it can run again when this run ends."
    if flow.commits and not queue:
        # Omnitron's commit lock: one batch per content type may be in commit at a time.
        for other in running:
            if other.commits and other.content_type == flow.content_type:
                return (
                    f"{title} waits for {flow_title(other)}: Omnitron lets one "
                    f"{flow.content_type} batch be committed at a time."
                )
    return None


@dataclass(slots=True)
class _Lane:
    """The run in progress on one flow's lane."""

    cancel: CancelToken
    last_progress: Progress | None = None
    # Waiting for another run's lease (queued), not running yet.
    waiting: bool = False


def _run_or_busy(
    service: OrderService, flow: Flow, options: FlowOptions, ctx: RunContext
) -> FlowResult | LeaseBusy | StoreError:
    """Run ``flow``; a run that could not take its lease, or whose store failed, hands
    back why, as data (neither is a bug to log with a traceback)."""
    try:
        return service.run(flow, options, ctx)
    except (LeaseBusy, StoreError) as refusal:
        return refusal


class FlowLanes(QObject):
    """One lane per flow: starts runs on worker threads, never two of the same flow.

    Public signals are always emitted on the GUI thread.
    """

    started = Signal(object)  # Flow
    progress = Signal(object, object)  # Flow, Progress
    event = Signal(object, object)  # Flow, FlowEvent
    finished = Signal(object, object)  # Flow, FlowResult
    # Flow, LeaseBusy: the run did not start, another live run holds its lease
    busy = Signal(object, object)
    crashed = Signal(object, str)  # Flow, message: the run raised instead of returning
    store_failed = Signal(object, object)  # Flow, StoreError: the local store cannot be used
    idle_changed = Signal()  # the set of running flows changed

    # Emitted by the flows' callbacks on worker threads; relayed queued.
    _progress_in_worker = Signal(object, object)
    _event_in_worker = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # A thread per flow at most: different flows may run side by side.
        self._runner = TaskRunner(max_threads=len(Flow), parent=self)
        self._lanes: dict[Flow, _Lane] = {}
        self._progress_in_worker.connect(self._relay_progress, Qt.ConnectionType.QueuedConnection)
        self._event_in_worker.connect(self._relay_event, Qt.ConnectionType.QueuedConnection)

    def running(self) -> frozenset[Flow]:
        """The flows with a run in progress."""
        return frozenset(self._lanes)

    def is_running(self, flow: Flow) -> bool:
        """Whether ``flow`` has a run in progress."""
        return flow in self._lanes

    def is_waiting(self, flow: Flow) -> bool:
        """Whether ``flow``'s run is queued behind another run's lease."""
        lane = self._lanes.get(flow)
        return lane is not None and lane.waiting

    def last_progress(self, flow: Flow) -> Progress | None:
        """The latest progress of ``flow``'s run in progress."""
        lane = self._lanes.get(flow)
        return lane.last_progress if lane else None

    def start(self, flow: Flow, service: OrderService, options: FlowOptions) -> bool:
        """Start a run of ``flow``; ``False`` (and nothing started) when its lane is busy.

        It ends with ``finished``, or with ``busy`` when another live run holds a lease
        it needs (with ``options.lease_wait_s`` set it waits for it first, cancellable).
        """
        if flow in self._lanes:
            return False
        lane = _Lane(CancelToken())
        self._lanes[flow] = lane
        ctx = RunContext(
            on_progress=lambda p: self._progress_in_worker.emit(flow, p),
            on_event=lambda e: self._event_in_worker.emit(flow, e),
            cancel=lane.cancel,
        )
        self._runner.submit(
            lambda: _run_or_busy(service, flow, options, ctx),
            on_done=lambda result: self._finish(flow, result),
            on_failed=lambda message: self._crash(flow, message),
        )
        self.started.emit(flow)
        self.idle_changed.emit()
        return True

    def cancel(self, flow: Flow) -> bool:
        """Ask ``flow``'s run to stop at its next safe point; ``False`` if none runs."""
        lane = self._lanes.get(flow)
        if lane is None:
            return False
        lane.cancel.cancel()
        return True

    def cancel_all(self) -> None:
        """Ask every run to stop."""
        for lane in self._lanes.values():
            lane.cancel.cancel()

    def wait(self, timeout_ms: int) -> bool:
        """Block until every run has returned; ``False`` when ``timeout_ms`` passed first."""
        return self._runner.wait(timeout_ms)

    @Slot(object, object)
    def _relay_progress(self, flow: Flow, progress: Progress) -> None:
        lane = self._lanes.get(flow)
        if lane is not None:
            lane.last_progress = progress
        self.progress.emit(flow, progress)

    @Slot(object, object)
    def _relay_event(self, flow: Flow, event: FlowEvent) -> None:
        lane = self._lanes.get(flow)
        if lane is not None and event.kind in ("run.waiting", "run.started"):
            lane.waiting = event.kind == "run.waiting"
        self.event.emit(flow, event)

    def _finish(self, flow: Flow, result: FlowResult | LeaseBusy | StoreError) -> None:
        self._lanes.pop(flow, None)
        if isinstance(result, LeaseBusy):
            self.busy.emit(flow, result)
        elif isinstance(result, StoreError):
            self.store_failed.emit(flow, result)
        else:
            self.finished.emit(flow, result)
        self.idle_changed.emit()

    def _crash(self, flow: Flow, message: str) -> None:
        self._lanes.pop(flow, None)
        self.crashed.emit(flow, message)
        self.idle_changed.emit()
