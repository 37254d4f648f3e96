"""The console of a ``runner = "workers"`` profile: Run, Cancel and the Runs view
against a real ``main.py worker`` process, a real Redis and the simulators.

The profile lives on simulators the test serves (with latency, so a run lasts), its
secrets in the environment. The worker keeps its store in a data directory of its own,
as on another machine; the console reads its runs back from Redis. Everything is
asserted on what the window shows (widgets found by object name), on what Omnitron
holds and on the console's store.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QTableView
from pytestqt.qtbot import QtBot

from gui.main_window import MainWindow
from gui.models.runs import RunsModel
from gui.profiles_hub import ProfilesHub
from gui.session import ConsoleSession
from gui.workers import SessionState
from service.config import load_profile
from service.connect import Locations
from service.fleet.client import FleetClient
from service.fleet.protocol import RemoteRun
from service.flows.lease import this_host
from service.flows.names import Flow
from service.flows.run import FlowOptions
from service.store_records import RunRecord
from tests.conftest import RunningMarketplace, RunningOmnitron, set_latency
from tests.fleet.redis_server import RedisServer
from tests.gui.conftest import READY_TIMEOUT_MS, FakeClock, ini_settings
from tests.processes import start_main, stop
from tests.profiles import sim_profile, sim_secrets, write_profiles
from tests.test_cli import _env

PROFILE = "acme"
# Waits for another process (the worker) or for a run on it; they end far sooner.
WAIT_MS = 120_000


@dataclass
class Site:
    """The simulators, Redis, the profiles file and the worker processes of one test."""

    omnitron: RunningOmnitron
    marketplace: RunningMarketplace
    config: Path
    worker_env: dict[str, str]
    tmp: Path
    workers: list[subprocess.Popen[str]] = field(default_factory=list)
    clients: list[FleetClient] = field(default_factory=list)

    def start_worker(self, concurrency: int = 1) -> subprocess.Popen[str]:
        """``main.py worker --profile acme`` in the background (output in worker.log)."""
        return self._start(
            "worker", "--profile", PROFILE, "--concurrency", str(concurrency), log="worker"
        )

    def start_beat(self) -> subprocess.Popen[str]:
        """``main.py beat`` in the background (output in beat.log)."""
        return self._start("beat", log="beat")

    def _start(self, *args: str, log: str) -> subprocess.Popen[str]:
        process = start_main(*args, env=self.worker_env, log=self.tmp / f"{log}.log")
        self.workers.append(process)
        return process

    def worker_log(self) -> str:
        return (self.tmp / "worker.log").read_text(encoding="utf-8")

    def client(self) -> FleetClient:
        """A client of the profile's workers of the test's own (another process, as it were)."""
        fleet = FleetClient(load_profile(PROFILE, path=self.config))
        self.clients.append(fleet)
        return fleet


@pytest.fixture
def site(
    redis_server: RedisServer,
    start_omnitron: Callable[..., RunningOmnitron],
    start_marketplace: Callable[..., RunningMarketplace],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Site]]:
    """Factory: ``site(orders=N, latency_ms=L[, schedules=…])``; every order a good one.

    ``schedules``: the profile's beat schedules (flow → minutes); one of their minutes lasts
    ``CHANNELDESK_BEAT_MINUTE_S`` seconds for ``main.py beat`` (``extra_env``).
    """
    made: list[Site] = []

    def make(
        orders: int, latency_ms: int, schedules: dict[str, int] | None = None, **extra_env: str
    ) -> Site:
        omnitron = start_omnitron()
        market = start_marketplace(initial_orders=orders, broken_share=0.0, arrival_per_hour=0)
        set_latency(latency_ms, omnitron, market)
        table = sim_profile(
            omnitron.base_url,
            market.base_url,
            omnitron=omnitron.config,
            runner="workers",
            broker_url=redis_server.url,
            workers=4,
            schedules=schedules or {},
        )
        config = write_profiles(tmp_path / "profiles.toml", {PROFILE: table})
        secrets = sim_secrets(PROFILE, omnitron=omnitron.config, marketplace=market.config)
        for name, value in secrets.items():
            monkeypatch.setenv(name, value)  # the console reads them from its environment
        worker_env = _env(
            tmp_path / "worker-data", CHANNELDESK_CONFIG=str(config), **secrets, **extra_env
        )
        made.append(Site(omnitron, market, config, worker_env, tmp_path))
        return made[-1]

    yield make
    for each in made:
        for client in each.clients:
            client.close()
        stop(each.workers)


@dataclass
class WorkersConsole:
    """The console window on the workers profile, ready."""

    window: MainWindow
    session: ConsoleSession

    def find(self, kind: type[Any], name: str) -> Any:
        widget = self.window.findChild(kind, name)
        assert widget is not None, f"no {kind.__name__} named {name!r}"
        return widget

    def runs_model(self) -> RunsModel:
        model = self.find(QTableView, "runs-table").model()
        assert isinstance(model, RunsModel)
        return model

    def runs_of_task(self, task_id: str) -> list[RunRecord]:
        """The rows the Runs view shows for ``task_id``."""
        return [run for run in self.runs_model().records() if run.task_id == task_id]


@pytest.fixture
def open_console(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Site], WorkersConsole]]:
    """Factory: the console window on ``site``'s profile, its store in a data dir of its own."""
    opened: list[tuple[MainWindow, ProfilesHub]] = []
    monkeypatch.setattr(MainWindow, "confirm_close_during_runs", lambda self: True)

    def make(site: Site) -> WorkersConsole:
        profile = load_profile(PROFILE, path=site.config)
        hub = ProfilesHub.open([profile], Locations(tmp_path / "console-data", site.config))
        window = MainWindow(hub, ini_settings(tmp_path / "console.ini"), clock=FakeClock())
        qtbot.addWidget(window)
        window.show()
        hub.start()
        opened.append((window, hub))
        session = window.session
        qtbot.waitUntil(
            lambda: session.state is not SessionState.STARTING, timeout=READY_TIMEOUT_MS
        )
        assert session.state is SessionState.READY, session.error
        return WorkersConsole(window, session)

    yield make
    for window, hub in reversed(opened):
        window.close()
        hub.close()


