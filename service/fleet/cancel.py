"""Stopping a run on a worker when a console asks.

A console sets ``cd:cancel:<task>`` and revokes the task (service/fleet/client.py).
Revoking alone does not stop a task that is running, so :class:`CancelWatch`, a small
thread per running task, looks at the key and at the worker's revoked set every
second and sets the run's :class:`CancelToken`: the flow stops at its next safe point
and finishes its batch as a cancel from the console does. The same tick renews the
worker's claim on the task.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from service.fleet.protocol import cancel_key
from service.flows.context import CancelToken

WATCH_INTERVAL_S = 1.0

_log = logging.getLogger(__name__)


def revoked(task_id: str) -> bool:
    """Whether this worker process was told to revoke ``task_id``."""
    from celery.worker import state

    return task_id in state.revoked


class CancelWatch:
    """Polls a task's cancel key (and the revoked set) until stopped; sets ``token``."""

    def __init__(
        self,
        client: redis.Redis,
        task_id: str,
        token: CancelToken,
        *,
        on_tick: Callable[[], None] | None = None,
        interval_s: float = WATCH_INTERVAL_S,
    ) -> None:
        self._client = client
        self._task_id = task_id
        self._token = token
        self._on_tick = on_tick
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"cancel-{task_id}", daemon=True)
        self._failing = False

    def __enter__(self) -> CancelWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                if self._on_tick is not None:
                    self._on_tick()
                asked = revoked(self._task_id) or bool(
                    self._client.exists(cancel_key(self._task_id))
                )
                self._failing = False
            except redis.RedisError as exc:
                if not self._failing:
                    _log.warning("cannot look for a cancel of task %s: %s", self._task_id, exc)
                self._failing = True
                continue
            if asked and not self._token.cancelled:
                _log.info("task %s: cancel asked; stopping at the next safe point", self._task_id)
                self._token.cancel()
