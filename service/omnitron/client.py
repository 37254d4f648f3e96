"""Typed access to the Omnitron endpoints the order flows use (docs/omnitron-api.md §2).

:class:`OmnitronClient` is one object per profile: thread-safe, one connection pool,
retries and re-login built in. Methods return pydantic models; lookups that may
find nothing return ``None``; failures raise :mod:`service.omnitron.errors`.
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from service.omnitron.errors import (
    AddressDuplicate,
    OmnitronMultipleFound,
    OmnitronNotFound,
    OmnitronOutage,
    OmnitronUnavailable,
)
from service.omnitron.filtered import (
    SCAN_PAGE,
    OmnitronFilterIgnored,
    checked,
    ignored,
    newest_match,
)
from service.omnitron.models import (
    INTEGRATION_TYPE,
    Address,
    AddressCreate,
    BatchObject,
    BatchRequest,
    BatchStatus,
    CancellationReason,
    CancellationRequest,
    CancellationRequestCreate,
    CancellationRequestUpdate,
    CancelOrderRequest,
    CargoCompany,
    Catalog,
    Channel,
    City,
    ContentType,
    Country,
    Customer,
    CustomerCreate,
    District,
    ErrorReport,
    ErrorReportCreate,
    IntegrationAction,
    IntegrationStatus,
    LocationErrorReportCreate,
    LocationKind,
    Order,
    OrderCreate,
    OrderItem,
    OrderItemUpdate,
    Product,
    RetailStore,
    Township,
)
from service.omnitron.models.batch import BatchRequestHead
from service.omnitron.session import M, OmnitronSession
from service.text_fold import fold, fold_case

H = TypeVar("H", bound=BatchRequestHead)

log = logging.getLogger(__name__)

SKU_CHUNK = 50  # remote ids per integration-action lookup, as the reference chunks them
PK_CHUNK = 100  # ids per ``pk__in`` request
PRODUCT_SEARCH_LIMIT = 20  # products per search field: a list to pick from, not a catalogue
PRODUCT_SCAN_ROWS = 2000  # catalogue rows a search reads when Omnitron ignores its filters
CANCELLED_STATUSES = frozenset({"50", "100"})  # cancellation waiting, cancelled


def new_local_batch_id() -> str:
    """A fresh ``local_batch_id``: chosen by us, so a batch can be found by it."""
    return str(uuid.uuid4())


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _unchecked(_: Any) -> bool:
    """Rows found by a mapping code: answers do not carry mappings, so nothing to compare
    (the look-up still takes only a single row)."""
    return True


def _same_name(found: str, asked: str) -> bool:
    """``name__iexact``: Omnitron's case-insensitive match, compared loosely here."""
    return fold(found) == fold(asked)


def omnitron_time(value: str | None) -> datetime | None:
    """An Omnitron date as an aware datetime (a naive one is UTC); ``None`` if unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _under(parent: int | None, asked: int) -> bool:
    """A row's parent is the one asked for (a row that does not say is not contradicted)."""
    return parent is None or parent == asked


