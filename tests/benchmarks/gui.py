"""Benchmark of the GUI thread: ``python -m tests.benchmarks.gui [--scenarios run,idle,views]``.

A 5 ms QTimer heartbeat on the GUI thread measures how long the thread was ever
busy (the largest gap between two beats: a stall). Three scenarios, offscreen:

- ``run``: the whole console on a profile served by both simulators in a child
  process (``--orders`` 1,000, ``--latency-ms`` 20 added to every request) runs
  fetch-orders from its tab to the end;
- ``idle``: the same console, connected and idle, for ``--idle-s`` seconds (30): its
  timers (view refresh, health check, "updated N s ago") are all that runs;
- ``views``: a store file filled with ``--reports`` error reports (1,000,000) and
  ``--batches`` batches (20,000) written straight into its tables with sqlite-utils
  (the FTS triggers index the reports as they go); the error reports, batches and
  runs views are opened and driven: filters, full-text searches, a sort, scrolling
  (``fetchMore``), ``show_batch`` on an old batch.

Prints one JSON line: per scenario the longest stall and the stalls over 50 ms (the
target: none), plus for ``views`` the fill time, the time to first paint of each view
and each action's duration (until its rows are in and its total is counted) with the
longest stall during it; ``max_stall_ms`` is the longest stall of all.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from service.report_search import searchable_values
from service.store import Store
from service.store_records import iso

HEARTBEAT_MS = 5
# The GUI thread's budget: a stall longer than this is felt.
TARGET_MS = 50
CITIES = ("Istanbul", "Ankara", "Izmir", "Bursa", "Antalya", "Konya", "Kayseri", "Eskisehir")
PROBLEMS = (
    "unknown city {city}",
    "cargo company ARAS-{n} not mapped",
    "product SKU-{n} has no integration action",
    "customer e-mail missing",
    "amount '{n},5O' is not a decimal",
)


def fill(path: Path, reports: int, batches: int, seed: int = 7) -> float:
    """Write ``reports`` error reports, ``batches`` batches (+ events) and runs; seconds."""
    started = time.perf_counter()
    Store(path).close()  # creates and migrates the schema
    db = sqlite_utils.Database(path)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    spread = timedelta(days=30)
    runs = max(1, reports // 100)

    def run_rows() -> Iterator[dict[str, Any]]:
        for number in range(1, runs + 1):
            at = iso(now - spread + spread * number / runs)
            yield {
                "id": number,
                "flow": rng.choice(("fetch-orders", "fetch-orders", "update-orders")),
                "started_at": at,
                "finished_at": at,
                "outcome": rng.choice(("completed", "completed", "failed")),
                "created": rng.randint(0, 40),
                "error_count": rng.randint(0, 10),
                "duration_s": rng.uniform(0.5, 90),
            }

    def batch_rows() -> Iterator[dict[str, Any]]:
        statuses = ("done",) * 6 + ("fail", "sent_to_remote", "ongoing", "initialized")
        for pk in range(1, batches + 1):
            at = iso(now - spread + spread * pk / batches)
            objects = [
                {"pk": pk * 10 + i, "content_type": "order", "remote_id": f"R{pk}-{i}",
                 "failed_reason_type": rng.choice((None, None, None, "remote", "mapping"))}
                for i in range(rng.randint(1, 5))
            ]  # fmt: skip
            yield {
                "pk": pk,
                "local_batch_id": f"{pk:08x}-{rng.getrandbits(32):08x}",
                "remote_batch_id": f"RB-{pk}" if rng.random() < 0.5 else None,
                "content_type": "order" if rng.random() < 0.9 else "cancellationrequest",
                "status": rng.choice(statuses),
                "objects": json.dumps(objects),
                "object_count": len(objects),
                "failed_count": sum(1 for o in objects if o["failed_reason_type"]),
                "flow": "update-orders",
                "run_id": rng.randint(1, runs),
                "created_at": at,
                "updated_at": at,
                "last_transition_at": at,
            }

    def event_rows() -> Iterator[dict[str, Any]]:
        for pk in range(1, batches + 1):
            at = iso(now - spread + spread * pk / batches)
            for status in ("initialized", "commit", "sent_to_remote"):
                yield {"batch_pk": pk, "status": status, "at": at, "note": ""}

    def report_rows() -> Iterator[dict[str, Any]]:
        for number in range(reports):
            at = iso(now - spread + spread * number / reports)
            city = rng.choice(CITIES)
            order = f"ORD-{number:07d}"
            problem = rng.choice(PROBLEMS).format(city=city, n=number % 997)
            ok = rng.random() < 0.25
            batch = rng.randint(1, batches)
            raw_request = (
                f"POST - https://omnitron.example/api/v1/orders/ - "
                f'{{"number": "{order}", "shipping_address": {{"city": "{city}"}}}}'
            )
            raw_response = json.dumps({"detail": problem, "order": order})
            yield {
                "code": f"{batch:08x}-{'Channel-GetOrders' if ok else 'CreateOrder'}_{order}-"
                f"{rng.getrandbits(32):08x}",
                "description": f"order {order} created" if ok else problem,
                "is_ok": int(ok),
                "flow": "fetch-orders",
                "run_id": 1 + number * runs // reports,
                "batch_pk": batch,
                "local_batch_id": f"{batch:08x}",
                "content_type": rng.choice(("order", "order", "orderitem", "batchrequest")),
                "object_id": str(number),
                "subject": order,
                "raw_request": raw_request,
                "raw_response": raw_response,
                # What the store writes beside them: the values the search covers.
                "search_values": searchable_values(raw_request, raw_response),
                "omnitron_payload": "{}",
                "delivered": 1,
                "created_at": at,
                "last_seen_at": at,
            }

    db["runs"].insert_all(run_rows(), batch_size=1000)
    db["batch_requests"].insert_all(batch_rows(), batch_size=1000)
    db["batch_events"].insert_all(event_rows(), batch_size=2000)
    db["error_reports"].insert_all(report_rows(), batch_size=2000)
    db.execute("ANALYZE")
    db.close()
    return time.perf_counter() - started


class Heartbeat:
    """A 5 ms timer on the GUI thread; the largest gap between beats is the longest stall."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self._timer = QTimer()
        self._timer.setInterval(HEARTBEAT_MS)
        self._timer.timeout.connect(self._beat)
        self._last = time.perf_counter()
        self.max_gap = 0.0
        self.over_target = 0

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _beat(self) -> None:
        now = time.perf_counter()
        gap = now - self._last
        self.max_gap = max(self.max_gap, gap)
        if gap * 1000 > TARGET_MS:
            self.over_target += 1
        self._last = now

    def take(self) -> float:
        """The longest gap since the last take (counting up to now), in seconds."""
        self._beat()
        gap, self.max_gap = self.max_gap, 0.0
        return gap

    def take_over_target(self) -> int:
        """How many gaps since the last call were longer than the target."""
        count, self.over_target = self.over_target, 0
        return count


