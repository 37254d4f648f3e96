"""The store's outbox: sending, delivered, refused (dead) reports and their counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.store import ErrorQuery, NewErrorReport, RecordNotFound, Store, _error_filters


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "outbox.sqlite3") as opened:
        yield opened


def _add(store: Store, code: str) -> int:
    return store.add_error_report(NewErrorReport(code=code, description=f"failure {code}"))


def test_refused_reports_leave_the_outbox_and_keep_the_answer(store: Store) -> None:
    first, second, third = (_add(store, code) for code in ("a", "b", "c"))
    store.mark_dead(second, "POST error_reports/: unexpected HTTP 413: too large")

    assert [r.id for r in store.undelivered_reports()] == [first, third]
    refused = store.get_error_report(second)
    assert refused.dead
    assert not refused.delivered
    assert refused.delivery_state == "refused"
    assert refused.delivery_error == "POST error_reports/: unexpected HTTP 413: too large"
    counts = store.outbox_counts()
    assert (counts.waiting, counts.refused) == (2, 1)


def test_sending_is_remembered_until_delivered(store: Store) -> None:
    report_id = _add(store, "a")
    assert store.get_error_report(report_id).sending_at is None

    store.mark_sending(report_id)
    waiting = store.get_error_report(report_id)
    assert waiting.sending_at is not None
    assert waiting.delivery_state == "waiting"

    store.mark_delivered(report_id)
    assert store.get_error_report(report_id).delivery_state == "delivered"
    assert store.outbox_counts().waiting == 0


def test_a_transient_answer_is_noted_and_the_report_stays_queued(store: Store) -> None:
    report_id = _add(store, "a")
    store.note_delivery_error(report_id, "HTTP 503")
    report = store.get_error_report(report_id)
    assert report.delivery_error == "HTTP 503"
    assert [r.id for r in store.undelivered_reports()] == [report_id]


def test_reports_of_a_running_run_are_not_in_the_outbox(store: Store) -> None:
    # A live run (this process or another) may be posting its reports right now.
    run_id = store.start_run("fetch-orders", {}, "test")
    live = store.add_error_report(NewErrorReport(code="live", run_id=run_id))
    earlier = _add(store, "earlier")
    assert [r.id for r in store.undelivered_reports()] == [earlier]

    store.finish_run(
        run_id,
        outcome="interrupted",
        created=0,
        updated=0,
        skipped=0,
        failed=0,
        error_count=1,
        message="",
        duration_s=1.0,
    )
    assert [r.id for r in store.undelivered_reports()] == [live, earlier]


def test_the_outbox_pages_on_by_id(store: Store) -> None:
    ids = [_add(store, str(n)) for n in range(5)]
    first = store.undelivered_reports(limit=2)
    assert [r.id for r in first] == ids[:2]
    rest = store.undelivered_reports(limit=10, after_id=first[-1].id)
    assert [r.id for r in rest] == ids[2:]


def test_delivery_filters_for_listings(store: Store) -> None:
    delivered, refused, waiting = (_add(store, code) for code in ("d", "r", "w"))
    store.mark_delivered(delivered)
    store.mark_dead(refused, "HTTP 400")

    def ids(delivery: str) -> set[int]:
        query = ErrorQuery(delivery=delivery)  # type: ignore[arg-type]
        assert store.count_error_reports(query) == len(store.search_error_reports(query))
        return {r.id for r in store.search_error_reports(query)}

    assert ids("waiting") == {waiting}
    assert ids("refused") == {refused}
    assert ids("undelivered") == {waiting, refused}


@pytest.mark.parametrize("delivery", ["waiting", "refused", "undelivered"])
def test_delivery_filters_read_the_partial_indexes(store: Store, delivery: str) -> None:
    where, params = _error_filters(ErrorQuery(delivery=delivery))  # type: ignore[arg-type]
    steps = [
        str(row[-1])
        for row in store._db.execute(
            f"EXPLAIN QUERY PLAN SELECT id FROM error_reports {where}", params
        ).fetchall()
    ]
    scans = [step for step in steps if step.startswith("SCAN error_reports")]
    assert scans, steps
    # Only the outbox's and the refused reports' partial indexes are walked, never the table.
    assert all("ix_error_reports_undelivered" in s or "ix_error_reports_dead" in s for s in scans)


def test_marking_an_unknown_report_is_an_error(store: Store) -> None:
    for mark in (store.mark_sending, lambda i: store.mark_dead(i, "x")):
        with pytest.raises(RecordNotFound):
            mark(999)
