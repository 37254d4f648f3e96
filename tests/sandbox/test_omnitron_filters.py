"""Omnitron simulator: every query filter the order flows send (spec §1, §2, §8)."""

from __future__ import annotations

import pytest

from tests.sandbox.omnitron_api import (
    OmnitronApi,
    create_address,
    create_customer,
    create_order,
    location,
    mapped_products,
    new_batch,
    order_objects,
    set_batch,
)

# --- countries -------------------------------------------------------------------------


def test_country_by_code_exact_and_active(api: OmnitronApi) -> None:
    """``code__exact=tr`` + ``is_active=True`` finds Türkiye; codes are exact lower case."""
    country = api.one(api.ch("countries/"), {"code__exact": "tr", "is_active": "True"})
    assert country["name"] == "Türkiye"
    assert country["code"] == "tr"
    assert api.results(api.ch("countries/"), {"code__exact": "TR", "is_active": "True"}) == []
    assert api.results(api.ch("countries/"), {"code__exact": "t", "is_active": "True"}) == []


def test_country_by_name_exact(api: OmnitronApi) -> None:
    """``name__exact`` matches the seeded name exactly."""
    by_code = api.one(api.ch("countries/"), {"code__exact": "tr", "is_active": "True"})
    by_name = api.one(api.ch("countries/"), {"name__exact": "Türkiye", "is_active": "True"})
    assert by_name["pk"] == by_code["pk"]
    assert api.results(api.ch("countries/"), {"name__exact": "Turkey", "is_active": "True"}) == []


def test_capitalised_boolean_is_active_filters(api: OmnitronApi) -> None:
    """``is_active=False`` excludes the active country; ``True`` includes it (§1)."""
    assert api.results(api.ch("countries/"), {"code__exact": "tr", "is_active": "False"}) == []
    assert len(api.results(api.ch("countries/"), {"code__exact": "tr", "is_active": "True"})) == 1


def test_country_by_mapping_code(api: OmnitronApi) -> None:
    """The third lookup: ``mapping__code__exact={cid}_{value}`` of the sales channel."""
    by_code = api.one(api.ch("countries/"), {"code__exact": "tr", "is_active": "True"})
    mapped = api.one(
        api.ch("countries/"),
        {"mapping__code__exact": "1_Turkey", "mapping__integration_type": "sales_channel"},
    )
    assert mapped["pk"] == by_code["pk"]
    other_type = {"mapping__code__exact": "1_Turkey", "mapping__integration_type": "erp"}
    assert api.results(api.ch("countries/"), other_type) == []


def test_city_by_mapping_code(api: OmnitronApi) -> None:
    """Cities resolve through their sales-channel mapping when the name does not match."""
    assert api.results(api.ch("cities/"), {"name__iexact": "Antep"}) == []
    city = api.one(
        api.ch("cities/"),
        {"mapping__code__exact": "1_Antep", "mapping__integration_type": "sales_channel"},
    )
    assert city["name"] == "Gaziantep"


def test_country_mapping_filter_matches_nothing_unknown(api: OmnitronApi) -> None:
    """The mapping fallback filters, not ignores: an unknown mapping code finds nothing."""
    rows = api.results(
        api.ch("countries/"),
        {"mapping__code__exact": "1_Atlantis", "mapping__integration_type": "sales_channel"},
    )
    assert rows == []


# --- cities, townships, districts ------------------------------------------------------


@pytest.mark.parametrize("spelling", ["İstanbul", "İSTANBUL", "istanbul", "ISTANBUL", "iSTANBUL"])
def test_city_name_iexact_folds_turkish_i(api: OmnitronApi, spelling: str) -> None:
    """``name__iexact`` treats İ, I, ı and i as one letter (§8)."""
    country = api.one(api.ch("countries/"), {"code__exact": "tr", "is_active": "True"})["pk"]
    city = api.one(
        api.ch("cities/"), {"name__iexact": spelling, "country": country, "is_active": "True"}
    )
    assert city["name"] == "İstanbul"


@pytest.mark.parametrize(
    ("spelling", "name"),
    [("IZMIR", "İzmir"), ("izmir", "İzmir"), ("ısparta", "Isparta"), ("ELAZIĞ", "Elazığ")],
)
def test_city_folding_both_directions(api: OmnitronApi, spelling: str, name: str) -> None:
    """Dotted and dotless i fold both ways: ``IZMIR`` → İzmir, ``ısparta`` → Isparta."""
    city = api.one(api.ch("cities/"), {"name__iexact": spelling, "is_active": "True"})
    assert city["name"] == name


def test_city_iexact_is_not_a_substring_match(api: OmnitronApi) -> None:
    """``iexact`` matches the whole name only."""
    assert api.results(api.ch("cities/"), {"name__iexact": "istan"}) == []
    assert api.results(api.ch("cities/"), {"name__iexact": "Atlantis"}) == []


