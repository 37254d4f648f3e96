"""Omnitron simulator: customers, addresses, orders, cancels, reports, updates (§2–§4, §8)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.sandbox.omnitron_api import (
    CreatedOrder,
    OmnitronApi,
    address_body,
    create_customer,
    create_order,
    integration_action,
    location,
    new_batch,
    order_objects,
    set_batch,
    sync_order,
    unique,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.conftest import RunningOmnitron

ISO_WITH_ZONE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
CONTENT_TYPES = [
    "batchrequest",
    "channel",
    "order",
    "orderitem",
    "product",
    "cancellationrequest",
    "customer",
    "address",
]
HOUR = 3600


def _when(value: str) -> datetime:
    assert ISO_WITH_ZONE.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _order(api: OmnitronApi, pk: int) -> dict[str, Any]:
    return api.one(api.ch("orders/"), {"pk__in": str(pk), "limit": 1})


def _updates(api: OmnitronApi) -> dict[int, dict[str, Any]]:
    rows = api.all_pages(api.ch("orders/updates/"), {"limit": 100})
    return {row["pk"]: row for row in rows}


def _advance_until_changed(
    omnitron: RunningOmnitron, api: OmnitronApi, pk: int, step: float = HOUR
) -> dict[str, Any]:
    """Move the simulated clock until the order changes; return the new order."""
    before = _order(api, pk)
    for _ in range(24 * 14):
        assert omnitron.control.post("clock/advance", json={"seconds": step}).status_code == 200
        now = _order(api, pk)
        if now["modified_date"] != before["modified_date"]:
            return now
    raise AssertionError(f"order {pk} did not change within two simulated weeks")


# --- customers and addresses -----------------------------------------------------------


def test_customer_create_and_patch(api: OmnitronApi) -> None:
    """POST answers 201 with the customer; PATCH changes only the sent fields."""
    customer = create_customer(api, first_name="Zeynep", last_name="Çelik")
    assert customer["pk"]
    assert customer["channel"] == 1
    assert customer["first_name"] == "Zeynep"
    assert {"email", "phone_number", "last_name", "channel_code"} <= set(customer)
    patched = api.patch(
        api.ch(f"customers/{customer['pk']}/"),
        {"last_name": "Şahin", "channel": "1", "channel_code": customer["channel_code"]},
    )
    assert patched["last_name"] == "Şahin"
    assert patched["first_name"] == "Zeynep"
    found = api.one(api.ch("customers/"), {"email": customer["email"], "channel": 1})
    assert found["last_name"] == "Şahin"
    assert found["pk"] == customer["pk"]


def test_address_create_and_duplicate_hash(api: OmnitronApi) -> None:
    """A duplicate address is a 400 whose ``non_field_errors`` string starts ``hash_data:``."""
    customer = create_customer(api)
    body = address_body(api, customer)
    created = api.post(api.ch("addresses/"), body)
    assert created["pk"]
    duplicate = api.raw("POST", api.ch("addresses/"), json=body)
    assert duplicate.status_code == 400, duplicate.text
    message = duplicate.json()["non_field_errors"]
    assert isinstance(message, str), message
    token = message.split()[0]
    assert token.startswith("hash_data:")
    digest = token.removeprefix("hash_data:")
    assert digest
    assert ":" not in digest
    found = api.one(api.ch("addresses/"), {"hash_data": digest})
    assert found["pk"] == created["pk"]


def test_address_with_other_content_is_new(api: OmnitronApi) -> None:
    """A different line makes a different address (no false duplicate)."""
    customer = create_customer(api)
    first = api.post(api.ch("addresses/"), address_body(api, customer, line="Moda Cad. 1"))
    second = api.post(api.ch("addresses/"), address_body(api, customer, line="Moda Cad. 2"))
    assert first["pk"] != second["pk"]


def test_retail_store_pickup_address(api: OmnitronApi) -> None:
    """A store pickup address carries ``retail_store`` and ``address_type``."""
    customer = create_customer(api)
    store = api.one(api.ch("retail_stores/"), {"erp_code": "STR-IST-01"})
    created = api.post(
        api.ch("addresses/"),
        address_body(api, customer, retail_store=store["pk"], address_type="retail_store"),
    )
    assert created["pk"]


# --- orders ----------------------------------------------------------------------------


def test_create_order_answers_pk_remote_id_and_modified_date(api: OmnitronApi) -> None:
    """``create_orders`` answers 201 with pk, ``extra_field.id`` and ``modified_date``."""
    order = create_order(api, (2, 1))
    assert order.order["pk"]
    assert order.order["extra_field"]["id"] == order.remote_id
    _when(order.order["modified_date"])
    assert int(order.order["status"]) == 400
    found = api.one(api.ch("orders/"), {"number": order.order["number"], "channel_id": 1})
    assert found["pk"] == order.pk
    assert found["channel"] == 1


def test_order_items_one_per_unit_sorted_by_id(api: OmnitronApi) -> None:
    """Items list by ``order`` + ``sort=id``: one per unit, each with its line id."""
    order = create_order(api, (3, 1))
    assert len(order.items) == 4
    pks = [item["pk"] for item in order.items]
    assert pks == sorted(pks)
    lines = [order.item_remote_id(item) for item in order.items]
    assert lines.count(f"{order.remote_id}-L1") == 3
    assert lines.count(f"{order.remote_id}-L2") == 1
    for item in order.items:
        assert int(item["status"]) == 400
        assert item["order"] == order.pk
        _when(item["modified_date"])
    other = create_order(api)
    assert {i["pk"] for i in other.items}.isdisjoint(pks)


def test_order_item_patch(api: OmnitronApi) -> None:
    """PATCH changes status, invoice number/date and tracking number; GET shows them."""
    order = create_order(api)
    item = order.items[0]
    path = api.ch(f"order_items/{item['pk']}/")
    patched = api.patch(
        path,
        {
            "status": "450",
            "invoice_number": "INV-2026-1",
            "invoice_date": "2026-11-27 12:00:00",
            "tracking_number": "TRK123",
        },
    )
    assert int(patched["status"]) == 450
    again = api.get(path)
    assert int(again["status"]) == 450
    assert again["invoice_number"] == "INV-2026-1"
    assert again["tracking_number"] == "TRK123"
    assert again["extra_field"]["id"] == order.item_remote_id(item)
    assert _when(again["modified_date"]) >= _when(item["modified_date"])


def test_cancel_order_with_reasons(api: OmnitronApi) -> None:
    """Cancelling every item cancels them and the order (100); a re-cancel is refused."""
    order = create_order(api, (2,))
    reasons = api.all_pages(api.ch("cancellation_reasons/"))
    reason = reasons[0]["pk"] if "pk" in reasons[0] else reasons[0]["id"]
    item_pks = [item["pk"] for item in order.items]
    body = {
        "order": order.pk,
        "cancel_items": item_pks,
        "reasons": {str(pk): reason for pk in item_pks},
        "forced_refund_amount": "399.80",
    }
    response = api.raw("POST", api.ch(f"orders/{order.pk}/cancel/"), json=body)
    assert 200 <= response.status_code < 300, response.text
    for pk in item_pks:
        assert int(api.get(api.ch(f"order_items/{pk}/"))["status"]) == 100
    assert int(_order(api, order.pk)["status"]) == 100
    again = api.raw("POST", api.ch(f"orders/{order.pk}/cancel/"), json=body)
    assert 400 <= again.status_code < 499, again.text
    assert isinstance(again.json(), dict)


def test_partial_cancel_leaves_other_items(api: OmnitronApi) -> None:
    """Cancelling one item leaves the other items as they were."""
    order = create_order(api, (1, 1))
    reason = api.all_pages(api.ch("cancellation_reasons/"))[0]
    reason_id = reason.get("pk", reason.get("id"))
    first, second = order.items
    api.raw(
        "POST",
        api.ch(f"orders/{order.pk}/cancel/"),
        json={
            "order": order.pk,
            "cancel_items": [first["pk"]],
            "reasons": {str(first["pk"]): reason_id},
            "forced_refund_amount": None,
        },
    ).raise_for_status()
    assert int(api.get(api.ch(f"order_items/{first['pk']}/"))["status"]) == 100
    assert int(api.get(api.ch(f"order_items/{second['pk']}/"))["status"]) == 400
    assert int(_order(api, order.pk)["status"]) != 100


# --- orders/updates/ -------------------------------------------------------------------


def test_updates_lists_changed_synced_orders_only(
    omnitron: RunningOmnitron, api: OmnitronApi
) -> None:
    """Synced → absent; changed → present and newer; re-synced → absent (§8)."""
    order = create_order(api)
    never_synced = create_order(api)
    sync_order(api, order)
    updates = _updates(api)
    assert order.pk not in updates
    assert never_synced.pk not in updates

    changed = _advance_until_changed(omnitron, api, order.pk)
    updates = _updates(api)
    assert order.pk in updates
    assert never_synced.pk not in updates
    row = updates[order.pk]
    assert _when(row["modified_date"]) > _when(order.order["modified_date"])
    assert {"number", "status", "modified_date"} <= set(row)

    current = CreatedOrder(changed, order.remote_id, order.items)
    sync_order(api, current, version=row["modified_date"])
    assert order.pk not in _updates(api)


def test_updates_skips_orders_held_by_a_batch(omnitron: RunningOmnitron, api: OmnitronApi) -> None:
    """An order whose action is ``processing`` is not listed until the batch finishes."""
    order = create_order(api)
    sync_order(api, order)
    _advance_until_changed(omnitron, api, order.pk)
    assert order.pk in _updates(api)
    batch = new_batch(api)
    set_batch(api, batch, "commit", objects=order_objects(order), content_type="order")
    assert integration_action(api, "order", order.pk)["status"] == "processing"
    assert order.pk not in _updates(api)
    set_batch(api, batch, "fail", objects=[])
    assert order.pk in _updates(api)


def test_order_progresses_with_the_clock(omnitron: RunningOmnitron, api: OmnitronApi) -> None:
    """approved → preparing → shipped (with a tracking number) → delivered."""
    order = create_order(api)
    seen = [400]
    tracking_when_shipped = None
    for _ in range(24 * 14):
        omnitron.control.post("clock/advance", json={"seconds": HOUR / 2}).raise_for_status()
        current = _order(api, order.pk)
        status = int(current["status"])
        if status != seen[-1]:
            seen.append(status)
            if status == 500:
                tracking_when_shipped = current.get("tracking_number")
        if status == 550:
            break
    assert seen == [400, 450, 500, 550]
    assert tracking_when_shipped
    items = api.all_pages(api.ch("order_items/"), {"order": order.pk, "sort": "id"})
    assert {int(item["status"]) for item in items} == {550}


# --- reference data --------------------------------------------------------------------


@pytest.mark.parametrize("model", CONTENT_TYPES)
def test_content_type_by_model(api: OmnitronApi, model: str) -> None:
    """``content_types/?model=`` answers exactly one row with id and model (§8)."""
    row = api.one("content_types/", {"model": model})
    assert row["model"] == model
    assert isinstance(row["id"], int)


def test_content_type_ids_are_distinct(api: OmnitronApi) -> None:
    """Every model has its own id; an unknown model matches nothing."""
    ids = {api.one("content_types/", {"model": model})["id"] for model in CONTENT_TYPES}
    assert len(ids) == len(CONTENT_TYPES)
    assert api.results("content_types/", {"model": "spaceship"}) == []


def test_channel_conf_defaults(api: OmnitronApi) -> None:
    """The channel is active; conf has a reason mapping and no customer identifier field."""
    channel = api.get("channels/1/")
    assert channel["pk"] == 1
    assert channel["is_active"] is True
    conf = channel["conf"]
    assert "CUSTOMER_IDENTIFIER_FIELD" not in conf
    assert isinstance(conf["reason_mapping"], dict)
    assert conf["reason_mapping"]
    reasons = api.all_pages(api.ch("cancellation_reasons/"))
    ids = {r.get("pk", r.get("id")) for r in reasons}
    assert set(conf["reason_mapping"].values()) <= ids
    assert "cancellation_reason_id" in conf


def test_catalog_price_and_stock_lists(api: OmnitronApi) -> None:
    """The catalog names the default price and stock lists for new items."""
    catalog = api.get("catalogs/1/")
    assert catalog["price_list"] is not None
    assert catalog["stock_list"] is not None


def test_cancellation_reasons(api: OmnitronApi) -> None:
    """Reasons are listed with ids and names."""
    reasons = api.all_pages(api.ch("cancellation_reasons/"))
    assert len(reasons) >= 3
    for reason in reasons:
        assert reason.get("pk", reason.get("id")) is not None
        assert reason["name"]


# --- cancellation requests -------------------------------------------------------------


def _reason_id(api: OmnitronApi) -> int:
    reason = api.all_pages(api.ch("cancellation_reasons/"))[0]
    return int(reason.get("pk", reason.get("id")))


def test_cancellation_request_create(api: OmnitronApi) -> None:
    """POST answers 201 with ``id`` and ``modified_date``."""
    order = create_order(api)
    remote_id = unique("CR")
    created = api.post(
        api.ch("cancellation_requests/"),
        {
            "order_item": order.items[0]["pk"],
            "reason": _reason_id(api),
            "remote_id": remote_id,
            "description": "Vazgeçtim",
            "cancellation_type": "refund",
        },
    )
    assert created["id"]
    _when(created["modified_date"])
    assert created["order_item"] == order.items[0]["pk"]
    assert created["cancellation_type"] == "refund"


def _sync_request(api: OmnitronApi, request: dict[str, Any]) -> None:
    """Commit a cancellation request at its current version and finish the batch done."""
    batch = new_batch(api)
    objects = [
        {
            "pk": request["id"],
            "version_date": request["modified_date"],
            "content_type": "cancellationrequest",
            "failed_reason_type": None,
            "remote_id": request["remote_id"],
        }
    ]
    set_batch(api, batch, "commit", objects=objects, content_type="cancellationrequest")
    set_batch(api, batch, "done", objects=objects)


def _request_updates(api: OmnitronApi) -> dict[int, dict[str, Any]]:
    rows = api.all_pages(api.ch("cancellation_requests/updates/"), {"limit": 50})
    return {row["id"]: row for row in rows}


def test_cancellation_request_updates_listing(api: OmnitronApi) -> None:
    """``cancellation_requests/updates/`` lists synced requests changed on Omnitron's side."""
    order = create_order(api)
    created = api.post(
        api.ch("cancellation_requests/"),
        {
            "order_item": order.items[0]["pk"],
            "reason": _reason_id(api),
            "remote_id": unique("CR"),
            "description": "",
            "cancellation_type": "cancel",
        },
    )
    body = api.get(api.ch("cancellation_requests/updates/"), {"limit": 50})
    assert {"count", "next", "results"} <= set(body)
    _sync_request(api, created)
    assert created["id"] not in _request_updates(api)

    # Omnitron approves the request: it changed after its last sync, so it is listed.
    changed = api.patch(api.ch(f"cancellation_requests/{created['id']}/"), {"status": "approved"})
    assert _when(changed["modified_date"]) > _when(created["modified_date"])
    updates = _request_updates(api)
    assert created["id"] in updates
    row = updates[created["id"]]
    fields = {"id", "order_item", "reason", "cancellation_type", "status", "description"}
    assert fields | {"modified_date", "remote_id"} <= set(row)
    assert row["status"] == "approved"
    assert row["remote_id"] == created["remote_id"]

    _sync_request(api, changed)
    assert created["id"] not in _request_updates(api)


