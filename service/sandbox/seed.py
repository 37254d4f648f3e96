"""The demo data both simulators are seeded with.

Locations, people, cargo companies, cancellation reasons and retail stores are read
as they are from ``resources/sandbox/*.json``. The product catalogue is generated
from the building blocks in ``catalog.json``: every choice is derived from a SHA-256
digest of a salt and the product's identity, never from ``random`` or ``hash()``, so
the same catalogue comes out on every call, every run and every machine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from service.paths import RESOURCES_DIR

__all__ = [
    "RESOURCES_DIR",
    "SEED_DIR",
    "CancellationReason",
    "CargoCompany",
    "City",
    "People",
    "Product",
    "RetailStore",
    "SandboxSeed",
    "Township",
    "load_seed",
]

SEED_DIR: Path = RESOURCES_DIR / "sandbox"

_CENT = Decimal("0.01")
_CANCELLATION_TYPES = frozenset({"cancel", "refund"})
_PROVINCE_COUNT = 81
_EAN_LENGTH = 13


@dataclass(frozen=True, slots=True)
class Township:
    """An ilçe and the mahalle names known for it (empty for most townships)."""

    name: str
    districts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class City:
    """A province (il); its plate number doubles as a stable code."""

    plate: int
    name: str
    townships: tuple[Township, ...]


@dataclass(frozen=True, slots=True)
class CargoCompany:
    """A cargo company as Omnitron knows it."""

    erp_code: str
    name: str
    shipping_company: str


@dataclass(frozen=True, slots=True)
class Product:
    """One sellable variant; ``mapped`` says whether Omnitron has an integration action."""

    sku: str
    name: str
    base_code: str
    barcode: str
    price: Decimal
    tax_rate: Decimal
    mapped: bool


@dataclass(frozen=True, slots=True)
class CancellationReason:
    """A cancellation reason with its Omnitron id and the channel's code for it."""

    omnitron_id: int
    channel_code: str
    name: str
    cancellation_type: str


@dataclass(frozen=True, slots=True)
class RetailStore:
    """A physical store offered for click-and-collect."""

    erp_code: str
    name: str
    city: str
    township: str