def live_progress(bar: QProgressBar) -> bool:
    """Whether the bar shows a run's progress ("12 processed · current: order …" while
    the total is unknown, "12 / 40" once known), not its end."""
    text = bar.format()
    return re.match(r"\d+ (processed|/ \d+)", text) is not None and "—" not in text


def wait_until_finished(
    client: FleetClient, task_id: str, worker: subprocess.Popen[str]
) -> RemoteRun:
    """The run's state once it has finished; fails if the worker ended first."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        run = client.state(task_id)
        if run is not None and run.state in ("finished", "refused"):
            assert run.state == "finished", run.message
            return run
        assert worker.poll() is None, f"the worker ended (exit {worker.returncode})"
        time.sleep(0.1)
    pytest.fail(f"run {task_id} did not finish within {WAIT_MS / 1000:.0f} s")


@pytest.mark.slow
def test_run_goes_to_the_workers_waits_for_one_then_shows_progress_and_the_result(
    qtbot: QtBot, site: Callable[..., Site], open_console: Callable[[Site], WorkersConsole]
) -> None:
    deployment = site(orders=40, latency_ms=40)
    console = open_console(deployment)
    runs_on = console.find(QLabel, "runs-on-fetch-orders")
    assert not runs_on.isHidden()
    assert runs_on.text() == f"Runs on the workers of queue channeldesk.{PROFILE}"

    bar = console.find(QProgressBar, "progress-fetch-orders")
    summary = console.find(QLabel, "summary-fetch-orders")
    # No worker yet: the run waits on the queue, and the panel says so.
    qtbot.mouseClick(console.find(QPushButton, "run-fetch-orders"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "no worker has taken it yet" in summary.text(), timeout=WAIT_MS)
    assert bar.format() == "Waiting for a worker…"
    assert summary.text() == (
        f"<b>Sent:</b> queued on channeldesk.{PROFILE}: no worker has taken it yet"
    )

    worker = deployment.start_worker()
    qtbot.waitUntil(lambda: live_progress(bar), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "completed" in bar.format(), timeout=WAIT_MS)
    assert deployment.omnitron.order_count() == 40
    assert "40 created, 0 skipped, 0 failed" in summary.text()
    assert deployment.omnitron.open_batches() == {}
    assert worker.poll() is None, deployment.worker_log()

    # The Runs view lists it, with the worker's host and pid.
    runs = console.runs_model()
    # Listed while it ran; its end reaches the console's store a moment after the panel's.
    qtbot.waitUntil(
        lambda: [run.outcome for run in runs.records() if run.task_id] == ["completed"],
        timeout=WAIT_MS,
    )
    (run,) = [run for run in runs.records() if run.task_id]
    assert (run.flow, run.outcome, run.created) == ("fetch-orders", "completed", 40)
    assert (run.host, run.pid) == (this_host(), worker.pid)
    row = runs.row_of(run.id)
    assert row is not None
    shown = [runs.index(row, column).data() for column in range(runs.columnCount())]
    assert shown[9:11] == [this_host(), str(worker.pid)]
    # One row in the console's store for the task, the worker's own in its store.
    assert len(console.session.store.list_runs()) == 1


@pytest.mark.slow
def test_cancel_stops_the_run_on_its_worker_and_leaves_no_batch_open(
    qtbot: QtBot, site: Callable[..., Site], open_console: Callable[[Site], WorkersConsole]
) -> None:
    deployment = site(orders=80, latency_ms=60)
    worker = deployment.start_worker()
    console = open_console(deployment)
    bar = console.find(QProgressBar, "progress-fetch-orders")
    summary = console.find(QLabel, "summary-fetch-orders")

    qtbot.mouseClick(console.find(QPushButton, "run-fetch-orders"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: live_progress(bar), timeout=WAIT_MS)
    # Mid-run: some orders are in Omnitron already.
    qtbot.waitUntil(lambda: deployment.omnitron.order_count() > 0, timeout=WAIT_MS)
    # The Runs view lists the run while it runs, on its worker (this host, its own store).
    (sent,) = deployment.client().recent(limit=1)
    qtbot.waitUntil(lambda: len(console.runs_of_task(sent.task_id)) == 1, timeout=WAIT_MS)
    (running,) = console.runs_of_task(sent.task_id)
    assert (running.outcome, running.host, running.pid) == ("running", this_host(), worker.pid)
    qtbot.mouseClick(console.find(QPushButton, "cancel-fetch-orders"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "cancelled" in bar.format(), timeout=WAIT_MS)

    assert "cancelled after" in summary.text()
    created = deployment.omnitron.order_count()
    assert 0 < created < 80
    assert deployment.omnitron.open_batches() == {}
    runs = console.runs_model()
    qtbot.waitUntil(
        lambda: [run.outcome for run in runs.records() if run.task_id] == ["cancelled"],
        timeout=WAIT_MS,
    )
    (run,) = [run for run in runs.records() if run.task_id]
    assert run.created == created
    assert worker.poll() is None, deployment.worker_log()


@pytest.mark.slow
def test_closing_the_console_mid_run_leaves_the_run_going_on_its_worker(
    qtbot: QtBot,
    site: Callable[..., Site],
    open_console: Callable[[Site], WorkersConsole],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment = site(orders=60, latency_ms=60)
    worker = deployment.start_worker()
    console = open_console(deployment)
    bar = console.find(QProgressBar, "progress-fetch-orders")
    qtbot.mouseClick(console.find(QPushButton, "run-fetch-orders"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: deployment.omnitron.order_count() > 0, timeout=WAIT_MS)
    assert live_progress(bar)

    def no_question(window: MainWindow) -> bool:
        raise AssertionError("closing asked to cancel a run that goes on on its worker")

    monkeypatch.setattr(MainWindow, "confirm_close_during_runs", no_question)
    console.window.close()
    assert console.window.isHidden()

    (sent,) = deployment.client().recent(limit=1)
    ended = wait_until_finished(deployment.client(), sent.task_id, worker)
    assert ended.result is not None
    assert (ended.result.outcome.value, ended.result.created) == ("completed", 60)
    assert deployment.omnitron.order_count() == 60
    assert deployment.omnitron.open_batches() == {}


@pytest.mark.slow
def test_runs_sent_by_another_process_show_in_the_runs_view_by_themselves(
    qtbot: QtBot, site: Callable[..., Site], open_console: Callable[[Site], WorkersConsole]
) -> None:
    deployment = site(orders=10, latency_ms=10)
    worker = deployment.start_worker()
    # Sent elsewhere (another console, `main.py run`, beat) and over before the console opens.
    other = deployment.client()
    earlier = other.send(Flow.FETCH_ORDERS, FlowOptions(workers=4))
    ended = wait_until_finished(other, earlier.task_id, worker)
    assert ended.result is not None
    assert ended.result.created == 10

    console = open_console(deployment)
    # Read from the workers' latest runs when the console starts.
    qtbot.waitUntil(lambda: len(console.runs_of_task(earlier.task_id)) == 1, timeout=WAIT_MS)
    (run,) = console.runs_of_task(earlier.task_id)
    assert (run.outcome, run.created, run.host, run.pid) == (
        "completed",
        10,
        this_host(),
        worker.pid,
    )

    # Sent while it is open: it shows up without a click.
    later = other.send(Flow.FETCH_ORDERS, FlowOptions(workers=4))
    qtbot.waitUntil(
        lambda: [run.outcome for run in console.runs_of_task(later.task_id)] == ["completed"],
        timeout=WAIT_MS,
    )
    (run,) = console.runs_of_task(later.task_id)
    assert (run.created, run.host, run.pid) == (0, this_host(), worker.pid)
    assert deployment.omnitron.order_count() == 10
    stored = [row.task_id for row in console.session.store.list_runs(descending=False)]
    assert stored == [earlier.task_id, later.task_id]


@pytest.mark.slow
def test_runs_beat_fires_show_in_the_runs_view(
    qtbot: QtBot, site: Callable[..., Site], open_console: Callable[[Site], WorkersConsole]
) -> None:
    # One schedule minute lasts 2 s for this beat (a test-only knob): it fires within seconds.
    deployment = site(
        orders=5,
        latency_ms=0,
        schedules={"fetch-orders": 1},
        CHANNELDESK_BEAT_MINUTE_S="2",
    )
    worker = deployment.start_worker()
    console = open_console(deployment)
    beat = deployment.start_beat()

    runs = console.runs_model()
    qtbot.waitUntil(
        lambda: any(run.task_id and run.outcome == "completed" for run in runs.records()),
        timeout=WAIT_MS,
    )
    beat.terminate()
    beat.wait(timeout=30)
    first = min((run for run in runs.records() if run.task_id), key=lambda run: run.id)
    assert (first.flow, first.created, first.host, first.pid) == (
        "fetch-orders",
        5,
        this_host(),
        worker.pid,
    )
    assert deployment.omnitron.order_count() == 5


@pytest.mark.slow
def test_a_run_the_workers_refuse_reads_like_a_lease_refusal(
    qtbot: QtBot, site: Callable[..., Site], open_console: Callable[[Site], WorkersConsole]
) -> None:
    deployment = site(orders=80, latency_ms=60)
    # Two threads: the console's run is taken while another one runs the flow.
    worker = deployment.start_worker(concurrency=2)
    console = open_console(deployment)
    other = deployment.client()
    running = other.send(Flow.FETCH_ORDERS, FlowOptions(workers=4))
    qtbot.waitUntil(lambda: deployment.omnitron.order_count() > 0, timeout=WAIT_MS)
    state = other.state(running.task_id)
    assert state is not None
    assert state.state == "running"

    bar = console.find(QProgressBar, "progress-fetch-orders")
    summary = console.find(QLabel, "summary-fetch-orders")
    qtbot.mouseClick(console.find(QPushButton, "run-fetch-orders"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bar.format() == "Not started", timeout=WAIT_MS)
    busy = re.fullmatch(
        r"<b>Not started:</b> fetch-orders is already running \(pid (\d+) on (.+) since "
        r"\d\d:\d\d\)\.",
        summary.text(),
    )
    assert busy is not None, summary.text()
    assert (int(busy.group(1)), busy.group(2)) == (worker.pid, this_host())
    assert console.find(QPushButton, "run-fetch-orders").isEnabled()
    wait_until_finished(other, running.task_id, worker)
    assert deployment.omnitron.order_count() == 80


def test_a_run_cancelled_before_a_worker_took_it_shows_as_not_started(
    qtbot: QtBot, site: Callable[..., Site], open_console: Callable[[Site], WorkersConsole]
) -> None:
    deployment = site(orders=5, latency_ms=0)
    console = open_console(deployment)  # and no worker at all
    bar = console.find(QProgressBar, "progress-fetch-orders")
    summary = console.find(QLabel, "summary-fetch-orders")

    qtbot.mouseClick(console.find(QPushButton, "run-fetch-orders"), Qt.MouseButton.LeftButton)
    cancel = console.find(QPushButton, "cancel-fetch-orders")
    qtbot.waitUntil(cancel.isEnabled, timeout=WAIT_MS)
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)

    # The workers' refusal reads like a lease refusal: a sentence, not a crash.
    qtbot.waitUntil(lambda: bar.format() == "Cancelled while queued", timeout=WAIT_MS)
    assert summary.text() == "<b>Cancelled while queued:</b> cancelled before it started"
    assert console.find(QPushButton, "run-fetch-orders").isEnabled()
    assert deployment.omnitron.order_count() == 0
    assert console.session.store.list_runs() == []


def test_a_workers_profile_without_the_workers_extra_says_how_to_install_it(
    qtbot: QtBot,
    site: Callable[..., Site],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment = site(orders=1, latency_ms=0)
    monkeypatch.setitem(sys.modules, "celery", None)  # as if Celery were not installed
    session = ConsoleSession(
        load_profile(PROFILE, path=deployment.config),
        Locations(tmp_path / "console-data", deployment.config),
    )
    try:
        with qtbot.waitSignal(session.failed, timeout=READY_TIMEOUT_MS) as failed:
            session.start()
        assert failed.args == [
            "FleetUnavailable: this needs the workers extra: pip install 'channeldesk[workers]'"
        ]
        assert session.flow_runner is None
    finally:
        session.close()
