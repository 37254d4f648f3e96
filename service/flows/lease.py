"""Run leases: one owner per flow and per commit lock, across processes.

A run holds ``flow:<flow>`` and, when its flow commits objects, ``commit:<content
type>`` (Omnitron lets one batch per content type be in ``commit`` at a time, so two
flows committing ``order`` batches must not overlap).

Where the leases are kept is a :class:`LeaseBook`. By default they are rows in the
profile's store (:class:`StoreLeaseBook`), taken in one ``BEGIN IMMEDIATE``
transaction, so two processes (the console and a CLI run, two terminals) cannot both
get them. A ``workers`` profile runs on several machines, each with its own store:
its leases are kept in the fleet's Redis (:mod:`service.fleet.redis_leases`).

A holder is alive while its heartbeat is younger than :data:`LEASE_TTL_S` and, on
this host, its process exists. A heartbeat thread refreshes the leases and the run's
row in the store (with its running counts) every :data:`HEARTBEAT_S`; a lease whose
holder is gone is taken over. The same test decides whether a run still ``running``
in the store is alive: a dead one is marked ``interrupted`` and its open batches
recovered.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from service.flows.context import CancelToken
from service.flows.names import Flow
from service.store import Store
from service.store_records import LeaseRecord, RunRecord, as_utc, utc_now

# Six missed heartbeats before a holder counts as gone: a busy store (busy_timeout
# 10 s) or a loaded machine delays a beat, never five in a row.
HEARTBEAT_S = 5.0
LEASE_TTL_S = 30.0
# How often a run that waits for a lease looks again.
WAIT_POLL_S = 1.0
# Delivering the outbox is a lease of its own: two runs delivering the same waiting
# reports at once would post them twice.
OUTBOX_LEASE = "outbox"

_log = logging.getLogger(__name__)


def lease_names(flow: Flow) -> tuple[str, ...]:
    """The leases a run of ``flow`` needs: its flow, and its commit lock if it commits."""
    names = [f"flow:{flow.value}"]
    if flow.commits:
        names.append(f"commit:{flow.content_type}")
    return tuple(names)


def this_host() -> str:
    """The name this machine's leases and runs are recorded under."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    if sys.platform == "win32":
        # os.kill(pid, 0) terminates the process on Windows; there the heartbeat decides.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it belongs to another user
    return True


def owner_gone(
    pid: int | None,
    host: str,
    heartbeat_at: datetime | None,
    *,
    now: datetime | None = None,
    ttl_s: float = LEASE_TTL_S,
) -> bool:
    """Whether the process that recorded this heartbeat is gone.

    Gone: no heartbeat, a heartbeat older than ``ttl_s``, or a process of this host
    that no longer exists.
    """
    if heartbeat_at is None:
        return True
    if (now or utc_now()) - as_utc(heartbeat_at) > timedelta(seconds=ttl_s):
        return True
    return host == this_host() and pid is not None and not pid_alive(pid)


def run_is_live(run: RunRecord, *, now: datetime | None = None) -> bool:
    """Whether ``run`` is still being run by a live process."""
    return run.is_running and not owner_gone(run.pid, run.host, run.heartbeat_at, now=now)


def _lease_gone(lease: LeaseRecord) -> bool:
    return owner_gone(lease.pid, lease.host, lease.heartbeat_at)


class LeasesUnreachable(ConnectionError):
    """The lease book cannot be reached (its Redis is down): the run does not start.

    ``str()`` is one line for the operator. It is an ``OSError``, like any other
    resource a run could not open.
    """


class LeaseBook(Protocol):
    """Where the run leases of one profile are kept.

    Every method may raise :class:`LeasesUnreachable` (a book on another machine) or
    a store error (the store's own book).
    """

    def take(
        self,
        names: Sequence[str],
        *,
        token: str,
        flow: str,
        pid: int,
        host: str,
        run_id: int | None,
    ) -> LeaseRecord | None:
        """Take every lease of ``names`` for ``token``, or none of them.

        Returns ``None`` when taken, else the live holder that blocks (the first in
        ``names`` order). Leases of gone holders are taken over; taking one ``token``
        already holds keeps its start time.
        """
        ...

    def refresh(self, token: str, names: Sequence[str], *, run_id: int | None) -> int:
        """``token`` is alive: refresh its leases of ``names``; how many it still holds."""
        ...

    def release(self, token: str, names: Sequence[str]) -> None:
        """Give back the leases of ``names`` that ``token`` holds (never another's)."""
        ...

    def holders(self) -> list[LeaseRecord]:
        """Every lease held now, by name."""
        ...