def test_township_by_name_iexact_and_city(api: OmnitronApi) -> None:
    """Townships filter by ``name__iexact`` within ``country`` and ``city``."""
    country = api.one(api.ch("countries/"), {"code__exact": "tr"})["pk"]
    istanbul = api.one(api.ch("cities/"), {"name__iexact": "istanbul"})["pk"]
    ankara = api.one(api.ch("cities/"), {"name__iexact": "ankara"})["pk"]
    params = {"country": country, "city": istanbul, "is_active": "True"}
    kadikoy = api.one(api.ch("townships/"), {"name__iexact": "KADIKÖY", **params})
    assert kadikoy["name"] == "Kadıköy"
    assert (
        api.one(api.ch("townships/"), {"name__iexact": "kadıköy", **params})["pk"] == kadikoy["pk"]
    )
    wrong_city = {"country": country, "city": ankara, "is_active": "True"}
    assert api.results(api.ch("townships/"), {"name__iexact": "Kadıköy", **wrong_city}) == []


def test_townships_of_a_city_page_fully(api: OmnitronApi) -> None:
    """``city`` alone lists only that city's townships."""
    istanbul = api.one(api.ch("cities/"), {"name__iexact": "İstanbul"})["pk"]
    rows = api.all_pages(api.ch("townships/"), {"city": istanbul, "limit": 10})
    names = {row["name"] for row in rows}
    assert {"Kadıköy", "Beşiktaş", "Fatih"} <= names
    assert "Çankaya" not in names


def test_district_by_name_exact_city_and_township(api: OmnitronApi) -> None:
    """``name__exact`` + ``city`` + ``township`` pick one district; same names elsewhere differ."""
    ankara = api.one(api.ch("cities/"), {"name__iexact": "Ankara"})["pk"]
    izmir = api.one(api.ch("cities/"), {"name__iexact": "İzmir"})["pk"]
    cankaya = api.one(api.ch("townships/"), {"name__iexact": "Çankaya", "city": ankara})["pk"]
    konak = api.one(api.ch("townships/"), {"name__iexact": "Konak", "city": izmir})["pk"]
    in_ankara = api.one(
        api.ch("districts/"),
        {"name__exact": "Kızılay", "city": ankara, "township": cankaya, "is_active": "True"},
    )
    assert in_ankara["name"] == "Kızılay"
    # İzmir/Konak has a district called "Çankaya", Ankara has a township of that name.
    konak_cankaya = api.one(
        api.ch("districts/"), {"name__exact": "Çankaya", "city": izmir, "township": konak}
    )
    assert konak_cankaya["pk"] != in_ankara["pk"]
    assert (
        api.results(
            api.ch("districts/"), {"name__exact": "Kızılay", "city": izmir, "township": konak}
        )
        == []
    )


def test_district_name_exact_is_case_sensitive(api: OmnitronApi) -> None:
    """``name__exact`` does not fold case."""
    loc = location(api)
    name = api.get(api.ch("districts/"), {"township": loc.township})["results"][0]["name"]
    exact = {"city": loc.city, "township": loc.township}
    assert len(api.results(api.ch("districts/"), {"name__exact": name, **exact})) == 1
    assert api.results(api.ch("districts/"), {"name__exact": name.upper(), **exact}) == []


# --- customers, addresses, stores, cargos ------------------------------------------------


def test_customer_by_email_and_channel(api: OmnitronApi) -> None:
    """``email`` + ``channel`` is an exact match; the string channel id was coerced (§8)."""
    customer = create_customer(api)
    other = create_customer(api)
    found = api.one(api.ch("customers/"), {"email": customer["email"], "channel": 1})
    assert found["pk"] == customer["pk"]
    assert found["channel"] == 1
    found_str = api.one(api.ch("customers/"), {"email": customer["email"], "channel": "1"})
    assert found_str["pk"] == customer["pk"]
    assert api.results(api.ch("customers/"), {"email": customer["email"], "channel": 2}) == []
    assert api.results(api.ch("customers/"), {"email": customer["email"].upper()}) == []
    assert other["pk"] != customer["pk"]


def test_customer_by_phone_number(api: OmnitronApi) -> None:
    """``phone_number`` + ``channel`` finds exactly that customer."""
    customer = create_customer(api)
    create_customer(api)
    found = api.one(api.ch("customers/"), {"phone_number": customer["phone_number"], "channel": 1})
    assert found["pk"] == customer["pk"]
    assert api.results(api.ch("customers/"), {"phone_number": "+900000000000", "channel": 1}) == []