def wait_for(condition: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Run the event loop until ``condition()`` holds (checked every millisecond)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    check = QTimer()
    check.setInterval(1)
    deadline = time.perf_counter() + timeout_s

    def poll() -> None:
        if condition() or time.perf_counter() > deadline:
            loop.quit()

    check.timeout.connect(poll)
    check.start()
    try:
        # A state can hold for one poll and be gone by the time the loop returns (a
        # model between two pages): go on until it holds when looked at here.
        while not condition():
            if time.perf_counter() > deadline:
                raise TimeoutError("the view did not settle in time")
            loop.exec()
    finally:
        check.stop()


def spin(seconds: float) -> None:
    """Run the event loop for ``seconds``."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def console_scenarios(
    beat: Heartbeat, *, orders: int, latency_ms: int, idle_s: float, run: bool, idle: bool
) -> dict[str, Any]:
    """The whole console on simulators in a child process: idle, then fetch-orders."""
    from PySide6.QtCore import QSettings

    from gui.app import freeze_long_lived
    from gui.main_window import MainWindow
    from gui.session import ConsoleSession
    from gui.workers import SessionState
    from service.config import ChannelProfile, OmnitronProfile, Profile, secret_env_var
    from service.connect import Locations
    from service.flows.names import Flow
    from service.flows.result import FlowResult
    from tests.benchmarks.simulators import SimulatorProcess

    found: dict[str, Any] = {}
    with (
        SimulatorProcess(orders=orders, latency_ms=latency_ms) as sims,
        tempfile.TemporaryDirectory() as tmp,
    ):
        os.environ[secret_env_var("bench", "omnitron")] = "sandbox"
        os.environ[secret_env_var("bench", "channel")] = "sandbox-key"
        profile = Profile(
            name="bench",
            omnitron=OmnitronProfile(
                url=sims.omnitron_url, username="sandbox", channel_id=1, catalog_id=1
            ),
            channel=ChannelProfile(settings={"base_url": sims.marketplace_url}),
        )
        session = ConsoleSession(profile, Locations(Path(tmp) / "data", Path(tmp) / "p.toml"))
        settings = QSettings(str(Path(tmp) / "console.ini"), QSettings.Format.IniFormat)
        window = MainWindow(session, settings)
        window.resize(1366, 768)
        window.show()
        session.start()
        wait_for(lambda: session.state is not SessionState.STARTING)
        if session.state is not SessionState.READY:
            raise RuntimeError(f"the console could not connect: {session.error}")
        freeze_long_lived()  # as gui/app.py does once the connection is ready
        spin(1.0)  # the first refreshes and the health check
        if idle:
            beat.take()
            beat.take_over_target()
            spin(idle_s)
            found["idle"] = {
                "seconds": idle_s,
                "max_stall_ms": round(beat.take() * 1000, 1),
                "stalls_over_50ms": beat.take_over_target(),
            }
        if run:
            results: list[FlowResult] = []
            window.lanes.finished.connect(lambda _flow, result: results.append(result))
            beat.take()
            beat.take_over_target()
            started = time.perf_counter()
            window.run_flow(Flow.FETCH_ORDERS)
            wait_for(lambda: bool(results), timeout_s=1800)
            wall = time.perf_counter() - started
            spin(0.5)  # the views refresh after the run
            result = results[0]
            found["run"] = {
                "orders": orders,
                "latency_ms": latency_ms,
                "created": result.created,
                "failed": result.failed,
                "wall_s": round(wall, 1),
                "max_stall_ms": round(beat.take() * 1000, 1),
                "stalls_over_50ms": beat.take_over_target(),
            }
        window.close()
        window.deleteLater()
        spin(0.1)
    return found


def main(argv: list[str] | None = None) -> None:
    """Run the scenarios offscreen and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios", default="run,idle,views", help="comma-separated: run, idle, views"
    )
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--idle-s", type=float, default=30.0)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--store", type=Path, help="reuse (or keep) this store file")
    args = parser.parse_args(argv)
    scenarios = {name.strip() for name in args.scenarios.split(",") if name.strip()}
    unknown = scenarios - {"run", "idle", "views"}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    beat = Heartbeat()
    beat.start()
    report: dict[str, Any] = {"target_ms": TARGET_MS}
    if scenarios & {"run", "idle"}:
        report |= console_scenarios(
            beat,
            orders=args.orders,
            latency_ms=args.latency_ms,
            idle_s=args.idle_s,
            run="run" in scenarios,
            idle="idle" in scenarios,
        )
    if "views" in scenarios:
        report["views"] = views_scenario(app, beat, args.reports, args.batches, args.store)
    beat.stop()
    report["max_stall_ms"] = max(
        part["max_stall_ms"] for part in report.values() if isinstance(part, dict)
    )
    print(json.dumps(report), flush=True)


