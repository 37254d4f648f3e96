"""Omnitron simulator: the batch-request state machine and integration actions (§3, §8)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.sandbox.omnitron_api import (
    CreatedOrder,
    OmnitronApi,
    create_order,
    integration_action,
    new_batch,
    order_objects,
    set_batch,
    sync_order,
)

LATER = "2030-01-01T00:00:00.000000Z"

# How to bring a fresh batch into each state along legal edges.
ROUTE: dict[str, list[dict[str, Any]]] = {
    "initialized": [],
    "commit": [{"status": "commit", "objects": [], "content_type": "order"}],
    "sent_to_remote": [
        {"status": "commit", "objects": [], "content_type": "order"},
        {"status": "sent_to_remote", "remote_batch_id": "REMOTE-1"},
    ],
    "ongoing": [
        {"status": "commit", "objects": [], "content_type": "order"},
        {"status": "sent_to_remote", "remote_batch_id": "REMOTE-1"},
        {"status": "ongoing"},
    ],
    "done": [{"status": "done", "objects": []}],
    "fail": [{"status": "fail", "objects": []}],
}
NON_FINAL = ["initialized", "commit", "sent_to_remote", "ongoing"]

ILLEGAL = [
    ("initialized", "sent_to_remote"),
    ("initialized", "ongoing"),
    ("commit", "ongoing"),
    ("sent_to_remote", "commit"),
    ("ongoing", "commit"),
    ("ongoing", "sent_to_remote"),
    ("done", "commit"),
    ("done", "sent_to_remote"),
    ("done", "ongoing"),
    ("done", "done"),
    ("done", "fail"),
    ("fail", "commit"),
    ("fail", "ongoing"),
    ("fail", "done"),
    ("fail", "fail"),
]


def _batch_in(api: OmnitronApi, state: str) -> dict[str, Any]:
    batch = new_batch(api)
    for step in ROUTE[state]:
        set_batch(api, batch, **step)
    return batch


def _batch_row(api: OmnitronApi, pk: int) -> dict[str, Any]:
    rows = api.all_pages(api.ch("batch_requests/"), {"channel": 1, "limit": 1000})
    matches = [row for row in rows if row["pk"] == pk]
    assert len(matches) == 1, f"batch {pk} not listed once in {rows}"
    return matches[0]


def _body_for(target: str) -> dict[str, Any]:
    return {
        "commit": {"objects": [], "content_type": "order"},
        "sent_to_remote": {"remote_batch_id": "REMOTE-2"},
        "ongoing": {},
        "done": {"objects": []},
        "fail": {"objects": []},
    }[target]


def _refused(api: OmnitronApi, batch: dict[str, Any], status: str, code: str, **body: Any) -> None:
    """Assert a 406 whose JSON body carries ``code``."""
    response = api.raw(
        "PATCH",
        api.ch(f"batch_requests/{batch['pk']}/"),
        json={"channel": 1, "status": status, **body},
    )
    assert response.status_code == 406, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert code in json.dumps(response.json()), response.text


# --- creation and the legal graph ------------------------------------------------------


def test_create_answers_the_fields_the_flows_read(api: OmnitronApi) -> None:
    """POST answers pk, a server-made UUID ``local_batch_id``, ``initialized``, objects."""
    first = new_batch(api)
    second = new_batch(api)
    for batch in (first, second):
        assert {"pk", "local_batch_id", "status", "remote_batch_id", "content_type"} <= set(batch)
        assert batch["status"] == "initialized"
        assert batch["objects"] in (None, [])
        uuid.UUID(batch["local_batch_id"])
        assert batch["channel"] == 1
    assert first["pk"] != second["pk"]
    assert first["local_batch_id"] != second["local_batch_id"]


def test_create_keeps_the_clients_local_batch_id_and_refuses_it_twice(api: OmnitronApi) -> None:
    """A client may choose the id (to find the batch after a lost answer); it is unique."""
    chosen = str(uuid.uuid4())
    batch = api.post(api.ch("batch_requests/"), {"channel": 1, "local_batch_id": chosen})
    assert (batch["local_batch_id"], batch["status"]) == (chosen, "initialized")

    again = api.raw(
        "POST", api.ch("batch_requests/"), json={"channel": 1, "local_batch_id": chosen}
    )

    assert again.status_code == 400
    assert "local_batch_id" in again.json()
    rows = api.all_pages(api.ch("batch_requests/"), {"status": "initialized"})
    assert [row["pk"] for row in rows if row["local_batch_id"] == chosen] == [batch["pk"]]


def test_the_full_legal_path(api: OmnitronApi) -> None:
    """initialized → commit → commit → sent_to_remote → ongoing → ongoing → done."""
    batch = new_batch(api)
    steps: list[dict[str, Any]] = [
        {"status": "commit", "objects": [], "content_type": "order"},
        {"status": "commit", "objects": [], "content_type": "order"},
        {"status": "sent_to_remote", "remote_batch_id": "REMOTE-77"},
        {"status": "ongoing"},
        {"status": "ongoing"},
        {"status": "done", "objects": []},
    ]
    for step in steps:
        answer = set_batch(api, batch, **step)
        assert answer["status"] == step["status"]
        assert _batch_row(api, batch["pk"])["status"] == step["status"]
    row = _batch_row(api, batch["pk"])
    assert row["remote_batch_id"] == "REMOTE-77"
    assert row["content_type"] == "order"
    assert row["local_batch_id"] == batch["local_batch_id"]


@pytest.mark.parametrize("final", ["done", "fail"])
@pytest.mark.parametrize("state", NON_FINAL)
def test_any_non_final_state_may_finish(api: OmnitronApi, state: str, final: str) -> None:
    """Every non-final state goes to ``done`` or ``fail``."""
    batch = _batch_in(api, state)
    assert set_batch(api, batch, final, objects=[])["status"] == final
    assert _batch_row(api, batch["pk"])["status"] == final


@pytest.mark.parametrize(("state", "target"), ILLEGAL)
def test_illegal_transition_is_406_100_1(api: OmnitronApi, state: str, target: str) -> None:
    """Edges outside the graph answer 406 ``batch_request_status_100_1``; state is kept."""
    batch = _batch_in(api, state)
    _refused(api, batch, target, "batch_request_status_100_1", **_body_for(target))
    assert _batch_row(api, batch["pk"])["status"] == state


def test_unknown_status_is_refused_as_json(api: OmnitronApi) -> None:
    """A status outside the vocabulary is a client error with a JSON body."""
    batch = new_batch(api)
    response = api.raw(
        "PATCH",
        api.ch(f"batch_requests/{batch['pk']}/"),
        json={"channel": 1, "status": "exploded"},
    )
    assert response.status_code in (400, 406), response.text
    assert isinstance(response.json(), dict)
    assert _batch_row(api, batch["pk"])["status"] == "initialized"


# --- commit lock -----------------------------------------------------------------------


def test_commit_lock_per_content_type(api: OmnitronApi) -> None:
    """A second ``order`` batch may not commit while one is in commit; other types may."""
    holder = _batch_in(api, "commit")
    set_batch(api, holder, "commit", objects=[], content_type="order")  # its own lock: fine
    second = new_batch(api)
    _refused(api, second, "commit", "batch_request_status_100_2", objects=[], content_type="order")
    assert _batch_row(api, second["pk"])["status"] == "initialized"
    other_type = new_batch(api)
    set_batch(api, other_type, "commit", objects=[], content_type="cancellationrequest")
    third_request = new_batch(api)
    _refused(
        api,
        third_request,
        "commit",
        "batch_request_status_100_2",
        objects=[],
        content_type="cancellationrequest",
    )


@pytest.mark.parametrize(
    "leave",
    [
        {"status": "sent_to_remote", "remote_batch_id": "R"},
        {"status": "done", "objects": []},
        {"status": "fail", "objects": []},
    ],
    ids=["sent_to_remote", "done", "fail"],
)
def test_commit_lock_released_when_holder_leaves_commit(
    api: OmnitronApi, leave: dict[str, Any]
) -> None:
    """Once the holder leaves ``commit``, another batch of that type may commit."""
    holder = _batch_in(api, "commit")
    waiting = new_batch(api)
    _refused(api, waiting, "commit", "batch_request_status_100_2", objects=[], content_type="order")
    set_batch(api, holder, **leave)
    assert set_batch(api, waiting, "commit", objects=[], content_type="order")["status"] == "commit"


# --- objects and integration actions ---------------------------------------------------


def test_commit_stores_objects_and_repeats_add_more(api: OmnitronApi) -> None:
    """``objects`` are kept on the batch; a repeated commit adds to them."""
    first, second = create_order(api), create_order(api)
    batch = new_batch(api)
    answer = set_batch(api, batch, "commit", objects=order_objects(first), content_type="order")
    assert {o["pk"] for o in answer["objects"] if o["content_type"] == "order"} == {first.pk}
    set_batch(api, batch, "commit", objects=order_objects(second), content_type="order")
    stored = _batch_row(api, batch["pk"])["objects"]
    orders = {o["pk"] for o in stored if o["content_type"] == "order"}
    assert orders == {first.pk, second.pk}
    items = {o["pk"] for o in stored if o["content_type"] == "orderitem"}
    assert items == {i["pk"] for i in first.items + second.items}


def test_commit_makes_actions_processing(api: OmnitronApi) -> None:
    """Committed objects get ``processing`` actions with the batch id and remote id."""
    order = create_order(api, (2,))
    batch = new_batch(api)
    set_batch(api, batch, "commit", objects=order_objects(order), content_type="order")
    action = integration_action(api, "order", order.pk)
    assert action["status"] == "processing"
    assert action["local_batch_id"] == batch["local_batch_id"]
    assert action["remote_id"] == order.remote_id
    assert action["content_type"]["model"] == "order"
    for item in order.items:
        item_action = integration_action(api, "orderitem", item["pk"])
        assert item_action["status"] == "processing"
        assert item_action["remote_id"] == order.item_remote_id(item)
        assert item_action["content_type"]["model"] == "orderitem"


def test_done_marks_success_with_remote_id_and_version(api: OmnitronApi) -> None:
    """``done`` stores the remote id and version date of each listed object as success."""
    order = create_order(api)
    batch = new_batch(api)
    committed = order_objects(order)
    committed[0]["remote_id"] = None  # the channel's id arrives only with the result
    set_batch(api, batch, "commit", objects=committed, content_type="order")
    finished = order_objects(order, version=LATER)
    finished[0]["remote_id"] = "CHANNEL-ID-9"
    set_batch(api, batch, "done", objects=finished)
    action = integration_action(api, "order", order.pk)
    assert action["status"] == "success"
    assert action["remote_id"] == "CHANNEL-ID-9"
    assert action["version_date"] == LATER
    assert action["local_batch_id"] == batch["local_batch_id"]
    item_action = integration_action(api, "orderitem", order.items[0]["pk"])
    assert item_action["status"] == "success"
    assert item_action["version_date"] == order.items[0]["modified_date"]


@pytest.mark.parametrize("reason", ["mapping", "remote", "channel_app"])
def test_done_with_failed_reason_marks_error(api: OmnitronApi, reason: str) -> None:
    """An object listed with ``failed_reason_type`` ends ``error``; the others ``success``."""
    order = create_order(api, (1, 1))
    batch = new_batch(api)
    objects = order_objects(order)
    set_batch(api, batch, "commit", objects=objects, content_type="order")
    objects[1]["failed_reason_type"] = reason
    set_batch(api, batch, "done", objects=objects)
    assert integration_action(api, "orderitem", order.items[0]["pk"])["status"] == "error"
    assert integration_action(api, "orderitem", order.items[1]["pk"])["status"] == "success"
    assert integration_action(api, "order", order.pk)["status"] == "success"


def test_done_reverts_unlisted_actions(api: OmnitronApi) -> None:
    """Unlisted ``processing`` actions go back: new ones to error, old ones to their state."""
    synced = create_order(api)
    sync_order(api, synced)
    before = integration_action(api, "order", synced.pk)
    assert before["status"] == "success"
    fresh = create_order(api)
    batch = new_batch(api)
    objects = order_objects(synced, version=LATER) + order_objects(fresh)
    set_batch(api, batch, "commit", objects=objects, content_type="order")
    assert integration_action(api, "order", synced.pk)["status"] == "processing"
    # only the fresh order's items are reported back
    set_batch(api, batch, "done", objects=order_objects(fresh)[1:])
    after = integration_action(api, "order", synced.pk)
    assert after["status"] == "success"
    assert after["version_date"] == before["version_date"]
    assert integration_action(api, "order", fresh.pk)["status"] == "error"
    assert integration_action(api, "orderitem", fresh.items[0]["pk"])["status"] == "success"


def test_fail_releases_every_processing_action(api: OmnitronApi) -> None:
    """``fail``: old actions return to their state and version, new ones become error."""
    synced = create_order(api)
    sync_order(api, synced)
    before = integration_action(api, "order", synced.pk)
    fresh = create_order(api)
    batch = new_batch(api)
    objects = order_objects(synced, version=LATER) + order_objects(fresh)
    set_batch(api, batch, "commit", objects=objects, content_type="order")
    set_batch(api, batch, "sent_to_remote", remote_batch_id="R-FAIL")
    set_batch(api, batch, "fail", objects=objects)
    after = integration_action(api, "order", synced.pk)
    assert after["status"] == before["status"] == "success"
    assert after["version_date"] == before["version_date"]
    assert after["version_date"] != LATER
    assert integration_action(api, "order", fresh.pk)["status"] == "error"
    processing = api.results(
        api.ch("integration_actions/"),
        {"local_batch_id": batch["local_batch_id"], "channel_id": 1, "status": "processing"},
    )
    assert processing == []


def test_a_released_object_can_be_committed_again(api: OmnitronApi) -> None:
    """After a failed run the same order can be committed and synced by a new batch."""
    order: CreatedOrder = create_order(api)
    failed = new_batch(api)
    set_batch(api, failed, "commit", objects=order_objects(order), content_type="order")
    set_batch(api, failed, "fail", objects=[])
    sync_order(api, order)
    action = integration_action(api, "order", order.pk)
    assert action["status"] == "success"
    assert action["version_date"] == order.order["modified_date"]