def test_address_by_hash_data(api: OmnitronApi) -> None:
    """``hash_data`` finds the address with that content hash, and only it."""
    customer = create_customer(api)
    first = create_address(api, customer)
    create_address(api, customer)
    assert first["hash_data"]
    found = api.one(api.ch("addresses/"), {"hash_data": first["hash_data"]})
    assert found["pk"] == first["pk"]
    assert api.results(api.ch("addresses/"), {"hash_data": "0" * 32}) == []


def test_retail_store_by_erp_code(api: OmnitronApi) -> None:
    """``erp_code`` matches exactly one store."""
    stores = api.all_pages(api.ch("retail_stores/"))
    assert len(stores) >= 2
    for store in stores[:2]:
        assert (
            api.one(api.ch("retail_stores/"), {"erp_code": store["erp_code"]})["pk"] == store["pk"]
        )
    assert api.results(api.ch("retail_stores/"), {"erp_code": "NO-SUCH-STORE"}) == []


def test_cargos_over_all_pages(api: OmnitronApi) -> None:
    """Every cargo company is reachable through paging, with the fields the flows read."""
    cargos = api.all_pages(api.ch("cargos/"), {"limit": 2})
    assert {"aras", "yurtici", "mng", "ptt", "surat"} <= {c["erp_code"] for c in cargos}
    for cargo in cargos:
        assert {"pk", "name", "erp_code", "shipping_company"} <= set(cargo)
    assert len({c["pk"] for c in cargos}) == len(cargos)
    single = api.get(api.ch("cargos/"), {"limit": 1000})
    assert single["count"] == len(cargos)


# --- integration actions -----------------------------------------------------------------


def test_product_actions_by_remote_id_in(api: OmnitronApi) -> None:
    """Set (a): ``remote_id__in`` is one comma-joined value; unknown SKUs are just absent."""
    products = mapped_products(api, 5)
    wanted = [sku for sku, _ in products[1:4]]
    rows = api.results(
        api.ch("integration_actions/"),
        {
            "channel": 1,
            "content_type_name": "product",
            "remote_id__in": ",".join([*wanted, "NO-SUCH-SKU"]),
            "sort": "id",
        },
    )
    assert sorted(row["remote_id"] for row in rows) == sorted(wanted)
    by_sku = dict(products)
    for row in rows:
        assert int(row["object_id"]) == by_sku[row["remote_id"]]
        assert row["content_type"]["model"] == "product"
        assert row["content_type"]["id"] == api.one("content_types/", {"model": "product"})["id"]
    ids = [row["pk"] for row in rows]
    assert ids == sorted(ids)


def test_product_actions_link_each_sku_once(api: OmnitronApi) -> None:
    """The ≥ 200 mapped products each have one ``success`` action, remote id = SKU."""
    rows = api.all_pages(
        api.ch("integration_actions/"), {"channel": 1, "content_type_name": "product"}
    )
    assert len(rows) >= 200
    assert all(row["remote_id"] for row in rows)
    assert len({row["remote_id"] for row in rows}) == len(rows)
    assert len({row["object_id"] for row in rows}) == len(rows)
    assert {row["status"] for row in rows} == {"success"}
    assert {row["content_type"]["model"] for row in rows} == {"product"}


def test_order_and_item_actions_by_remote_id_exact(api: OmnitronApi) -> None:
    """Sets (b), (c), (d), (f) find the committed order and its items."""
    order = create_order(api, (2, 1))
    other = create_order(api)
    for created in (order, other):
        batch = new_batch(api)
        set_batch(api, batch, "commit", objects=order_objects(created), content_type="order")
        set_batch(api, batch, "done", objects=order_objects(created))

    # (b) one order by its channel id
    row = api.one(
        api.ch("integration_actions/"),
        {"content_type_name": "order", "remote_id__exact": order.remote_id},
    )
    assert int(row["object_id"]) == order.pk
    # (c) a line of quantity 2 maps to two item pks
    line = order.item_remote_id(order.items[0])
    rows = api.results(
        api.ch("integration_actions/"),
        {"content_type_name": "orderitem", "remote_id__exact": line},
    )
    assert sorted(int(r["object_id"]) for r in rows) == sorted(
        item["pk"] for item in order.items if order.item_remote_id(item) == line
    )
    assert len(rows) == 2
    # (d) the remote id of one object
    row = api.one(
        api.ch("integration_actions/"),
        {"content_type_name": "orderitem", "object_id": order.items[2]["pk"]},
    )
    assert row["remote_id"] == order.item_remote_id(order.items[2])
    # the model name separates object ids of different content types
    assert (
        api.results(
            api.ch("integration_actions/"),
            {"content_type_name": "cancellationrequest", "object_id": order.pk},
        )
        == []
    )
    # (f) several objects at once, comma-joined
    rows = api.results(
        api.ch("integration_actions/"),
        {"content_type_name": "order", "object_id__in": f"{order.pk},{other.pk}"},
    )
    assert sorted(int(r["object_id"]) for r in rows) == sorted([order.pk, other.pk])
    rows = api.results(
        api.ch("integration_actions/"),
        {"content_type_name": "order", "object_id__in": str(other.pk)},
    )
    assert [int(r["object_id"]) for r in rows] == [other.pk]


