"""What a running flow gets from its caller: progress, cancellation, events.

Plain Python, no Qt: the GUI turns these callbacks into signals, the CLI into a
progress bar, tests into assertions (or injected crashes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class FlowCancelled(Exception):
    """Raised inside a flow at a safe point after the operator asked it to stop."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a run is: ``done`` of ``total`` items (``None`` while unknown)."""

    done: int
    total: int | None
    current: str = ""


@dataclass(frozen=True, slots=True)
class FlowEvent:
    """Something worth telling the operator, e.g. ``("order.created", "7004512", ...)``.

    ``kind`` is a stable dotted name (tests key on it); ``message`` is for people.
    """

    kind: str
    subject: str
    message: str
    level: int = logging.INFO


class CancelToken:
    """A cooperative stop flag, set from any thread and checked by the flow."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the flow to stop at its next safe point."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`FlowCancelled` when a stop was asked for."""
        if self._event.is_set():
            raise FlowCancelled("cancelled by the operator")


def _ignore(_: object) -> None:
    """The default callback: nobody listens."""


_log = logging.getLogger("channeldesk.flows")


def _log_event(event: FlowEvent) -> None:
    _log.log(event.level, "%s", event.message)


@dataclass
class RunContext:
    """Callbacks and the cancel flag of one run. Callbacks may come from worker threads."""

    on_progress: Callable[[Progress], None] = _ignore
    on_event: Callable[[FlowEvent], None] = _log_event
    cancel: CancelToken = field(default_factory=CancelToken)
    # The latest progress, so a run that stops can say how far it got.
    last_progress: Progress | None = None
    # Set by the runner for the run's duration: every event also goes to the run's
    # persisted log, whoever listens to ``on_event``.
    log_sink: Callable[[FlowEvent], None] | None = None
    # The Celery task this run is done for, on a worker; recorded as the run's task_id.
    task_id: str | None = None
    # Called with the run's id once the store has recorded it (before any work).
    on_recorded: Callable[[int], None] = _ignore
    # Set when nobody follows the run any more (the console closes). A run that goes
    # on elsewhere, on a worker, keeps going; a run in this process ignores it (its
    # cancel flag is what stops it).
    detached: threading.Event = field(default_factory=threading.Event)

    def progress(self, done: int, total: int | None, current: str = "") -> None:
        """Report progress."""
        self.last_progress = Progress(done, total, current)
        self.on_progress(self.last_progress)

    def event(self, kind: str, subject: str, message: str, level: int = logging.INFO) -> None:
        """Report an event (and keep it in the run's log)."""
        event = FlowEvent(kind, subject, message, level)
        sink = self.log_sink
        if sink is not None:
            sink(event)
        self.on_event(event)

    def check_cancelled(self) -> None:
        """Raise :class:`FlowCancelled` at a safe point when a stop was asked for."""
        self.cancel.raise_if_cancelled()
