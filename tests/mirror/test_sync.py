"""The mirror: what another deployment wrote to Omnitron shows in this profile's store.

The other deployment is a plain HTTP client on the Omnitron simulator; each test runs
against a simulator declaring the inferred date filters and one ignoring them.
"""

from __future__ import annotations

import json
from typing import Any

from service.store import ErrorQuery
from tests.mirror.conftest import MirrorEnv
from tests.sandbox.omnitron_api import create_order, new_batch, order_objects, set_batch


def _report(env: MirrorEnv, batch: dict[str, Any], number: str, city: str) -> dict[str, Any]:
    """What Akinon's channel app posts for an order it could not create."""
    return env.other.post(
        env.other.ch("error_reports/"),
        {
            "action_content_type": "batchrequest",
            "action_object_id": batch["pk"],
            "error_code": f"{batch['local_batch_id']}-Channel-GetOrders_{number}",
            "error_desc": f"order {number}: city '{city}' not found in Omnitron",
            "raw_request": json.dumps({"number": number}),
            "is_ok": False,
        },
    )


def _sent_batch(env: MirrorEnv) -> dict[str, Any]:
    """An order batch the other deployment committed and sent to the channel."""
    order = create_order(env.other)
    batch = new_batch(env.other)
    set_batch(env.other, batch, "commit", objects=order_objects(order), content_type="order")
    set_batch(env.other, batch, "sent_to_remote", remote_batch_id=f"R-{batch['pk']}")
    return env.other.get(env.other.ch(f"batch_requests/{batch['pk']}/"))


def test_a_batch_and_a_report_of_another_deployment_are_mirrored_with_remote_origin(
    mirror: MirrorEnv,
) -> None:
    batch = _sent_batch(mirror)
    report = _report(mirror, batch, "7000123", "Istambul")

    result = mirror.sync()

    assert (result.batches_new, result.reports_new) == (1, 1), result
    assert result.summary == ("Synced from Omnitron: 1 new batch request, 1 new error report.")
    (mirrored,) = mirror.store.list_batches(origin="remote")
    assert (mirrored.pk, mirrored.status, mirrored.origin) == (
        batch["pk"],
        "sent_to_remote",
        "remote",
    )
    assert mirrored.local_batch_id == batch["local_batch_id"]
    assert mirrored.object_count == len(batch["objects"])
    assert mirror.store.open_batches() == []  # never this store's flows' to recover
    (stored,) = mirror.store.search_error_reports(ErrorQuery(origin="remote"))
    assert (stored.code, stored.remote_pk, stored.origin) == (
        report["error_code"],
        report["pk"],
        "remote",
    )
    assert (stored.flow, stored.subject, stored.content_type) == (
        "fetch-orders",
        "7000123",
        "batchrequest",
    )
    assert (stored.cause, stored.cause_value) == ("unknown_city", "Istambul")
    assert stored.batch_pk == batch["pk"]  # about the batch as a whole
    assert stored.delivery_state == "delivered"
    assert mirror.store.outbox_counts().waiting == 0
    (problem,) = mirror.store.open_problems()
    assert (problem.cause_value, problem.origin, problem.count) == ("Istambul", "remote", 1)


def test_a_second_sync_adds_nothing(mirror: MirrorEnv) -> None:
    batch = _sent_batch(mirror)
    _report(mirror, batch, "7000124", "Ankra")
    first = mirror.sync()
    assert first.changed

    again = mirror.sync()

    assert not again.changed, again
    assert again.summary == "Nothing new from Omnitron."
    assert mirror.store.count_batches() == 1
    assert mirror.store.count_error_reports(ErrorQuery()) == 1


def test_a_batch_that_moved_on_remotely_is_updated(mirror: MirrorEnv) -> None:
    old = new_batch(mirror.other)  # finished long ago: never read again
    set_batch(mirror.other, old, "fail")
    mirror.advance_clock(3 * 3600)
    batch = _sent_batch(mirror)
    mirror.sync()
    mirror.advance_clock(3 * 3600)
    set_batch(mirror.other, batch, "done", objects=batch["objects"])
    newer = new_batch(mirror.other)

    result = mirror.sync()

    assert (result.batches_new, result.batches_updated) == (1, 1), result
    moved = mirror.store.get_batch(batch["pk"])
    assert moved is not None
    assert (moved.status, moved.origin) == ("done", "remote")
    history = [event.status for event in mirror.store.batch_events(batch["pk"])]
    assert history == ["sent_to_remote", "done"]
    for row in mirror.other.all_pages(mirror.other.ch("batch_requests/")):
        kept = mirror.store.get_batch(row["pk"])
        assert kept is not None
        assert kept.status == row["status"], row
    assert mirror.store.get_batch(newer["pk"]) is not None
    assert not mirror.sync().changed


def test_a_sync_reads_changes_by_date_only_when_the_server_honours_the_filter(
    mirror: MirrorEnv,
) -> None:
    """The open mirrored batches are asked for by date once the mirror knows one; when the
    server ignores the filter, the rows it answers show it and they are read one by one."""
    old = new_batch(mirror.other)
    set_batch(mirror.other, old, "fail")
    mirror.advance_clock(3 * 3600)
    waiting = [_sent_batch(mirror) for _ in range(3)]
    mirror.sync()
    mirror.advance_clock(3 * 3600)
    set_batch(mirror.other, waiting[1], "done", objects=waiting[1]["objects"])
    mirror.omnitron.control.post("stats/reset").raise_for_status()

    assert mirror.sync().batches_updated == 1

    routes = mirror.omnitron.control.get("stats").json()["by_route"]
    details = routes.get("GET /api/v1/channel/{id}/batch_requests/{id}/", 0)
    declared = mirror.omnitron.config.inferred_filters
    assert details == (0 if declared else len(waiting)), routes
    statuses = {b["pk"]: mirror.store.get_batch(b["pk"]).status for b in waiting}  # type: ignore[union-attr]
    assert statuses == {
        waiting[0]["pk"]: "sent_to_remote",
        waiting[1]["pk"]: "done",
        waiting[2]["pk"]: "sent_to_remote",
    }
