"""A run's events, kept in the store so its log outlives the process that ran it.

Events arrive from worker threads, hundreds per run: they are buffered and written
in one transaction per :data:`FLUSH_EVENTS` events or :data:`FLUSH_SECONDS` seconds,
and whatever is left when the run ends. Events before the run has an id (waiting for
a lease) are kept until it has one.
"""

from __future__ import annotations

import threading
import time

from service.flows.context import FlowEvent
from service.store import RunLogEntry, Store
from service.store_records import utc_now

FLUSH_EVENTS = 200
FLUSH_SECONDS = 1.0


class RunLogWriter:
    """Buffers one run's events and appends them to its ``run_log``."""

    def __init__(self, store: Store) -> None:
        """Write to ``store``; nothing is written until :meth:`attach` names the run."""
        self._store = store
        self._lock = threading.Lock()
        self._pending: list[RunLogEntry] = []
        self._run_id: int | None = None
        self._last_flush = time.monotonic()

    def attach(self, run_id: int) -> None:
        """The run is recorded as ``run_id``: events so far and from now on are its."""
        with self._lock:
            self._run_id = run_id
        self.flush()

    def add(self, event: FlowEvent) -> None:
        """Keep ``event``; write the buffer when it is full or old enough."""
        with self._lock:
            self._pending.append(
                RunLogEntry(
                    run_id=self._run_id or 0,
                    at=utc_now(),
                    level=event.level,
                    kind=event.kind,
                    subject=event.subject,
                    message=event.message,
                )
            )
            due = (
                len(self._pending) >= FLUSH_EVENTS
                or time.monotonic() - self._last_flush >= FLUSH_SECONDS
            )
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the buffered events now (nothing while the run has no id yet)."""
        with self._lock:
            if self._run_id is None or not self._pending:
                return
            events, self._pending = self._pending, []
            self._last_flush = time.monotonic()
            # Written under the lock, so two flushes never reorder the log.
            self._store.append_run_log(self._run_id, events)
