"""The shared sandbox seed: real locations, a valid and deterministic catalogue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.sandbox.seed import SandboxSeed, load_seed


@pytest.fixture(scope="module")
def seed() -> SandboxSeed:
    return load_seed()


def _ean13_is_valid(code: str) -> bool:
    if len(code) != 13 or not code.isdigit():
        return False
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(code[:12]))
    return (10 - total % 10) % 10 == int(code[12])


def test_country_is_turkiye(seed: SandboxSeed) -> None:
    assert (seed.country_code, seed.country_name) == ("tr", "Türkiye")


def test_81_provinces_with_unique_plates(seed: SandboxSeed) -> None:
    assert len(seed.cities) == 81
    assert sorted(city.plate for city in seed.cities) == list(range(1, 82))
    assert len({city.name for city in seed.cities}) == 81
    assert all(city.townships for city in seed.cities)


@pytest.mark.parametrize(
    ("plate", "name"),
    [
        (6, "Ankara"),
        (34, "İstanbul"),
        (35, "İzmir"),
        (16, "Bursa"),
        (21, "Diyarbakır"),
        (63, "Şanlıurfa"),
        (76, "Iğdır"),
        (81, "Düzce"),
    ],
)
def test_plates_and_turkish_spelling(seed: SandboxSeed, plate: int, name: str) -> None:
    assert seed.city(name).plate == plate


@pytest.mark.parametrize(
    ("city", "count"),
    [
        ("İstanbul", 39),
        ("Ankara", 25),
        ("İzmir", 30),
        ("Bursa", 17),
        ("Antalya", 19),
        ("Adana", 15),
        ("Konya", 31),
        ("Gaziantep", 9),
        ("Kocaeli", 12),
        ("Mersin", 13),
    ],
)
def test_large_cities_have_all_townships(seed: SandboxSeed, city: str, count: int) -> None:
    assert len(seed.city(city).townships) == count


def test_all_973_townships(seed: SandboxSeed) -> None:
    assert sum(len(city.townships) for city in seed.cities) == 973


def test_main_townships_have_districts(seed: SandboxSeed) -> None:
    townships = {township.name: township for township in seed.city("İstanbul").townships}
    kadikoy = townships["Kadıköy"]
    assert 5 <= len(kadikoy.districts) <= 15
    assert "Caferağa" in kadikoy.districts
    assert len(set(kadikoy.districts)) == len(kadikoy.districts)
    for city, township in [
        ("Ankara", "Çankaya"),
        ("İzmir", "Karşıyaka"),
        ("Bursa", "Nilüfer"),
        ("Antalya", "Muratpaşa"),
    ]:
        by_name = {t.name: t for t in seed.city(city).townships}
        assert len(by_name[township].districts) >= 5


def test_city_lookup_is_exact(seed: SandboxSeed) -> None:
    with pytest.raises(KeyError):
        seed.city("istanbul")
    with pytest.raises(KeyError):
        seed.city("Atlantis")


def test_catalogue_size_and_mapping(seed: SandboxSeed) -> None:
    assert len(seed.products) >= 220
    assert len(seed.unmapped_products) == 20
    assert len(seed.mapped_products) == len(seed.products) - 20
    assert not {p.sku for p in seed.mapped_products} & {p.sku for p in seed.unmapped_products}


def test_skus_barcodes_and_names_are_unique(seed: SandboxSeed) -> None:
    for attribute in ("sku", "barcode", "name"):
        values = [getattr(product, attribute) for product in seed.products]
        assert len(set(values)) == len(values), attribute


def test_barcodes_are_valid_ean13(seed: SandboxSeed) -> None:
    invalid = [p.barcode for p in seed.products if not _ean13_is_valid(p.barcode)]
    assert invalid == []


def test_prices_and_vat(seed: SandboxSeed) -> None:
    for product in seed.products:
        assert product.price > 0
        assert product.price == product.price.quantize(Decimal("0.01"))
        assert product.price.as_tuple().exponent == -2
        assert product.tax_rate in {Decimal("1"), Decimal("10"), Decimal("20")}
    assert {p.tax_rate for p in seed.products} == {Decimal("1"), Decimal("10"), Decimal("20")}


def test_sizes_of_a_model_share_base_code_and_price(seed: SandboxSeed) -> None:
    prices: dict[str, set[Decimal]] = {}
    for product in seed.products:
        prices.setdefault(product.base_code, set()).add(product.price)
    assert all(len(group) == 1 for group in prices.values())
    assert len(prices) < len(seed.products)


def test_cargo_companies(seed: SandboxSeed) -> None:
    codes = [company.erp_code for company in seed.cargo_companies]
    assert len(codes) >= 5
    assert len(set(codes)) == len(codes)
    assert {"aras", "yurtici", "mng", "ptt", "surat"} <= set(codes)
    assert all(company.name and company.shipping_company for company in seed.cargo_companies)


def test_reason_mapping_covers_every_reason(seed: SandboxSeed) -> None:
    reasons = seed.cancellation_reasons
    assert len(reasons) >= 6
    mapping = seed.reason_mapping
    assert len(mapping) == len(reasons)
    assert all(mapping[reason.channel_code] == reason.omnitron_id for reason in reasons)
    assert {reason.cancellation_type for reason in reasons} == {"cancel", "refund"}


def test_retail_stores_are_in_known_townships(seed: SandboxSeed) -> None:
    assert len(seed.retail_stores) >= 4
    for store in seed.retail_stores:
        assert store.township in {t.name for t in seed.city(store.city).townships}


def test_people(seed: SandboxSeed) -> None:
    people = seed.people
    assert len(people.first_names) >= 60
    assert len(people.last_names) >= 60
    assert len(people.streets) >= 40
    assert len(people.companies) >= 15
    assert set(people.email_domains) <= {"example.com", "example.net", "example.org"}


def test_loading_twice_gives_equal_results(seed: SandboxSeed) -> None:
    again = load_seed()
    assert again == seed
    assert again is not seed
    assert [p.sku for p in again.unmapped_products] == [p.sku for p in seed.unmapped_products]
