"""Runs workers took, kept in a console's store: one row per task, the worker's result wins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from service.fleet.protocol import RemoteRun, RemoteState
from service.flows.names import Flow
from service.flows.result import FlowResult, RunOutcome
from service.store import Store
from service.store_records import utc_now

HERE = "console-host"


def keep(store: Store, run: RemoteRun) -> int | None:
    """Record ``run`` as a console on ``HERE`` does."""
    return store.record_remote_run(run, local_host=HERE)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "console.sqlite3") as opened:
        yield opened


def remote(state: RemoteState, *, task_id: str = "task-1", **fields: object) -> RemoteRun:
    """A run of fetch-orders on profile ``acme`` in ``state``."""
    now = utc_now()
    base: dict[str, object] = {
        "task_id": task_id,
        "profile": "acme",
        "flow": "fetch-orders",
        "state": state,
        "queued_at": now - timedelta(seconds=5),
        "updated_at": now,
    }
    if state in ("running", "finished"):
        base.update(started_at=now - timedelta(seconds=4), host="worker-1", pid=4242, run_id=7)
    return RemoteRun.model_validate({**base, **fields})


def finished(outcome: RunOutcome = RunOutcome.COMPLETED, **counts: int) -> RemoteRun:
    """The run ended on its worker with ``outcome`` and ``counts``."""
    result = FlowResult(
        flow=Flow.FETCH_ORDERS,
        run_id=7,
        outcome=outcome,
        error_report_ids=(1, 2),
        duration_s=3.5,
        message="all done",
        **counts,
    )
    return remote("finished", finished_at=utc_now(), result=result)


@pytest.mark.parametrize("state", ["queued", "waiting", "refused"])
def test_a_run_that_did_not_start_is_not_kept(store: Store, state: RemoteState) -> None:
    assert keep(store, remote(state, message="no worker yet")) is None
    assert store.count_runs() == 0


def test_a_run_starting_on_this_host_waits_for_its_workers_row(store: Store) -> None:
    # The worker may share this store and record the run under the task id any moment.
    assert keep(store, remote("running", host=HERE, run_id=None)) is None
    assert store.count_runs() == 0
    # On another host it cannot share this file: kept at once.
    assert keep(store, remote("running", run_id=None)) is not None


def test_a_running_then_finished_run_is_one_row_with_its_workers_counts(store: Store) -> None:
    row_id = keep(store, remote("running"))
    assert row_id is not None
    running = store.get_run(row_id)
    assert (running.outcome, running.host, running.pid, running.task_id) == (
        "running",
        "worker-1",
        4242,
        "task-1",
    )

    assert keep(store, finished(created=12, skipped=3, failed=2)) == row_id

    (run,) = store.list_runs()
    assert run.id == row_id
    assert (run.flow, run.profile, run.outcome, run.message) == (
        "fetch-orders",
        "acme",
        "completed",
        "all done",
    )
    assert (run.created, run.skipped, run.failed, run.error_count) == (12, 3, 2, 2)
    assert (run.host, run.pid, run.duration_s) == ("worker-1", 4242, 3.5)
    assert run.finished_at is not None


def test_a_run_first_seen_finished_is_kept_once(store: Store) -> None:
    first = keep(store, finished(RunOutcome.CANCELLED, created=4))
    again = keep(store, finished(RunOutcome.CANCELLED, created=4))
    assert first == again
    (run,) = store.list_runs()
    assert (run.outcome, run.created) == ("cancelled", 4)


def test_a_late_running_state_does_not_reopen_a_finished_run(store: Store) -> None:
    row_id = keep(store, finished(created=5))
    assert keep(store, remote("running", host="elsewhere", pid=1)) == row_id
    run = store.get_run(row_id)
    assert (run.outcome, run.created, run.host, run.pid) == ("completed", 5, "worker-1", 4242)


def test_a_redelivered_task_moves_its_row_to_the_new_worker(store: Store) -> None:
    row_id = keep(store, remote("running"))
    assert keep(store, remote("running", host="worker-2", pid=99, run_id=8)) == row_id
    (run,) = store.list_runs()
    assert (run.host, run.pid, run.outcome) == ("worker-2", 99, "running")


def test_a_finished_run_without_a_result_is_kept_as_failed_with_its_sentence(
    store: Store,
) -> None:
    sentence = "The worker could not open profile acme: no Omnitron password."
    row_id = keep(store, remote("finished", message=sentence, run_id=None))
    assert row_id is not None
    run = store.get_run(row_id)
    assert (run.outcome, run.message) == ("failed", sentence)


def test_a_store_the_worker_shares_gets_no_second_row(store: Store) -> None:
    # Running on this host, not recorded by its worker yet: nothing of ours holds the id.
    assert keep(store, remote("running", host=HERE, run_id=None)) is None
    # The worker records its run itself, under the task id, in the store both use.
    worker_row = store.start_run("fetch-orders", {}, "acme", pid=4242, host=HERE, task_id="task-1")

    assert keep(store, remote("running", host=HERE, run_id=worker_row)) == worker_row
    store.finish_run(
        worker_row,
        outcome="completed",
        created=12,
        updated=0,
        skipped=3,
        failed=2,
        error_count=2,
        message="all done",
        duration_s=3.5,
    )
    ended = finished(created=12, skipped=3, failed=2).model_copy(update={"host": HERE})
    assert keep(store, ended) == worker_row

    (run,) = store.list_runs()
    assert (run.id, run.outcome, run.created, run.host) == (worker_row, "completed", 12, HERE)
    assert run.task_id == "task-1"


def test_runs_sort_by_host_and_pid(store: Store) -> None:
    keep(store, remote("running", task_id="a", host="b-host", pid=2))
    keep(store, remote("running", task_id="b", host="a-host", pid=3))
    by_host = store.list_runs(order_by="host", descending=False)
    by_pid = store.list_runs(order_by="pid", descending=True)
    assert [run.host for run in by_host] == ["a-host", "b-host"]
    assert [run.pid for run in by_pid] == [3, 2]
