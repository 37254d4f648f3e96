"""Mapping an unmapped SKU: product search and the product's integration action."""

from __future__ import annotations

import pytest

from service.omnitron import OmnitronClient
from service.omnitron.errors import OmnitronBadRequest
from service.sandbox.seed import load_seed
from tests.conftest import RunningOmnitron
from tests.omnitron.conftest import ClientFactory
from tests.omnitron.test_client import LoseOneResponse

ACTIONS_ROUTE = "POST /api/v1/channel/{id}/integration_actions/"


def _unmapped() -> tuple[str, str, str]:
    product = load_seed().unmapped_products[0]
    return product.sku, product.barcode, product.name


def test_search_finds_a_product_by_sku_barcode_or_part_of_its_name(client: OmnitronClient) -> None:
    sku, barcode, name = _unmapped()

    by_sku = client.search_products(sku.lower())
    by_barcode = client.search_products(barcode)
    word = max(name.split(), key=len)
    by_name = client.search_products(word.upper())

    assert by_sku[0].sku == sku
    assert by_barcode[0].sku == sku
    assert by_barcode[0].barcode == barcode
    assert sku in [p.sku for p in by_name]
    assert all(word.casefold() in p.name.casefold() for p in by_name)
    assert client.search_products("no-such-product-anywhere") == []
    assert client.search_products("   ") == []


def test_an_integration_action_maps_the_sku_at_once(client: OmnitronClient) -> None:
    sku, _, _ = _unmapped()
    assert client.product_ids_for_skus([sku]) == {}
    product = client.search_products(sku)[0]

    action = client.create_integration_action(
        "product", product.pk, sku, version_date=product.modified_date
    )

    assert (action.object_id, action.remote_id) == (product.pk, sku)
    assert client.product_ids_for_skus([sku]) == {sku: product.pk}


def test_a_lost_answer_is_looked_up_not_posted_twice(
    omnitron: RunningOmnitron, make_client: ClientFactory
) -> None:
    sku, _, _ = _unmapped()
    losing = LoseOneResponse(omnitron.control, "POST", "/integration_actions/")
    client = make_client(omnitron, transport=losing)
    product = client.search_products(sku)[0]
    omnitron.control.post("stats/reset").raise_for_status()

    action = client.create_integration_action("product", product.pk, sku)

    assert losing.fired
    stats = omnitron.control.get("stats").json()
    assert stats["faults"] == {"lost_response": 1}
    assert stats["by_route"][ACTIONS_ROUTE] == 1
    assert action.object_id == product.pk
    assert client.product_ids_for_skus([sku]) == {sku: product.pk}


def test_linking_a_product_twice_is_refused_with_omnitrons_answer(client: OmnitronClient) -> None:
    sku, _, _ = _unmapped()
    product = client.search_products(sku)[0]
    client.create_integration_action("product", product.pk, sku)

    with pytest.raises(OmnitronBadRequest, match="unique set"):
        client.create_integration_action("product", product.pk, "SOME-OTHER-SKU")
    assert client.product_ids_for_skus(["SOME-OTHER-SKU"]) == {}
