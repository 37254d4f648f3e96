"""The console's connection to one profile, opened in the background.

Starting the sandbox simulators and the clients takes a moment, and a real Omnitron
may be slow to answer, so :class:`ConsoleSession` enters :func:`service.connect.connect`
on a worker thread and says ``ready`` (or ``failed``) when done. The window shows at
once: the read-only store the data views use is opened on the GUI thread right away,
since its file does not depend on the connection.

A ``runner = "workers"`` profile also opens a :class:`FleetClient` to its broker: its
flows run on the workers (:attr:`ConsoleSession.flow_runner`), and a
:class:`~gui.fleet_watch.FleetWatch` keeps every run of its workers in the store.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from gui.fleet_watch import FleetWatch
from gui.workers import FlowRunner, SessionState, TaskRunner
from service.cli_fleet import require_workers_extra
from service.config import Profile
from service.connect import Connection, Locations, connect, open_store
from service.fleet.protocol import queue_name
from service.order_service import OrderService
from service.sandbox.launcher import SandboxOptions
from service.store import Store

if TYPE_CHECKING:  # the workers extra is optional; only workers profiles load it
    from service.fleet.client import FleetClient

# Bounded waits at shutdown: a stuck network call must not keep the app from quitting.
CLOSE_WAIT_MS = 15_000


class ConsoleSession(QObject):
    """Owns the connection of one profile (opened on a worker) and a read-only store."""

    ready = Signal()
    failed = Signal(str)
    health_changed = Signal(bool, str)  # reachable, one line for the status bar
    # Runs of the profile's workers changed in the store (workers profiles only).
    remote_runs_recorded = Signal(list)  # list[RemoteRun]

    def __init__(
        self,
        profile: Profile,
        locations: Locations,
        *,
        sandbox_options: SandboxOptions | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.profile = profile
        self.locations = locations
        self._sandbox_options = sandbox_options
        self.store: Store = open_store(profile, locations)
        self._runner = TaskRunner(max_threads=2, parent=self)
        self._stack: ExitStack | None = None
        self._connection: Connection | None = None
        self._service: OrderService | None = None
        self._flow_runner: FlowRunner | None = None
        self._watch: FleetWatch | None = None
        self._pinging = False
        self.state = SessionState.STARTING
        self.error = ""
        self.last_health: tuple[bool, str, datetime] | None = None

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> None:
        """Open the connection in the background; ``ready`` or ``failed`` follows."""
        self._runner.submit(self._open, on_done=self._opened, on_failed=self._open_failed)

    def _open(self) -> tuple[ExitStack, Connection, FleetClient | None]:
        # Runs on a worker thread: starts the simulators (sandbox) and the clients.
        stack = ExitStack()
        try:
            connection = stack.enter_context(
                connect(self.profile, self.locations, sandbox_options=self._sandbox_options)
            )
            client = None
            if self.profile.runner == "workers":
                # Without the workers extra: one sentence saying how to install it.
                require_workers_extra()
                from service.fleet.client import FleetClient

                client = FleetClient(self.profile)
                stack.callback(client.close)
        except BaseException:
            stack.close()
            raise
        return stack, connection, client

    def _opened(self, opened: tuple[ExitStack, Connection, FleetClient | None]) -> None:
        stack, connection, client = opened
        if self.state is SessionState.CLOSED:
            # Closed while opening: nobody will use it.
            stack.close()
            return
        self._stack, self._connection = stack, connection
        self._service = connection.order_service()
        self._flow_runner = self._service
        if client is not None:
            from service.fleet.client import RemoteFlowRunner

            self._flow_runner = RemoteFlowRunner(client)
            self._watch = FleetWatch(client, connection.store, parent=self)
            self._watch.runs_recorded.connect(self.remote_runs_recorded)
            self._watch.start()
        self.state = SessionState.READY
        self.ready.emit()

    def _open_failed(self, message: str) -> None:
        if self.state is SessionState.CLOSED:
            return
        self.state = SessionState.FAILED
        self.error = message
        self.failed.emit(message)

    def close(self) -> None:
        """Close the connection (stopping the sandbox) and the read-only store.

        Call after the flows have stopped. Waits a bounded time for background work
        (an opening connection, a ping) first. Safe to call twice.

        The session has no Qt parent, so Python owns it: left to the garbage collector,
        its Qt object (with its runner) would be destroyed on whichever thread happens
        to collect. It is deleted here, on the GUI thread, instead.
        """
        if self.state is SessionState.CLOSED:
            return
        self.state = SessionState.CLOSED
        self._runner.wait(CLOSE_WAIT_MS)
        if self._watch is not None:
            # Before its client and store close below.
            self._watch.stop()
        # A connection that opened meanwhile was delivered neither way yet; the
        # queued delivery finds the state CLOSED and closes it. Close ours now.
        if self._stack is not None:
            self._stack.close()
        self._stack = self._connection = self._service = None
        self._flow_runner = self._watch = None
        self.store.close()
        self.deleteLater()

    # -- what the window uses -------------------------------------------------------

    @property
    def is_ready(self) -> bool:
        """Whether flows can run."""
        return self.state is SessionState.READY

    @property
    def service(self) -> OrderService | None:
        """The order service, once ready."""
        return self._service

    @property
    def flow_runner(self) -> FlowRunner | None:
        """What runs this profile's flows, once ready: the order service, or for a
        ``runner = "workers"`` profile its workers (a ``RemoteFlowRunner``)."""
        return self._flow_runner

    @property
    def runs_on(self) -> str | None:
        """Where this profile's runs go, for the flow tabs; ``None`` when they run here."""
        if self.profile.runner != "workers":
            return None
        return f"Runs on the workers of queue {queue_name(self.profile.name)}"

    @property
    def connection(self) -> Connection | None:
        """The open connection, once ready."""
        return self._connection

    @property
    def sandbox_urls(self) -> tuple[str, str] | None:
        """Base URLs of the Omnitron and marketplace simulators of a sandbox profile."""
        if self._connection is None or self._connection.sandbox is None:
            return None
        sandbox = self._connection.sandbox
        return sandbox.omnitron_url, sandbox.channel_url

    def describe_target(self) -> str:
        """Where the console is connected, for the status bar and tooltips."""
        if self.profile.sandbox:
            return "built-in sandbox"
        assert self.profile.omnitron is not None
        return str(self.profile.omnitron.url)

    def ping(self) -> None:
        """Check in the background that Omnitron answers; ``health_changed`` follows."""
        connection = self._connection
        if connection is None or self._pinging:
            return
        self._pinging = True
        self._runner.submit(
            connection.omnitron.get_channel,
            on_done=lambda channel: self._pinged(True, f"channel {channel.name}"),
            on_failed=lambda message: self._pinged(False, message),
        )

    def _pinged(self, ok: bool, detail: str) -> None:
        self._pinging = False
        if self.state is not SessionState.READY:
            return
        self.last_health = (ok, detail, datetime.now())
        self.health_changed.emit(ok, detail)
