"""The Celery app of a worker process or a console: one broker, the settings runs rely on.

Delivery is at least once: a task is acknowledged only when it has run
(``task_acks_late``), a worker that dies mid-task leaves it to be delivered again
(``task_reject_on_worker_lost``; Redis gives it back after ``visibility_timeout``), and
a worker takes one task per free thread (``worker_prefetch_multiplier = 1``). A run
longer than the visibility timeout is delivered a second time while it still runs; the
task stands that copy down (service/fleet/tasks.py), so keep the timeout above the
longest run. Nothing is kept in a result backend: the run's state is in Redis under
the keys of service/fleet/protocol.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from celery import Celery

from service.config import Profile, ProfileError
from service.fleet.broker import broker_url

# Seconds a task taken by a worker stays invisible to others; a worker that died holding
# it gives it back after this long. Longer than any run (docs/fleet.md).
ENV_VISIBILITY_TIMEOUT = "CHANNELDESK_VISIBILITY_TIMEOUT_S"
DEFAULT_VISIBILITY_TIMEOUT_S = 3600.0
# How often (seconds, and every how many of those a scan runs) a worker looks for tasks
# whose visibility timeout has passed. kombu's defaults: a scan every ~100 s.
ENV_RESTORE_INTERVAL = "CHANNELDESK_UNACKED_RESTORE_INTERVAL_S"
DEFAULT_RESTORE_INTERVAL_S = 10.0
ENV_RESTORE_THROTTLE = "CHANNELDESK_UNACKED_RESTORE_THROTTLE"
DEFAULT_RESTORE_THROTTLE = 10


def create_app(profiles: Sequence[Profile], environ: Mapping[str, str] | None = None) -> Celery:
    """The Celery app for ``profiles`` (all ``runner = "workers"``, one broker).

    Raises :class:`ProfileError` when a profile is not a workers profile, has no broker
    URL, or when the profiles name different brokers (one worker process serves one
    broker: start one per broker), and for an unusable timing variable.
    """
    env = os.environ if environ is None else environ
    if not profiles:
        raise ProfileError("no profile given: name at least one workers profile")
    urls: dict[str, list[str]] = {}
    for profile in profiles:
        if profile.runner != "workers":
            raise ProfileError(
                f"profile {profile.name!r} runs its flows in the console "
                '(runner = "local"); set runner = "workers" and broker_url to run it on workers'
            )
        urls.setdefault(broker_url(profile, env), []).append(profile.name)
    if len(urls) > 1:
        groups = "; ".join(", ".join(names) for names in urls.values())
        raise ProfileError(
            f"these profiles use different brokers ({groups}); one worker process serves "
            "one broker: start a worker per broker"
        )
    app = Celery("channeldesk", broker=next(iter(urls)), set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Without it a broker reconnect hands tasks still running to another worker.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": _seconds(
                env, ENV_VISIBILITY_TIMEOUT, DEFAULT_VISIBILITY_TIMEOUT_S
            ),
            "unacked_restore_interval": _seconds(
                env, ENV_RESTORE_INTERVAL, DEFAULT_RESTORE_INTERVAL_S
            ),
            "unacked_restore_throttle": int(
                _seconds(env, ENV_RESTORE_THROTTLE, DEFAULT_RESTORE_THROTTLE)
            ),
        },
        enable_utc=True,
        timezone="UTC",
        worker_hijack_root_logger=False,
    )
    return app


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ProfileError(f"{name}={text!r} is not a number") from None
    if value <= 0:
        raise ProfileError(f"{name}={text!r} must be greater than 0")
    return value
