"""Problems: open failures grouped by flow, cause and value, on a real store file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.store import ErrorQuery, NewErrorReport, Store
from service.store_schema import MIGRATIONS, _v4_classify_causes
from tests.store.downgrade import UNDO_V5


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "problems.sqlite3") as opened:
        yield opened


def _fail(store: Store, subject: str, cause: str, value: str, flow: str = "fetch-orders") -> int:
    return store.add_error_report(
        NewErrorReport(
            code=f"c-{subject}-{cause}",
            description=f"order {subject}: {cause} {value}",
            flow=flow,
            subject=subject,
            cause=cause,
            cause_value=value,
        )
    )


def test_open_problems_group_by_flow_cause_and_value(store: Store) -> None:
    for subject in ("1", "2", "3"):
        _fail(store, subject, "unknown_city", "Istambul")
    _fail(store, "3", "unknown_city", "Istambul")  # the same order again: still 3 orders
    _fail(store, "4", "unknown_cargo", "horoz")
    _fail(store, "5", "unknown_city", "Ankra")
    _fail(store, "line 9", "order_not_in_omnitron", "7000001", flow="fetch-item-updates")
    store.add_error_report(NewErrorReport(code="ok", is_ok=True, flow="fetch-orders", subject="6"))

    problems = store.open_problems()

    groups = {(p.flow, p.cause, p.cause_value): p for p in problems}
    assert set(groups) == {
        ("fetch-orders", "unknown_city", "Istambul"),
        ("fetch-orders", "unknown_cargo", "horoz"),
        ("fetch-orders", "unknown_city", "Ankra"),
        ("fetch-item-updates", "order_not_in_omnitron", "7000001"),
    }
    city = groups[("fetch-orders", "unknown_city", "Istambul")]
    assert city.count == 3
    assert sorted(city.subjects) == ["1", "2", "3"]
    assert city.first_seen <= city.last_seen
    # Newest first: the item-update failure was written last.
    assert problems[0].flow == "fetch-item-updates"
    assert store.count_open_problems() == 4
    assert [p.cause for p in store.open_problems(flow="fetch-item-updates")] == [
        "order_not_in_omnitron"
    ]


def test_problem_lists_at_most_twenty_subjects_but_counts_all(store: Store) -> None:
    for number in range(25):
        _fail(store, f"{number:03d}", "unmapped_sku", "ABC-42")
    (problem,) = store.open_problems()
    assert problem.count == 25
    assert len(problem.subjects) == 20


def test_problem_reports_are_the_latest_open_report_per_subject(store: Store) -> None:
    first = _fail(store, "1", "unknown_city", "Istambul")
    latest = _fail(store, "1", "unknown_city", "Istambul")
    other = _fail(store, "2", "unknown_city", "Istambul")
    _fail(store, "3", "unknown_cargo", "horoz")

    reports = store.problem_reports("unknown_city", "Istambul")

    assert [r.id for r in reports] == [other, latest]
    assert first not in {r.id for r in reports}
    assert store.problem_reports("unknown_city", "Istambul", flow="fetch-cancels") == []


def test_resolving_a_subject_closes_its_problem(store: Store) -> None:
    _fail(store, "1", "unknown_city", "Istambul")
    _fail(store, "1", "unmapped_sku", "ABC-42")
    _fail(store, "2", "unknown_city", "Istambul")
    _fail(store, "1", "unknown_city", "Istambul", flow="fetch-cancels")

    assert store.resolve_reports("fetch-orders", "1") == 2
    assert store.resolve_reports("fetch-orders", "1") == 0  # nothing open any more

    groups = {(p.flow, p.cause): p.count for p in store.open_problems()}
    assert groups == {("fetch-orders", "unknown_city"): 1, ("fetch-cancels", "unknown_city"): 1}
    resolved = store.search_error_reports(ErrorQuery(resolved=True))
    assert {(r.subject, r.cause) for r in resolved} == {
        ("1", "unknown_city"),
        ("1", "unmapped_sku"),
    }
    assert all(r.resolved_at is not None for r in resolved)
    store.resolve_reports("fetch-orders", "2")
    store.resolve_reports("fetch-cancels", "1")
    assert store.open_problems() == []
    assert store.count_open_problems() == 0


def test_error_query_filters_by_cause_and_open_state(store: Store) -> None:
    _fail(store, "1", "unknown_city", "Istambul")
    _fail(store, "2", "unknown_cargo", "horoz")
    store.resolve_reports("fetch-orders", "2")

    assert [r.subject for r in store.search_error_reports(ErrorQuery(cause="unknown_cargo"))] == [
        "2"
    ]
    assert [r.subject for r in store.search_error_reports(ErrorQuery(resolved=False))] == ["1"]
    assert store.count_error_reports(ErrorQuery(cause="unknown_city", resolved=True)) == 0


def test_problem_queries_read_the_open_failures_index(store: Store) -> None:
    plan = store._rows(  # the planner's choice for the grouping query
        "EXPLAIN QUERY PLAN SELECT cause FROM error_reports "
        "INDEXED BY ix_error_reports_problems WHERE is_ok = 0 AND resolved_at IS NULL "
        "GROUP BY cause, cause_value, flow"
    )
    assert any("ix_error_reports_problems" in row["detail"] for row in plan)


def test_v4_classifies_reports_stored_before_causes(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with Store(path) as store:
        city = _fail(store, "31", "", "")
        store._db.execute(
            "UPDATE error_reports SET description = ? WHERE id = ?",
            ["order 31: city 'Istambul' not found in Türkiye", city],
        )
        sku = _fail(store, "32", "", "")
        store._db.execute(
            "UPDATE error_reports SET description = ? WHERE id = ?",
            ["order 32: product not found for SKU 'CD-BOT-0012'", sku],
        )
        ok = store.add_error_report(NewErrorReport(code="ok", is_ok=True, subject="33"))
        # Back to the schema before v4: as a store written by that version.
        for statement in UNDO_V5:
            store._db.execute(statement)
        store._db.execute(f"PRAGMA user_version = {MIGRATIONS.index(_v4_classify_causes)}")
        store._db.execute("UPDATE error_reports SET cause = '', cause_value = ''")
    with Store(path) as store:
        assert (store.get_error_report(city).cause, store.get_error_report(city).cause_value) == (
            "unknown_city",
            "Istambul",
        )
        assert store.get_error_report(sku).cause == "unmapped_sku"
        assert store.get_error_report(sku).cause_value == "CD-BOT-0012"
        assert store.get_error_report(ok).cause == ""
        assert {p.cause for p in store.open_problems()} == {"unknown_city", "unmapped_sku"}
