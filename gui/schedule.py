"""Flows that run by themselves every N minutes.

The :class:`Scheduler` keeps one wall-clock due time per flow in ``QSettings`` and a
single ``QTimer`` that ticks every few seconds and compares the clock with them. A
timer per flow would drift and, after the machine slept, either fire late or not at
all; comparing wall-clock times catches a missed run up once (not once per missed
interval), also across a restart of the console.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from PySide6.QtCore import QObject, QSettings, QTimer, Signal, Slot

from service.flows.names import Flow

TICK_MS = 5_000
DEFAULT_MINUTES = 15
MIN_MINUTES = 1
MAX_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class Schedule:
    """One flow's schedule: every ``minutes``, when ``enabled``; next due at ``next_run``."""

    minutes: int
    enabled: bool
    next_run: datetime | None


class Scheduler(QObject):
    """Says ``due(flow)`` when a scheduled flow's time has come.

    ``profile`` names whose schedules these are. ``clock`` returns the current local
    time (inject one in tests and call :meth:`tick`).
    """

    due = Signal(object)  # Flow
    changed = Signal(object)  # Flow whose schedule or next run changed

    def __init__(
        self,
        settings: QSettings,
        *,
        profile: str,
        clock: Callable[[], datetime] = datetime.now,
        tick_ms: int = TICK_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self.profile = profile
        self._clock = clock
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self.tick)

    def start(self) -> None:
        """Start ticking."""
        self._timer.start()

    def stop(self) -> None:
        """Stop ticking."""
        self._timer.stop()

    @property
    def is_running(self) -> bool:
        """Whether schedules are being checked (``start`` was called, ``stop`` not since)."""
        return self._timer.isActive()

    def schedule(self, flow: Flow) -> Schedule:
        """The stored schedule of ``flow``."""
        minutes = _int(self._settings.value(self._key(flow, "minutes")), DEFAULT_MINUTES)
        enabled = _bool(self._settings.value(self._key(flow, "enabled")))
        next_run = _time(self._settings.value(self._key(flow, "next")))
        minutes = min(max(minutes, MIN_MINUTES), MAX_MINUTES)
        return Schedule(minutes, enabled, next_run if enabled else None)

    def set_schedule(self, flow: Flow, minutes: int, enabled: bool) -> None:
        """Store ``flow``'s schedule; the next run is ``minutes`` from now when enabled."""
        minutes = min(max(int(minutes), MIN_MINUTES), MAX_MINUTES)
        old = self.schedule(flow)
        self._settings.setValue(self._key(flow, "minutes"), minutes)
        self._settings.setValue(self._key(flow, "enabled"), enabled)
        if not enabled:
            self._settings.remove(self._key(flow, "next"))
        elif not old.enabled or old.minutes != minutes or old.next_run is None:
            self._set_next(flow, self._clock() + timedelta(minutes=minutes))
        self.changed.emit(flow)

    def next_due(self) -> tuple[Flow, datetime] | None:
        """The scheduled flow that comes due first, with its time."""
        upcoming = [
            (schedule.next_run, flow)
            for flow in Flow
            if (schedule := self.schedule(flow)).next_run is not None
        ]
        if not upcoming:
            return None
        when, flow = min(upcoming)
        return flow, when

    @Slot()
    def tick(self) -> None:
        """Say ``due`` for every enabled flow whose time has come, and move it on."""
        now = self._clock()
        for flow in Flow:
            schedule = self.schedule(flow)
            if schedule.next_run is None or schedule.next_run > now:
                continue
            # From now, not from the missed time: after a sleep the flow runs once.
            self._set_next(flow, now + timedelta(minutes=schedule.minutes))
            self.changed.emit(flow)
            self.due.emit(flow)

    def _set_next(self, flow: Flow, when: datetime) -> None:
        self._settings.setValue(self._key(flow, "next"), when.isoformat(timespec="seconds"))

    def _key(self, flow: Flow, name: str) -> str:
        return schedule_key(self.profile, flow, name)


def schedule_key(profile: str, flow: Flow, name: str) -> str:
    """The settings key of ``name`` (``minutes``, ``enabled``, ``next``) of a schedule."""
    return f"schedule/{profile}/{flow.value}/{name}"


_SCHEDULE_FIELDS = ("minutes", "enabled", "next")


def migrate_legacy_schedules(settings: QSettings, profile: str) -> bool:
    """Move un-prefixed schedules (``schedule/<flow>/…``) under ``profile``; once.

    A console that served one profile kept its schedules without the profile's name:
    they belong to the profile that console showed. Keys already set under the
    profile win; the old keys are removed, so a second call moves nothing. Returns
    whether anything was there to move.
    """
    found = False
    for flow in Flow:
        for name in _SCHEDULE_FIELDS:
            old = f"schedule/{flow.value}/{name}"
            if not settings.contains(old):
                continue
            found = True
            new = schedule_key(profile, flow, name)
            if not settings.contains(new):
                settings.setValue(new, settings.value(old))
            settings.remove(old)
    return found


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _bool(value: object) -> bool:
    # INI files give strings back ("true"), native backends bools.
    if isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    return bool(value)


def _time(value: object) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