# --- error reports ---------------------------------------------------------------------


def test_generic_error_report(api: OmnitronApi) -> None:
    """A report with content-type ids (ids as strings too) is stored and listed."""
    batch = new_batch(api)
    batch_type = api.one("content_types/", {"model": "batchrequest"})["id"]
    channel_type = api.one("content_types/", {"model": "channel"})["id"]
    code = f"{batch['local_batch_id']}-Channel-GetOrders_{unique('N')}"
    api.post(
        api.ch("error_reports/"),
        {
            "action_content_type": batch_type,
            "action_object_id": batch["pk"],
            "target_content_type": channel_type,
            "target_object_id": "1",
            "obj_modified_date": "2026-11-27 10:30:00",
            "error_code": code,
            "error_desc": "Omnitron-GetOrders",
            "raw_request": "GET - http://channel/orders - ",
            "raw_response": "[]",
            "is_ok": False,
        },
    )
    rows = api.all_pages(api.ch("error_reports/"), {"limit": 100})
    mine = [row for row in rows if row["error_code"] == code]
    assert len(mine) == 1
    assert mine[0]["action_object_id"] == batch["pk"]
    assert mine[0]["target_object_id"] == 1
    assert mine[0]["is_ok"] is False


@pytest.mark.parametrize("kind", ["city", "township", "district"])
def test_location_error_reports(api: OmnitronApi, kind: str) -> None:
    """``error_reports/{type}/`` takes the bodies the reference sends for unknown places."""
    loc = location(api)
    bodies: dict[str, dict[str, Any]] = {
        "city": {
            "type": "city",
            "remote_code": "1_Atlantis",
            "country_id": loc.country,
            "integration_type": "sales_channel",
            "err_code": "integrations_200_10_2",
            "err_desc": "City not found: Atlantis",
        },
        "township": {
            "type": "township",
            "remote_code": "1_Poseidonia",
            "city_id": loc.city,
            "name": "Poseidonia",
            "integration_type": "sales_channel",
            "err_code": "integrations_200_10_1",
            "err_desc": "Township not found",
        },
        "district": {
            "type": "district",
            "remote_code": "1_Mercan",
            "city_id": loc.city,
            "township_id": loc.township,
            "name": "Mercan",
            "integration_type": "sales_channel",
            "err_code": "integrations_200_10_3",
            "err_desc": "District not found",
        },
    }
    created = api.post(api.ch(f"error_reports/{kind}/"), bodies[kind])
    assert created["remote_code"] == bodies[kind]["remote_code"]