class StoreLeaseBook:
    """Leases as rows of the profile's store: one machine's processes share them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def take(
        self,
        names: Sequence[str],
        *,
        token: str,
        flow: str,
        pid: int,
        host: str,
        run_id: int | None,
    ) -> LeaseRecord | None:
        """See :meth:`LeaseBook.take`; gone: :func:`owner_gone`."""
        return self.store.take_leases(
            names, token=token, flow=flow, pid=pid, host=host, run_id=run_id, is_gone=_lease_gone
        )

    def refresh(self, token: str, names: Sequence[str], *, run_id: int | None) -> int:
        """See :meth:`LeaseBook.refresh` (every lease of ``token`` in the store)."""
        return self.store.refresh_leases(token, run_id=run_id)

    def release(self, token: str, names: Sequence[str]) -> None:
        """See :meth:`LeaseBook.release`."""
        self.store.release_leases(token, names=names)

    def holders(self) -> list[LeaseRecord]:
        """See :meth:`LeaseBook.holders` (live or not: rows stay until taken over)."""
        return self.store.leases()


def local_time(value: datetime) -> str:
    """``14:02`` today, ``2026-11-30 14:02`` on another day, in local time."""
    local = as_utc(value).astimezone()
    if local.date() == datetime.now().astimezone().date():
        return f"{local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def _cancelled_within(cancel: CancelToken | None, seconds: float) -> bool:
    """Sleep up to ``seconds``; ``True`` as soon as ``cancel`` is set."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if cancel is not None and cancel.cancelled:
            return True
        time.sleep(min(left, 0.1))
    return cancel is not None and cancel.cancelled


class LeaseBusy(Exception):
    """``flow`` cannot start: a live run holds a lease it needs.

    ``str()`` is the one sentence for the operator, e.g. ``fetch-orders is already
    running (pid 4711 on host since 14:02).``
    """

    def __init__(self, flow: Flow, holder: LeaseRecord, *, cancelled: bool = False) -> None:
        self.flow = flow
        self.holder = holder
        # The run was waiting for the lease and was cancelled before it got it.
        self.cancelled = cancelled
        super().__init__(busy_sentence(flow, holder))

    @property
    def waiting_message(self) -> str:
        """What a run waiting for the lease says while it waits."""
        return f"{self} This run starts when it ends."


def busy_sentence(flow: Flow, holder: LeaseRecord) -> str:
    """Why ``flow`` cannot start while ``holder`` holds a lease it needs."""
    owner = f"pid {holder.pid} on {holder.host} since {local_time(holder.started_at)}"
    if holder.flow == flow.value:
        return f"{flow.value} is already running ({owner})."
    return (
        f"{flow.value} cannot start while {holder.flow} is running ({owner}): Omnitron "
        f"lets one {flow.content_type} batch be committed at a time."
    )


