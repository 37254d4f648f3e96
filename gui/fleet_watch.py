"""Every run of a ``workers`` profile, whoever sent it, kept in the console's store.

The profile's workers publish each change of a run on Redis (service/fleet/protocol.py).
:class:`FleetWatch` follows them on a background thread — runs this console sent, runs
other consoles or ``main.py run`` sent, runs beat fired — and records each one into the
console's own store (:meth:`Store.record_remote_run`, one row per task), so the Runs
view lists them with their worker's host and pid. Published changes are lost while
nobody listens, so it also reads the profile's latest runs when it starts and every
:data:`RESYNC_MS` after. It tells the GUI thread through a :class:`~gui.tasks.Channel`;
the background threads touch no Qt object.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from gui.tasks import Channel, Task, TaskRunner
from service.fleet.protocol import RUNS_INDEX_LIMIT, RemoteRun
from service.flows.lease import this_host
from service.store import Store

if TYPE_CHECKING:  # the workers extra is optional; only workers profiles load it
    from service.fleet.client import FleetClient

_log = logging.getLogger(__name__)

# How often the latest runs are read again (what pub/sub lost while away comes back).
RESYNC_MS = 30_000
# How long stop() waits for the background threads (a read of Redis is short).
STOP_WAIT_MS = 5_000


class FleetWatch(QObject):
    """Follows every run of one ``workers`` profile into the console's store.

    ``runs_recorded`` (on the GUI thread) follows the changes the store took — a run
    started on a worker, moved to another one, or finished — those that came together
    in one emission (a first read may bring hundreds: one refresh of a view, not one each).
    """

    runs_recorded = Signal(list)  # list[RemoteRun]

    def __init__(self, client: FleetClient, store: Store, parent: QObject | None = None) -> None:
        """Follow ``client``'s profile into ``store`` (a store the flows write to)."""
        super().__init__(parent)
        # Following the events channel, and a re-read of the latest runs now and then.
        self._runner = TaskRunner(max_threads=2, parent=self, name="fleet-watch")
        channel = self._runner.channel(self._recorded)
        # What the background threads use: plain Python, no Qt object of ours.
        self._recorder = _Recorder(client, store, channel)
        self._recorded_runs: list[RemoteRun] = []
        # Emits what the channel delivered in one go, once the GUI thread is free again.
        self._emit_timer = QTimer(self)
        self._emit_timer.setSingleShot(True)
        self._emit_timer.setInterval(0)
        self._emit_timer.timeout.connect(self._emit_recorded)
        self._following: Task | None = None
        self._resyncing: Task | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(RESYNC_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        """Read the latest runs and follow the changes, until :meth:`stop`."""
        self._timer.start()
        self._tick()

    def stop(self) -> bool:
        """Stop following; ``False`` when the threads did not end within a bounded wait."""
        self._timer.stop()
        self._emit_timer.stop()
        self._recorder.stop.set()
        self._runner.close_channel(self._recorder.channel)
        ended = self._runner.wait(STOP_WAIT_MS)
        self._runner.close()
        return ended

    def _tick(self) -> None:
        """Re-read the latest runs; follow the events again if following stopped."""
        if self._recorder.stop.is_set():
            return
        recorder = self._recorder
        if self._resyncing is None or self._resyncing.done():
            self._resyncing = self._runner.submit(recorder.resync, on_failed=_resync_failed)
        if self._following is None or self._following.done():
            self._following = self._runner.submit(recorder.follow, on_failed=_follow_failed)

    def _recorded(self, run: RemoteRun) -> None:
        self._recorded_runs.append(run)
        self._emit_timer.start()

    def _emit_recorded(self) -> None:
        runs, self._recorded_runs = self._recorded_runs, []
        if runs and not self._recorder.stop.is_set():
            self.runs_recorded.emit(runs)


def _resync_failed(message: str) -> None:
    _log.warning("could not read the latest runs of the workers: %s", message)


def _follow_failed(message: str) -> None:
    # Tried again at the watch's next tick.
    _log.warning("stopped following the runs of the workers: %s", message)


class _Recorder:
    """The watch's background work: runs from Redis into the store, news to the channel."""

    def __init__(self, client: FleetClient, store: Store, channel: Channel) -> None:
        self.client = client
        self.store = store
        self.channel = channel
        self.stop = threading.Event()
        self.here = this_host()
        self._lock = threading.Lock()
        # The latest state taken of each task, so older or unchanged ones are skipped.
        self._seen: dict[str, RemoteRun] = {}

    def resync(self) -> None:
        """Record the profile's latest runs (what the events channel may have lost)."""
        # Oldest first, so the rows of runs never seen before are added in their order.
        for run in reversed(self.client.recent()):
            if self.stop.is_set():
                return
            self.take(run)

    def follow(self) -> None:
        """Record every change published, until ``stop`` is set."""
        for event in self.client.events(self.stop):
            self.take(event.state)

    def take(self, run: RemoteRun) -> None:
        """Record ``run`` unless an equal or newer state of its task was taken already."""
        with self._lock:
            seen = self._seen.get(run.task_id)
            if seen is not None and (run.updated_at <= seen.updated_at or _same_record(seen, run)):
                if run.updated_at > seen.updated_at:
                    self._seen[run.task_id] = run  # progress only: nothing to record
                return
            self._seen[run.task_id] = run
            self._forget_ended()
            # Under the lock: two threads must not write one task's states out of order.
            recorded = self.store.record_remote_run(run, local_host=self.here)
        if recorded is not None:
            self.channel.send(run)

    def _forget_ended(self) -> None:
        """Keep the memory of seen tasks bounded: ended ones go first."""
        if len(self._seen) <= 2 * RUNS_INDEX_LIMIT:
            return
        for task_id, run in list(self._seen.items()):
            if run.state in ("finished", "refused"):
                del self._seen[task_id]


def _same_record(a: RemoteRun, b: RemoteRun) -> bool:
    """Whether the store would keep the same of both states (progress aside)."""
    return (a.state, a.run_id, a.host, a.pid) == (b.state, b.run_id, b.host, b.pid)
