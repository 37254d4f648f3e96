"""What workers and consoles say to each other through Redis and Celery.

One Redis serves a fleet: Celery's broker, the run leases, and the live state of
every run a worker takes. The names and shapes here are the whole contract:

- the Celery queue of profile ``P`` is ``channeldesk.P``; a flow run is the task
  :data:`RUN_FLOW_TASK` with ``(profile, flow, options)``, its id chosen by the sender;
- ``cd:run:<task id>`` holds the run's latest :class:`RemoteRun` as JSON (kept
  :data:`RUN_STATE_TTL_S`), so a console that connects mid-run knows where it is;
- ``cd:runs:<profile>`` is a sorted set of task ids by queue time: the runs to show;
- every change is also published on ``cd:events:<profile>`` as a
  :class:`RemoteEvent` (fire and forget: readers first read the state, then follow);
- ``cd:cancel:<task id>`` set asks the run to stop at its next safe point;
- ``cd:lease:<profile>:<lease name>`` are the run leases of ``workers`` profiles;
- ``cd:claim:<task id>`` names the worker running a task while it runs (kept alive by
  that worker), so a second delivery of the task stands down.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from service.flows.result import FlowResult

RUN_FLOW_TASK = "channeldesk.run_flow"
# A finished run's state stays readable this long (the Runs view keeps its own copy).
RUN_STATE_TTL_S = 7 * 24 * 3600
# The index of a profile's runs keeps this many newest entries.
RUNS_INDEX_LIMIT = 1000

RemoteState = Literal["queued", "waiting", "running", "finished", "refused"]


def queue_name(profile: str) -> str:
    """The Celery queue profile ``profile``'s runs are sent to."""
    return f"channeldesk.{profile}"


def run_key(task_id: str) -> str:
    """Where a run's latest :class:`RemoteRun` is kept."""
    return f"cd:run:{task_id}"


def runs_index_key(profile: str) -> str:
    """The sorted set of a profile's task ids, scored by queue time."""
    return f"cd:runs:{profile}"


def events_channel(profile: str) -> str:
    """The pub/sub channel a profile's run changes are published on."""
    return f"cd:events:{profile}"


def cancel_key(task_id: str) -> str:
    """Set to ask a run to stop at its next safe point."""
    return f"cd:cancel:{task_id}"


def claim_key(task_id: str) -> str:
    """Held by the worker running task ``task_id``, with a short TTL it keeps renewing."""
    return f"cd:claim:{task_id}"


def lease_key(profile: str, name: str) -> str:
    """A run lease (``flow:<flow>``, ``commit:<content type>``, ``outbox``) of a profile."""
    return f"cd:lease:{profile}:{name}"


class RemoteRun(BaseModel):
    """A run sent to the workers, as far as it has got.

    ``queued`` when sent; ``waiting`` for a lease another run holds; ``running`` on a
    worker (``host``, ``pid``, the worker store's ``run_id``); ``finished`` with its
    :class:`FlowResult`; ``refused`` when it never started (``message`` says why, e.g.
    another live run owns the flow).
    """

    model_config = ConfigDict(frozen=True)

    task_id: str
    profile: str
    flow: str
    state: RemoteState
    queued_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    host: str = ""
    pid: int | None = None
    run_id: int | None = None
    done: int = 0
    total: int | None = None
    message: str = ""
    result: FlowResult | None = None


class RemoteEvent(BaseModel):
    """One change of a run, published on the profile's events channel.

    ``state``: the run's new :class:`RemoteRun` (always set). ``kind`` says what changed:
    its state, its progress, or a flow event (``event_kind``, ``subject``, ``message``,
    ``level`` as in :class:`service.flows.context.FlowEvent`).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["state", "progress", "event"]
    state: RemoteRun
    event_kind: str = ""
    subject: str = ""
    message: str = ""
    level: int = 20
