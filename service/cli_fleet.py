"""The fleet commands: ``main.py worker``, ``main.py beat``, and ``run`` on workers.

``worker`` serves the queues of some ``runner = "workers"`` profiles (threads pool:
the flows are I/O bound and their cancel flag is an in-process event), ``beat`` sends
each profile's scheduled flows to its queue, and ``run`` on a workers profile sends the
flow and follows it live with the same progress bar, lines and exit codes as a local
run. They need the ``workers`` extra; without it they say how to install it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from service.config import Profile, ProfileError, load_profile, load_profiles
from service.connect import Locations
from service.fleet.protocol import RUN_FLOW_TASK, queue_name
from service.flows.lease import this_host
from service.flows.names import Flow
from service.flows.run import FlowOptions
from service.store_errors import private_dir

if TYPE_CHECKING:
    from celery import Celery

INSTALL_HINT = "this needs the workers extra: pip install 'channeldesk[workers]'"
# Seconds one minute of a profile's schedules lasts for `main.py beat`: tests only.
ENV_BEAT_MINUTE_S = "CHANNELDESK_BEAT_MINUTE_S"
BEAT_SCHEDULE_FILE = "beat-schedule"


class FleetUnavailable(Exception):
    """The workers extra (Celery, redis) is not installed; ``str()`` says how to get it."""


def require_workers_extra() -> None:
    """Raise :class:`FleetUnavailable` when Celery or redis cannot be imported."""
    try:
        import celery  # noqa: F401
        import redis  # noqa: F401
    except ImportError:
        raise FleetUnavailable(INSTALL_HINT) from None


# -- parsers -------------------------------------------------------------------------


def add_worker(commands: Any, common: argparse.ArgumentParser, handler: Callable[..., int]) -> None:
    """``main.py worker --profile NAME [--profile NAME…] [--concurrency N]``."""
    worker = commands.add_parser(
        "worker",
        parents=[common],
        help="run flows sent to some workers profiles' queues (Celery worker)",
        description='Serve the queues channeldesk.<profile> of these runner = "workers" '
        "profiles until stopped (Ctrl-C finishes the running flows first). One machine "
        "serves a profile: its store and cursors live here.",
    )
    worker.add_argument(
        "--profile",
        dest="profiles",
        action="append",
        required=True,
        metavar="NAME",
        help="a workers profile to serve (repeatable; all must share one broker)",
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        default=2,
        metavar="N",
        help="flows run at once by this process (threads; default 2)",
    )
    worker.set_defaults(handler=handler)


def add_beat(commands: Any, common: argparse.ArgumentParser, handler: Callable[..., int]) -> None:
    """``main.py beat [--profile NAME…]``."""
    beat = commands.add_parser(
        "beat",
        parents=[common],
        help="send the workers profiles' scheduled flows to their queues (Celery beat)",
        description="Send each workers profile's schedules (schedules = { flow = minutes }) "
        "to its queue until stopped. Run one beat per broker: two would send every "
        "scheduled run twice (the second stands down, refused).",
    )
    beat.add_argument(
        "--profile",
        dest="profiles",
        action="append",
        metavar="NAME",
        help="only this profile (repeatable; default: every workers profile with schedules)",
    )
    beat.set_defaults(handler=handler)


# -- worker --------------------------------------------------------------------------


def worker_argv(profiles: Sequence[Profile], concurrency: int) -> list[str]:
    """The Celery worker command line for ``profiles``."""
    queues = ",".join(queue_name(profile.name) for profile in profiles)
    return [
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--queues",
        queues,
        "--task-events",
        "--hostname",
        f"channeldesk-{os.getpid()}@{this_host()}",
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "INFO",
    ]


def run_worker(
    names: Sequence[str], concurrency: int, locations: Locations, environ: Mapping[str, str]
) -> None:
    """Serve ``names``' queues until the worker is stopped.

    Raises :class:`FleetUnavailable` or :class:`ProfileError` before it starts.
    """
    require_workers_extra()
    from service.fleet.app import create_app
    from service.fleet.broker import broker_url, redis_client
    from service.fleet.tasks import WorkerRuntime, register_tasks

    if concurrency < 1:
        raise ProfileError(f"--concurrency must be at least 1, not {concurrency}")
    profiles = [load_profile(name, path=locations.config_file) for name in dict.fromkeys(names)]
    app = create_app(profiles, environ)
    private_dir(locations.data_dir)
    runtime = WorkerRuntime(
        {profile.name: profile for profile in profiles},
        locations,
        redis_client(broker_url(profiles[0], environ)),
        environ,
    )
    register_tasks(app, runtime)
    try:
        app.worker_main(worker_argv(profiles, concurrency))
    finally:
        runtime.close()


# -- beat ----------------------------------------------------------------------------


def beat_profiles(names: Sequence[str] | None, locations: Locations) -> list[Profile]:
    """The profiles ``beat`` serves: those named, else every workers profile with schedules."""
    if names:
        profiles = [load_profile(name, path=locations.config_file) for name in dict.fromkeys(names)]
        for profile in profiles:
            if profile.runner != "workers":
                raise ProfileError(
                    f'profile {profile.name!r} runs in the console (runner = "local"): its '
                    "schedules are the console's"
                )
        return profiles
    profiles = [
        profile
        for profile in load_profiles(locations.config_file).values()
        if profile.runner == "workers" and profile.schedules
    ]
    if not profiles:
        raise ProfileError(
            f'{locations.config_file}: no runner = "workers" profile has schedules; add '
            "[profiles.<name>.schedules] with <flow> = <minutes>"
        )
    return profiles


def beat_schedule(
    profiles: Sequence[Profile], *, minute_s: float = 60.0
) -> dict[str, dict[str, Any]]:
    """Celery beat entries: each profile's flows every N minutes, sent to its queue.

    A scheduled run has the options a console's scheduled run has: the profile's
    workers and success-log choice, synchronous updates, no waiting for a busy lease
    (a run still going makes the next one refused, not queued behind it).
    """
    entries: dict[str, dict[str, Any]] = {}
    for profile in profiles:
        options = FlowOptions(workers=profile.workers, is_success_log=profile.is_success_log)
        for flow, minutes in sorted(profile.schedules.items()):
            entries[f"{profile.name}: {flow}"] = {
                "task": RUN_FLOW_TASK,
                "schedule": timedelta(seconds=minutes * minute_s),
                "args": (profile.name, Flow(flow).value, options.model_dump(mode="json")),
                "options": {"queue": queue_name(profile.name)},
            }
    return entries


def run_beat(names: Sequence[str] | None, locations: Locations, environ: Mapping[str, str]) -> None:
    """Send the profiles' scheduled flows until beat is stopped."""
    require_workers_extra()
    from service.fleet.app import create_app

    profiles = beat_profiles(names, locations)
    app: Celery = create_app(profiles, environ)
    app.conf.beat_schedule = beat_schedule(profiles, minute_s=_minute_s(environ))
    private_dir(locations.data_dir)
    for name, entry in app.conf.beat_schedule.items():
        logging.getLogger(__name__).info("beat: %s every %s", name, entry["schedule"])
    app.Beat(schedule=str(locations.data_dir / BEAT_SCHEDULE_FILE), loglevel="INFO").run()


def _minute_s(environ: Mapping[str, str]) -> float:
    text = environ.get(ENV_BEAT_MINUTE_S, "").strip()
    if not text:
        return 60.0
    try:
        value = float(text)
    except ValueError:
        raise ProfileError(f"{ENV_BEAT_MINUTE_S}={text!r} is not a number") from None
    if value <= 0:
        raise ProfileError(f"{ENV_BEAT_MINUTE_S}={text!r} must be greater than 0")
    return value


# -- run on workers ------------------------------------------------------------------


def remote_runner(profile: Profile, environ: Mapping[str, str]) -> Any:
    """A :class:`RemoteFlowRunner` of ``profile`` (close its ``client`` when done)."""
    require_workers_extra()
    from service.fleet.client import FleetClient, RemoteFlowRunner

    return RemoteFlowRunner(FleetClient(profile, environ=environ))


def configure_worker_logging(verbosity: int) -> None:
    """Workers log their runs at INFO (``-v``: debug detail too) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity >= 1 else logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
