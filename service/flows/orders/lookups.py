"""Per-run caches of what does not change during a run, shared by the worker threads.

Each distinct thing is asked of Omnitron once per run: the channel's conf and catalog,
the cargo companies (one listing, indexed by ``erp_code``), countries, the cities of a
country, the townships of a city and the districts of a township (one listing each,
matched by name locally; a name not listed falls back to Omnitron's own name and
mapping-code lookups, and misses are cached too), retail stores, and the product pk
of every channel SKU — fetched in bulk for a window of orders at once.

The operator's aliases (a channel spelling mapped to an Omnitron city, township,
district or cargo company in the profile's store) are read once per run and win over
every lookup: an aliased spelling resolves to the aliased object of the same listing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from service.flows.orders.locks import KeyedLocks
from service.omnitron.client import OmnitronClient
from service.omnitron.models import (
    CargoCompany,
    Catalog,
    City,
    Country,
    District,
    LocationKind,
    RetailStore,
    Township,
)
from service.omnitron.models.channel import Channel, ChannelConf
from service.store_records import Alias
from service.text_fold import fold, fold_case

V = TypeVar("V")
L = TypeVar("L", City, Township, District)
_MISSING = object()


class AliasSource(Protocol):
    """Where the operator's aliases are kept (the profile's :class:`~service.store.Store`)."""

    def aliases(self, kind: str | None = None) -> list[Alias]:
        """Every alias, or those of ``kind``."""
        ...


@dataclass
class _Listing(Generic[V]):
    """The active locations under one parent, by folded name and by pk."""

    by_name: dict[str, V] = field(default_factory=dict)
    by_pk: dict[int, V] = field(default_factory=dict)


class Memo:
    """A thread-safe memo: each key is computed once, concurrent askers wait for it.

    ``None`` (not found) is remembered as well; an exception is not, so a lookup
    that failed on a flaky connection is asked again next time. With a ``limit``
    the least recently used keys are forgotten beyond it, so a memo of things that
    grow with the run (customers, addresses) keeps memory flat.
    """

    def __init__(self, limit: int | None = None) -> None:
        self._values: OrderedDict[object, object] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()
        self._keys = KeyedLocks()

    def get(self, key: object, compute: Callable[[], V]) -> V:
        """The value of ``key``, computing it (once) when not known yet."""
        value = self._find(key)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        with self._keys.hold(repr(key)):
            value = self._find(key)
            if value is _MISSING:
                value = compute()
                self.put(key, value)
        return value  # type: ignore[return-value]

    def _find(self, key: object) -> object:
        with self._lock:
            value = self._values.get(key, _MISSING)
            if value is not _MISSING and self._limit is not None:
                self._values.move_to_end(key)
            return value

    def peek(self, key: object) -> object | None:
        """The value of ``key`` if one is known (``None`` otherwise); computes nothing."""
        value = self._find(key)
        return None if value is _MISSING else value

    def known(self, key: object) -> bool:
        """Whether ``key`` has a value (found or not) already."""
        with self._lock:
            return key in self._values

    def put(self, key: object, value: object) -> None:
        """Remember ``value`` for ``key``."""
        with self._lock:
            self._values[key] = value
            if self._limit is not None:
                self._values.move_to_end(key)
                while len(self._values) > self._limit:
                    self._values.popitem(last=False)


class OrderLookups:
    """What fetch-orders looks up, asked of Omnitron once per run."""

    def __init__(
        self,
        omnitron: OmnitronClient,
        channel: Channel | None,
        aliases: AliasSource | None = None,
    ) -> None:
        self._omnitron = omnitron
        self._channel = channel
        self._alias_source = aliases
        self._memo = Memo()
        self._products = Memo()
        self._products_lock = threading.Lock()
        self._reported: set[tuple[str, str, int | None]] = set()
        self._reported_lock = threading.Lock()

    @property
    def channel_id(self) -> int:
        """This profile's channel id."""
        return self._omnitron.settings.channel_id

    @property
    def conf(self) -> ChannelConf:
        """The channel's settings (read by the runner at the start of the run)."""
        channel = self._channel
        if channel is None:
            channel = self._memo.get("channel", self._omnitron.get_channel)
        return channel.conf

    @property
    def customer_identifier_field(self) -> str:
        """``email`` or ``phone_number``: how customers are matched (§6.8: plain text)."""
        return self.conf.customer_identifier_field

    def catalog(self) -> Catalog:
        """The channel's catalog (default price and stock lists of new items)."""
        return self._memo.get("catalog", self._omnitron.get_catalog)

    def cargo_company(self, erp_code: str) -> CargoCompany | None:
        """The cargo company with this ``erp_code`` (all cargos are listed once per run).

        An alias of the channel's code names the cargo company by pk instead.
        """
        cargos = self._memo.get("cargos", self._index_cargos)
        aliased = self._alias("cargo", "", erp_code)
        if aliased is not None and aliased in cargos.by_pk:
            return cargos.by_pk[aliased]
        return cargos.by_name.get(erp_code.strip().lower())

    def _index_cargos(self) -> _Listing[CargoCompany]:
        listing: _Listing[CargoCompany] = _Listing()
        for cargo in self._omnitron.list_cargo_companies():
            listing.by_pk[cargo.pk] = cargo
            listing.by_name[cargo.erp_code.strip().lower()] = cargo
        return listing

    def _alias(self, kind: str, scope: str, value: str) -> int | None:
        """The Omnitron pk the operator mapped this spelling to, if any."""
        return self._memo.get("aliases", self._load_aliases).get((kind, scope, fold(value)))

    def _load_aliases(self) -> dict[tuple[str, str, str], int]:
        # Read once per run: a mapping saved meanwhile applies from the next run on.
        if self._alias_source is None:
            return {}
        return {
            (a.kind, a.scope, fold(a.channel_value)): a.omnitron_pk
            for a in self._alias_source.aliases()
        }

    def country(self, value: str) -> Country | None:
        """A country by code, name or mapping code."""
        key = ("country", value)
        return self._memo.get(key, lambda: self._omnitron.find_country(value))

    def city(self, country: int, name: str) -> City | None:
        """A city of ``country`` by alias, by name (Turkish case folding), else by mapping code."""
        listing = self._memo.get(
            ("cities", country),
            lambda: _index(self._list(City, "cities/", country=country), _fold),
        )
        return self._aliased(listing, "city", "", name, _fold) or self._memo.get(
            ("city", country, _fold(name)), lambda: self._omnitron.find_city(country, name)
        )

    def township(self, country: int, city: int, name: str) -> Township | None:
        """A township of ``city`` by alias, by name (Turkish case folding), else by mapping code."""
        listing = self._memo.get(
            ("townships", city),
            lambda: _index(self._list(Township, "townships/", country=country, city=city), _fold),
        )
        return self._aliased(listing, "township", str(city), name, _fold) or self._memo.get(
            ("township", city, _fold(name)),
            lambda: self._omnitron.find_township(country, city, name),
        )

    def district(self, country: int, city: int, township: int, name: str) -> District | None:
        """A district of ``township`` by alias, by exact name, else by mapping code."""
        listing = self._memo.get(
            ("districts", township),
            lambda: _index(
                self._list(District, "districts/", country=country, city=city, township=township),
                str,
            ),
        )
        return self._aliased(listing, "district", str(township), name, str) or self._memo.get(
            ("district", township, name),
            lambda: self._omnitron.find_district(country, city, township, name),
        )

    def _aliased(
        self, listing: _Listing[L], kind: str, scope: str, name: str, key: Callable[[str], str]
    ) -> L | None:
        """The listed location the operator aliased ``name`` to, else the one so named.

        An alias to a location no longer listed (made inactive since) is ignored.
        """
        pk = self._alias(kind, scope, name)
        if pk is not None and pk in listing.by_pk:
            return listing.by_pk[pk]
        return listing.by_name.get(key(name))

    def _list(self, model: type[L], path: str, **filters: int) -> list[L]:
        """Every active location under a parent: one request instead of one per name."""
        params = {**filters, "is_active": True}
        return list(self._omnitron.iter_models(model, self._omnitron.channel_path(path), params))

    def retail_store(self, erp_code: str) -> RetailStore | None:
        """A retail store by its ERP code."""
        key = ("retail_store", erp_code)
        return self._memo.get(key, lambda: self._omnitron.find_retail_store(erp_code))

    def report_missing_location(
        self,
        kind: LocationKind,
        *,
        name: str,
        country_id: int | None = None,
        city_id: int | None = None,
        township_id: int | None = None,
    ) -> None:
        """Tell Omnitron about an unknown location, once per distinct location per run."""
        parent = {
            LocationKind.CITY: country_id,
            LocationKind.TOWNSHIP: city_id,
            LocationKind.DISTRICT: township_id,
        }[kind]
        key = (kind.value, _fold(name), parent)
        with self._reported_lock:
            if key in self._reported:
                return
            self._reported.add(key)
        self._omnitron.report_missing_location(
            kind, name=name, country_id=country_id, city_id=city_id, township_id=township_id
        )

    def prefetch_products(self, skus: Iterable[str]) -> None:
        """Map every SKU not known yet in bulk (chunks of 50 per request)."""
        self.product_ids(skus)

    def product_ids(self, skus: Iterable[str]) -> dict[str, int | None]:
        """Omnitron product pk per SKU (``None`` for an unmapped SKU)."""
        wanted = list(dict.fromkeys(skus))
        # One bulk lookup at a time: concurrent windows would ask for the same SKUs.
        with self._products_lock:
            missing = [sku for sku in wanted if not self._products.known(sku)]
            if missing:
                found = self._omnitron.product_ids_for_skus(missing)
                for sku in missing:
                    self._products.put(sku, found.get(sku))
        return {sku: self._products.get(sku, lambda: None) for sku in wanted}


def _index(locations: Iterable[L], key: Callable[[str], str]) -> _Listing[L]:
    """Locations by (folded) name and pk; an ambiguous name is left to the server's lookup."""
    listing: _Listing[L] = _Listing()
    ambiguous: set[str] = set()
    for location in locations:
        listing.by_pk[location.pk] = location
        name = key(location.name)
        if name in listing.by_name:
            ambiguous.add(name)
        listing.by_name[name] = location
    for name in ambiguous:
        del listing.by_name[name]
    return listing


def _fold(text: str) -> str:
    """A location name's key: Turkish case folding (as Omnitron's ``__iexact``), trimmed."""
    return fold_case(text).strip()
