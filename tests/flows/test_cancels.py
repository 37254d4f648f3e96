"""fetch-cancels end to end: marketplace cancellations become Omnitron cancels, once."""

from __future__ import annotations

from typing import Any

import httpx

from service.store import ErrorQuery
from tests.flows.conftest import FlowEnv
from tests.sandbox.omnitron_api import OmnitronApi

CANCEL_ROUTE = "POST /api/v1/channel/{id}/orders/{id}/cancel/"


def _failures(api: OmnitronApi) -> list[dict[str, Any]]:
    """Omnitron's failure reports (``is_ok`` is not a declared filter: compared here)."""
    return [r for r in api.all_pages(api.ch("error_reports/")) if not r["is_ok"]]


def market_orders(env: FlowEnv) -> list[dict[str, Any]]:
    """The marketplace's orders as its API lists them (with their lines)."""
    response = httpx.get(
        env.marketplace.base_url + "api/v1/orders",
        params={"size": 200},
        headers={"X-Api-Key": env.marketplace.config.api_key},
        timeout=10,
    )
    response.raise_for_status()
    return list(response.json()["items"])


def multi_unit_order(env: FlowEnv) -> dict[str, Any]:
    """An order with a line of quantity > 1 and at least one other line."""
    for order in market_orders(env):
        if len(order["lines"]) > 1 and any(line["quantity"] > 1 for line in order["lines"]):
            return order
    raise AssertionError("the seeded marketplace has no multi-unit, multi-line order")


def order_pk(api: OmnitronApi, remote_id: int | str) -> int:
    row = api.one(
        api.ch("integration_actions/"),
        {"content_type_name": "order", "remote_id__exact": str(remote_id)},
    )
    return int(row["object_id"])


def items_by_line(api: OmnitronApi, pk: int) -> dict[str, list[dict[str, Any]]]:
    lines: dict[str, list[dict[str, Any]]] = {}
    for item in api.all_pages(api.ch("order_items/"), {"order": pk, "sort": "id"}):
        lines.setdefault(str(item["extra_field"]["id"]), []).append(item)
    return lines


def route_count(env: FlowEnv, route: str) -> int:
    stats = env.omnitron.control.get("stats").json()
    return int(stats["by_route"].get(route, 0))


def batch_status(api: OmnitronApi, pk: int) -> str:
    return str(api.get(api.ch(f"batch_requests/{pk}/"))["status"])


def cancel_in_market(env: FlowEnv, order_id: int, line_ids: list[int], reason: str) -> None:
    response = env.marketplace.control.post(
        f"orders/{order_id}/cancel", json={"line_ids": line_ids, "reason_code": reason}
    )
    assert response.status_code == 200, response.text


def test_cancel_applies_mapped_reason_to_every_unit_and_not_twice(
    synced: FlowEnv, api: OmnitronApi
) -> None:
    order = multi_unit_order(synced)
    big = next(line for line in order["lines"] if line["quantity"] > 1)
    cancel_in_market(synced, order["id"], [big["id"]], "CR-02")
    pk = order_pk(api, order["id"])
    synced.omnitron.control.post("stats/reset")

    first = synced.service.fetch_and_create_cancel()

    assert (first.outcome, first.updated, first.failed) == ("completed", 1, 0), first
    lines = items_by_line(api, pk)
    cancelled = lines[str(big["id"])]
    assert len(cancelled) == big["quantity"]
    # CR-02 maps to Omnitron reason 2 in the channel's reason_mapping.
    assert all((i["status"], i["cancellation_reason"]) == ("100", 2) for i in cancelled)
    others = [i for line, items in lines.items() if line != str(big["id"]) for i in items]
    assert others
    assert all(i["status"] == "400" for i in others)
    assert api.get(api.ch(f"orders/{pk}/"))["status"] == "400"  # partly cancelled
    assert route_count(synced, CANCEL_ROUTE) == 1
    (batch,) = first.batches
    assert batch.status == "done"
    assert batch_status(api, batch.pk) == "done"
    # The order and the cancelled units, so update-orders does not echo the cancel back.
    assert batch.objects == 1 + big["quantity"]
    assert batch.failed_objects == 0
    action = api.one(
        api.ch("integration_actions/"), {"content_type_name": "order", "object_id": pk}
    )
    order_now = api.get(api.ch(f"orders/{pk}/"))
    assert (action["status"], action["version_date"]) == ("success", order_now["modified_date"])
    assert pk not in {o["pk"] for o in api.results(api.ch("orders/updates/"))}

    # The feed is read again from the (inclusive) cursor: the cancel comes back.
    second = synced.service.fetch_and_create_cancel()

    assert (second.outcome, second.updated, second.skipped, second.failed) == (
        "completed",
        0,
        1,
        0,
    ), second
    assert route_count(synced, CANCEL_ROUTE) == 1  # no second cancel POST
    (batch,) = second.batches
    assert batch_status(api, batch.pk) == "done"


