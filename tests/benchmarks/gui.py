"""Benchmark of the store-backed views: ``python -m tests.benchmarks.gui [--reports N]``.

Fills a store file with ``--reports`` error reports (200,000 by default) and
``--batches`` batches (20,000) written straight into its tables with sqlite-utils
(the FTS triggers index the reports as they go), then opens the error reports,
batches and runs views offscreen and drives them: filters, full-text searches, a
sort, scrolling (``fetchMore``), ``show_batch`` on an old batch.

A 5 ms QTimer heartbeat on the GUI thread measures how long the thread was ever
busy (the largest gap between two beats). Prints one JSON line: fill time, time to
first paint of each view, each action's duration (until its rows are in and its
total is counted) with the longest stall during it, and the longest stall overall.
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

from service.store import Store
from service.store_records import iso

HEARTBEAT_MS = 5
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
                "raw_request": f"POST - https://omnitron.example/api/v1/orders/ - "
                f'{{"number": "{order}", "shipping_address": {{"city": "{city}"}}}}',
                "raw_response": json.dumps({"detail": problem, "order": order}),
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

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _beat(self) -> None:
        now = time.perf_counter()
        self.max_gap = max(self.max_gap, now - self._last)
        self._last = now

    def take(self) -> float:
        """The longest gap since the last take (counting up to now), in seconds."""
        self._beat()
        gap, self.max_gap = self.max_gap, 0.0
        return gap


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
    if not condition():
        loop.exec()
    check.stop()
    if not condition():
        raise TimeoutError("the view did not settle in time")


def main(argv: list[str] | None = None) -> None:
    """Fill a store, open the views offscreen, drive them, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--store", type=Path, help="reuse (or keep) this store file")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QEvent, QObject, Qt
    from PySide6.QtWidgets import QApplication, QWidget

    from gui.views.batches_view import BatchesView
    from gui.views.errors_view import ErrorsView
    from gui.views.runs_view import RunsView

    with tempfile.TemporaryDirectory() as scratch:
        path = args.store or Path(scratch) / "bench.sqlite3"
        fill_s = None
        if args.store is None or not path.exists():
            fill_s = round(fill(path, args.reports, args.batches), 1)
        app = QApplication.instance() or QApplication([])
        store = Store(path)
        beat = Heartbeat()
        beat.start()
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

        def status_fail() -> None:
            errors.status_filter.setCurrentText("Fail")

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
            errors.status_filter.setCurrentText("All")
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

        for change in (status_fail, code_contains, search_rare, search_city, search_broad,
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
            batches.show_batch(max(1, args.batches // 10))
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
        beat.stop()
        for view in views.values():
            view.model.shutdown()
            view.close()
            view.deleteLater()
        app.processEvents()
        store.close()
        print(json.dumps(result), flush=True)


def _all_reports() -> Any:
    from service.store import ErrorQuery

    return ErrorQuery()


def _slug(change: Callable[[], object]) -> str:
    return getattr(change, "__name__", "action")


if __name__ == "__main__":
    main()
