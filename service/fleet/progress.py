"""The live state of runs sent to the workers, as kept in Redis (service/fleet/protocol.py).

:func:`save_state` writes a run's :class:`RemoteRun` to ``cd:run:<task>``, indexes it in
``cd:runs:<profile>`` and publishes the change on ``cd:events:<profile>``, in one atomic
step that can be made conditional on the state it replaces (so a console cancelling a
queued run and a worker taking it cannot both win). :class:`RunReporter` is what a
worker hangs on a run's :class:`RunContext`: it turns progress (throttled), flow events
and state changes into those writes. Consoles only read (:func:`read_state`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Collection
from typing import Any

import redis
from pydantic import ValidationError

from service.fleet.protocol import (
    RUN_STATE_TTL_S,
    RUNS_INDEX_LIMIT,
    RemoteEvent,
    RemoteRun,
    RemoteState,
    events_channel,
    run_key,
    runs_index_key,
)
from service.flows.context import FlowEvent, Progress
from service.flows.lease import this_host
from service.flows.result import FlowResult
from service.store_records import utc_now

# A run's progress is published at most this often; the last one always goes out.
PROGRESS_INTERVAL_S = 0.25
# A run's last state is written again this long (every few seconds) while Redis is down.
FINAL_STATE_RETRY_S = 300.0
FINAL_STATE_RETRY_INTERVAL_S = 2.0
# State written only when the run's current state is one of those given ("" = none yet).
ABSENT = ""

_log = logging.getLogger(__name__)

# KEYS: run key, index key. ARGV: run JSON, event JSON, TTL, score, index limit,
# channel, task id, then the states the current one must be in (none: any).
_SAVE = """
if #ARGV > 7 then
  local current = redis.call('GET', KEYS[1])
  local state = ''
  if current then state = cjson.decode(current)['state'] end
  local allowed = false
  for i = 8, #ARGV do
    if ARGV[i] == state then allowed = true end
  end
  if not allowed then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[7])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
