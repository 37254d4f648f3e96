"""The one Celery task of a worker: run a flow of a profile, exactly as the CLI does.

``channeldesk.run_flow(profile, flow, options)`` runs
``Connection.order_service().run(flow, FlowOptions(**options), ctx)`` on the worker's
connection of that profile (opened on its first task, kept for the process), with
``ctx.task_id`` the task's id (recorded as the run's ``task_id``). Its life is
published as it goes (service/fleet/progress.py); a console's cancel reaches it
through :class:`~service.fleet.cancel.CancelWatch`.

The task never fails in Celery's sense and is always acknowledged; what happened is in
the run's state:

- another live run owns the flow (:class:`LeaseBusy`) → ``refused`` with its sentence,
  nothing retried;
- cancelled before any worker took it → ``refused`` "cancelled before it started";
- a second delivery of a task another live worker is running (the visibility timeout
  passed) → stands down without touching the run; said on the events channel;
- a redelivery after its worker died → runs; the run's start marks the dead run
  ``interrupted`` and recovers its batch, as after a killed process;
- the profile cannot be opened (a secret missing, Redis or the store unusable) →
  ``refused`` with the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

import redis
from celery import Celery, Task

from service.config import Profile, ProfileError, Secrets
from service.connect import Connection, Locations, connect
from service.fleet.cancel import CancelWatch
from service.fleet.claim import TaskClaim
from service.fleet.client import CANCELLED_BEFORE_START
from service.fleet.progress import (
    ABSENT,
    RunReporter,
    queued_run,
    read_state,
)
from service.fleet.protocol import RUN_FLOW_TASK, RemoteEvent, cancel_key, events_channel
from service.flows.context import FlowEvent, RunContext
from service.flows.lease import LEASE_TTL_S, LeaseBusy, this_host
from service.flows.names import Flow
from service.flows.run import FlowOptions
from service.store_errors import StoreError

# A redelivery whose first copy died waits this long for the leases that copy held to
# expire (they outlive their holder by up to LEASE_TTL_S).
TAKEOVER_LEASE_WAIT_S = LEASE_TTL_S + 15.0

_log = logging.getLogger(__name__)


class WorkerRuntime:
    """What the tasks of one worker process share: its profiles, their connections, Redis."""

    def __init__(
        self,
        profiles: Mapping[str, Profile],
        locations: Locations,
        client: redis.Redis,
        environ: Mapping[str, str],
    ) -> None:
        self.profiles = dict(profiles)
        self.locations = locations
        self.redis = client
        self.environ = environ
        self._connections: dict[str, Connection] = {}
        self._stack = ExitStack()
        self._lock = threading.Lock()

    def connection(self, name: str) -> Connection:
        """The open connection of profile ``name`` (opened on first use)."""
        with self._lock:
            if name not in self._connections:
                profile = self.profiles.get(name)
                if profile is None:
                    raise ProfileError(
                        f"this worker does not serve profile {name!r} "
                        f"(it serves {', '.join(sorted(self.profiles))})"
                    )
                self._connections[name] = self._stack.enter_context(
                    connect(
                        profile,
                        self.locations,
                        secrets=Secrets(env=self.environ),
                        environ=self.environ,
                    )
                )
            return self._connections[name]

    def close(self) -> None:
        """Close every connection opened (the worker is stopping)."""
        with self._lock:
            self._connections.clear()
            self._stack.close()
        self.redis.close()

    def run_task(self, task_id: str, profile: str, flow: str, options: Mapping[str, Any]) -> None:
        """Run one delivery of task ``task_id`` (see the module's docstring)."""
        existing = read_state(self.redis, task_id)
        if existing is not None and existing.state in ("finished", "refused"):
            _log.info("task %s is %s already: nothing to do", task_id, existing.state)
            return
        claim = TaskClaim(self.redis, task_id)
        holder = claim.take()
        if holder is not None:
            self._stand_down(task_id, profile, flow, str(holder))
            return
        try:
            self._run_claimed(task_id, profile, flow, options, claim)
        finally:
            claim.release()

    def _run_claimed(
        self,
        task_id: str,
        profile: str,
        flow: str,
        options: Mapping[str, Any],
        claim: TaskClaim,
    ) -> None:
        existing = read_state(self.redis, task_id)
        reporter = RunReporter(self.redis, existing or queued_run(task_id, profile, flow))
        if (existing is None or existing.state == "queued") and self.redis.exists(
            cancel_key(task_id)
        ):
            reporter.refuse(CANCELLED_BEFORE_START, expect=(ABSENT, "queued"))
            return
        if not reporter.start(expect=(ABSENT, "queued", "running", "waiting")):
            _log.info("task %s was cancelled before it started", task_id)
            return
        # Taken before by a worker that is gone (its claim lapsed or it died here).
        rerun = claim.took_over is not None or (
            existing is not None and existing.state in ("running", "waiting")
        )
        if rerun:
            earlier = claim.took_over or (
                f"pid {existing.pid} on {existing.host}" if existing is not None else "?"
            )
            _log.warning(
                "task %s: its earlier worker (%s) stopped mid-run; running it again",
                task_id,
                earlier,
            )
        ctx = RunContext(
            on_progress=reporter.progress, on_recorded=reporter.recorded, task_id=task_id
        )
        ctx.on_event = lambda event: _log_and_report(event, reporter)
        try:
            run_options = _options(options, rerun=rerun)
            with CancelWatch(self.redis, task_id, ctx.cancel, on_tick=claim.renew):
                service = self.connection(profile).order_service()
                result = service.run(Flow(flow), run_options, ctx)
        except LeaseBusy as busy:
            reporter.refuse(str(busy))
        except (ProfileError, StoreError, OSError, ValueError) as exc:
            reporter.refuse(f"{flow} could not start on {this_host()}: {exc}")
        except Exception as exc:
            _log.exception("task %s (%s of %s) failed", task_id, flow, profile)
            reporter.refuse(f"{flow} could not run on {this_host()}: {type(exc).__name__}: {exc}")
        else:
            reporter.finish(result)

    def _stand_down(self, task_id: str, profile: str, flow: str, holder: str) -> None:
        message = (
            f"A second delivery of {flow} (task {task_id}) stood down: {holder} is running it."
        )
        _log.warning("%s", message)
        current = read_state(self.redis, task_id)
        if current is None:
            return
        event = RemoteEvent(
            kind="event",
            state=current,
            event_kind="task.duplicate",
            subject=task_id,
            message=message,
            level=logging.WARNING,
        )
        self.redis.publish(events_channel(profile), event.model_dump_json())


def _options(options: Mapping[str, Any], *, rerun: bool) -> FlowOptions:
    """The run's options; a run taken over from a dead worker waits for its leases."""
    parsed = FlowOptions(**options)
    if rerun and parsed.lease_wait_s is not None:
        return parsed.model_copy(
            update={"lease_wait_s": max(parsed.lease_wait_s, TAKEOVER_LEASE_WAIT_S)}
        )
    return parsed


def _log_and_report(event: FlowEvent, reporter: RunReporter) -> None:
    logging.getLogger("channeldesk.flows").log(event.level, "%s", event.message)
    reporter.event(event)


def register_tasks(app: Celery, runtime: WorkerRuntime) -> Task:
    """Register ``channeldesk.run_flow`` on ``app``, running on ``runtime``."""

    @app.task(name=RUN_FLOW_TASK, bind=True, ignore_result=True)
    def run_flow(task: Task, profile: str, flow: str, options: dict[str, Any]) -> None:
        runtime.run_task(task.request.id, profile, flow, options)

    return run_flow
