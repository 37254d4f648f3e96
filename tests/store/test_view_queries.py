"""Store queries behind the console's views: runs in any order, batches with failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.store import BatchMirror, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def _run(store: Store, flow: str, created: int, failed: int = 0) -> int:
    run_id = store.start_run(flow, {})
    store.finish_run(
        run_id,
        outcome="completed",
        created=created,
        updated=0,
        skipped=0,
        failed=failed,
        error_count=failed,
        message="",
        duration_s=1.0,
    )
    return run_id


def test_runs_sort_by_a_known_column_and_count(store: Store) -> None:
    a = _run(store, "fetch-orders", 5, failed=2)
    b = _run(store, "update-orders", 9)
    c = _run(store, "fetch-orders", 1, failed=7)
    assert [r.id for r in store.list_runs()] == [c, b, a]
    assert [r.id for r in store.list_runs(order_by="created", descending=True)] == [b, a, c]
    assert [r.id for r in store.list_runs(order_by="failed", descending=False)] == [b, a, c]
    assert [r.id for r in store.list_runs(flow="fetch-orders", order_by="created")] == [a, c]
    assert [r.id for r in store.list_runs(order_by="flow", descending=False, limit=2)] == [a, c]
    assert store.count_runs() == 3
    assert store.count_runs(flow="fetch-orders") == 2
    with pytest.raises(ValueError, match="order_by"):
        store.list_runs(order_by="message; DROP TABLE runs")


def test_batches_with_failures_include_done_ones(store: Store) -> None:
    failed_objects = [{"pk": 1, "failed_reason_type": "remote"}, {"pk": 2}]
    run_id = store.start_run("fetch-orders", {})
    store.record_batch(BatchMirror(pk=1, local_batch_id="a", status="done", run_id=run_id))
    store.record_batch(BatchMirror(pk=2, local_batch_id="b", status="done", objects=failed_objects))
    store.record_batch(BatchMirror(pk=3, local_batch_id="c", status="fail", objects=failed_objects))
    store.record_batch(BatchMirror(pk=4, local_batch_id="d", status="fail"))
    assert [b.pk for b in store.list_batches(with_failures=True)] == [3, 2]
    assert store.count_batches(with_failures=True) == 2
    assert [b.pk for b in store.list_batches(statuses=["fail"])] == [4, 3]
    assert store.count_batches(statuses=["done"], with_failures=True) == 1
    assert [b.pk for b in store.batches_of_run(run_id)] == [1]
