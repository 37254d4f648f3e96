"""Omnitron simulator: each listing declares its filter set and ignores everything else.

As django-filter does: a parameter the set does not declare (a field, or a lookup of
a declared field) is dropped silently — HTTP 200 and the unfiltered listing
(docs/omnitron-api.md §9).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.omnitron_api import (
    OmnitronApi,
    create_address,
    create_customer,
    create_order,
    new_batch,
    order_objects,
    set_batch,
)


def _count(api: OmnitronApi, path: str, params: dict[str, Any] | None = None) -> int:
    answer = api.get(api.ch(path), {**(params or {}), "limit": 1})
    assert isinstance(answer, dict)
    return int(answer["count"])


@pytest.fixture
def filled(api: OmnitronApi) -> dict[str, Any]:
    """Two orders (with customers, addresses, items) and two batches in two states."""
    first, second = create_order(api), create_order(api, (2,))
    customer = create_customer(api)
    address = create_address(api, customer)
    committed = new_batch(api)
    set_batch(api, committed, "commit", objects=order_objects(first), content_type="order")
    new_batch(api)
    return {
        "orders": (first, second),
        "customer": customer,
        "address": address,
        "batch": committed,
    }


UNDECLARED = [
    ("orders/", lambda f: {"number__in": f["orders"][0].order["number"]}),
    ("orders/", lambda f: {"number__iexact": f["orders"][0].order["number"]}),
    ("orders/", lambda f: {"status": "999"}),
    ("order_items/", lambda f: {"order__in": str(f["orders"][0].pk)}),
    ("order_items/", lambda f: {"order_id": f["orders"][0].pk}),
    ("customers/", lambda f: {"email__in": f["customer"]["email"]}),
    ("customers/", lambda f: {"phone_number__in": f["customer"]["phone_number"]}),
    ("addresses/", lambda f: {"hash_data__in": f["address"]["hash_data"]}),
    ("addresses/", lambda f: {"customer": f["customer"]["pk"]}),
    ("batch_requests/", lambda f: {"local_batch_id": f["batch"]["local_batch_id"]}),
    ("integration_actions/", lambda f: {"content_type__model": "nothing-by-that-name"}),
    ("integration_actions/", lambda f: {"remote_id__startswith": "nothing-by-that-name"}),
    ("products/", lambda f: {"name__icontains": "nothing-by-that-name"}),
    ("products/", lambda f: {"attributes__barcode": "nothing-by-that-name"}),
]


@pytest.mark.parametrize(("path", "params"), UNDECLARED)
def test_an_undeclared_filter_is_ignored_and_the_whole_listing_answered(
    api: OmnitronApi, filled: dict[str, Any], path: str, params: Any
) -> None:
    everything = _count(api, path)
    assert everything > 1
    answer = api.get(api.ch(path), {**params(filled), "limit": 1})
    assert answer["count"] == everything


def test_cancellation_requests_and_error_reports_declare_no_filter(
    api: OmnitronApi, filled: dict[str, Any]
) -> None:
    order = filled["orders"][1]
    reason = api.all_pages(api.ch("cancellation_reasons/"))[0]["pk"]
    for item in order.items:
        body = {"order_item": item["pk"], "reason": reason, "remote_id": f"CR-{item['pk']}"}
        api.post(api.ch("cancellation_requests/"), {**body, "cancellation_type": "cancel"})
    api.post(api.ch("error_reports/"), {"error_code": "one", "error_desc": "x", "is_ok": False})
    api.post(api.ch("error_reports/"), {"error_code": "two", "error_desc": "x", "is_ok": False})

    by_remote_id = {"remote_id": f"CR-{order.items[0]['pk']}"}
    assert _count(api, "cancellation_requests/", by_remote_id) == 2
    assert _count(api, "error_reports/", {"error_code": "one"}) == 2
    newest = api.results(api.ch("error_reports/"), {"sort": "-id"})
    assert [row["error_code"] for row in newest] == ["two", "one"]


def test_declared_filters_still_filter(api: OmnitronApi, filled: dict[str, Any]) -> None:
    first, second = filled["orders"]
    number = first.order["number"]
    assert [o["pk"] for o in api.results(api.ch("orders/"), {"number": number})] == [first.pk]
    assert [o["pk"] for o in api.results(api.ch("orders/"), {"number__exact": number})] == [
        first.pk
    ]
    items = api.results(api.ch("order_items/"), {"order": second.pk})
    assert sorted(i["pk"] for i in items) == sorted(i["pk"] for i in second.items)
    customer = filled["customer"]
    prefix = customer["email"].split("@")[0]
    assert [c["pk"] for c in api.results(api.ch("customers/"), {"email__startswith": prefix})] == [
        customer["pk"]
    ]
    batches = api.all_pages(api.ch("batch_requests/"), {"status": "commit"})
    assert [b["pk"] for b in batches] == [filled["batch"]["pk"]]


def test_a_plain_filter_reads_the_last_of_a_repeated_key(
    api: OmnitronApi, filled: dict[str, Any]
) -> None:
    first, second = filled["orders"]
    params = [("number", first.order["number"]), ("number", second.order["number"])]
    answer = api.raw("GET", api.ch("orders/"), params=params)
    assert answer.status_code == 200
    assert [o["pk"] for o in answer.json()["results"]] == [second.pk]


def test_a_multiple_choice_filter_takes_every_value_of_a_repeated_key(
    api: OmnitronApi, filled: dict[str, Any]
) -> None:
    email = filled["customer"]["email"]
    params = [("email", email), ("channel", "999"), ("channel", str(api.channel_id))]
    answer = api.raw("GET", api.ch("customers/"), params=params)
    assert [c["pk"] for c in answer.json()["results"]] == [filled["customer"]["pk"]]