redis.call('PUBLISH', ARGV[6], ARGV[2])
return 1
"""


def save_state(
    client: redis.Redis,
    run: RemoteRun,
    *,
    expect: Collection[RemoteState | str] | None = None,
    event: RemoteEvent | None = None,
) -> bool:
    """Write ``run`` as its task's latest state, index it and publish ``event``.

    ``event`` defaults to a ``state`` event carrying ``run``. With ``expect``, nothing
    is written unless the current state is one of those (:data:`ABSENT` for a task
    without state yet); returns whether it was written. Raises ``redis.RedisError``.
    """
    event = event or RemoteEvent(kind="state", state=run)
    args: list[Any] = [
        run.model_dump_json(),
        event.model_dump_json(),
        RUN_STATE_TTL_S,
        run.queued_at.timestamp(),
        RUNS_INDEX_LIMIT,
        events_channel(run.profile),
        run.task_id,
    ]
    if expect is not None:
        if not expect:
            raise ValueError("expect names no state: nothing could be written")
        args.extend(expect)
    keys = [run_key(run.task_id), runs_index_key(run.profile)]
    return bool(client.eval(_SAVE, len(keys), *keys, *args))


def read_state(client: redis.Redis, task_id: str) -> RemoteRun | None:
    """The latest state of task ``task_id``; ``None`` if unknown or expired."""
    return parse_run(client.get(run_key(task_id)))


def parse_run(raw: bytes | str | None) -> RemoteRun | None:
    """A stored :class:`RemoteRun`; ``None`` for nothing or for what is not one."""
    if raw is None:
        return None
    try:
        return RemoteRun.model_validate_json(raw)
    except ValidationError:
        _log.warning("ignored a run state that is not a RemoteRun: %.200r", raw)
        return None


def parse_event(raw: bytes | str) -> RemoteEvent | None:
    """A published :class:`RemoteEvent`; ``None`` for what is not one."""
    try:
        return RemoteEvent.model_validate_json(raw)
    except ValidationError:
        _log.warning("ignored a message that is not a RemoteEvent: %.200r", raw)
        return None


def queued_run(task_id: str, profile: str, flow: str) -> RemoteRun:
    """The state of a run just sent: ``queued`` now."""
    now = utc_now()
    return RemoteRun(
        task_id=task_id, profile=profile, flow=flow, state="queued", queued_at=now, updated_at=now
    )


class RunReporter:
    """Publishes one run's life as a worker runs it: state, progress, flow events.

    Thread-safe (a flow reports from its worker threads). Redis being unreachable never
    disturbs the run: a failed write is logged (once per outage) and the next one tries
    again; consoles re-read the state when Redis is back.
    """

    def __init__(self, client: redis.Redis, run: RemoteRun) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._run = run.model_copy(update={"host": this_host(), "pid": os.getpid()})
        self._last_progress = 0.0
        self._pending_progress = False
        self._failing = False

    @property
    def run(self) -> RemoteRun:
        """The run as last reported."""
        with self._lock:
            return self._run

    def start(self, *, expect: Collection[str]) -> bool:
        """Mark the run ``running`` on this worker if its state is one of ``expect``."""
        now = utc_now()
        with self._lock:
            self._run = self._run.model_copy(
                update={
                    "state": "running",
                    "started_at": now,
                    "updated_at": now,
                    "finished_at": None,
                    "message": "",
                    "result": None,
                    "done": 0,
                    "total": None,
                }
            )
            run = self._run
        return save_state(self._client, run, expect=expect)

    def recorded(self, run_id: int) -> None:
        """A :class:`RunContext` ``on_recorded``: the worker's store holds the run now, so
        a console may list it while it runs (its row can no longer clash with ours)."""
        with self._lock:
            self._run = self._run.model_copy(update={"run_id": run_id, "updated_at": utc_now()})
            run = self._run
        self._save(run, RemoteEvent(kind="state", state=run))

    def progress(self, progress: Progress) -> None:
        """A :class:`RunContext` ``on_progress``: state and a ``progress`` event, throttled."""
        with self._lock:
            self._run = self._run.model_copy(
                update={"done": progress.done, "total": progress.total, "updated_at": utc_now()}
            )
            now = time.monotonic()
            if now - self._last_progress < PROGRESS_INTERVAL_S:
                self._pending_progress = True
                return
            self._last_progress = now
            self._pending_progress = False
            run = self._run
        self._save(run, RemoteEvent(kind="progress", state=run, subject=progress.current))

    def event(self, event: FlowEvent) -> None:
        """A :class:`RunContext` ``on_event``: INFO and above are published."""
        if event.level < logging.INFO:
            return
        if event.kind == "run.waiting":
            self._set_state("waiting", event.message)
        elif event.kind == "run.started":
            self._set_state("running", "")
        run = self.run
        self._publish(
            RemoteEvent(
                kind="event",
                state=run,
                event_kind=event.kind,
                subject=event.subject,
                message=event.message,
                level=event.level,
            )
        )

    def finish(self, result: FlowResult) -> None:
        """The run ended (completed, failed, cancelled or interrupted) with ``result``."""
        self._flush_progress()
        now = utc_now()
        with self._lock:
            self._run = self._run.model_copy(
                update={
                    "state": "finished",
                    "finished_at": now,
                    "updated_at": now,
                    "run_id": result.run_id,
                    "message": result.message,
                    "result": result,
                }
            )
            run = self._run
        self._save_final(run, expect=None)

    def refuse(self, message: str, *, expect: Collection[str] | None = None) -> bool:
        """The run never started on this worker: ``refused`` with ``message``."""
        now = utc_now()
        with self._lock:
            self._run = self._run.model_copy(
                update={
                    "state": "refused",
                    "finished_at": now,
                    "updated_at": now,
                    "message": message,
                }
            )
            run = self._run
        return self._save_final(run, expect=expect)

    def _save_final(self, run: RemoteRun, *, expect: Collection[str] | None) -> bool:
        """Write a run's last state, trying again while Redis is unreachable.

        Consoles wait for it; the task's acknowledgement waits for Redis too.
        """
        deadline = time.monotonic() + FINAL_STATE_RETRY_S
        while True:
            try:
                return save_state(self._client, run, expect=expect)
            except redis.RedisError as exc:
                if time.monotonic() > deadline:
                    _log.error(
                        "could not record that task %s is %s: %s", run.task_id, run.state, exc
                    )
                    return False
                self._note_failure(exc)
                time.sleep(FINAL_STATE_RETRY_INTERVAL_S)

    def _set_state(self, state: RemoteState, message: str) -> None:
        with self._lock:
            if self._run.state == state:
                return
            self._run = self._run.model_copy(
                update={"state": state, "message": message, "updated_at": utc_now()}
            )
            run = self._run
        self._save(run, None)

    def _flush_progress(self) -> None:
        with self._lock:
            if not self._pending_progress:
                return
            self._pending_progress = False
            run = self._run
        self._save(run, RemoteEvent(kind="progress", state=run))

    def _publish(self, event: RemoteEvent) -> None:
        try:
            self._client.publish(events_channel(event.state.profile), event.model_dump_json())
            self._failing = False
        except redis.RedisError as exc:
            self._note_failure(exc)

    def _save(self, run: RemoteRun, event: RemoteEvent | None) -> None:
        try:
            save_state(self._client, run, event=event)
            self._failing = False
        except redis.RedisError as exc:
            self._note_failure(exc)

    def _note_failure(self, exc: redis.RedisError) -> None:
        if not self._failing:
            _log.warning("cannot publish the state of task %s: %s", self._run.task_id, exc)
        self._failing = True