def test_actions_of_a_batch_in_flight(api: OmnitronApi) -> None:
    """Set (e): ``local_batch_id`` + ``channel_id`` + ``status=processing`` + ``sort=id``."""
    order = create_order(api, (3,))
    bystander = create_order(api)
    other_batch = new_batch(api)
    set_batch(api, other_batch, "commit", objects=order_objects(bystander), content_type="order")
    set_batch(api, other_batch, "sent_to_remote", remote_batch_id="R-OTHER")
    batch = new_batch(api)
    set_batch(api, batch, "commit", objects=order_objects(order), content_type="order")
    params = {
        "local_batch_id": batch["local_batch_id"],
        "channel_id": 1,
        "status": "processing",
        "limit": 2,
        "sort": "id",
    }
    rows = api.all_pages(api.ch("integration_actions/"), params)
    assert len(rows) == 4  # the order and its three items, over two pages
    assert {r["local_batch_id"] for r in rows} == {batch["local_batch_id"]}
    assert {r["status"] for r in rows} == {"processing"}
    assert [r["pk"] for r in rows] == sorted(r["pk"] for r in rows)
    assert {(r["content_type"]["model"], int(r["object_id"])) for r in rows} == {
        ("order", order.pk),
        *(("orderitem", item["pk"]) for item in order.items),
    }
    assert api.results(api.ch("integration_actions/"), {**params, "status": "success"}) == []


# --- orders, batches -----------------------------------------------------------------------


def test_order_by_number_and_channel(api: OmnitronApi) -> None:
    """``number`` + ``channel_id`` is the existence check: one hit, or none."""
    order = create_order(api)
    create_order(api)
    number = order.order["number"]
    found = api.one(api.ch("orders/"), {"number": number, "channel_id": 1})
    assert found["pk"] == order.pk
    assert api.results(api.ch("orders/"), {"number": number + "-X", "channel_id": 1}) == []
    assert api.results(api.ch("orders/"), {"number": number, "channel_id": 2}) == []


def test_orders_by_pk_in(api: OmnitronApi) -> None:
    """``pk__in`` is one comma-joined value."""
    orders = [create_order(api) for _ in range(3)]
    wanted = [orders[0].pk, orders[2].pk]
    rows = api.results(api.ch("orders/"), {"pk__in": ",".join(map(str, wanted)), "limit": 2})
    assert sorted(r["pk"] for r in rows) == sorted(wanted)


def test_batch_requests_by_repeated_status_keys(api: OmnitronApi) -> None:
    """``status=sent_to_remote&status=ongoing`` lists batches in either state only (§1)."""
    sent = new_batch(api)
    set_batch(api, sent, "commit", objects=[], content_type="order")
    set_batch(api, sent, "sent_to_remote", remote_batch_id="R-1")
    going = new_batch(api)
    set_batch(api, going, "commit", objects=[], content_type="order")
    set_batch(api, going, "sent_to_remote", remote_batch_id="R-2")
    set_batch(api, going, "ongoing")
    idle = new_batch(api)
    params = [("status", "sent_to_remote"), ("status", "ongoing"), ("channel", "1")]
    rows = api.all_pages(api.ch("batch_requests/"), params)
    assert {r["pk"] for r in rows} == {sent["pk"], going["pk"]}
    assert idle["pk"] not in {r["pk"] for r in rows}
    only_ongoing = api.all_pages(api.ch("batch_requests/"), {"status": "ongoing"})
    assert [r["pk"] for r in only_ongoing] == [going["pk"]]


def test_batch_requests_by_content_type(api: OmnitronApi) -> None:
    """``content_type`` filters batches by the model name given at commit."""
    orders = new_batch(api)
    set_batch(api, orders, "commit", objects=[], content_type="order")
    requests = new_batch(api)
    set_batch(api, requests, "commit", objects=[], content_type="cancellationrequest")
    rows = api.all_pages(api.ch("batch_requests/"), {"content_type": "cancellationrequest"})
    assert [r["pk"] for r in rows] == [requests["pk"]]


def test_string_channel_ids_are_coerced(api: OmnitronApi) -> None:
    """``"channel": "1"`` is stored as the integer 1 (§8)."""
    batch = api.post(api.ch("batch_requests/"), {"channel": "1"})
    assert batch["channel"] == 1
    assert batch["status"] == "initialized"
    rows = api.all_pages(api.ch("batch_requests/"), {"channel": 1, "status": "initialized"})
    assert batch["pk"] in {r["pk"] for r in rows}
    customer = create_customer(api)
    assert customer["channel"] == 1
