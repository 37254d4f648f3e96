"""The simulator's ``POST integration_actions/``: strict like a DRF serializer, used at once."""

from __future__ import annotations

from typing import Any

import pytest

from service.sandbox.omnitron.integration_actions import UNIQUE_SET
from tests.sandbox.omnitron_api import OmnitronApi


def _unmapped_product(api: OmnitronApi) -> dict[str, Any]:
    """A seeded product the channel's SKUs do not reach yet (no integration action)."""
    mapped = {
        a["object_id"]
        for a in api.all_pages(api.ch("integration_actions/"), {"content_type_name": "product"})
    }
    products = api.all_pages(api.ch("products/"), {"limit": 1000})
    return next(p for p in products if p["pk"] not in mapped)


def _body(product: dict[str, Any], **changes: Any) -> dict[str, Any]:
    # The body Akinon's channel app posts (CreateIntegrationActions.get_data).
    body = {
        "content_type": "product",
        "channel_id": 1,
        "object_id": product["pk"],
        "remote_id": product["sku"],
        "version_date": product["modified_date"],
        "state": {},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def test_the_channel_apps_body_links_a_product_and_sku_lookups_find_it(api: OmnitronApi) -> None:
    product = _unmapped_product(api)
    lookup = {"content_type_name": "product", "remote_id__in": product["sku"], "channel": 1}
    assert api.results(api.ch("integration_actions/"), lookup) == []

    created = api.post(api.ch("integration_actions/"), _body(product))

    assert created["object_id"] == product["pk"]
    assert created["remote_id"] == product["sku"]
    assert created["content_type"] == {"id": created["content_type"]["id"], "model": "product"}
    assert created["status"] == "success"
    found = api.results(api.ch("integration_actions/"), lookup)
    assert [(a["pk"], a["object_id"]) for a in found] == [(created["pk"], product["pk"])]
    assert api.get(api.ch(f"integration_actions/{created['pk']}/"))["remote_id"] == product["sku"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"object_id": 999_999}, "object_id", 'Invalid pk "999999" - object does not exist.'),
        ({"object_id": "abc"}, "object_id", "A valid integer is required."),
        ({"object_id": ...}, "object_id", "This field is required."),
        ({"content_type": "gadget"}, "content_type", "Object with model=gadget does not exist."),
        ({"content_type": ...}, "content_type", "This field is required."),
        ({"remote_id": ""}, "remote_id", "This field may not be blank."),
        ({"remote_id": None}, "remote_id", "This field may not be blank."),
        ({"channel_id": 2}, "channel", 'Invalid pk "2" - object does not exist.'),
        ({"version_date": "yesterday"}, "version_date", "Datetime has wrong format."),
        ({"status": "maybe"}, "status", '"maybe" is not a valid choice.'),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(
    api: OmnitronApi, changes: dict[str, Any], field: str, message: str
) -> None:
    product = _unmapped_product(api)
    response = api.raw("POST", api.ch("integration_actions/"), json=_body(product, **changes))

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert any(m.startswith(message) for m in response.json()[field]), response.json()
    lookup = {"content_type_name": "product", "object_id": product["pk"]}
    assert api.results(api.ch("integration_actions/"), lookup) == []


def test_not_a_json_object_is_a_400(api: OmnitronApi) -> None:
    response = api.raw("POST", api.ch("integration_actions/"), json=["product"])
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    response = api.raw(
        "POST",
        api.ch("integration_actions/"),
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_a_second_action_for_the_same_object_is_refused_as_not_unique(api: OmnitronApi) -> None:
    product = _unmapped_product(api)
    api.post(api.ch("integration_actions/"), _body(product))

    again = api.raw("POST", api.ch("integration_actions/"), json=_body(product, remote_id="OTHER"))

    assert again.status_code == 400
    assert again.json() == {"non_field_errors": [UNIQUE_SET]}
    lookup = {"content_type_name": "product", "object_id": product["pk"]}
    assert [a["remote_id"] for a in api.results(api.ch("integration_actions/"), lookup)] == [
        product["sku"]
    ]


def test_products_are_filtered_by_sku_and_name_the_declared_filters_only(api: OmnitronApi) -> None:
    """``sku`` (case-insensitive), ``sku__exact``, ``sku__in``, ``name`` filter (Akinon's
    API docs declare them); a barcode attribute or part of a name are not filters, so
    those parameters are ignored and the whole catalogue is answered."""
    product = api.results(api.ch("products/"), {"limit": 1})[0]
    barcode = product["attributes"]["barcode"]
    word = product["name"].split()[0].upper()
    everything = api.get(api.ch("products/"), {"limit": 1})["count"]

    by_sku = api.results(api.ch("products/"), {"sku": product["sku"].lower()})
    by_exact_sku = api.results(api.ch("products/"), {"sku__exact": product["sku"]})
    by_skus = api.results(api.ch("products/"), {"sku__in": f"{product['sku']},NO-SUCH"})
    by_name = api.results(api.ch("products/"), {"name": product["name"]})
    by_barcode = api.get(api.ch("products/"), {"attributes__barcode": barcode, "limit": 1})
    by_part = api.get(api.ch("products/"), {"name__icontains": word, "limit": 1})

    assert [p["pk"] for p in by_sku] == [product["pk"]]
    assert [p["pk"] for p in by_exact_sku] == [product["pk"]]
    assert [p["pk"] for p in by_skus] == [product["pk"]]
    assert product["pk"] in [p["pk"] for p in by_name]
    assert by_barcode["count"] == everything > 1
    assert by_part["count"] == everything
