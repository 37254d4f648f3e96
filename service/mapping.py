"""The mapping assistant's work, without any GUI: what to map, to what, and saving it.

A problem the operator can fix by mapping (an unknown city, township, district or
cargo company, an unmapped SKU; :attr:`service.causes.CauseInfo.fix`) becomes a
:class:`MappingTarget`: the channel's spelling and where its candidates come from. A
township is looked for among the townships of the order's city and a district among
those of its township, so those two need the order: it is read from the order parked
for a later retry. Candidates are Omnitron's objects, ranked by how alike their
names are to the channel's text after Turkish-aware folding. Saving a location or
cargo stores an alias in the profile's store (used by every later run); saving a
product creates its integration action for the channel in Omnitron.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import takewhile

from pydantic import ValidationError

from service.causes import Fix, info
from service.channel.models import ChannelAddress, ChannelOrder
from service.flows.orders.lookups import OrderLookups
from service.omnitron.client import OmnitronClient
from service.omnitron.errors import OmnitronBadRequest
from service.omnitron.models import City, District, IntegrationAction, Product, Township
from service.store import Alias, Store
from service.text_fold import fold

FETCH_ORDERS = "fetch-orders"
_AddressTest = Callable[[ChannelAddress], bool]


class MappingImpossible(Exception):
    """This problem cannot be fixed by a mapping (the sentence says why)."""


@dataclass(frozen=True)
class MappingTarget:
    """What the operator maps: the channel's ``value`` of kind ``fix``, under ``scope``.

    ``scope`` is the parent's pk as text (a township's city, a district's township),
    ``""`` otherwise; ``parent`` names it for the operator. ``country``, ``city`` and
    ``township`` are the pks the candidates are listed under.
    """

    fix: Fix
    value: str
    scope: str = ""
    parent: str = ""
    country: int | None = None
    city: int | None = None
    township: int | None = None


@dataclass(frozen=True)
class Candidate:
    """One Omnitron object the spelling may mean; ``score`` is its similarity (0–1.1)."""

    pk: int
    label: str
    detail: str = ""
    score: float = 0.0
    product: Product | None = None


def similarity(text: str, name: str) -> float:
    """How alike the channel's ``text`` and an Omnitron ``name`` are, after folding.

    The ratio of :class:`difflib.SequenceMatcher` on the folded texts, plus up to 0.1
    for a common beginning (a misspelling is more often at the end than at the start):
    ``Istambul`` is nearest to ``İstanbul``.
    """
    a, b = fold(text), fold(name)
    if not a or not b:
        return 0.0
    ratio = SequenceMatcher(None, a, b).ratio()
    prefix = sum(1 for _ in takewhile(lambda pair: pair[0] == pair[1], zip(a, b, strict=False)))
    return ratio + 0.1 * min(prefix, 4) / 4


def rank(text: str, candidates: Iterable[Candidate]) -> list[Candidate]:
    """``candidates`` scored against ``text``, most alike first (then by name)."""
    scored = [
        Candidate(c.pk, c.label, c.detail, similarity(text, c.label), c.product) for c in candidates
    ]
    return sorted(scored, key=lambda c: (-c.score, fold(c.label), c.pk))


def target_for(
    omnitron: OmnitronClient,
    store: Store,
    cause: str,
    value: str,
    subjects: Sequence[str] = (),
    *,
    flow: str = FETCH_ORDERS,
) -> MappingTarget:
    """The mapping that fixes the problem (``cause``, ``value``) of these ``subjects``.

    Raises :class:`MappingImpossible` for a cause no mapping fixes, or a township or
    district whose order (and so whose city) is not known any more.
    """
    fix = info(cause).fix
    if fix is None:
        raise MappingImpossible(f"{info(cause).title} is not fixed by a mapping.")
    if not value.strip():
        raise MappingImpossible(
            "The channel sent none, so there is no spelling to map; the channel must "
            "complete the order."
        )
    if fix in ("cargo", "sku"):
        return MappingTarget(fix, value)
    lookups = OrderLookups(omnitron, None, aliases=store)
    if fix == "city":
        address = _address_of(store, flow, subjects, lambda a: fold(a.city) == fold(value))
        country = lookups.country((address.country if address else "") or "tr")
        if country is None:
            raise MappingImpossible("The order's country is not in Omnitron.")
        return MappingTarget(fix, value, parent=country.name, country=country.pk)
    address = _address_of(
        store,
        flow,
        subjects,
        lambda a: fold(a.township if fix == "township" else a.district) == fold(value),
    )
    if address is None:
        raise MappingImpossible(
            f"The order with this {fix} is not waiting any more, so its city is not known; "
            "run Fetch orders again to see whether it still fails."
        )
    country = lookups.country(address.country or "tr")
    city = lookups.city(country.pk, address.city) if country is not None else None
    if country is None or city is None:
        raise MappingImpossible(f"The order's city {address.city!r} is not in Omnitron.")
    if fix == "township":
        return MappingTarget(fix, value, str(city.pk), city.name, country=country.pk, city=city.pk)
    township = lookups.township(country.pk, city.pk, address.township)
    if township is None:
        raise MappingImpossible(f"The order's township {address.township!r} is not in Omnitron.")
    return MappingTarget(
        fix,
        value,
        str(township.pk),
        f"{township.name}, {city.name}",
        country=country.pk,
        city=city.pk,
        township=township.pk,
    )


def target_of_alias(alias: Alias) -> MappingTarget:
    """The mapping an existing alias made, to pick its Omnitron object again.

    Its scope says where the candidates are: the townships of the city (pk) it was
    made under, the districts of its township; a city's are the cities of every
    country (an alias does not record the country).
    """
    if alias.kind == "township":
        return MappingTarget("township", alias.channel_value, alias.scope, city=int(alias.scope))
    if alias.kind == "district":
        return MappingTarget(
            "district", alias.channel_value, alias.scope, township=int(alias.scope)
        )
    return MappingTarget(alias.kind, alias.channel_value)


def _address_of(
    store: Store, flow: str, subjects: Sequence[str], matches: _AddressTest
) -> ChannelAddress | None:
    """An address of a parked order among ``subjects`` that ``matches``."""
    wanted = set(subjects)
    for item in store.parked(flow):
        if wanted and item.subject not in wanted:
            continue
        try:
            order = ChannelOrder.model_validate(item.payload)
        except ValidationError:
            continue
        for address in (order.shipping_address, order.billing_address):
            if matches(address):
                return address
    return None


def load_candidates(omnitron: OmnitronClient, target: MappingTarget) -> list[Candidate]:
    """Omnitron's objects the target may be mapped to, ranked against its spelling.

    Cities of the country, townships of the city, districts of the township (active
    ones, every page), or every cargo company. Products are searched instead
    (:func:`search_products`).
    """
    if target.fix == "cargo":
        found = [
            Candidate(c.pk, c.name, c.erp_code)
            for c in omnitron.list_cargo_companies()
            if c.is_active
        ]
    elif target.fix == "city":
        found = _locations(omnitron, City, "cities/", country=target.country)
    elif target.fix == "township":
        found = _locations(
            omnitron, Township, "townships/", country=target.country, city=target.city
        )
    elif target.fix == "district":
        found = _locations(
            omnitron,
            District,
            "districts/",
            country=target.country,
            city=target.city,
            township=target.township,
        )
    else:
        raise MappingImpossible("Products are searched, not listed.")
    return rank(target.value, found)


def _locations(
    omnitron: OmnitronClient,
    model: type[City] | type[Township] | type[District],
    path: str,
    **filters: int | None,
) -> list[Candidate]:
    params = {key: value for key, value in filters.items() if value is not None}
    listing = omnitron.iter_models(
        model, omnitron.channel_path(path), {**params, "is_active": True}
    )
    return [Candidate(location.pk, location.name) for location in listing]


def search_products(omnitron: OmnitronClient, text: str) -> list[Candidate]:
    """Products found by SKU, barcode or name, as candidates in the client's order.

    (SKU matches first, then barcodes, then names: a name never resembles a SKU, so
    these are not ranked by similarity.)
    """
    return [
        Candidate(p.pk, p.name, " · ".join(x for x in (p.sku, p.barcode) if x), 1.0, p)
        for p in omnitron.search_products(text)
    ]


def save(
    omnitron: OmnitronClient, store: Store, target: MappingTarget, candidate: Candidate
) -> Alias | IntegrationAction:
    """Store the mapping: an alias, or (for a SKU) the product's integration action."""
    if target.fix == "sku":
        product = candidate.product
        try:
            return omnitron.create_integration_action(
                "product",
                candidate.pk,
                target.value,
                version_date=product.modified_date if product is not None else None,
            )
        except OmnitronBadRequest:
            # Omnitron links a product to one channel id: say which one it has.
            linked = omnitron.remote_ids_for_objects("product", [candidate.pk]).get(candidate.pk)
            if linked is None:
                raise
            raise MappingImpossible(
                f"{candidate.label} is linked to the SKU '{linked}' on this channel already; "
                "a product takes one SKU per channel. Pick another product, or change "
                "that link in Omnitron."
            ) from None
    alias = Alias(
        kind=target.fix,
        scope=target.scope,
        channel_value=target.value,
        omnitron_pk=candidate.pk,
        label=candidate.label,
    )
    store.set_alias(alias)
    return alias