@dataclass(frozen=True, slots=True)
class People:
    """Name and address parts the simulators combine into customers."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    email_domains: tuple[str, ...]
    companies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SandboxSeed:
    """Everything the simulators are seeded with."""

    country_code: str
    country_name: str
    cities: tuple[City, ...]
    cargo_companies: tuple[CargoCompany, ...]
    products: tuple[Product, ...]
    cancellation_reasons: tuple[CancellationReason, ...]
    retail_stores: tuple[RetailStore, ...]
    people: People

    @property
    def mapped_products(self) -> tuple[Product, ...]:
        """Products Omnitron has a product integration action for."""
        return tuple(product for product in self.products if product.mapped)

    @property
    def unmapped_products(self) -> tuple[Product, ...]:
        """Products Omnitron does not know: orders for them must be reported as errors."""
        return tuple(product for product in self.products if not product.mapped)

    @property
    def reason_mapping(self) -> dict[str, int]:
        """Channel reason code -> Omnitron reason id, as stored in ``channel.conf``."""
        return {reason.channel_code: reason.omnitron_id for reason in self.cancellation_reasons}

    def city(self, name: str) -> City:
        """Return the city called exactly ``name``; raise ``KeyError`` if there is none."""
        for city in self.cities:
            if city.name == name:
                return city
        raise KeyError(name)


def load_seed() -> SandboxSeed:
    """Read resources/sandbox/*.json and build the deterministic catalogue.

    Raises ``ValueError`` when the data files are inconsistent (duplicate codes,
    unknown references, an impossible catalogue), so bad edits fail loudly.
    """
    locations = _read_json(SEED_DIR / "locations.json")
    people = _read_json(SEED_DIR / "people.json")
    catalog = _read_json(SEED_DIR / "catalog.json")

    cities = _parse_cities(locations["cities"])
    reasons = _parse_reasons(catalog["cancellation_reasons"])
    return SandboxSeed(
        country_code=str(locations["country"]["code"]),
        country_name=str(locations["country"]["name"]),
        cities=cities,
        cargo_companies=_parse_cargo_companies(catalog["cargo_companies"]),
        products=_build_products(catalog),
        cancellation_reasons=reasons,
        retail_stores=_parse_stores(catalog["retail_stores"], cities),
        people=_parse_people(people),
    )


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return json.load(stream)


def _require_unique(values: Iterable[Hashable], what: str) -> None:
    seen: set[Hashable] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what}: {value!r}")
        seen.add(value)


def _strings(values: list[Any], what: str) -> tuple[str, ...]:
    result = tuple(str(value) for value in values)
    _require_unique(result, what)
    return result


def _parse_cities(raw: list[dict[str, Any]]) -> tuple[City, ...]:
    cities: list[City] = []
    for raw_city in raw:
        name = str(raw_city["name"])
        townships = tuple(
            Township(
                name=str(raw_township["name"]),
                districts=_strings(raw_township.get("districts", []), f"district in {name}"),
            )
            for raw_township in raw_city["townships"]
        )
        _require_unique([township.name for township in townships], f"township in {name}")
        cities.append(City(plate=int(raw_city["plate"]), name=name, townships=townships))
    cities.sort(key=lambda city: city.plate)
    if [city.plate for city in cities] != list(range(1, _PROVINCE_COUNT + 1)):
        raise ValueError(f"plates must be exactly 1..{_PROVINCE_COUNT}")
    _require_unique([city.name for city in cities], "city name")
    return tuple(cities)


def _parse_cargo_companies(raw: list[dict[str, Any]]) -> tuple[CargoCompany, ...]:
    companies = tuple(
        CargoCompany(
            erp_code=str(item["erp_code"]),
            name=str(item["name"]),
            shipping_company=str(item["shipping_company"]),
        )
        for item in raw
    )
    _require_unique([company.erp_code for company in companies], "cargo erp_code")
    return companies


def _parse_reasons(raw: list[dict[str, Any]]) -> tuple[CancellationReason, ...]:
    reasons = tuple(
        CancellationReason(
            omnitron_id=int(item["omnitron_id"]),
            channel_code=str(item["channel_code"]),
            name=str(item["name"]),
            cancellation_type=str(item["cancellation_type"]),
        )
        for item in raw
    )
    _require_unique([reason.omnitron_id for reason in reasons], "cancellation reason id")
    _require_unique([reason.channel_code for reason in reasons], "cancellation reason code")
    for reason in reasons:
        if reason.cancellation_type not in _CANCELLATION_TYPES:
            raise ValueError(f"bad cancellation_type for {reason.channel_code}")
    return reasons


def _parse_stores(raw: list[dict[str, Any]], cities: tuple[City, ...]) -> tuple[RetailStore, ...]:
    known = {(city.name, township.name) for city in cities for township in city.townships}
    stores = tuple(
        RetailStore(
            erp_code=str(item["erp_code"]),
            name=str(item["name"]),
            city=str(item["city"]),
            township=str(item["township"]),
        )
        for item in raw
    )
    _require_unique([store.erp_code for store in stores], "store erp_code")
    for store in stores:
        # A store in a township the simulator cannot resolve would break address lookups.
        if (store.city, store.township) not in known:
            raise ValueError(f"store {store.erp_code} is in an unknown township")
    return stores


def _parse_people(raw: dict[str, Any]) -> People:
    return People(
        first_names=_strings(raw["first_names"], "first name"),
        last_names=_strings(raw["last_names"], "last name"),
        streets=_strings(raw["streets"], "street"),
        email_domains=_strings(raw["email_domains"], "e-mail domain"),
        companies=_strings(raw["companies"], "company"),
    )


def _digest(*parts: str) -> int:
    """A stable 64-bit number for ``parts`` (``hash()`` is salted per process)."""
    data = "\x1f".join(parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def _ean13(first12: str) -> str:
    """Append the EAN-13 check digit (weights 1, 3, 1, 3, ... from the left)."""
    if len(first12) != _EAN_LENGTH - 1 or not first12.isdigit():
        raise ValueError(f"an EAN-13 body is 12 digits, got {first12!r}")
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def _pick_price(raw: dict[str, str], key: int) -> Decimal:
    low, high, step = Decimal(raw["min"]), Decimal(raw["max"]), Decimal(raw["step"])
    if step <= 0 or high < low:
        raise ValueError(f"bad price range {raw!r}")
    steps = int((high - low) / step)
    return (low + step * (key % (steps + 1))).quantize(_CENT)


def _model_traits(ptype: dict[str, Any], model: int) -> tuple[str, str]:
    """Colour and material of model number ``model``; distinct pairs within a type."""
    colours: list[str] = ptype["colours"]
    materials: list[str] = ptype["materials"]
    if colours and materials:
        if model >= len(colours) * len(materials):
            raise ValueError(f"{ptype['code']}: more models than colour/material pairs")
        row, column = divmod(model, len(colours))
        # Shift the material with the row so neighbouring models differ in both traits.
        return colours[column], materials[(column + row) % len(materials)]
    options = colours or materials
    if model >= len(options):
        raise ValueError(f"{ptype['code']}: more models than variants")
    return (options[model], "") if colours else ("", options[model])


@dataclass(frozen=True, slots=True)
class _Draft:
    sku: str
    name: str
    base_code: str
    barcode: str
    price: Decimal
    tax_rate: Decimal


def _build_products(catalog: dict[str, Any]) -> tuple[Product, ...]:
    salt = str(catalog["salt"])
    prefix = str(catalog["sku_prefix"])
    barcode_prefix = str(catalog["barcode_prefix"])
    vat_rates = {Decimal(rate) for rate in catalog["vat_rates"]}
    palette = set(catalog["colours"])
    sizes_by_group: dict[str, list[str]] = catalog["sizes"]

    drafts: list[_Draft] = []
    for category in catalog["categories"]:
        tax_rate = Decimal(category["tax_rate"])
        if tax_rate not in vat_rates:
            raise ValueError(f"category {category['code']}: VAT rate {tax_rate} is not allowed")
        brands: list[str] = category["brands"]
        for ptype in category["product_types"]:
            code = str(ptype["code"])
            if not palette.issuperset(ptype["colours"]):
                raise ValueError(f"{code}: colour outside the palette")
            sizes = sizes_by_group[ptype["sizes"]] or [""]
            variant = 0
            for model in range(int(ptype["models"])):
                colour, material = _model_traits(ptype, model)
                brand = brands[_digest(salt, code, str(model), "brand") % len(brands)]
                # One price per model: sizes of the same garment cost the same.
                price = _pick_price(ptype["price"], _digest(salt, code, str(model), "price"))
                for size in sizes:
                    variant += 1
                    parts = (brand, colour, material, str(ptype["name"]), size)
                    drafts.append(
                        _Draft(
                            sku=f"{prefix}-{code}-{variant:04d}",
                            name=" ".join(part for part in parts if part),
                            base_code=f"{prefix}-{code}-M{model + 1:03d}",
                            barcode=_ean13(f"{barcode_prefix}{len(drafts) + 1:05d}"),
                            price=price,
                            tax_rate=tax_rate,
                        )
                    )

    for attribute in ("sku", "name", "barcode"):
        _require_unique([getattr(draft, attribute) for draft in drafts], f"product {attribute}")
    unmapped_count = int(catalog["unmapped_count"])
    if not 0 <= unmapped_count <= len(drafts):
        raise ValueError("unmapped_count exceeds the catalogue")
    # Ranking by digest spreads the unmapped SKUs over all categories.
    ranked = sorted(drafts, key=lambda draft: (_digest(salt, draft.sku, "unmapped"), draft.sku))
    unmapped = {draft.sku for draft in ranked[:unmapped_count]}
    return tuple(
        Product(
            sku=draft.sku,
            name=draft.name,
            base_code=draft.base_code,
            barcode=draft.barcode,
            price=draft.price,
            tax_rate=draft.tax_rate,
            mapped=draft.sku not in unmapped,
        )
        for draft in drafts
    )