def test_whole_order_cancel_cancels_the_order(synced: FlowEnv, api: OmnitronApi) -> None:
    order = market_orders(synced)[0]
    cancel_in_market(synced, order["id"], [line["id"] for line in order["lines"]], "CR-01")

    result = synced.service.fetch_and_create_cancel()

    assert (result.updated, result.failed) == (1, 0), result
    pk = order_pk(api, order["id"])
    assert api.get(api.ch(f"orders/{pk}/"))["status"] == "100"
    items = [i for items in items_by_line(api, pk).values() for i in items]
    assert all((i["status"], i["cancellation_reason"]) == ("100", 1) for i in items)


def test_cancel_for_an_unknown_order_is_one_report_naming_it(
    synced: FlowEnv, api: OmnitronApi
) -> None:
    known = market_orders(synced)[1]
    cancel_in_market(synced, known["id"], [known["lines"][0]["id"]], "CR-03")
    # Arrives after fetch-orders ran: the marketplace knows it, Omnitron does not.
    generated = synced.marketplace.control.post("orders/generate", json={"count": 1})
    (stranger,) = generated.json()["orders"]
    cancel_in_market(synced, stranger["id"], [], "CR-01")

    first = synced.service.fetch_and_create_cancel()

    assert (first.outcome, first.updated, first.failed) == ("completed", 1, 1), first
    assert len(first.error_report_ids) == 1
    reports = synced.store.search_error_reports(ErrorQuery(flow="fetch-cancels", is_ok=False))
    assert len(reports) == 1
    (report,) = reports
    assert stranger["number"] in report.description
    assert "not in Omnitron" in report.description
    assert str(stranger["id"]) in report.raw_response  # the channel's record
    in_omnitron = _failures(api)
    assert [r["error_desc"] for r in in_omnitron] == [report.description]
    (batch,) = first.batches
    assert batch_status(api, batch.pk) == "done"

    # Again: the parked cancel is retried (the inclusive cursor lists it once more, and
    # that is no news), still one report, touched once; nothing counted twice.
    second = synced.service.fetch_and_create_cancel()

    assert (second.updated, second.failed) == (0, 0), second
    reports = synced.store.search_error_reports(ErrorQuery(flow="fetch-cancels", is_ok=False))
    assert [(r.id, r.attempts) for r in reports] == [(report.id, 2)]
    assert len(_failures(api)) == 1
    # Nothing new to commit or report: no batch request at all.
    assert second.batches == ()
    assert second.waiting == 1
    assert second.outcome_label == "still waiting (1)"


def test_nothing_cancelled_opens_no_batch(synced: FlowEnv, api: OmnitronApi) -> None:
    batches_before = len(api.results(api.ch("batch_requests/"), {}))
    result = synced.service.fetch_and_create_cancel()

    assert (result.outcome, result.updated, result.skipped, result.failed) == (
        "completed",
        0,
        0,
        0,
    )
    assert result.batches == ()
    assert result.outcome_label == "nothing new"
    assert len(api.results(api.ch("batch_requests/"), {})) == batches_before
