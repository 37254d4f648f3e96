"""The fleet commands' set-up: the beat table, the worker's command line, refusals."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

from service.cli import main
from service.cli_fleet import beat_schedule, worker_argv
from service.config import ProfileError
from service.fleet.app import create_app
from service.fleet.protocol import RUN_FLOW_TASK
from tests.fleet.test_workers_client import workers_profile


def test_beat_sends_each_profiles_schedules_to_its_queue() -> None:
    alpha = workers_profile("alpha", "redis://127.0.0.1:6379/0").model_copy(
        update={"schedules": {"fetch-orders": 5, "check-batches": 15}, "workers": 3}
    )

    table = beat_schedule([alpha])

    assert sorted(table) == ["alpha: check-batches", "alpha: fetch-orders"]
    entry = table["alpha: fetch-orders"]
    assert entry["task"] == RUN_FLOW_TASK
    assert entry["schedule"] == timedelta(minutes=5)
    assert entry["options"] == {"queue": "channeldesk.alpha"}
    profile, flow, options = entry["args"]
    assert (profile, flow, options["workers"], options["lease_wait_s"]) == (
        "alpha",
        "fetch-orders",
        3,
        0.0,
    )
    assert beat_schedule([alpha], minute_s=2)["alpha: check-batches"]["schedule"] == timedelta(
        seconds=30
    )


def test_a_worker_serves_its_profiles_queues_on_threads() -> None:
    argv = worker_argv(
        [workers_profile("alpha", "redis://h/0"), workers_profile("beta", "redis://h/0")], 3
    )

    assert argv[argv.index("--queues") + 1] == "channeldesk.alpha,channeldesk.beta"
    assert argv[argv.index("--pool") + 1] == "threads"
    assert argv[argv.index("--concurrency") + 1] == "3"
    assert "--task-events" in argv


def test_one_worker_process_serves_one_broker() -> None:
    with pytest.raises(ProfileError, match="different brokers"):
        create_app(
            [workers_profile("alpha", "redis://a/0"), workers_profile("beta", "redis://b/0")],
            environ={},
        )


def test_the_visibility_timeout_comes_from_the_environment() -> None:
    app = create_app(
        [workers_profile("alpha", "redis://a/0")],
        environ={"CHANNELDESK_VISIBILITY_TIMEOUT_S": "8"},
    )
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == 8
    assert app.conf.task_acks_late is True
    with pytest.raises(ProfileError, match="CHANNELDESK_VISIBILITY_TIMEOUT_S='soon'"):
        create_app(
            [workers_profile("alpha", "redis://a/0")],
            environ={"CHANNELDESK_VISIBILITY_TIMEOUT_S": "soon"},
        )


def test_without_the_workers_extra_the_commands_say_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # None in sys.modules makes ``import celery`` fail, as when it is not installed.
    monkeypatch.setitem(sys.modules, "celery", None)
    environ = {"CHANNELDESK_CONFIG": str(tmp_path / "none.toml")}

    assert main(["worker", "--profile", "alpha"], environ=environ) == 2
    assert main(["beat"], environ=environ) == 2

    err = capsys.readouterr().err.splitlines()
    hint = "error: this needs the workers extra: pip install 'channeldesk[workers]'"
    assert err == [hint, hint]


def test_a_local_profile_cannot_be_served_by_a_worker(tmp_path: Path) -> None:
    local = workers_profile("alpha", "redis://a/0").model_copy(update={"runner": "local"})
    with pytest.raises(ProfileError, match='runner = "local"'):
        create_app([local], environ={})
