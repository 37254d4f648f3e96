"""Background work for the GUI: a task runner and one lane per flow.

Everything slow (opening the connection, pinging Omnitron, running a flow) runs on a
:class:`~gui.tasks.TaskRunner` (the console's one background runner). Results come
back to the GUI thread only through it, as typed payloads (:class:`Progress`,
:class:`FlowEvent`, :class:`FlowResult`); code running in the background never
touches a widget or any other Qt object of the window.

:class:`FlowLanes` builds the flow lanes on the runner: at most one run per flow at a
time, cancellable, with progress and events relayed through a runner channel.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from gui.tasks import Channel, TaskRunner
from service.flows.context import CancelToken, FlowEvent, Progress, RunContext
from service.flows.lease import LeaseBusy
from service.flows.names import Flow
from service.flows.registry import spec
from service.flows.result import FlowResult
from service.flows.retry import NothingToRetry
from service.flows.run import FlowOptions
from service.order_service import OrderService
from service.store_errors import StoreError

_log = logging.getLogger(__name__)


class SessionState(StrEnum):
    """Where the console's connection stands."""

    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"


def flow_title(flow: Flow) -> str:
    """The flow's name as people read it: ``fetch-orders`` → ``Fetch orders``."""
    return spec(flow).title


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


# Events that say a run waits (for another run's lease; for a worker to take it from
# the queue), and those that say it goes on.
_QUEUED = frozenset({"run.waiting", "remote.queued"})
_QUEUED_OR_TAKEN = _QUEUED | {"run.started", "remote.taken"}


@dataclass(slots=True)
class _Lane:
    """The run in progress on one flow's lane."""

    cancel: CancelToken
    # Progress and events from the run's threads to the GUI thread.
    channel: Channel
    # Set when the console stops following the run (a run on workers goes on there).
    detached: threading.Event = field(default_factory=threading.Event)
    last_progress: Progress | None = None
    # Waiting for another run's lease (queued), not running yet.
    waiting: bool = False


@dataclass(frozen=True)
class RetryRefused:
    """A retry that did not start: nothing left to retry, or items it cannot retry."""

    message: str


@dataclass(frozen=True)
class RemoteRefusal:
    """A run sent to the workers that never started; shown like a lease refusal.

    ``str()`` says why (another live run owns the flow, no broker, cancelled before a
    worker took it); ``cancelled``: the operator cancelled it while it waited.
    """

    message: str
    cancelled: bool = False

    def __str__(self) -> str:
        return self.message


class FlowRunner(Protocol):
    """What runs a flow for a profile: the ``OrderService`` here, or its workers
    (``service.fleet.client.RemoteFlowRunner``); see ``ConsoleSession.flow_runner``."""

    def run(
        self, flow: Flow, options: FlowOptions | None = None, ctx: RunContext | None = None
    ) -> FlowResult:
        """Run ``flow`` to its end, reporting through ``ctx``."""
        ...


LaneWork = Callable[[RunContext], FlowResult | RetryRefused]
LaneOutcome = FlowResult | LeaseBusy | RemoteRefusal | StoreError | RetryRefused


def _refusals_as_data(work: LaneWork, ctx: RunContext) -> LaneOutcome:
    """Do a lane's work; a run that could not take its lease (here or on the workers),
    or whose store failed, hands back why, as data (none is a bug to log with a
    traceback)."""
    try:
        return work(ctx)
    except (LeaseBusy, StoreError) as refusal:
        return refusal
    except Exception as error:
        if _is_remote_refusal(error):
            return RemoteRefusal(str(error), cancelled=ctx.cancel.cancelled)
        raise


def _is_remote_refusal(error: Exception) -> bool:
    """Whether ``error`` is the workers' ``RemoteRefused``, or ``FollowStopped`` (the
    console stopped following a run that goes on on its worker).

    The ``workers`` extra (Celery, Redis) is optional, so its client is not imported
    here: these can only have been raised once its module was loaded.
    """
    client = sys.modules.get("service.fleet.client")
    return client is not None and isinstance(error, client.RemoteRefused | client.FollowStopped)


