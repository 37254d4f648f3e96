"""The local store against real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.omnitron.models.batch import BatchObject, BatchRequest, BatchStatus
from service.store import (
    BatchMirror,
    ErrorQuery,
    NewErrorReport,
    ParkedItem,
    RecordNotFound,
    Store,
    fts_query,
)
from service.store_errors import StoreError
from service.store_schema import SCHEMA_VERSION
from tests.store.downgrade import UNDO_V5


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "test.sqlite3") as opened:
        yield opened


def _batch(pk: int = 1, status: str = "initialized", **kw: object) -> BatchMirror:
    fields: dict[str, object] = {
        "pk": pk,
        "local_batch_id": f"lb-{pk}",
        "content_type": "order",
        "status": status,
    }
    fields.update(kw)
    return BatchMirror(**fields)


def _report(code: str = "lb-1-Channel-GetOrders_1", **kw: object) -> NewErrorReport:
    fields: dict[str, object] = {"code": code, "description": "failed", "flow": "fetch-orders"}
    fields.update(kw)
    return NewErrorReport(**fields)


# -- runs -----------------------------------------------------------------------------


def test_run_lifecycle(store: Store) -> None:
    run_id = store.start_run("fetch-orders", {"since": datetime(2024, 1, 1)}, profile="acme")
    started = store.get_run(run_id)
    assert started.outcome == "running"
    assert started.is_running
    assert started.finished_at is None
    assert started.started_at.tzinfo is not None
    assert started.options == {"since": "2024-01-01 00:00:00"}

    store.finish_run(
        run_id,
        outcome="completed",
        created=3,
        updated=1,
        skipped=2,
        failed=1,
        error_count=4,
        message="3 orders created",
        duration_s=1.25,
    )
    done = store.get_run(run_id)
    assert (done.outcome, done.created, done.updated, done.skipped, done.failed) == (
        "completed",
        3,
        1,
        2,
        1,
    )
    assert done.error_count == 4
    assert done.duration_s == 1.25
    assert done.finished_at is not None
    assert done.finished_at >= done.started_at
    assert done.profile == "acme"


def test_finish_run_refuses_unknown_outcome_and_missing_run(store: Store) -> None:
    run_id = store.start_run("fetch-orders", {})
    counts = dict(created=0, updated=0, skipped=0, failed=0, error_count=0, message="")
    with pytest.raises(ValueError, match="outcome"):
        store.finish_run(run_id, outcome="running", duration_s=0.0, **counts)
    with pytest.raises(RecordNotFound):
        store.finish_run(999, outcome="failed", duration_s=0.0, **counts)
    with pytest.raises(RecordNotFound):
        store.get_run(999)


def test_list_runs_newest_first_and_by_flow(store: Store) -> None:
    ids = [store.start_run(flow, {}) for flow in ("fetch-orders", "update-orders", "fetch-orders")]
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.id for r in store.list_runs(flow="fetch-orders")] == [ids[2], ids[0]]
    assert [r.id for r in store.list_runs(limit=1, offset=1)] == [ids[1]]


# -- batches -----------------------------------------------------------------------------


def test_record_batch_appends_an_event_per_status_change(store: Store) -> None:
    run_id = store.start_run("update-orders", {})
    store.record_batch(_batch(status="initialized", flow="update-orders", run_id=run_id))
    store.record_batch(_batch(status="sent_to_remote"), note="async")
    store.record_batch(_batch(status="sent_to_remote"))  # a repeat: no event
    store.record_batch(_batch(status="done", objects=[{"pk": 1, "failed_reason_type": None}]))

    events = store.batch_events(1)
    assert [e.status for e in events] == ["initialized", "sent_to_remote", "done"]
    assert events[1].note == "async"
    assert all(e.run_id == run_id for e in events)
    assert events[0].at <= events[1].at <= events[2].at

    mirror = store.get_batch(1)
    assert mirror is not None
    # flow and run_id of the first record survive mirrors that leave them None.
    assert (mirror.flow, mirror.run_id, mirror.status) == ("update-orders", run_id, "done")
    assert mirror.object_count == 1
    assert mirror.failed_count == 0
    assert mirror.last_transition_at == events[-1].at
    assert store.get_batch(2) is None


def test_batch_mirror_from_omnitron(store: Store) -> None:
    request = BatchRequest(
        pk=7,
        local_batch_id="abc",
        content_type="order",
        status=BatchStatus.ONGOING,
        objects=[
            BatchObject(pk=1, content_type="order", failed_reason_type="remote"),
            BatchObject(pk=2, content_type="order"),
        ],
        created_date="2024-05-01T10:00:00.000000Z",
    )
    store.record_batch(BatchMirror.from_omnitron(request, flow="check-batches"))
    mirror = store.get_batch(7)
    assert mirror is not None
    assert mirror.status == "ongoing"
    assert (mirror.object_count, mirror.failed_count) == (2, 1)
    assert mirror.created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_open_batches(store: Store) -> None:
    store.record_batch(_batch(1, "sent_to_remote"))
    store.record_batch(_batch(2, "done"))
    store.record_batch(_batch(3, "ongoing", content_type="orderitem"))
    store.record_batch(_batch(4, "fail"))
    assert [b.pk for b in store.open_batches()] == [1, 3]
    assert [b.pk for b in store.open_batches("orderitem")] == [3]


def test_list_and_count_batches_with_filters(store: Store) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for pk, status, flow in [
        (1, "done", "fetch-orders"),
        (2, "fail", "fetch-orders"),
        (3, "sent_to_remote", "update-orders"),
        (4, "done", "update-orders"),
    ]:
        store.record_batch(_batch(pk, status, flow=flow, created_at=base + timedelta(hours=pk)))

    assert [b.pk for b in store.list_batches()] == [4, 3, 2, 1]
    assert [b.pk for b in store.list_batches(descending=False, limit=2)] == [1, 2]
    assert [b.pk for b in store.list_batches(statuses=["done", "fail"])] == [4, 2, 1]
    assert [b.pk for b in store.list_batches(statuses=["done"], flow="update-orders")] == [4]
    window = {"since": base + timedelta(hours=2), "until": base + timedelta(hours=4)}
    assert [b.pk for b in store.list_batches(**window)] == [3, 2]
    assert store.count_batches(**window) == 2
    assert store.count_batches(statuses=[BatchStatus.DONE]) == 2
    assert store.count_batches(statuses=[]) == 0
    assert store.count_batches(content_type="order") == 4
    with pytest.raises(ValueError, match="order_by"):
        store.list_batches(order_by="objects; DROP TABLE runs")


# -- error reports ---------------------------------------------------------------------


def test_error_report_outbox(store: Store) -> None:
    first = store.add_error_report(_report(omnitron_payload={"error_code": "x", "is_ok": False}))
    second = store.add_error_report(_report("lb-1-Channel-GetOrders_2"))
    already = store.add_error_report(_report("lb-1-Channel-GetOrders_3", delivered=True))

    outbox = store.undelivered_reports()
    assert [r.id for r in outbox] == [first, second]
    assert outbox[0].omnitron_payload == {"error_code": "x", "is_ok": False}
    assert store.get_error_report(already).delivered_at is not None

    store.mark_delivered(first)
    assert [r.id for r in store.undelivered_reports()] == [second]
    delivered = store.get_error_report(first)
    assert delivered.delivered
    assert delivered.delivered_at is not None
    assert store.undelivered_reports(limit=0) == []
    with pytest.raises(RecordNotFound):
        store.mark_delivered(999)


def test_full_text_search(store: Store) -> None:
    city = store.add_error_report(
        _report(
            "lb-1-Channel-GetOrders_7004512",
            description="City 'Istambul' not found for order 7004512",
            raw_request="GET - https://market.example/orders/7004512 - ",
        )
    )
    sku = store.add_error_report(
        _report(
            "lb-1-CreateOrder-a1",
            description="Omnitron-CreateOrder",
            raw_response='{"detail": "unknown product", "hash_data:abc": 1}',
        )
    )

    def found(text: str) -> list[int]:
        return [r.id for r in store.search_error_reports(ErrorQuery(text=text))]

    assert found("Istambul") == [city]
    assert found("istam") == [city]  # word prefix, case-insensitive
    assert found("unknown product") == [sku]
    assert found("hash_data:abc") == []  # a JSON key, not a value
    assert found('"7004512"') == [city]
    assert found("GetOrders_7004512") == [city]
    assert found("Istambul product") == []  # words are ANDed
    for hostile in ['"', "AND OR", "NEAR(a b)", "col:x", "(", "*", "'", "-x", "^a", "a\"b'c"]:
        store.search_error_reports(ErrorQuery(text=hostile))  # must not raise
    # Nothing searchable in the text: the text filter does not apply.
    assert sorted(found('" * (')) == [city, sku]


def test_search_finds_values_not_json_keys(store: Store) -> None:
    payload = '{"number": "7004512", "shipping_address": {"city": "Istambul", "line": "x"}}'
    order = store.add_error_report(_report("lb-1-a", raw_response=payload))
    city_value = store.add_error_report(
        _report("lb-1-b", raw_request='POST - https://o.example/ - {"name": "city"}')
    )

    def found(text: str) -> list[int]:
        return [r.id for r in store.search_error_reports(ErrorQuery(text=text))]

    assert found("city") == [city_value]
    assert found("Istambul") == [order]
    assert found("7004512") == [order]
    assert found("shipping_address") == []


def test_old_reports_become_searchable_by_value_when_migrated(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    with Store(path) as store:
        store.add_error_report(_report("lb-1-a", raw_response='{"city": "Istambul"}'))
        # Back to the v2 index, as a store written by the previous version has it.
        store._db.execute("UPDATE error_reports SET search_values = ''")
        store._db.execute("INSERT INTO error_reports_fts (error_reports_fts) VALUES ('rebuild')")
        store._db.execute("PRAGMA user_version = 2")
        for statement in (
            *UNDO_V5,
            "DROP TRIGGER error_reports_ai",
            "DROP TRIGGER error_reports_ad",
            "DROP TRIGGER error_reports_au",
            "DROP TABLE error_reports_fts",
            "DROP TABLE run_log",
            "DROP TABLE aliases",
            "DROP INDEX ix_error_reports_problems",
            "DROP INDEX ix_error_reports_cause",
            "ALTER TABLE error_reports DROP COLUMN cause",
            "ALTER TABLE error_reports DROP COLUMN cause_value",
            "ALTER TABLE error_reports DROP COLUMN resolved_at",
            "ALTER TABLE error_reports DROP COLUMN search_values",
            "ALTER TABLE runs DROP COLUMN waiting",
        ):
            store._db.execute(statement)
        store._db["error_reports"].enable_fts(
            ("code", "description", "raw_request", "raw_response"),
            fts_version="FTS5",
            create_triggers=True,
        )
    with Store(path) as store:
        hits = store.search_error_reports(ErrorQuery(text="Istambul"))
        assert [r.code for r in hits] == ["lb-1-a"]
        assert store.search_error_reports(ErrorQuery(text="city")) == []


def test_fts_query_quotes_every_word() -> None:
    assert fts_query('say "hi" OR') == '"say"* """hi"""* "OR"*'
    assert fts_query("  ") is None


def test_error_filters_combine_and_count(store: Store) -> None:
    run_a = store.start_run("fetch-orders", {})
    run_b = store.start_run("update-orders", {})
    ids = {
        "a_fail": store.add_error_report(
            _report("lb-1-Channel-GetOrders_1", run_id=run_a, batch_pk=1, local_batch_id="lb-1")
        ),
        "a_ok": store.add_error_report(
            _report("lb-1-Channel-GetOrders_2", run_id=run_a, is_ok=True, batch_pk=1)
        ),
        "b_fail": store.add_error_report(
            _report(
                "lb-2-UpdateOrders-x",
                run_id=run_b,
                flow="update-orders",
                content_type="orderitem",
                batch_pk=2,
                local_batch_id="lb-2",
            )
        ),
    }

    def ids_of(**kw: object) -> set[int]:
        query = ErrorQuery(**kw)
        found = {r.id for r in store.search_error_reports(query)}
        assert store.count_error_reports(query) == len(found)
        return found

    assert ids_of() == set(ids.values())
    assert ids_of(is_ok=False) == {ids["a_fail"], ids["b_fail"]}
    assert ids_of(is_ok=False, run_id=run_a) == {ids["a_fail"]}
    assert ids_of(flow="update-orders", content_type="orderitem") == {ids["b_fail"]}
    assert ids_of(code_contains="GetOrders") == {ids["a_fail"], ids["a_ok"]}
    assert ids_of(code_contains="_") == {ids["a_fail"], ids["a_ok"]}  # literal, not a wildcard
    assert ids_of(code="lb-2-UpdateOrders-x") == {ids["b_fail"]}
    assert ids_of(batch_pk=1, is_ok=True) == {ids["a_ok"]}
    assert ids_of(local_batch_id="lb-2") == {ids["b_fail"]}
    assert ids_of(since=datetime.now(UTC) + timedelta(minutes=1)) == set()
    assert ids_of(until=datetime.now(UTC) + timedelta(minutes=1)) == set(ids.values())

    page = store.search_error_reports(ErrorQuery(order_by="id", descending=False, limit=2))
    assert [r.id for r in page] == [ids["a_fail"], ids["a_ok"]]
    with pytest.raises(ValueError, match="order_by"):
        ErrorQuery(order_by="raw_request")


def test_find_open_report_and_touch(store: Store) -> None:
    failed = store.add_error_report(_report(subject="7004512", description="unknown city"))
    store.add_error_report(_report(subject="7004512", description="unknown city", is_ok=True))
    found = store.find_open_report("fetch-orders", "7004512", "unknown city")
    assert found is not None
    assert found.id == failed
    assert store.find_open_report("fetch-orders", "7004512", "unknown cargo") is None
    assert store.find_open_report("update-orders", "7004512", "unknown city") is None

    store.touch_report(failed)
    touched = store.get_error_report(failed)
    assert touched.attempts == 2
    assert touched.last_seen_at >= touched.created_at


# -- cursors and parked items ------------------------------------------------------------


def test_cursors(store: Store) -> None:
    assert store.get_cursor("fetch-orders") is None
    store.set_cursor("fetch-orders", "2024-05-01T10:00:00Z")
    store.set_cursor("fetch-orders", "2024-05-02T10:00:00Z")
    store.set_cursor("fetch-cancels", "page-3")
    assert store.get_cursor("fetch-orders") == "2024-05-02T10:00:00Z"
    assert store.get_cursor("fetch-cancels") == "page-3"


def test_park_upserts_and_counts_attempts(store: Store) -> None:
    report_id = store.add_error_report(_report())
    store.park(
        ParkedItem(
            flow="fetch-orders",
            remote_id="981",
            subject="7004512",
            payload={"v": 1},
            reason="unknown city",
            error_report_id=report_id,
        )
    )
    store.park(ParkedItem(flow="fetch-orders", remote_id="981", payload={"v": 2}, reason="again"))
    store.park(ParkedItem(flow="fetch-orders", remote_id="982"))
    store.park(ParkedItem(flow="fetch-cancels", remote_id="981"))

    items = {i.remote_id: i for i in store.parked("fetch-orders")}
    assert set(items) == {"981", "982"}
    again = items["981"]
    assert (again.attempts, again.payload, again.reason) == (2, {"v": 2}, "again")
    assert again.error_report_id == report_id  # kept when the update leaves it None
    assert again.last_seen_at >= again.first_seen_at

    store.unpark("fetch-orders", "981")
    store.unpark("fetch-orders", "nope")
    assert [i.remote_id for i in store.parked("fetch-orders")] == ["982"]
    assert len(store.parked("fetch-cancels")) == 1


# -- file, threads, migrations -----------------------------------------------------------


def test_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_for_profile_places_the_file(tmp_path: Path) -> None:
    with Store.for_profile("acme", data_dir=tmp_path) as store:
        assert store.path == tmp_path / "profiles" / "acme.sqlite3"
    assert (tmp_path / "profiles" / "acme.sqlite3").exists()
    with pytest.raises(ValueError, match="file name"):
        Store.for_profile("../evil", data_dir=tmp_path)


def test_memory_store() -> None:
    with Store(":memory:") as store:
        assert store.path is None
        assert store.get_run(store.start_run("x", {})).flow == "x"


def test_second_store_on_another_thread_sees_writes(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    with Store(path) as writer, Store(path) as reader:
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                for i in range(25):
                    run_id = writer.start_run(f"flow-{worker}", {"i": i})
                    writer.add_error_report(_report(f"w{worker}-{i}", run_id=run_id))
            except BaseException as exc:  # collected and re-raised on the test thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        seen_while_writing = reader.count_error_reports(ErrorQuery())
        for thread in threads:
            thread.join()
        assert not errors
        assert 0 <= seen_while_writing <= 100
        assert reader.count_error_reports(ErrorQuery()) == 100
        assert len(reader.list_runs(limit=1000)) == 100

        # And the other way round: writes of the reader's thread reach the writer.
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(reader.start_run("gui", {})))
        thread.start()
        thread.join()
        assert writer.get_run(result[0]).flow == "gui"


def test_migrating_an_older_file_keeps_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE legacy (note TEXT)")
        conn.execute("INSERT INTO legacy VALUES ('keep me')")
    conn.close()

    with Store(path) as store:
        store.start_run("fetch-orders", {})

    backup = tmp_path / "old.sqlite3.v0.bak"
    assert backup.exists()
    with sqlite3.connect(backup) as conn:
        assert conn.execute("SELECT note FROM legacy").fetchall() == [("keep me",)]
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "runs" not in tables
    conn.close()

    # Opening again at the current version makes no further backup.
    Store(path).close()
    assert sorted(p.name for p in tmp_path.glob("*.bak")) == ["old.sqlite3.v0.bak"]


def test_new_file_needs_no_backup(tmp_path: Path) -> None:
    Store(tmp_path / "new.sqlite3").close()
    assert list(tmp_path.glob("*.bak")) == []


def test_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


# -- query plans ---------------------------------------------------------------------


def _plan(store: Store, sql: str, params: list[object]) -> list[str]:
    conn = sqlite3.connect(store.path)
    try:
        return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    finally:
        conn.close()


def _capture_sql(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list]]:
    """Record the SELECTs the store runs, to explain exactly those."""
    seen: list[tuple[str, list]] = []
    original = store._rows

    def spy(sql: str, params: object = ()) -> list:
        seen.append((sql, list(params)))
        return original(sql, params)

    monkeypatch.setattr(store, "_rows", spy)
    return seen


@pytest.mark.parametrize(
    "query",
    [
        ErrorQuery(is_ok=False),
        ErrorQuery(code="lb-1-Channel-GetOrders_1"),
        ErrorQuery(run_id=1),
        ErrorQuery(batch_pk=1),
        ErrorQuery(local_batch_id="lb-1"),
        ErrorQuery(flow="fetch-orders"),
        ErrorQuery(content_type="order"),
        ErrorQuery(code_contains="GetOrders"),
        ErrorQuery(text="Istambul"),
        ErrorQuery(since=datetime(2024, 1, 1, tzinfo=UTC)),
        ErrorQuery(),
    ],
)
def test_error_report_filters_use_an_index(
    store: Store, monkeypatch: pytest.MonkeyPatch, query: ErrorQuery
) -> None:
    store.add_error_report(_report())
    seen = _capture_sql(store, monkeypatch)
    store.search_error_reports(query)
    ((sql, params),) = seen
    plan = _plan(store, sql, params)
    # A bare "SCAN error_reports" reads the whole table; an index walk names the index.
    assert "SCAN error_reports" not in plan, plan
    assert all(
        "USING" in step or "SUBQUERY" in step or "VIRTUAL" in step or "B-TREE" in step
        for step in plan
    ), plan


def test_outbox_and_batch_status_filter_use_indexes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _capture_sql(store, monkeypatch)
    store.undelivered_reports()
    store.list_batches(statuses=["sent_to_remote", "ongoing"])
    store.open_batches()
    plans = [_plan(store, sql, params) for sql, params in seen]
    assert any("ix_error_reports_undelivered" in step for step in plans[0]), plans[0]
    assert any("ix_batch_requests_status" in step for step in plans[1]), plans[1]
    assert any("ix_batch_requests_status" in step for step in plans[2]), plans[2]
    for plan in plans:
        assert not any(step in ("SCAN error_reports", "SCAN batch_requests") for step in plan)