@dataclass(frozen=True, slots=True)
class RunCounts:
    """The running tally a heartbeat saves, so an interrupted run keeps its counts."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    error_count: int = 0
    waiting: int = 0


class RunLease:
    """The leases of one run, kept alive by a heartbeat thread until :meth:`release`.

    Take it with :meth:`acquire`; after the run is recorded, :meth:`start_heartbeat`
    binds it to the run and saves the run's counts with every beat. When a beat finds
    that another process took a lease over (this process stalled beyond the TTL),
    :attr:`lost` is set and ``on_lost`` is called once. The leases are kept in
    ``book`` (default: the store's own); the run's row is always in ``store``.
    """

    def __init__(
        self,
        store: Store,
        flow: Flow,
        token: str,
        names: tuple[str, ...],
        *,
        pid: int,
        host: str,
        book: LeaseBook | None = None,
    ) -> None:
        self.store = store
        self.book: LeaseBook = StoreLeaseBook(store) if book is None else book
        self.flow = flow
        self.token = token
        self.pid = pid
        self.host = host
        self._names = set(names)
        # A beat counts what it holds against the names it refreshed: taking or giving
        # back the outbox lease meanwhile must not look like a lost lease.
        self._names_lock = threading.Lock()
        self._run_id: int | None = None
        self._counts: Callable[[], RunCounts] = RunCounts
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_lost: Callable[[], None] | None = None
        self.lost = False

    @classmethod
    def acquire(
        cls,
        store: Store,
        flow: Flow,
        *,
        wait_s: float | None = 0.0,
        cancel: CancelToken | None = None,
        on_wait: Callable[[LeaseBusy], None] | None = None,
        poll_s: float = WAIT_POLL_S,
        book: LeaseBook | None = None,
    ) -> RunLease:
        """Take the leases ``flow`` needs, or raise :class:`LeaseBusy`.

        ``wait_s`` 0 gives up at once; a number waits that many seconds at most;
        ``None`` waits until the lease frees or ``cancel`` is set. ``on_wait`` is
        called once, when waiting starts. ``book``: where the leases are kept
        (default: ``store``); an unreachable one raises :class:`LeasesUnreachable`.
        """
        lease = cls(
            store,
            flow,
            uuid.uuid4().hex,
            lease_names(flow),
            pid=os.getpid(),
            host=this_host(),
            book=book,
        )
        deadline = None if wait_s is None else time.monotonic() + wait_s
        announced = False
        while True:
            holder = lease._take(lease_names(flow))
            if holder is None:
                return lease
            busy = LeaseBusy(flow, holder)
            if deadline is not None and time.monotonic() >= deadline:
                raise busy
            if not announced and on_wait is not None:
                on_wait(busy)
                announced = True
            if _cancelled_within(cancel, poll_s):
                raise LeaseBusy(flow, holder, cancelled=True)

    def try_take(self, name: str) -> bool:
        """Also take lease ``name`` if nobody alive holds it; ``False`` otherwise."""
        with self._names_lock:
            if self._take((name,)) is not None:
                return False
            self._names.add(name)
            return True

    def give_back(self, name: str) -> None:
        """Release one lease taken with :meth:`try_take`."""
        with self._names_lock:
            self._names.discard(name)
            try:
                self.book.release(self.token, (name,))
            except LeasesUnreachable as exc:
                _log.warning("%s: %s; it expires by itself", name, exc)

    def _take(self, names: tuple[str, ...]) -> LeaseRecord | None:
        return self.book.take(
            names,
            token=self.token,
            flow=self.flow.value,
            pid=self.pid,
            host=self.host,
            run_id=self._run_id,
        )

    def start_heartbeat(
        self,
        run_id: int,
        counts: Callable[[], RunCounts],
        *,
        on_lost: Callable[[], None] | None = None,
        interval_s: float = HEARTBEAT_S,
    ) -> None:
        """Bind the leases to run ``run_id`` and beat every ``interval_s`` until released."""
        self._run_id = run_id
        self._counts = counts
        self._on_lost = on_lost
        self.beat()
        self._thread = threading.Thread(
            target=self._beat_until_stopped,
            args=(interval_s,),
            name=f"lease-{self.flow.value}",
            daemon=True,
        )
        self._thread.start()

    def beat(self) -> None:
        """Refresh the leases and save the run's counts now."""
        if self._run_id is None:
            return
        counts = self._counts()
        self.store.beat_run(
            self._run_id,
            created=counts.created,
            updated=counts.updated,
            skipped=counts.skipped,
            failed=counts.failed,
            error_count=counts.error_count,
            waiting=counts.waiting,
        )
        with self._names_lock:
            names = tuple(sorted(self._names))
            held = self.book.refresh(self.token, names, run_id=self._run_id)
        if held < len(names) and not self.lost:
            self.lost = True
            _log.warning("%s lost its lease to another run", self.flow.value)
            if self._on_lost is not None:
                self._on_lost()

    def _beat_until_stopped(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.beat()
            except (sqlite3.Error, LeasesUnreachable) as exc:
                # A locked or busy store, or a Redis briefly away, delays one beat; the
                # TTL allows several.
                _log.warning("lease heartbeat of %s failed: %s", self.flow.value, exc)

    def release(self) -> None:
        """Stop the heartbeat and give every lease back; safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._names_lock:
            names = tuple(sorted(self._names))
        try:
            self.book.release(self.token, names)
        except LeasesUnreachable as exc:
            # The run is over either way; its leases expire after the TTL.
            _log.warning("%s could not give its leases back: %s", self.flow.value, exc)
