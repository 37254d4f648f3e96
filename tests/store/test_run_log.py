"""The run log: events appended in batches, read back per run, kept across a reopen."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from service.store import RunLogEntry, Store
from service.store_records import utc_now


def _entries(run_id: int, count: int, *, level: int = logging.INFO) -> list[RunLogEntry]:
    start = utc_now()
    return [
        RunLogEntry(
            run_id=run_id,
            at=start + timedelta(milliseconds=i),
            level=level,
            kind=f"order.created.{i}",
            subject=str(7000 + i),
            message=f"Order {7000 + i} created.",
        )
        for i in range(count)
    ]


def test_appended_events_read_back_in_order_per_run(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with Store(path) as store:
        first = store.start_run("fetch-orders", {})
        second = store.start_run("update-orders", {})
        store.append_run_log(first, _entries(first, 3))
        store.append_run_log(second, _entries(second, 1, level=logging.WARNING))
        store.append_run_log(first, _entries(first, 2)[1:])
        store.append_run_log(first, [])

    with Store(path) as reopened:  # as after a restart
        log = reopened.run_log(first)
        other = reopened.run_log(second)

    assert [e.kind for e in log] == [
        "order.created.0",
        "order.created.1",
        "order.created.2",
        "order.created.1",
    ]
    assert {e.run_id for e in log} == {first}
    assert (log[0].message, log[0].subject) == ("Order 7000 created.", "7000")
    assert [(e.level, e.run_id) for e in other] == [(logging.WARNING, second)]


def test_limit_keeps_the_latest_and_level_filters(tmp_path: Path) -> None:
    with Store(tmp_path / "store.sqlite3") as store:
        run = store.start_run("fetch-orders", {})
        store.append_run_log(run, _entries(run, 5, level=logging.DEBUG))
        store.append_run_log(run, _entries(run, 2, level=logging.WARNING))

        latest = store.run_log(run, limit=3)
        warnings = store.run_log(run, min_level=logging.INFO)

    assert [(e.kind, e.level) for e in latest] == [
        ("order.created.4", logging.DEBUG),
        ("order.created.0", logging.WARNING),
        ("order.created.1", logging.WARNING),
    ]
    assert [e.level for e in warnings] == [logging.WARNING, logging.WARNING]


def test_a_run_without_events_has_an_empty_log(tmp_path: Path) -> None:
    with Store(tmp_path / "store.sqlite3") as store:
        run = store.start_run("fetch-orders", {})
        assert store.run_log(run) == []
        assert store.batches_of_run(run) == []