def test_unknown_location_report_type_is_json_error(api: OmnitronApi) -> None:
    """Only city/township/district are report types."""
    response = api.raw("POST", api.ch("error_reports/planet/"), json={"type": "planet"})
    assert 400 <= response.status_code < 499, response.text
    assert isinstance(response.json(), dict)


# --- persistence -----------------------------------------------------------------------


def test_state_survives_a_restart_and_old_tokens_do_not(
    start_omnitron: Callable[..., RunningOmnitron], tmp_path: Path
) -> None:
    """With a data dir, objects survive a restart; a token issued before it gets 401."""
    first = start_omnitron(data_dir=tmp_path)
    before = OmnitronApi(first.base_url)
    customer = create_customer(before)
    order = create_order(before)
    sync_order(before, order)
    token = before.token
    before.close()
    first.server.stop()
    first.sim.close()

    second = start_omnitron(data_dir=tmp_path)
    stale = httpx.get(
        second.base_url + "api/v1/channels/1/",
        headers={"Authorization": f"Token {token}"},
        timeout=10,
    )
    assert stale.status_code == 401, stale.text
    assert isinstance(stale.json(), dict)
    after = OmnitronApi(second.base_url)
    try:
        found = after.one(after.ch("customers/"), {"email": customer["email"], "channel": 1})
        assert found["pk"] == customer["pk"]
        again = after.one(after.ch("orders/"), {"number": order.order["number"], "channel_id": 1})
        assert again["pk"] == order.pk
        assert integration_action(after, "order", order.pk)["status"] == "success"
        assert len(after.all_pages(after.ch("order_items/"), {"order": order.pk})) == 1
    finally:
        after.close()
