"""fetch-item-updates end to end: marketplace line changes patch Omnitron's items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from service.store import ErrorQuery
from tests.flows.conftest import FlowEnv
from tests.sandbox.omnitron_api import OmnitronApi

PATCH_ITEM = "PATCH /api/v1/channel/{id}/order_items/{id}/"


def multi_unit_line(env: FlowEnv) -> dict[str, Any]:
    """A marketplace line of quantity > 1 (three Omnitron items for quantity 3)."""
    response = httpx.get(
        env.marketplace.base_url + "api/v1/orders",
        params={"size": 200},
        headers={"X-Api-Key": env.marketplace.config.api_key},
        timeout=10,
    )
    response.raise_for_status()
    for order in response.json()["items"]:
        for line in order["lines"]:
            if line["quantity"] > 1:
                return dict(line)
    raise AssertionError("the seeded marketplace has no line with quantity > 1")


def line_items(api: OmnitronApi, line_id: int | str) -> list[dict[str, Any]]:
    actions = api.all_pages(
        api.ch("integration_actions/"),
        {"content_type_name": "orderitem", "remote_id__exact": str(line_id)},
    )
    return [api.get(api.ch(f"order_items/{a['object_id']}/")) for a in actions]


def update_line(env: FlowEnv, line_id: int, **change: str) -> None:
    response = env.marketplace.control.post(f"lines/{line_id}/update", json=change)
    assert response.status_code == 200, response.text


def patches(env: FlowEnv) -> int:
    stats = env.omnitron.control.get("stats").json()
    return int(stats["by_route"].get(PATCH_ITEM, 0))


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_line_updates_patch_every_unit_once(synced: FlowEnv, api: OmnitronApi) -> None:
    line = multi_unit_line(synced)
    units = line["quantity"]
    update_line(
        synced,
        line["id"],
        status="Invoiced",
        invoice_number="CDM2026000000042",
        invoice_date="2026-11-28T09:15:00Z",
    )
    synced.omnitron.control.post("stats/reset")

    first = synced.service.fetch_and_update_order_items()

    assert (first.outcome, first.updated, first.skipped, first.failed) == (
        "completed",
        1,
        0,
        0,
    ), first
    items = line_items(api, line["id"])
    assert len(items) == units
    for item in items:
        assert item["status"] == "450"
        assert item["invoice_number"] == "CDM2026000000042"
        assert moment(item["invoice_date"]) == moment("2026-11-28T09:15:00Z")
        # Merged, not replaced: the line id and fetch-orders' keys stay.
        assert item["extra_field"]["id"] == str(line["id"])
        assert item["extra_field"]["barcode"] == line["barcode"]
        assert item["extra_field"]["marketplace_status"] == "Invoiced"
    assert patches(synced) == units
    (batch,) = first.batches
    assert batch.status == "done"
    assert batch.objects == units
    assert api.get(api.ch(f"batch_requests/{batch.pk}/"))["status"] == "done"
    action = api.one(
        api.ch("integration_actions/"),
        {"content_type_name": "orderitem", "object_id": items[0]["pk"]},
    )
    assert action["version_date"] == items[0]["modified_date"]

    # Re-read from the inclusive cursor: the same update, nothing to change.
    synced.omnitron.control.post("stats/reset")
    second = synced.service.fetch_and_update_order_items()

    assert (second.updated, second.skipped, second.failed) == (0, 1, 0), second
    assert patches(synced) == 0
    (batch,) = second.batches
    assert api.get(api.ch(f"batch_requests/{batch.pk}/"))["status"] == "done"

    # Shipped: status and tracking number move on; the re-read invoice update does not.
    update_line(synced, line["id"], status="Shipped", tracking_number="512345678901")
    third = synced.service.fetch_and_update_order_items()

    assert (third.updated, third.skipped, third.failed) == (1, 1, 0), third
    assert patches(synced) == units
    for item in line_items(api, line["id"]):
        assert (item["status"], item["tracking_number"]) == ("500", "512345678901")
        assert item["invoice_number"] == "CDM2026000000042"
        assert item["extra_field"]["id"] == str(line["id"])


def test_update_of_a_line_not_in_omnitron_is_reported_and_parked(
    synced: FlowEnv, api: OmnitronApi
) -> None:
    generated = synced.marketplace.control.post("orders/generate", json={"count": 1})
    (stranger,) = generated.json()["orders"]
    line_id = int(stranger["id"]) * 100 + 1
    update_line(synced, line_id)  # next status: Picking
    synced.omnitron.control.post("stats/reset")

    result = synced.service.fetch_and_update_order_items()

    assert (result.outcome, result.updated, result.failed) == ("completed", 0, 1), result
    (report,) = synced.store.search_error_reports(
        ErrorQuery(flow="fetch-item-updates", is_ok=False)
    )
    assert str(line_id) in report.description
    assert "the order is not in Omnitron" in report.description
    (parked,) = synced.store.parked("fetch-item-updates")
    assert (parked.remote_id, parked.error_report_id) == (str(line_id), report.id)
    assert patches(synced) == 0
    (batch,) = result.batches
    assert api.get(api.ch(f"batch_requests/{batch.pk}/"))["status"] == "done"
