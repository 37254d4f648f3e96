"""Store.hourly_activity: orders created and errors per hour, from indexes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.store import NewErrorReport, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "test.sqlite3") as opened:
        yield opened


def _finish(store: Store, run_id: int, created: int) -> None:
    store.finish_run(
        run_id,
        outcome="completed",
        created=created,
        updated=0,
        skipped=0,
        failed=0,
        error_count=0,
        message="",
        duration_s=1.0,
    )


def test_counts_created_orders_and_errors_per_hour(store: Store) -> None:
    _finish(store, store.start_run("fetch-orders", {}), created=4)
    _finish(store, store.start_run("fetch-orders", {}), created=3)
    _finish(store, store.start_run("update-orders", {}), created=50)  # not orders created
    for ok in (False, False, True):
        store.add_error_report(NewErrorReport(code="c", is_ok=ok))
    now = datetime.now(UTC)
    (bucket,) = store.hourly_activity(now - timedelta(hours=1))
    hour, created, errors = bucket
    assert hour == now.replace(minute=0, second=0, microsecond=0)
    assert (created, errors) == (7, 2)
    assert store.hourly_activity(now + timedelta(hours=1)) == []


def test_moves_rows_between_hours_and_uses_indexes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add_error_report(NewErrorReport(code="old"))
    store.add_error_report(NewErrorReport(code="new"))
    assert store.path is not None
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "UPDATE error_reports SET created_at = ? WHERE code = 'old'",
            ["2024-05-01T09:59:59.000000+00:00"],
        )
    conn.close()
    seen: list[tuple[str, list[object]]] = []
    original = store._rows

    def spy(sql: str, params: object = ()) -> list:
        seen.append((sql, list(params)))  # type: ignore[call-overload]
        return original(sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "_rows", spy)
    buckets = store.hourly_activity(datetime(2024, 5, 1, 9, tzinfo=UTC))
    assert buckets[0] == (datetime(2024, 5, 1, 9, tzinfo=UTC), 0, 1)
    assert sum(errors for _hour, _created, errors in buckets) == 2

    ((sql, params),) = seen
    with sqlite3.connect(store.path) as conn:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    conn.close()
    assert any("ix_error_reports_is_ok" in step for step in plan), plan
    assert any("ix_runs_flow_started" in step for step in plan), plan
    assert not any(step.startswith("SCAN error_reports") or step == "SCAN runs" for step in plan)
