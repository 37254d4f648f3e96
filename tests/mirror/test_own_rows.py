"""Rows this store's runs wrote are never mirrored again or marked remote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from service.flows.retry import NothingToRetry, select_reports
from service.mirror.sync import sync_from_omnitron
from service.store import ErrorQuery, NewErrorReport, Store
from tests.flows.conftest import FlowEnv
from tests.mirror.conftest import MirrorEnv
from tests.sandbox.omnitron_api import OmnitronApi


def _origins(env: FlowEnv) -> tuple[set[str], set[str]]:
    batches = {b.origin for b in env.store.list_batches(limit=1000)}
    reports = {r.origin for r in env.store.search_error_reports(ErrorQuery(limit=10_000))}
    return batches, reports


def test_our_batches_and_delivered_reports_are_not_mirrored_again(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=8, broken_share=0.5)
    result = env.service.fetch_and_create_order(is_success_log=True)
    assert result.failed > 0, result
    batches = env.store.count_batches()
    reports = env.store.search_error_reports(ErrorQuery(limit=10_000))
    assert batches > 0
    assert len(reports) > result.failed  # failures and successes
    assert all(r.remote_pk is not None for r in reports)  # delivered, Omnitron's id kept

    synced = sync_from_omnitron(env.client, env.store)

    assert not synced.changed, synced
    assert env.store.count_batches() == batches
    assert env.store.count_error_reports(ErrorQuery()) == len(reports)
    assert _origins(env) == ({"local"}, {"local"})
    assert {p.origin for p in env.store.open_problems()} == {"local"}


def test_reports_delivered_before_their_omnitron_ids_were_kept_are_recognised(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=6, broken_share=0.5)
    env.service.fetch_and_create_order(is_success_log=False)
    reports = env.store.search_error_reports(ErrorQuery(limit=10_000))
    assert reports
    # As a store delivered them before v5: no remote id on record.
    with env.store._write() as db:
        db.execute("UPDATE error_reports SET remote_pk = NULL")

    synced = sync_from_omnitron(env.client, env.store)

    assert synced.reports_new == 0, synced
    again = env.store.search_error_reports(ErrorQuery(limit=10_000))
    assert len(again) == len(reports)
    assert {r.origin for r in again} == {"local"}
    assert {r.id: r.remote_pk for r in again} == {r.id: r.remote_pk for r in reports}


def test_a_batch_a_run_asked_for_is_ours_before_the_run_records_it(
    make_mirror: Callable[..., MirrorEnv],
) -> None:
    env = make_mirror()
    run_id = env.store.start_run("fetch-orders", {})
    env.store.set_pending_batch_id(run_id, "ours-1")
    # The run's POST landed; its answer is not recorded yet.
    env.other.post(env.other.ch("batch_requests/"), {"local_batch_id": "ours-1"})

    assert not env.sync().changed
    assert env.store.count_batches() == 0


def test_remote_failures_form_problems_that_are_not_retried_here(
    make_mirror: Callable[..., MirrorEnv],
) -> None:
    env = make_mirror()
    api: OmnitronApi = env.other
    api.post(
        api.ch("error_reports/"),
        {"error_code": "b1-Channel-GetOrders_900", "error_desc": "city 'Izmr' not found"},
    )
    env.sync()
    (problem,) = env.store.open_problems()
    assert (problem.flow, problem.origin) == ("fetch-orders", "remote")
    (report,) = env.store.problem_reports(problem.cause, problem.cause_value)

    with pytest.raises(NothingToRetry):
        select_reports(env.store, cause=problem.cause)
    with pytest.raises(NothingToRetry):
        select_reports(env.store, report_ids=[report.id])


@pytest.mark.parametrize("declared", [True, False], ids=["filters-declared", "filters-ignored"])
def test_our_batches_stay_ours_while_a_remote_one_is_followed(
    make_env: Callable[..., FlowEnv], declared: bool
) -> None:
    env = make_env(orders=6, omnitron={"inferred_filters": declared})
    other = OmnitronApi(env.omnitron.base_url)
    remote = other.post(other.ch("batch_requests/"), {"local_batch_id": "theirs-1"})
    env.service.fetch_and_create_order(is_success_log=False)
    sync_from_omnitron(env.client, env.store)

    def ours() -> dict[int, tuple[object, ...]]:
        return {
            b.pk: (b.flow, b.run_id, b.status, b.origin, b.object_count)
            for b in env.store.list_batches(origin="local", limit=1000)
        }

    before = ours()
    assert before
    env.omnitron.control.post("clock/advance", json={"seconds": 3600}).raise_for_status()
    other.patch(other.ch(f"batch_requests/{remote['pk']}/"), {"status": "fail"})
    other.close()

    synced = sync_from_omnitron(env.client, env.store)

    assert (synced.batches_new, synced.batches_updated) == (0, 1), synced
    assert ours() == before
    followed = env.store.get_batch(remote["pk"])
    assert followed is not None
    assert (followed.status, followed.origin) == ("fail", "remote")


def test_a_delivery_whose_omnitron_id_a_mirrored_copy_holds_still_goes_through(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "s.sqlite3") as store:
        ours = store.add_error_report(NewErrorReport(code="run1-GetOrders_1-abcdef12"))
        copy = NewErrorReport(code="run1-GetOrders_1-abcdef12", origin="remote", remote_pk=7)
        assert store.mirror_report(copy.model_copy(update={"object_id": "9"}), None) == "new"

        store.mark_delivered(ours, remote_pk=7)

        delivered = store.get_error_report(ours)
        assert (delivered.delivered, delivered.remote_pk) == (True, None)
        assert store.outbox_counts().waiting == 0