def views_scenario(
    app: Any, beat: Heartbeat, reports: int, batches_count: int, store_path: Path | None
) -> dict[str, Any]:
    """Fill a store, open the data views, drive them; their measurements."""
    from PySide6.QtCore import QEvent, QObject, Qt
    from PySide6.QtWidgets import QWidget

    from gui.app import freeze_long_lived
    from gui.views.batches_view import BatchesView
    from gui.views.errors_view import ErrorsView
    from gui.views.runs_view import RunsView

    with tempfile.TemporaryDirectory() as scratch:
        path = store_path or Path(scratch) / "bench.sqlite3"
        fill_s = None
        if store_path is None or not path.exists():
            fill_s = round(fill(path, reports, batches_count), 1)
        store = Store(path)
        beat.take()
        beat.take_over_target()
        result: dict[str, Any] = {
            "reports": store.count_error_reports(_all_reports()),
            "batches": store.count_batches(),
            "fill_s": fill_s,
            "first_paint_ms": {},
            "actions": {},
        }

        class PaintWatch(QObject):
            """Notes the first paint of a table viewport with rows in it."""

            def __init__(self, widget: QWidget, has_rows: Callable[[], bool]) -> None:
                super().__init__()
                self.at: float | None = None
                self._has_rows = has_rows
                widget.installEventFilter(self)

            def eventFilter(self, _obj: QObject, event: QEvent) -> bool:  # noqa: N802
                if event.type() == QEvent.Type.Paint and self.at is None and self._has_rows():
                    self.at = time.perf_counter()
                return False

        views: dict[str, Any] = {}
        for name, cls in (("errors", ErrorsView), ("batches", BatchesView), ("runs", RunsView)):
            beat.take()
            started = time.perf_counter()
            view = cls(store)
            view.resize(1400, 900)
            watch = PaintWatch(view.table.viewport(), lambda v=view: v.model.rowCount() > 0)
            view.show()
            wait_for(lambda w=watch: w.at is not None)
            result["first_paint_ms"][name] = round((watch.at - started) * 1000, 1)
            view.table.viewport().removeEventFilter(watch)
            views[name] = view
        result["actions"]["open_views"] = {"stall_ms": round(beat.take() * 1000, 1)}
        # As the console does once it is connected (gui/app.py): one collection, then
        # what lives on is left out of later ones. Its own stall is reported apart.
        beat.take()
        freeze_long_lived()
        result["freeze_stall_ms"] = round(beat.take() * 1000, 1)

        def act(name: str, view: Any, change: Callable[[], object], counted: bool = True) -> None:
            beat.take()
            started = time.perf_counter()
            change()
            app.processEvents()
            wait_for(lambda: not view.model.is_loading and not view.model._reader.busy)
            if counted:
                wait_for(lambda: view.model.total is not None)
            views[name].table.viewport().repaint()
            result["actions"][f"{name}:{_slug(change)}"] = {
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "stall_ms": round(beat.take() * 1000, 1),
                "rows": view.model.rowCount(),
                "total": view.model.total,
            }

        errors = views["errors"]
        batches = views["batches"]

        def show_all() -> None:
            errors.show_successes.setChecked(True)  # the view opens on failures only

        def code_contains() -> None:
            errors.code_filter.setText("CreateOrder_ORD-01")
            errors._apply_filters()  # skip the 250 ms debounce: measure the query

        def search_rare() -> None:
            errors.code_filter.clear()
            errors.search.setText("ORD-0123456")
            errors._apply_filters()

        def search_city() -> None:
            errors.search.setText("Istanbul")
            errors._apply_filters()

        def search_broad() -> None:
            errors.show_successes.setChecked(False)
            errors.search.setText("order")
            errors._apply_filters()

        def sort_by_code() -> None:
            errors.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)

        def clear_filters() -> None:
            errors.clear_filters()
            errors.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)

        def scroll() -> None:
            for _ in range(5):
                errors.table.scrollToBottom()
                app.processEvents()
                wait_for(lambda: not errors.model.is_loading)

        for change in (show_all, code_contains, search_rare, search_city, search_broad,
                       sort_by_code, clear_filters, scroll):  # fmt: skip
            act("errors", errors, change)

        def quick_failed() -> None:
            batches.findChild(QWidget, "batches-filter-failed").click()

        def quick_progress() -> None:
            batches.findChild(QWidget, "batches-filter-progress").click()

        def sort_by_status() -> None:
            batches.findChild(QWidget, "batches-filter-all").click()
            batches.table.sortByColumn(4, Qt.SortOrder.AscendingOrder)

        def scroll_batches() -> None:
            for _ in range(5):
                batches.table.scrollToBottom()
                app.processEvents()
                wait_for(lambda: not batches.model.is_loading)

        def show_old_batch() -> None:
            batches.table.sortByColumn(6, Qt.SortOrder.DescendingOrder)
            wait_for(lambda: not batches.model.is_loading)
            batches.show_batch(max(1, batches_count // 10))
            wait_for(lambda: bool(batches.table.selectionModel().selectedRows()))

        for change in (quick_failed, quick_progress, sort_by_status, scroll_batches,
                       show_old_batch):  # fmt: skip
            act("batches", batches, change)

        result["max_stall_ms"] = round(
            max(
                [a["stall_ms"] for a in result["actions"].values()]
                + [result["actions"]["open_views"]["stall_ms"]]
            ),
            1,
        )
        result["stalls_over_50ms"] = beat.take_over_target()
        for view in views.values():
            view.model.shutdown()
            view.close()
            view.deleteLater()
        app.processEvents()
        store.close()
        return result


def _all_reports() -> Any:
    from service.store import ErrorQuery

    return ErrorQuery()


def _slug(change: Callable[[], object]) -> str:
    return getattr(change, "__name__", "action")


if __name__ == "__main__":
    main()