class FlowLanes(QObject):
    """One lane per flow: starts runs on worker threads, never two of the same flow.

    Public signals are always emitted on the GUI thread.
    """

    started = Signal(object)  # Flow
    progress = Signal(object, object)  # Flow, Progress
    event = Signal(object, object)  # Flow, FlowEvent
    finished = Signal(object, object)  # Flow, FlowResult
    # Flow, LeaseBusy or RemoteRefusal: the run did not start (another live run holds
    # its lease, or its workers refused it); str() says why, .cancelled if cancelled
    busy = Signal(object, object)
    crashed = Signal(object, str)  # Flow, message: the run raised instead of returning
    store_failed = Signal(object, object)  # Flow, StoreError: the local store cannot be used
    retry_refused = Signal(object, str)  # Flow, why a retry did not start
    idle_changed = Signal()  # the set of running flows changed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # A thread per flow at most: different flows may run side by side.
        self._runner = TaskRunner(max_threads=len(Flow), parent=self, name="flow")
        self._lanes: dict[Flow, _Lane] = {}

    def running(self) -> frozenset[Flow]:
        """The flows with a run in progress."""
        return frozenset(self._lanes)

    def is_running(self, flow: Flow) -> bool:
        """Whether ``flow`` has a run in progress."""
        return flow in self._lanes

    def is_waiting(self, flow: Flow) -> bool:
        """Whether ``flow``'s run is queued behind another run's lease, or on the
        workers' queue with no worker taking it yet."""
        lane = self._lanes.get(flow)
        return lane is not None and lane.waiting

    def last_progress(self, flow: Flow) -> Progress | None:
        """The latest progress of ``flow``'s run in progress."""
        lane = self._lanes.get(flow)
        return lane.last_progress if lane else None

    def start(self, flow: Flow, runner: FlowRunner, options: FlowOptions) -> bool:
        """Start a run of ``flow`` with ``runner``; ``False`` (and nothing started) when
        its lane is busy.

        ``runner`` runs it here (``OrderService``) or on the profile's workers: the
        lane's progress, events, Cancel and result are the same. It ends with
        ``finished``, or with ``busy`` when another live run holds a lease it needs
        (with ``options.lease_wait_s`` set it waits for it first, cancellable) or the
        workers refused it.
        """
        return self._launch(flow, lambda ctx: runner.run(flow, options, ctx))

    def start_retry(
        self,
        flow: Flow,
        service: OrderService,
        options: FlowOptions,
        *,
        report_ids: Sequence[int] = (),
        cause: str | None = None,
        cause_value: str | None = None,
    ) -> bool:
        """Retry failed items of ``flow`` on its lane, as a run of that flow.

        The items are those of ``report_ids``, or of the open problem ``cause`` /
        ``cause_value`` (``OrderService.retry``). Same signals as :meth:`start`;
        ``False`` (and nothing started) when the lane is busy.
        """
        ids = tuple(report_ids)

        def retry(ctx: RunContext) -> FlowResult | RetryRefused:
            try:
                return service.retry(
                    report_ids=ids, cause=cause, cause_value=cause_value, ctx=ctx, options=options
                )
            except (NothingToRetry, ValueError) as refusal:
                # Resolved meanwhile, or not retryable: an answer, not a crash.
                return RetryRefused(str(refusal))

        return self._launch(flow, retry)

    def _launch(self, flow: Flow, work: LaneWork) -> bool:
        """Do ``work`` on ``flow``'s lane; ``False`` (nothing started) when it is busy.

        ``work`` runs on a worker thread: it must hold no Qt object.
        """
        if flow in self._lanes:
            return False
        ctx = self._open_lane(flow)
        self._runner.submit(
            lambda: _refusals_as_data(work, ctx),
            on_done=lambda result: self._finish(flow, result),
            on_failed=lambda message: self._crash(flow, message),
        )
        self.started.emit(flow)
        self.idle_changed.emit()
        return True

    def _open_lane(self, flow: Flow) -> RunContext:
        """Make ``flow``'s lane; the run's context reports through its channel.

        The context holds no Qt object: the flows call it on their own threads."""
        channel = self._runner.channel(lambda payload: self._relay(flow, payload))
        lane = _Lane(CancelToken(), channel)
        self._lanes[flow] = lane
        return RunContext(
            on_progress=channel.send,
            on_event=channel.send,
            cancel=lane.cancel,
            detached=lane.detached,
        )

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

    def detach_all(self) -> None:
        """Stop following every run: runs on workers go on there, as if never watched."""
        for lane in self._lanes.values():
            lane.detached.set()

    def wait(self, timeout_ms: int) -> bool:
        """Block until every run has returned; ``False`` when ``timeout_ms`` passed first."""
        return self._runner.wait(timeout_ms)

    def _relay(self, flow: Flow, payload: Progress | FlowEvent) -> None:
        lane = self._lanes.get(flow)
        if isinstance(payload, Progress):
            if lane is not None:
                lane.last_progress = payload
            self.progress.emit(flow, payload)
            return
        if lane is not None and payload.kind in _QUEUED_OR_TAKEN:
            lane.waiting = payload.kind in _QUEUED
        self.event.emit(flow, payload)

    def _close_lane(self, flow: Flow) -> None:
        lane = self._lanes.pop(flow, None)
        if lane is not None:
            self._runner.close_channel(lane.channel)

    def _finish(self, flow: Flow, result: LaneOutcome) -> None:
        self._close_lane(flow)
        if isinstance(result, (LeaseBusy, RemoteRefusal)):
            self.busy.emit(flow, result)
        elif isinstance(result, RetryRefused):
            self.retry_refused.emit(flow, result.message)
        elif isinstance(result, StoreError):
            self.store_failed.emit(flow, result)
        else:
            self.finished.emit(flow, result)
        self.idle_changed.emit()

    def _crash(self, flow: Flow, message: str) -> None:
        self._close_lane(flow)
        self.crashed.emit(flow, message)
        self.idle_changed.emit()
