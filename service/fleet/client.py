"""Sending flows to the workers of a profile and following them live.

:class:`FleetClient` is what a console or ``main.py run`` holds for one ``workers``
profile: it sends a run to the profile's queue, reads the state of runs, follows one
run's progress and events into a :class:`RunContext`, and cancels. :class:`RemoteFlowRunner`
gives it the call shape of :meth:`OrderService.run`, so a flow tab or the CLI runs a flow
the same way whether it runs here or on a worker.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import suppress

import redis
from celery import Celery

from service.config import Profile
from service.fleet.app import create_app
from service.fleet.broker import broker_url, redacted, redis_client
from service.fleet.progress import parse_event, parse_run, queued_run, read_state, save_state
from service.fleet.protocol import (
    RUN_FLOW_TASK,
    RUN_STATE_TTL_S,
    RemoteEvent,
    RemoteRun,
    cancel_key,
    claim_key,
    events_channel,
    queue_name,
    run_key,
    runs_index_key,
)
from service.flows.context import RunContext
from service.flows.names import Flow
from service.flows.result import FlowResult
from service.flows.run import FlowOptions
from service.store_records import utc_now

# While no worker has taken a run this long, the follower says why nothing moves.
QUEUED_NOTICE_S = 10.0
# Pub/sub drops what is published while nobody listens: the state is re-read this often.
REREAD_S = 3.0
# How long one wait for a published event lasts (also how soon a cancel is noticed).
POLL_S = 0.5
# A broker that does not answer: wait this long before trying again.
RECONNECT_S = 1.0
CANCELLED_BEFORE_START = "cancelled before it started"

_log = logging.getLogger(__name__)


class RemoteRefused(Exception):
    """A run sent to the workers never started; ``str()`` says why in one sentence."""


class FollowStopped(Exception):
    """The follower stopped following (``ctx.detached``); the run goes on on the workers.

    ``str()`` says where it goes on.
    """


class FleetClient:
    """The workers of one ``runner = "workers"`` profile, as seen from a console."""

    def __init__(self, profile: Profile, *, environ: Mapping[str, str] | None = None) -> None:
        """Use ``profile``'s broker (``environ`` may override its URL, see broker_url)."""
        self.profile = profile
        self._environ = environ
        self._url = broker_url(profile, environ)
        self._redis = redis_client(self._url)
        self._app: Celery | None = None
        self._app_lock = threading.Lock()

    @property
    def queue(self) -> str:
        """The Celery queue this profile's runs go to."""
        return queue_name(self.profile.name)

    def send(self, flow: Flow, options: FlowOptions) -> RemoteRun:
        """Queue a run of ``flow`` for the profile's workers; its state is ``queued``.

        The state is written before the task is sent, so every console shows the run at
        once. Raises :class:`RemoteRefused` when the broker cannot be reached.
        """
        task_id = str(uuid.uuid4())
        run = queued_run(task_id, self.profile.name, flow.value)
        try:
            save_state(self._redis, run)
        except redis.RedisError as exc:
            raise RemoteRefused(self._unreachable(exc)) from None
        try:
            self._celery().send_task(
                RUN_FLOW_TASK,
                args=(self.profile.name, flow.value, options.model_dump(mode="json")),
                queue=self.queue,
                task_id=task_id,
            )
        except Exception as exc:  # kombu raises its own and the transport's errors
            message = self._unreachable(exc)
            refused = run.model_copy(
                update={"state": "refused", "message": message, "updated_at": utc_now()}
            )
            # Unreachable too: the queued state expires; the operator hears why below.
            with suppress(redis.RedisError):
                save_state(self._redis, refused, expect=("queued",))
            raise RemoteRefused(message) from None
        return run

    def state(self, task_id: str) -> RemoteRun | None:
        """The latest state of run ``task_id``; ``None`` if unknown (or expired)."""
        return read_state(self._redis, task_id)

    def recent(self, limit: int = 200) -> list[RemoteRun]:
        """The profile's latest runs, newest first (those whose state expired left out)."""
        task_ids = self._redis.zrevrange(runs_index_key(self.profile.name), 0, limit - 1)
        if not task_ids:
            return []
        raw = self._redis.mget([run_key(task_id) for task_id in task_ids])
        return [run for run in map(parse_run, raw) if run is not None]

    def cancel(self, task_id: str) -> None:
        """Ask run ``task_id`` to stop: at its next safe point, or never to start.

        Sets ``cd:cancel:<task>`` (the worker running it polls it; it survives a
        redelivery) and revokes the task (a worker drops it if not started). A run no
        worker has taken yet is ``refused`` at once: "cancelled before it started".
        """
        self._redis.set(cancel_key(task_id), "1", ex=RUN_STATE_TTL_S)
        try:
            self._celery().control.revoke(task_id)
        except Exception as exc:  # kombu's errors; the key above is what a worker obeys
            _log.warning("could not revoke task %s (its cancel key is set): %s", task_id, exc)
        run = self.state(task_id)
        if run is not None and run.state == "queued":
            refused = run.model_copy(
                update={
                    "state": "refused",
                    "message": CANCELLED_BEFORE_START,
                    "updated_at": utc_now(),
                    "finished_at": utc_now(),
                }
            )
            # Only if still queued: a worker that took it meanwhile stops it instead.
            save_state(self._redis, refused, expect=("queued",))

    def follow(self, task_id: str, ctx: RunContext) -> FlowResult:
        """Follow run ``task_id`` until it has finished; its :class:`FlowResult`.

        Progress goes to ``ctx.progress`` and the flow's events to ``ctx.event`` as they
        come. When ``ctx.cancel`` is set the run is cancelled and followed until the
        worker says it finished (cancelled); when ``ctx.detached`` is set, following
        stops with :class:`FollowStopped` and the run goes on. Raises
        :class:`RemoteRefused` when the run
        never started (another live run owns the flow, cancelled before it started, the
        worker could not open the profile, or the run is unknown).
        """
        follower = _Follower(self, task_id, ctx)
        return follower.follow()

    def events(self, stop: threading.Event) -> Iterator[RemoteEvent]:
        """Every change of every run of the profile, as published, until ``stop`` is set.

        Published changes are lost while nobody listens (and while the broker is
        unreachable, when this keeps trying to reconnect): read :meth:`recent` first.
        """
        while not stop.is_set():
            pubsub: redis.client.PubSub | None = None
            try:
                pubsub = self._subscribe()
                while not stop.is_set():
                    message = pubsub.get_message(timeout=POLL_S)
                    if message is None or message.get("type") != "message":
                        continue
                    event = parse_event(message["data"])
                    if event is not None:
                        yield event
            except redis.RedisError as exc:
                _log.warning("events of %s: %s; reconnecting", self.profile.name, exc)
                stop.wait(RECONNECT_S)
            finally:
                _close_quietly(pubsub)

    def close(self) -> None:
        """Close the connections to the broker."""
        with self._app_lock:
            if self._app is not None:
                self._app.close()
                self._app = None
        self._redis.close()

    def _celery(self) -> Celery:
        with self._app_lock:
            if self._app is None:
                self._app = create_app([self.profile], self._environ)
            return self._app

    def _unreachable(self, exc: BaseException) -> str:
        return (
            f"cannot reach the broker of profile {self.profile.name!r} "
            f"({redacted(self._url)}): {exc}"
        )

    def _claimed(self, task_id: str) -> bool:
        """Whether a live worker holds task ``task_id`` (service/fleet/claim.py)."""
        return bool(self._redis.exists(claim_key(task_id)))

    def _subscribe(self) -> redis.client.PubSub:
        """A pub/sub connection subscribed to the profile's events channel."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(events_channel(self.profile.name))
        return pubsub


class RemoteFlowRunner:
    """Runs a flow on the workers with the call shape of :meth:`OrderService.run`."""

    def __init__(self, client: FleetClient) -> None:
        """Send through ``client``."""
        self.client = client

    def run(
        self, flow: Flow, options: FlowOptions | None = None, ctx: RunContext | None = None
    ) -> FlowResult:
        """Send ``flow`` to the workers and follow it to its end (see FleetClient.follow)."""
        ctx = ctx or RunContext()
        options = options or FlowOptions(workers=self.client.profile.workers)
        run = self.client.send(flow, options)
        return self.client.follow(run.task_id, ctx)


class _Follower:
    """One :meth:`FleetClient.follow`: the events channel, the state re-read, the cancel."""

    def __init__(self, client: FleetClient, task_id: str, ctx: RunContext) -> None:
        self.client = client
        self.task_id = task_id
        self.ctx = ctx
        self.run: RemoteRun | None = None
        self.relayed_progress: tuple[int, int | None] | None = None
        self.told_taken = False
        self.told_queued = False
        self.told_unreachable = False
        self.told_gone = False
        self.cancel_sent = False

    def follow(self) -> FlowResult:
        started = time.monotonic()
        pubsub: redis.client.PubSub | None = None
        last_read = 0.0
        try:
            while True:
                try:
                    if pubsub is None:
                        # Subscribed before reading, so no change falls in between.
                        pubsub = self.client._subscribe()
                        last_read = 0.0
                    if time.monotonic() - last_read >= REREAD_S:
                        self._take(self.client.state(self.task_id), from_read=True)
                        self._say_if_worker_gone()
                        last_read = time.monotonic()
                    result = self._settled()
                    if result is not None:
                        return result
                    if self.ctx.detached.is_set():
                        raise FollowStopped(self._left_running())
                    self._cancel_if_asked()
                    self._say_if_queued(started)
                    message = pubsub.get_message(timeout=POLL_S)
                    if message is not None and message.get("type") == "message":
                        event = parse_event(message["data"])
                        if event is not None and event.state.task_id == self.task_id:
                            self._relay(event)
                    self.told_unreachable = False
                except redis.RedisError as exc:
                    if not self.told_unreachable:
                        self.ctx.event(
                            "remote.unreachable",
                            self.task_id,
                            f"Lost the broker ({exc}); the run goes on on its worker. "
                            "Reconnecting…",
                            logging.WARNING,
                        )
                        self.told_unreachable = True
                    _close_quietly(pubsub)
                    pubsub = None
                    time.sleep(RECONNECT_S)
        finally:
            _close_quietly(pubsub)

    def _take(self, run: RemoteRun | None, *, from_read: bool) -> None:
        """Keep ``run`` if it is newer than what we have; relay its progress."""
        if run is None:
            if from_read and self.run is None:
                raise RemoteRefused(
                    f"no run {self.task_id} on {self.client.queue}: it was never sent there, "
                    "or its state has expired"
                )
            return
        if not _is_newer(run, self.run):
            return
        self.run = run
        if run.state in ("running", "waiting", "finished") and not self.told_taken and run.host:
            self.told_taken = True
            self.ctx.event(
                "remote.taken",
                self.task_id,
                f"{run.flow} runs on {run.host} (pid {run.pid}).",
            )
        if run.state in ("running", "waiting") and (run.done, run.total) != self.relayed_progress:
            self.relayed_progress = (run.done, run.total)
            self.ctx.progress(run.done, run.total)

    def _relay(self, event: RemoteEvent) -> None:
        if event.kind == "progress" and event.state.state in ("running", "waiting"):
            self.relayed_progress = (event.state.done, event.state.total)
            self.ctx.progress(event.state.done, event.state.total, event.subject)
        self._take(event.state, from_read=False)
        if event.kind == "event":
            self.ctx.event(event.event_kind, event.subject, event.message, event.level)

    def _settled(self) -> FlowResult | None:
        run = self.run
        if run is None:
            return None
        if run.state == "refused":
            raise RemoteRefused(run.message or f"{run.flow} was refused by its worker")
        if run.state == "finished":
            if run.result is None:
                raise RemoteRefused(run.message or f"{run.flow} finished without a result")
            return run.result
        return None

    def _left_running(self) -> str:
        where = f"{self.run.host} (pid {self.run.pid})" if self.run and self.run.host else ""
        if where:
            return f"No longer followed here; the run goes on on {where}."
        return f"No longer followed here; the run stays queued on {self.client.queue}."

    def _cancel_if_asked(self) -> None:
        if self.cancel_sent or not self.ctx.cancel.cancelled:
            return
        self.client.cancel(self.task_id)
        self.cancel_sent = True
        # A queued run is refused at once: read it now rather than in a few seconds.
        self._take(self.client.state(self.task_id), from_read=True)

    def _say_if_worker_gone(self) -> None:
        """Say once when the worker running the run stopped holding it (it died)."""
        run = self.run
        if self.told_gone or run is None or run.state not in ("running", "waiting"):
            return
        if self.client._claimed(self.task_id):
            return
        # The state may have moved on between the two reads.
        latest = self.client.state(self.task_id)
        if latest is None or latest.state not in ("running", "waiting"):
            return
        self.told_gone = True
        self.ctx.event(
            "remote.lost",
            self.task_id,
            f"{run.host} (pid {run.pid}) stopped running {run.flow} before it ended; the "
            "task goes back to the queue when its visibility timeout passes and runs again "
            "on a worker.",
            logging.WARNING,
        )

    def _say_if_queued(self, started: float) -> None:
        run = self.run
        if (
            self.told_queued
            or run is None
            or run.state != "queued"
            or time.monotonic() - started < QUEUED_NOTICE_S
        ):
            return
        self.told_queued = True
        self.ctx.event(
            "remote.queued",
            self.task_id,
            f"queued on {self.client.queue}: no worker has taken it yet",
            logging.WARNING,
        )


# How far a run has got: a state never goes back to a lower stage.
_STAGE: dict[str, int] = {"queued": 0, "waiting": 1, "running": 1, "finished": 2, "refused": 2}


def _is_newer(run: RemoteRun, current: RemoteRun | None) -> bool:
    """Whether ``run`` is a later state than ``current``.

    By stage first: the console that queued a run and the worker that runs it write
    with clocks of their own. Within a stage, the later write of one worker wins, and a
    worker that took the run over from another (it died) wins over the dead one.
    """
    if current is None:
        return True
    if _STAGE[run.state] != _STAGE[current.state]:
        return _STAGE[run.state] > _STAGE[current.state]
    if _STAGE[current.state] == 2:
        return False
    if (run.host, run.pid) != (current.host, current.pid):
        return True
    return run.updated_at >= current.updated_at


def _close_quietly(pubsub: redis.client.PubSub | None) -> None:
    if pubsub is None:
        return
    with suppress(redis.RedisError):  # the connection is gone already
        pubsub.close()
