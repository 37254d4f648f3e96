"""The operator's fixes reach the flows: aliases and a product's integration action.

A run with an unknown city, an unknown cargo company and an unmapped SKU fails those
orders; after the operator maps each (as the mapping assistant does), the parked orders
and new orders with the same spellings are created — checked over Omnitron's API.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service import mapping
from service.omnitron.models import City, Order
from service.sandbox.marketplace.generator import UNKNOWN_CARGO, UNKNOWN_CITY
from service.sandbox.seed import load_seed
from service.store import Alias, ParkedItem
from tests.flows.conftest import FlowEnv

BROKEN = ("unknown_city", "unknown_cargo", "unmapped_sku")


def _broken_numbers(env: FlowEnv) -> dict[str, str]:
    """Order number per broken kind, of the marketplace's broken orders so far."""
    orders = env.marketplace.control.get("orders", params={"broken": True}).json()["orders"]
    return {o["number"]: o["broken"] for o in orders}


def _istanbul(env: FlowEnv) -> City:
    api = env.api()
    country = api.find_country("tr")
    assert country is not None
    city = api.find_city(country.pk, "İstanbul")
    assert city is not None
    return city


def _order(env: FlowEnv, number: str) -> Order | None:
    return env.api().find_order_by_number(number)


def _map_everything(env: FlowEnv) -> tuple[int, int]:
    """Alias the city and the cargo code, link the unmapped SKUs; the city's and cargo's pk."""
    api = env.api()
    city = _istanbul(env)
    aras = next(c for c in api.list_cargo_companies() if c.erp_code == "aras")
    env.store.set_alias(
        Alias(kind="city", channel_value=UNKNOWN_CITY, omnitron_pk=city.pk, label=city.name)
    )
    env.store.set_alias(
        Alias(kind="cargo", channel_value=UNKNOWN_CARGO, omnitron_pk=aras.pk, label=aras.name)
    )
    # A broken order carries one of the seed's unmapped SKUs: link each to its product.
    for unmapped in load_seed().unmapped_products:
        product = api.search_products(unmapped.sku)[0]
        api.create_integration_action("product", product.pk, unmapped.sku)
    return city.pk, aras.pk


def test_mapped_spellings_let_the_parked_orders_and_new_ones_in(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=3, broken_share=1.0)
    kinds = _broken_numbers(env)
    assert sorted(kinds.values()) == sorted(BROKEN)

    first = env.service.fetch_and_create_order(is_success_log=False)

    assert (first.created, first.failed) == (0, 3)
    assert all(_order(env, number) is None for number in kinds)

    city_pk, cargo_pk = _map_everything(env)
    again = env.service.fetch_and_create_order(is_success_log=False)

    assert (again.created, again.failed) == (3, 0), again
    assert env.store.count_parked("fetch-orders") == 0
    api = env.api()
    for number, kind in kinds.items():
        order = _order(env, number)
        assert order is not None, (number, kind)
        if kind == "unknown_cargo":
            assert order.cargo_company == cargo_pk
        if kind == "unknown_city":
            address = api.call("GET", api.channel_path(f"addresses/{order.shipping_address}/"))
            assert address["city"] == city_pk

    # A new order with the same bad spelling goes straight in (three of each kind).
    generated = env.marketplace.control.post(
        "orders/generate", json={"count": 6, "broken_share": 1.0}
    ).json()["orders"]
    new_city = [o["number"] for o in generated if o["broken"] == "unknown_city"]
    third = env.service.fetch_and_create_order(is_success_log=False)

    assert len(new_city) == 1
    order = _order(env, new_city[0])
    assert order is not None
    address = api.call("GET", api.channel_path(f"addresses/{order.shipping_address}/"))
    assert address["city"] == city_pk
    assert third.created >= 3  # city, cargo, SKU; the other three kinds stay broken


def test_an_alias_to_another_spelling_does_not_touch_correct_names(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=4)
    # An alias for a spelling no order uses changes nothing for the good orders.
    env.store.set_alias(Alias(kind="city", channel_value="Nowhere", omnitron_pk=1))

    result = env.service.fetch_and_create_order(is_success_log=False)

    assert (result.created, result.failed) == (4, 0)


def test_a_misspelt_township_is_mapped_under_its_city_and_the_order_goes_in(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=1, broken_share=1.0)  # one order, with the city 'Istambul'
    env.service.fetch_and_create_order(is_success_log=False)
    parked = env.store.parked("fetch-orders")[0]
    # The same order again, under another number, in İstanbul but with a misspelt township.
    payload = dict(parked.payload)
    township = payload["shipping_address"]["township"]
    misspelt = township[:-1] + township[-1] * 2
    for key in ("shipping_address", "billing_address"):
        payload[key] = payload[key] | {"city": "İstanbul", "township": misspelt}
    payload |= {"number": "TWN-1", "remote_id": "twn-1"}
    env.store.park(
        ParkedItem(flow="fetch-orders", remote_id="twn-1", subject="TWN-1", payload=payload)
    )
    api = env.api()

    target = mapping.target_for(api, env.store, "unknown_township", misspelt, ["TWN-1"])
    candidates = mapping.load_candidates(api, target)

    city = _istanbul(env)
    assert (target.scope, target.parent, target.city) == (str(city.pk), "İstanbul", city.pk)
    assert candidates[0].label == township
    mapping.save(api, env.store, target, candidates[0])
    assert env.store.find_alias("township", str(city.pk), misspelt) is not None

    result = env.service.fetch_and_create_order(is_success_log=False)

    assert result.created == 1, result  # TWN-1; the 'Istambul' order still waits
    order = _order(env, "TWN-1")
    assert order is not None
    address = api.call("GET", api.channel_path(f"addresses/{order.shipping_address}/"))
    assert address["township"] == candidates[0].pk


def test_causes_without_a_mapping_and_lost_orders_say_why(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=0)
    api = env.api()

    with pytest.raises(mapping.MappingImpossible, match="not fixed by a mapping"):
        mapping.target_for(api, env.store, "bad_amount", "12,5")
    with pytest.raises(mapping.MappingImpossible, match="no spelling to map"):
        mapping.target_for(api, env.store, "unknown_cargo", "  ")
    with pytest.raises(mapping.MappingImpossible, match="not waiting any more"):
        mapping.target_for(api, env.store, "unknown_township", "Kadikoyy", ["GONE-1"])
    cargo = mapping.target_for(api, env.store, "unknown_cargo", "horoz")
    codes = {c.detail for c in mapping.load_candidates(api, cargo)}
    assert codes >= {"aras", "yurtici", "mng", "ptt", "surat"}


def test_a_product_linked_to_another_sku_is_refused_in_words(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=0)
    api = env.api()
    mapped = load_seed().mapped_products[0]
    product = mapping.search_products(api, mapped.sku)[0]
    target = mapping.target_for(api, env.store, "unmapped_sku", "ABC-42")

    with pytest.raises(mapping.MappingImpossible, match=f"linked to the SKU '{mapped.sku}'"):
        mapping.save(api, env.store, target, product)
    assert api.product_ids_for_skus(["ABC-42"]) == {}