class OmnitronClient(OmnitronSession):
    """The Omnitron API as the order flows need it.

    Use as a context manager, or call :meth:`close`. Safe to share between threads.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._content_types: dict[str, ContentType] = {}
        self._cache_lock = threading.Lock()

    # -- channel, catalog, content types -------------------------------------------------

    def get_channel(self) -> Channel:
        """This profile's channel with its ``conf``."""
        return self.call_model(Channel, "GET", f"channels/{self.settings.channel_id}/")

    def get_catalog(self) -> Catalog:
        """This profile's catalog (its price and stock lists default new order items)."""
        return self.call_model(Catalog, "GET", f"catalogs/{self.settings.catalog_id}/")

    def content_type(self, model: str) -> ContentType:
        """The content type of ``model`` (e.g. ``"order"``); cached per client."""
        key = model.lower()
        # Held across the look-up: workers reporting at once ask Omnitron once.
        with self._cache_lock:
            cached = self._content_types.get(key)
            if cached is not None:
                return cached
            found = self._exactly_one(
                ContentType, "content_types/", {"model": key}, lambda c: c.model.lower() == key
            )
            if found is None:
                raise OmnitronNotFound(f"Omnitron has no content type {model!r}.")
            self._content_types[key] = found
            return found

    def content_type_by_id(self, pk: int) -> ContentType:
        """The content type with id ``pk`` (reports of other deployments name it by id)."""
        with self._cache_lock:
            for cached in self._content_types.values():
                if cached.id == pk:
                    return cached
        found = self.call_model(ContentType, "GET", f"content_types/{pk}/")
        with self._cache_lock:
            self._content_types.setdefault(found.model.lower(), found)
        return found

    # -- batch requests ----------------------------------------------------------------

    def create_batch_request(self, local_batch_id: str | None = None) -> BatchRequest:
        """Start a batch request for this channel (status ``initialized``) — never twice.

        The batch carries our own ``local_batch_id`` (a new one unless given; record it
        before calling, so a run that dies meanwhile leaves no anonymous batch). When
        the answer is lost or a 5xx, the channel's ``initialized`` batches are searched
        for that id before the POST is sent again.
        """
        local_id = local_batch_id or new_local_batch_id()
        body = {"channel": self.settings.channel_id, "local_batch_id": local_id}
        batch = self.write_checked(
            lambda: self.call_model(
                BatchRequest, "POST", self.channel_path("batch_requests/"), json=body
            ),
            lambda: self.find_batch_request(local_id, [BatchStatus.INITIALIZED]),
            f"batch request {local_id}",
        )
        if batch.local_batch_id != local_id:
            # This server chose its own id: a lost answer cannot be found by ours.
            log.warning(
                "Omnitron gave batch request %s the local_batch_id %s instead of ours (%s); "
                "a lost answer to its creation cannot be looked up on this server",
                batch.pk,
                batch.local_batch_id,
                local_id,
            )
        return batch

    def find_batch_request(
        self, local_batch_id: str, status: Iterable[BatchStatus | str]
    ) -> BatchRequest | None:
        """This channel's batch with ``local_batch_id`` among those in ``status``.

        Listed by ``status`` and ``channel`` (filters Omnitron declares) and matched
        here, so a server that ignores other filters cannot mislead us.
        """
        return next(
            (b for b in self.list_batch_requests(status) if b.local_batch_id == local_batch_id),
            None,
        )

    def get_batch_request(self, pk: int) -> BatchRequest:
        """One batch request by pk."""
        return self.call_model(BatchRequest, "GET", self.channel_path(f"batch_requests/{pk}/"))

    def update_batch_request(
        self,
        pk: int,
        status: BatchStatus | str,
        *,
        objects: Sequence[BatchObject] | None = None,
        content_type: str | None = None,
        remote_batch_id: str | None = None,
    ) -> BatchRequest:
        """Move a batch request to ``status`` (PATCH with the §3 body for that status).

        Raises :class:`~service.omnitron.errors.BatchTransitionRefused` on a 406 (an
        illegal transition or the commit lock). If the answer is lost, the batch is
        read back: a batch already in ``status`` counts as done; a final status is
        never PATCHed twice.
        """
        return self._patch_batch(
            BatchRequest,
            pk,
            BatchStatus(status),
            objects=objects,
            content_type=content_type,
            remote_batch_id=remote_batch_id,
        )

    def move_batch(
        self,
        pk: int,
        status: BatchStatus,
        *,
        objects: Sequence[BatchObject] | None = None,
        content_type: str | None = None,
        remote_batch_id: str | None = None,
    ) -> BatchRequestHead:
        """:meth:`update_batch_request`, reading only the batch's head from the answer.

        The answer lists every object the batch holds; a caller that keeps its own
        list of what it declared (a run's batch session) neither parses nor keeps it.
        """
        return self._patch_batch(
            BatchRequestHead,
            pk,
            status,
            objects=objects,
            content_type=content_type,
            remote_batch_id=remote_batch_id,
        )

    def _patch_batch(
        self,
        model: type[H],
        pk: int,
        status: BatchStatus,
        *,
        objects: Sequence[BatchObject] | None = None,
        content_type: str | None = None,
        remote_batch_id: str | None = None,
    ) -> H:
        body: dict[str, Any] = {"channel": self.settings.channel_id, "status": status.value}
        if objects is not None:
            body["objects"] = [obj.to_json() for obj in objects]
        if content_type is not None:
            body["content_type"] = content_type
        if remote_batch_id is not None:
            body["remote_batch_id"] = remote_batch_id
        path = self.channel_path(f"batch_requests/{pk}/")

        def landed() -> H | None:
            current = self.get_batch_request(pk)
            if current.status != status:
                return None
            if status is BatchStatus.COMMIT and objects:
                # Commit may repeat: only the objects show whether *this* one landed.
                held = {(o.pk, o.content_type) for o in current.objects}
                if not {(o.pk, o.content_type) for o in objects} <= held:
                    return None
            if remote_batch_id is not None and current.remote_batch_id != remote_batch_id:
                return None
            # A full batch is a head too; the caller reads only the head.
            return cast(H, current)

        return self.write_checked(
            lambda: self.call_model(model, "PATCH", path, json=body),
            landed,
            f"batch request {pk} → {status.value}",
        )

    def list_batch_requests(
        self,
        status: Iterable[BatchStatus | str] | None = None,
        content_type: str | None = None,
    ) -> Iterator[BatchRequest]:
        """This channel's batch requests, optionally by status(es) and content type.

        One listing per status: a filter that is not declared for several values reads
        only the last of a repeated key (docs/omnitron-api.md, filters, warning 2).
        """
        path = self.channel_path("batch_requests/")
        common = {"content_type": content_type, "channel": self.settings.channel_id}

        def listing(value: str | None) -> Iterator[BatchRequest]:
            params = common if value is None else common | {"status": value}
            return checked(
                self.iter_models(BatchRequest, path, params),
                lambda b: (
                    (value is None or b.status == value)
                    and (content_type is None or b.content_type == content_type)
                ),
                f"GET {path} {sorted(k for k, v in params.items() if v is not None)}",
            )

        if status is None:
            yield from listing(None)
            return
        seen: set[int] = set()
        for value in dict.fromkeys(BatchStatus(s).value for s in status):
            for batch in listing(value):
                # A batch that moved on between two listings shows up once.
                if batch.pk not in seen:
                    seen.add(batch.pk)
                    yield batch

    # -- what other deployments wrote (the mirror) ----------------------------------------

    def batch_requests_above(
        self, watermark: int, *, newest: int | None = None
    ) -> Iterator[BatchRequest]:
        """This channel's batch requests with a pk above ``watermark``, newest first.

        ``newest`` caps how many are read (a first sync takes only the latest ones). Only
        ``sort=-id`` and paging are relied on; see :meth:`_above`.
        """
        path = self.channel_path("batch_requests/")
        channel = self.settings.channel_id
        return checked(
            self._above(BatchRequest, path, watermark, newest),
            lambda b: b.channel is None or b.channel == channel,
            f"GET {path} (channel {channel})",
        )

    def error_reports_above(
        self, watermark: int, *, newest: int | None = None
    ) -> Iterator[ErrorReport]:
        """This channel's error reports with an id above ``watermark``, newest first.

        Reports are written once, so an id watermark finds every new one (:meth:`_above`).
        """
        return self._above(ErrorReport, self.channel_path("error_reports/"), watermark, newest)

    def batch_requests_modified_since(self, since: datetime) -> Iterator[BatchRequest]:
        """Batch requests modified at or after ``since``, most recently modified first.

        ``modified_date__gte`` and ``sort=-modified_date`` are inferred, not known
        (docs/omnitron-api.md §9): every row's date is compared, and a row modified
        before ``since`` (or without a date) means the server ignored them:
        :class:`~service.omnitron.filtered.OmnitronFilterIgnored` is raised at that row,
        after the rows before it, which are right either way.
        """
        path = self.channel_path("batch_requests/")
        params = {
            "modified_date__gte": since.isoformat(),
            "sort": "-modified_date",
            "channel": self.settings.channel_id,
        }

        def modified_since(batch: BatchRequest) -> bool:
            moment = omnitron_time(batch.modified_date)
            return moment is not None and moment >= since

        return checked(
            self.iter_models(BatchRequest, path, params, page_size=SCAN_PAGE),
            modified_since,
            f"GET {path} (modified_date__gte)",
        )

    def _above(self, model: type[M], path: str, watermark: int, newest: int | None) -> Iterator[M]:
        """Rows of a listing with a pk above ``watermark``, read newest first (``sort=-id``).

        Reading stops at the first row at or below the watermark. A server that ignores
        ``sort`` (its rows come in another order, seen as soon as two rows are compared)
        is read to the end instead, keeping the rows above the watermark, and ``newest``
        no longer caps it (which rows are the newest cannot be told). A row seen again
        (rows written while paging push the older ones onto the next page) is skipped.
        """
        listing = self.iter_models(model, path, {"sort": "-id"}, page_size=SCAN_PAGE)
        seen: set[int] = set()
        previous: int | None = None
        sorted_desc: bool | None = None  # unknown until two rows were compared
        undecided_stop = False
        taken = 0
        for row in listing:
            pk: int = row.pk  # type: ignore[attr-defined]  # both mirrored models have one
            if pk in seen:
                continue
            seen.add(pk)
            if previous is not None:
                if pk >= previous:
                    sorted_desc = False
                elif sorted_desc is None:
                    sorted_desc = True
            previous = pk
            if undecided_stop and sorted_desc:
                return
            if pk > watermark:
                yield row
                taken += 1
                if newest is not None and taken >= newest and sorted_desc is not False:
                    return
            elif sorted_desc:
                return
            elif sorted_desc is None:
                undecided_stop = True  # the next row tells whether the listing is sorted

    # -- integration actions -----------------------------------------------------------

    def find_integration_actions(
        self,
        content_type_name: str | None = None,
        *,
        remote_id: str | None = None,
        remote_ids: Iterable[str] | None = None,
        object_id: int | None = None,
        object_ids: Iterable[int] | None = None,
        local_batch_id: str | None = None,
        status: IntegrationStatus | str | None = None,
    ) -> Iterator[IntegrationAction]:
        """Integration actions of this channel matching the given filters (all pages)."""
        params: dict[str, Any] = {
            "channel": self.settings.channel_id,
            "content_type_name": content_type_name,
            "remote_id__exact": remote_id,
            "remote_id__in": None if remote_ids is None else _unique(remote_ids),
            "object_id": object_id,
            "object_id__in": None if object_ids is None else _unique(object_ids),
            "local_batch_id": local_batch_id,
            "status": status,
            "sort": "id",
        }
        return self.iter_models(
            IntegrationAction, self.channel_path("integration_actions/"), params
        )

    def product_ids_for_skus(self, skus: Iterable[str]) -> dict[str, int]:
        """Map channel SKUs to Omnitron product pks (filter set (a), chunks of 50).

        SKUs without a product integration action are absent from the result.
        """
        found: dict[str, int] = {}
        for action in self._actions_by_remote_id("product", skus):
            found.setdefault(action.remote_id or "", action.object_id)
        return found

    def _actions_by_remote_id(
        self, content_type_name: str, remote_ids: Iterable[str]
    ) -> Iterator[IntegrationAction]:
        """The channel's actions of one content type for these channel ids (``remote_id__in``
        in chunks of 50, as the reference asks), each row checked against what was asked."""
        wanted = _unique(str(r) for r in remote_ids)
        for chunk in _chunks(wanted, SKU_CHUNK):
            asked = set(chunk)
            yield from checked(
                self.find_integration_actions(content_type_name, remote_ids=chunk),
                lambda a, asked=asked: (
                    a.content_type.model == content_type_name and a.remote_id in asked
                ),
                f"GET integration_actions/ ({content_type_name}, remote_id__in)",
            )

    def create_integration_action(
        self,
        content_type_name: str,
        object_id: int,
        remote_id: str,
        *,
        version_date: str | None = None,
    ) -> IntegrationAction:
        """Link Omnitron object ``object_id`` to the channel's ``remote_id`` — never twice.

        The body is the one Akinon's channel app posts for products (docs/omnitron-api.md
        §9). When the answer is lost or a 5xx, the channel's actions of that content
        type with exactly ``remote_id`` are searched for this object before the POST
        is sent again.
        """
        body = {
            "content_type": content_type_name,
            "channel_id": self.settings.channel_id,
            "object_id": object_id,
            "remote_id": remote_id,
            "version_date": version_date,
            "state": {},
        }

        def landed() -> IntegrationAction | None:
            actions = self.find_integration_actions(content_type_name, remote_id=remote_id)
            # Checked here too: an ignored filter must not pass off another link as ours.
            return next(
                (a for a in actions if a.object_id == object_id and a.remote_id == remote_id),
                None,
            )

        return self.write_checked(
            lambda: self.call_model(
                IntegrationAction, "POST", self.channel_path("integration_actions/"), json=body
            ),
            landed,
            f"integration action {content_type_name} {object_id} → {remote_id}",
        )

    def object_ids_for_remote_id(self, content_type_name: str, remote_id: str) -> list[int]:
        """Omnitron pks linked to a channel id (sets (b), (c)); a line may map to several."""
        wanted = str(remote_id)
        actions = checked(
            self.find_integration_actions(content_type_name, remote_id=wanted),
            lambda a: a.content_type.model == content_type_name and a.remote_id == wanted,
            f"GET integration_actions/ ({content_type_name}, remote_id__exact)",
        )
        return [action.object_id for action in actions]

    def remote_ids_for_objects(
        self, content_type_name: str, object_ids: Iterable[int]
    ) -> dict[int, str]:
        """Channel ids of Omnitron objects (sets (d), (f)); unknown objects are absent."""
        wanted = _unique(object_ids)
        found: dict[int, str] = {}
        for chunk in _chunks(wanted, PK_CHUNK):
            asked = {int(pk) for pk in chunk}
            actions = checked(
                self.find_integration_actions(content_type_name, object_ids=chunk),
                lambda a, asked=asked: (
                    a.content_type.model == content_type_name and a.object_id in asked
                ),
                f"GET integration_actions/ ({content_type_name}, object_id__in)",
            )
            for action in actions:
                if action.remote_id is not None:
                    found.setdefault(action.object_id, action.remote_id)
        return found

    def objects_of_batch(self, local_batch_id: str) -> Iterator[IntegrationAction]:
        """The integration actions a batch in flight holds (set (e))."""
        params = {
            "local_batch_id": local_batch_id,
            "channel_id": self.settings.channel_id,
            "status": IntegrationStatus.PROCESSING,
            "sort": "id",
        }
        return checked(
            self.iter_models(IntegrationAction, self.channel_path("integration_actions/"), params),
            lambda a: (
                a.local_batch_id == local_batch_id and a.status == IntegrationStatus.PROCESSING
            ),
            "GET integration_actions/ (local_batch_id, status)",
        )

    # -- products ----------------------------------------------------------------------

    def search_products(self, text: str, *, limit: int = PRODUCT_SEARCH_LIMIT) -> list[Product]:
        """Products whose SKU or barcode is ``text`` or whose name contains it.

        Three listings of the channel's products (``sku``, ``attributes__barcode``,
        ``name__icontains``; docs/omnitron-api.md §9), the first page of each. Every
        row is checked here as well. When an answer shows its filter was ignored (a
        row it excludes), the catalogue is read instead, at most
        :data:`PRODUCT_SCAN_ROWS` products, and compared here.
        Exact SKU matches come first, then barcodes, then names.
        """
        wanted = text.strip()
        if not wanted:
            return []
        key = fold_case(wanted)
        path = self.channel_path("products/")
        checks: tuple[tuple[dict[str, str], Callable[[Product], bool]], ...] = (
            ({"sku": wanted}, lambda p: fold_case(p.sku) == key),
            ({"attributes__barcode": wanted}, lambda p: p.barcode == wanted),
            ({"name__icontains": wanted}, lambda p: key in fold_case(p.name)),
        )
        hits: list[list[Product]] = []
        unfiltered: list[int] = []  # the checks whose filter Omnitron ignored
        for index, (params, matches) in enumerate(checks):
            page = self.first_page(Product, path, params, limit=limit)
            if ignored(page, matches):
                unfiltered.append(index)
                page = []
            hits.append(page)
        if unfiltered:
            log.warning("GET %s: product filters ignored; reading the catalogue instead", path)
            pages = PRODUCT_SCAN_ROWS // SCAN_PAGE + 1
            catalogue = self.iter_models(Product, path, page_size=SCAN_PAGE, max_pages=pages)
            for product in itertools.islice(catalogue, PRODUCT_SCAN_ROWS):
                for index in unfiltered:
                    if len(hits[index]) < limit and checks[index][1](product):
                        hits[index].append(product)
        found: dict[int, Product] = {}
        for product in itertools.chain.from_iterable(hits):
            found.setdefault(product.pk, product)
        return list(found.values())

    # -- customers and addresses -------------------------------------------------------

    def find_customer(self, identifier_field: str, value: str) -> Customer | None:
        """The channel's customer whose ``email`` or ``phone_number`` is ``value``."""
        if identifier_field not in ("email", "phone_number"):
            raise ValueError(
                f"customers are identified by email or phone_number, not {identifier_field!r}"
            )
        if not value:
            return None
        params = {identifier_field: value, "channel": self.settings.channel_id}
        return self._exactly_one(
            Customer,
            self.channel_path("customers/"),
            params,
            lambda c: (
                getattr(c, identifier_field) == value
                and c.channel in (None, self.settings.channel_id)
            ),
        )

    def create_customer(
        self, customer: CustomerCreate, *, identifier_field: str = "email"
    ) -> Customer:
        """Create a customer; if the answer is lost, find it by its identifier first."""
        body = customer.to_json() | {"channel": self.settings.channel_id}
        value = str(body.get(identifier_field) or "")
        return self.write_checked(
            lambda: self.call_model(Customer, "POST", self.channel_path("customers/"), json=body),
            lambda: self.find_customer(identifier_field, value) if value else None,
            f"customer {identifier_field}",
        )

    def patch_customer(self, pk: int, fields: Mapping[str, Any]) -> Customer:
        """Update some fields of a customer (repeating the same PATCH is harmless)."""
        body = dict(fields) | {"channel": self.settings.channel_id}
        return self.call_model(
            Customer, "PATCH", self.channel_path(f"customers/{pk}/"), json=body, retry_always=True
        )

    def create_address(self, address: AddressCreate) -> Address:
        """Create an address, or return the existing one Omnitron says it duplicates.

        Safe to repeat: a second POST of the same address is answered as a duplicate
        and resolved to the first.
        """
        try:
            return self.call_model(
                Address,
                "POST",
                self.channel_path("addresses/"),
                json=address.to_json(),
                retry_always=True,
            )
        except AddressDuplicate as exc:
            existing = self.find_address_by_hash(exc.hash_data)
            if existing is None:
                raise
            return existing

    def find_address_by_hash(self, hash_data: str) -> Address | None:
        """The address with this content hash."""
        params = {"hash_data": hash_data}
        return self._exactly_one(
            Address, self.channel_path("addresses/"), params, lambda a: a.hash_data == hash_data
        )

    # -- locations ---------------------------------------------------------------------

    def find_country(self, value: str) -> Country | None:
        """A country by code, else by name, else by the channel's mapping code."""
        path = self.channel_path("countries/")
        return self._first_match(
            Country,
            path,
            ({"code__exact": value, "is_active": True}, lambda c: c.code == value and c.is_active),
            ({"name__exact": value, "is_active": True}, lambda c: c.name == value and c.is_active),
            (self._mapping(value), _unchecked),
        )

    def find_city(self, country: int, name: str) -> City | None:
        """A city of ``country`` by name (case-insensitive), else by mapping code."""
        return self._first_match(
            City,
            self.channel_path("cities/"),
            (
                {"name__iexact": name, "country": country, "is_active": True},
                lambda c: _same_name(c.name, name) and _under(c.country, country) and c.is_active,
            ),
            (self._mapping(name), _unchecked),
        )

    def find_township(self, country: int, city: int, name: str) -> Township | None:
        """A township of ``city`` by name (case-insensitive), else by mapping code."""
        return self._first_match(
            Township,
            self.channel_path("townships/"),
            (
                {"name__iexact": name, "country": country, "city": city, "is_active": True},
                lambda t: _same_name(t.name, name) and _under(t.city, city) and t.is_active,
            ),
            (
                self._mapping(name, city=city, is_active=True),
                lambda t: _under(t.city, city) and t.is_active,
            ),
        )

    def find_district(self, country: int, city: int, township: int, name: str) -> District | None:
        """A district of ``township`` by exact name, else by mapping code."""
        return self._first_match(
            District,
            self.channel_path("districts/"),
            (
                {
                    "name__exact": name,
                    "country": country,
                    "city": city,
                    "township": township,
                    "is_active": True,
                },
                lambda d: d.name == name and _under(d.township, township) and d.is_active,
            ),
            (
                self._mapping(name, city=city, township=township, is_active=True),
                lambda d: _under(d.township, township) and d.is_active,
            ),
        )

    def report_missing_location(
        self,
        kind: LocationKind | str,
        *,
        name: str,
        country_id: int | None = None,
        city_id: int | None = None,
        township_id: int | None = None,
    ) -> LocationErrorReportCreate:
        """Tell Omnitron a location the channel sent is unknown, so a mapping can be made.

        Needs ``country_id`` for a city, ``city_id`` for a township, ``city_id`` and
        ``township_id`` for a district. Returns the report that was sent.

        Sent at most once: no lookup for such reports is documented (docs/omnitron-api.md
        §2), so when the answer is lost or a 5xx the report counts as sent rather than
        risk a second copy (the order's own error report says what is missing anyway).
        """
        kind = LocationKind(kind)
        report = LocationErrorReportCreate.for_kind(
            kind,
            channel_id=self.settings.channel_id,
            name=name,
            country_id=country_id,
            city_id=city_id,
            township_id=township_id,
        )
        path = self.channel_path(f"error_reports/{kind.value}/")
        try:
            self.call("POST", path, json=report.to_json())
        except OmnitronOutage:
            raise
        except OmnitronUnavailable as exc:
            if not exc.maybe_processed:
                raise
            log.warning("POST %s: %s; counted as sent (it may have landed)", path, exc)
        return report

    def find_retail_store(self, erp_code: str) -> RetailStore | None:
        """A retail store by its ERP code."""
        params = {"erp_code": erp_code}
        return self._exactly_one(
            RetailStore,
            self.channel_path("retail_stores/"),
            params,
            lambda store: store.erp_code == erp_code,
        )

    def list_cargo_companies(self) -> list[CargoCompany]:
        """Every cargo company (all pages)."""
        return list(self.iter_models(CargoCompany, self.channel_path("cargos/")))

    # -- orders ------------------------------------------------------------------------

    def find_order_by_number(self, number: str) -> Order | None:
        """This channel's order with ``number``, if it exists."""
        params = {"number": number, "channel_id": self.settings.channel_id}
        return self._exactly_one(
            Order,
            self.channel_path("orders/"),
            params,
            lambda o: o.number == number and o.channel in (None, self.settings.channel_id),
        )

    def get_order(self, pk: int) -> Order:
        """One order by pk."""
        return self.call_model(Order, "GET", self.channel_path(f"orders/{pk}/"))

    def get_orders(self, pks: Iterable[int]) -> list[Order]:
        """Orders by pk (``pk__in``, in chunks); missing pks are simply absent."""
        wanted = _unique(pks)
        orders: list[Order] = []
        for chunk in _chunks(wanted, PK_CHUNK):
            params = {"pk__in": chunk}
            asked = {int(pk) for pk in chunk}
            listing = self.iter_models(Order, self.channel_path("orders/"), params)
            orders.extend(
                checked(listing, lambda o, asked=asked: o.pk in asked, "GET orders/ (pk__in)")
            )
        return orders

    def order_actions(self, remote_ids: Iterable[str]) -> dict[str, IntegrationAction]:
        """The order integration actions of these channel order ids, by channel id.

        Filter set (a′): ``remote_id__in``, relied on as the reference maps SKUs
        (docs/omnitron-api.md §9), so an answer holding a row not asked for raises
        :class:`~service.omnitron.filtered.OmnitronFilterIgnored`. Channel ids without
        an action are absent, so a caller must still survive an order that exists
        unlinked (creating it again is refused).
        """
        found: dict[str, IntegrationAction] = {}
        for action in self._actions_by_remote_id("order", remote_ids):
            found.setdefault(action.remote_id or "", action)
        return found

    def create_order(self, order: OrderCreate) -> Order:
        """Create an order with its items — never twice.

        The POST is not repeated blindly: when its outcome is unknown (5xx, timeout,
        dropped connection) the order is looked up by number; the order that landed
        is returned, and only an order that did not land is sent again. (What a
        refused create means — a number already taken — is the flow's to find out.)
        """
        number = order.order.number
        return self.write_checked(
            lambda: self.call_model(
                Order, "POST", self.channel_path("create_orders/"), json=order.to_json()
            ),
            lambda: self.find_order_by_number(number),
            f"order {number}",
        )

    def list_updated_orders(self, limit: int = 100) -> list[Order]:
        """Orders changed since they were last synced and not held by a batch (≤ limit)."""
        return self.first_page(Order, self.channel_path("orders/updates/"), limit=limit)

    def cancel_order(self, pk: int, request: CancelOrderRequest) -> None:
        """Cancel items of an order with reasons.

        If the answer is lost, the items are read back: when every item to cancel
        is already cancelled (or waiting for it), the cancel landed.
        """
        body = request.to_json()
        wanted = set(request.cancel_items)

        def landed() -> bool | None:
            items = {item.pk: item for item in self.list_order_items(pk)}
            done = all(i in items and items[i].status in CANCELLED_STATUSES for i in wanted)
            return True if done else None

        self.write_checked(
            lambda: self.call("POST", self.channel_path(f"orders/{pk}/cancel/"), json=body),
            landed,
            f"cancel of order {pk}",
        )

    # -- order items -------------------------------------------------------------------

    def list_order_items(self, order_pk: int) -> list[OrderItem]:
        """The items of an order, by id."""
        params = {"order": order_pk, "sort": "id"}
        listing = self.iter_models(OrderItem, self.channel_path("order_items/"), params)
        return list(checked(listing, lambda i: i.order == order_pk, "GET order_items/ (order)"))

    def get_order_item(self, pk: int) -> OrderItem:
        """One order item by pk."""
        return self.call_model(OrderItem, "GET", self.channel_path(f"order_items/{pk}/"))

    def patch_order_item(self, pk: int, fields: OrderItemUpdate | Mapping[str, Any]) -> OrderItem:
        """Update an item's status, invoice or tracking fields (empty ones are not sent)."""
        update = fields if isinstance(fields, OrderItemUpdate) else OrderItemUpdate(**fields)
        body = update.to_json()
        if not body:
            raise ValueError(f"nothing to update on order item {pk}")
        return self.call_model(
            OrderItem,
            "PATCH",
            self.channel_path(f"order_items/{pk}/"),
            json=body,
            retry_always=True,  # setting the same values twice is harmless
        )

    # -- cancellations -----------------------------------------------------------------

    def create_cancellation_request(
        self, request: CancellationRequestCreate
    ) -> CancellationRequest:
        """Create a cancellation (or refund) request for an order item — never twice.

        When the POST's outcome is unknown, the request is looked up by its channel id
        (``remote_id``) before it is sent again.
        """
        remote_id = request.remote_id

        def landed() -> CancellationRequest | None:
            return self.find_cancellation_request(remote_id) if remote_id else None

        return self.write_checked(
            lambda: self.call_model(
                CancellationRequest,
                "POST",
                self.channel_path("cancellation_requests/"),
                json=request.to_json(),
            ),
            landed,
            f"cancellation request {remote_id or '(no remote id)'}",
        )

    def find_cancellation_request(self, remote_id: str) -> CancellationRequest | None:
        """The cancellation request carrying the channel's id ``remote_id``, if any.

        Nothing shows Omnitron declares a ``remote_id`` filter here (docs/omnitron-api.md
        §9): when the answer shows it was ignored, the newest requests are read instead
        (:func:`~service.omnitron.filtered.newest_match`) — this look-up follows a POST
        whose answer was lost, so the request sought is among them.
        """
        path = self.channel_path("cancellation_requests/")

        def matches(request: CancellationRequest) -> bool:
            return request.remote_id == remote_id

        found = self.first_page(CancellationRequest, path, {"remote_id": remote_id}, limit=2)
        if ignored(found, matches):
            return newest_match(
                self, CancellationRequest, path, matches, what=f"GET {path} (remote_id)"
            )
        if len(found) > 1:
            raise OmnitronMultipleFound(
                f"GET {path}: expected one CancellationRequest, found several for remote_id."
            )
        return found[0] if found else None

    def list_cancellation_request_updates(self, limit: int = 50) -> Iterator[CancellationRequest]:
        """Cancellation requests changed since last synced (all pages of ``limit``)."""
        return self.iter_models(
            CancellationRequest,
            self.channel_path("cancellation_requests/updates/"),
            page_size=limit,
        )

    def patch_cancellation_request(
        self, pk: int, fields: CancellationRequestUpdate | Mapping[str, Any]
    ) -> CancellationRequest:
        """Update a cancellation request (repeating the same PATCH is harmless)."""
        update = (
            fields
            if isinstance(fields, CancellationRequestUpdate)
            else CancellationRequestUpdate(**fields)
        )
        return self.call_model(
            CancellationRequest,
            "PATCH",
            self.channel_path(f"cancellation_requests/{pk}/"),
            json=update.to_json(),
            retry_always=True,
        )

    def list_cancellation_reasons(self) -> list[CancellationReason]:
        """Every cancellation reason Omnitron knows (all pages)."""
        return list(
            self.iter_models(CancellationReason, self.channel_path("cancellation_reasons/"))
        )

    # -- error reports -----------------------------------------------------------------

    def create_error_report(self, report: ErrorReportCreate) -> ErrorReport | None:
        """Write an error report; the target defaults to this channel.

        Returns the stored report when Omnitron answers with it.
        """
        body = report.to_json()
        if report.target_content_type is None:
            body["target_content_type"] = self.content_type("channel").id
        if report.target_object_id is None:
            body["target_object_id"] = self.settings.channel_id
        data = self.call("POST", self.channel_path("error_reports/"), json=body)
        if isinstance(data, dict) and ("pk" in data or "id" in data):
            return self.parse(ErrorReport, data, "POST error_reports/")
        return None

    def find_error_report(self, error_code: str) -> ErrorReport | None:
        """The report Omnitron holds with exactly ``error_code`` (codes are unique), if any.

        Matched here as well as by the ``error_code`` filter, which nothing shows Omnitron
        declares (docs/omnitron-api.md §9). When the answer shows it was ignored, the
        newest reports are read instead (the report sought was posted a moment ago);
        if even those cannot be told, the report counts as not there — posted again,
        it may arrive twice but is never lost.
        """
        path = self.channel_path("error_reports/")

        def matches(report: ErrorReport) -> bool:
            return report.error_code == error_code

        found = self.first_page(ErrorReport, path, {"error_code": error_code}, limit=5)
        if not ignored(found, matches):
            return found[0] if found else None
        try:
            return newest_match(self, ErrorReport, path, matches, what=f"GET {path} (error_code)")
        except OmnitronFilterIgnored as exc:
            log.warning("%s; the report counts as not there", exc)
            return None

    # -- helpers -----------------------------------------------------------------------

    def _mapping(self, value: str, **extra: Any) -> dict[str, Any]:
        """Filters finding an object by the channel's mapping code ``{channel}_{value}``."""
        return {
            "mapping__code__exact": f"{self.settings.channel_id}_{value}",
            "mapping__integration_type": INTEGRATION_TYPE,
            **extra,
        }

    def _exactly_one(
        self, model: type[M], path: str, params: Mapping[str, Any], matches: Callable[[M], bool]
    ) -> M | None:
        """The single match of a lookup; ``None`` if none, an error if several.

        ``matches`` compares each row with what was asked: a row the filters exclude
        is :class:`~service.omnitron.filtered.OmnitronFilterIgnored`, never adopted.
        """
        what = f"GET {path} {sorted(params)}"
        found = list(checked(self.first_page(model, path, params, limit=2), matches, what))
        if len(found) > 1:
            raise OmnitronMultipleFound(
                f"GET {path}: expected one {model.__name__}, found several for {sorted(params)}."
            )
        return found[0] if found else None

    def _first_match(
        self, model: type[M], path: str, *lookups: tuple[Mapping[str, Any], Callable[[M], bool]]
    ) -> M | None:
        """Try ``(filters, matches)`` in order; the first that finds exactly one object wins.

        Every row is compared with ``matches`` (:meth:`_exactly_one`).
        """
        for params, matches in lookups:
            what = f"GET {path} {sorted(params)}"
            found = list(checked(self.first_page(model, path, params, limit=2), matches, what))
            if len(found) == 1:
                return found[0]
        return None
