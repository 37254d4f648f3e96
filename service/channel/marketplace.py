"""The HTTP adapter for the marketplace API (``docs/marketplace-api.md``).

One :class:`httpx.Client` per adapter: keep-alive connections, timeouts, and the
shared :class:`~service.net.retry.RetryTransport` (timeouts, dropped connections,
5xx for reads, 429 honouring ``Retry-After``), which also bounds every answer in
size and time. Status-update POSTs carry an ``Idempotency-Key``, so they are safe to
retry like reads. Listings are streamed page by page; nothing is collected in memory,
and a listing that does not advance is stopped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from service.channel.adapter import ChannelError, Fetched
from service.channel.models import (
    CancellationRequestDecision,
    CancellationRequestUpdateResult,
    ChannelAddress,
    ChannelCancel,
    ChannelCancellationRequest,
    ChannelCustomer,
    ChannelLineUpdate,
    ChannelOrder,
    ChannelOrderLine,
    OrderStatusUpdate,
    OrderUpdateResult,
    RemoteBatchResult,
    SendResult,
)
from service.net.body import DEFAULT_MAX_RESPONSE_MB, MEGABYTE
from service.net.exchange import RawExchange
from service.net.failures import final_failure_message
from service.net.paging import PageGuard
from service.net.retry import RETRY_ALWAYS, RETRY_EXTENSION, RetryPolicy, RetryTransport

T = TypeVar("T")

_DETAIL_IN_MESSAGE = 300  # characters of a refusal's reason quoted in a message

# Marketplace line/order status -> Omnitron status code.
TO_OMNITRON_STATUS: Mapping[str, str] = MappingProxyType(
    {
        "Created": "400",
        "Picking": "450",
        "Invoiced": "450",
        "Shipped": "500",
        "UnDelivered": "540",
        "Delivered": "550",
        "Cancelled": "100",
        "Returned": "600",
    }
)
# Omnitron status code -> the marketplace status we report.
TO_MARKETPLACE_STATUS: Mapping[str, str] = MappingProxyType(
    {
        "50": "Cancelled",
        "100": "Cancelled",
        "200": "Created",
        "300": "Created",
        "350": "Created",
        "400": "Created",
        "450": "Picking",
        "500": "Shipped",
        "510": "Shipped",
        "520": "Shipped",
        "540": "UnDelivered",
        "550": "Delivered",
        "600": "Returned",
    }
)


class MarketplaceSettings(BaseModel):
    """Connection settings of a marketplace profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(description="root URL, e.g. http://127.0.0.1:8001/")
    api_key: SecretStr
    page_size: int = Field(50, ge=1, le=200)
    timeout: float = Field(
        15.0, gt=0, description="seconds per try (read/write/pool, the whole answer)"
    )
    connect_timeout: float = Field(5.0, gt=0)
    max_attempts: int = Field(5, ge=1, description="tries per request, the first included")
    retry_deadline: float = Field(60.0, gt=0, description="seconds for all tries of a request")
    max_pages: int = Field(
        1000, ge=1, description="pages one listing may take in a run; more is an error"
    )
    max_response_mb: int = Field(
        DEFAULT_MAX_RESPONSE_MB, ge=1, description="a longer answer is refused, not read"
    )
    pool_size: int = Field(10, ge=1)

    @field_validator("base_url")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        # The key travels in a header; a password in the URL would show in every log line.
        if "@" in urlsplit(value.strip()).netloc:
            raise ValueError("must not hold a user name or password (the API key is separate)")
        return value


class _PayloadError(ValueError):
    """Everything wrong with one record, phrased for a person."""


class _Reader:
    """Reads a record's fields, collecting problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def decimal(self, data: Mapping[str, Any], key: str, where: str = "") -> Decimal:
        value = data.get(key)
        label = f"{where}{key}"
        if value is None or value == "":
            self.problems.append(f"{label} is missing")
            return Decimal(0)
        try:
            # Floats would lose cents; the API promises strings, accept ints too.
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise InvalidOperation
            result = Decimal(value)
            if not result.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            self.problems.append(f"{label} {value!r} is not a decimal")
            return Decimal(0)
        return result

    def text(self, data: Mapping[str, Any], key: str) -> str:
        value = data.get(key)
        return "" if value is None else str(value)

    def check(self) -> None:
        if self.problems:
            raise _PayloadError("; ".join(self.problems))


def _describe(exc: ValidationError) -> str:
    """A pydantic error as one readable line: ``customer.email: e-mail is required``."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def _page_number(value: Any) -> int | None:
    """``next_page`` as a page number, when it is one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _wire_time(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _address(data: Mapping[str, Any], read: _Reader) -> ChannelAddress:
    return ChannelAddress(
        email=read.text(data, "email"),
        phone_number=read.text(data, "phone"),
        first_name=read.text(data, "first_name"),
        last_name=read.text(data, "last_name"),
        country=read.text(data, "country_code").lower(),
        city=read.text(data, "city"),
        township=read.text(data, "township"),
        district=read.text(data, "district"),
        line=read.text(data, "address_line"),
        postcode=read.text(data, "postal_code"),
        title=read.text(data, "title"),
        company_name=read.text(data, "company_name"),
        tax_office=read.text(data, "tax_office"),
        tax_no=read.text(data, "tax_number"),
        e_bill_taxpayer=bool(data.get("e_invoice_user", False)),
        identity_number=read.text(data, "identity_number"),
        retail_store=read.text(data, "retail_store"),
    )


def parse_order(data: Mapping[str, Any]) -> ChannelOrder:
    """Turn one marketplace order into a :class:`ChannelOrder` (``ValueError`` if broken)."""
    read = _Reader()
    customer = data.get("customer") or {}
    if not customer.get("email"):
        read.problems.append("customer e-mail is missing")
    lines = []
    for position, line in enumerate(data.get("lines") or [], start=1):
        where = f"line {position} "
        unit_price = read.decimal(line, "unit_price", where)
        mp_status = read.text(line, "status")
        lines.append(
            {
                "remote_id": read.text(line, "id"),
                "product": read.text(line, "sku"),
                "quantity": line.get("quantity"),
                "price_currency": read.text(line, "currency") or read.text(data, "currency"),
                "price": unit_price,
                "tax_rate": read.decimal(line, "vat_rate", where),
                "discount_amount": read.decimal(line, "discount", where),
                "retail_price": unit_price,
                "status": TO_OMNITRON_STATUS.get(mp_status, ""),
                "extra_field": {
                    "id": read.text(line, "id"),
                    "barcode": read.text(line, "barcode"),
                    "product_name": read.text(line, "product_name"),
                    "marketplace_status": mp_status,
                },
            }
        )
    amount = read.decimal(data, "total_price")
    shipping = read.decimal(data, "shipping_price")
    shipping_tax = read.decimal(data, "shipping_vat_rate")
    discount = read.decimal(data, "total_discount")
    read.check()
    mp_status = read.text(data, "status")
    return ChannelOrder(
        remote_id=read.text(data, "id"),
        number=read.text(data, "order_number"),
        currency=read.text(data, "currency") or "TRY",
        amount=amount,
        shipping_amount=shipping,
        shipping_tax_rate=shipping_tax,
        discount_amount=discount,
        created_at=data.get("created_at"),
        cargo_company=read.text(data, "cargo_provider_code"),
        delivery_type=read.text(data, "delivery_type"),
        notes=read.text(data, "note"),
        status=TO_OMNITRON_STATUS.get(mp_status, ""),
        customer=ChannelCustomer(
            email=read.text(customer, "email"),
            first_name=read.text(customer, "first_name"),
            last_name=read.text(customer, "last_name"),
            phone_number=read.text(customer, "phone"),
            channel_code=read.text(customer, "id"),
            extra_field={"id": read.text(customer, "id")},
        ),
        shipping_address=_address(data.get("shipping_address") or {}, read),
        billing_address=_address(data.get("invoice_address") or {}, read),
        lines=tuple(ChannelOrderLine.model_validate(line) for line in lines),
        extra_field={"id": read.text(data, "id"), "marketplace_status": mp_status},
    )


def parse_cancel(data: Mapping[str, Any]) -> ChannelCancel:
    """Turn one marketplace cancellation into a :class:`ChannelCancel`."""
    read = _Reader()
    lines = data.get("lines") or []
    refund = None
    if data.get("refund_amount") not in (None, ""):
        refund = read.decimal(data, "refund_amount")
    read.check()
    return ChannelCancel(
        remote_id=read.text(data, "id"),
        order=read.text(data, "order_id"),
        number=read.text(data, "order_number"),
        cancel_items=tuple(read.text(line, "line_id") for line in lines),
        reasons={read.text(line, "line_id"): read.text(line, "reason_code") for line in lines},
        forced_refund_amount=refund,
        created_at=data.get("created_at"),
    )


def parse_line_update(data: Mapping[str, Any]) -> ChannelLineUpdate:
    """Turn one marketplace line update into a :class:`ChannelLineUpdate`."""
    read = _Reader()
    mp_status = read.text(data, "status")
    return ChannelLineUpdate(
        remote_id=read.text(data, "line_id"),
        order_remote_id=read.text(data, "order_id"),
        status=TO_OMNITRON_STATUS.get(mp_status, ""),
        invoice_number=read.text(data, "invoice_number"),
        invoice_date=data.get("invoice_date") or None,
        tracking_number=read.text(data, "tracking_number"),
        created_at=data.get("created_at"),
        extra_field={
            "update_id": read.text(data, "id"),
            "marketplace_status": mp_status,
            "cargo_provider_code": read.text(data, "cargo_provider_code"),
        },
    )


def parse_cancellation_request(data: Mapping[str, Any]) -> ChannelCancellationRequest:
    """Turn one marketplace cancellation request into a DTO."""
    read = _Reader()
    return ChannelCancellationRequest(
        remote_id=read.text(data, "id"),
        order_item=read.text(data, "line_id"),
        order_remote_id=read.text(data, "order_id"),
        reason=read.text(data, "reason_code"),
        description=read.text(data, "description"),
        cancellation_type=data.get("type") or "cancel",
        status=read.text(data, "status"),
        created_at=data.get("created_at"),
    )


class MarketplaceAdapter:
    """:class:`~service.channel.adapter.ChannelAdapter` over the marketplace HTTP API."""

    settings_model: ClassVar[type[BaseModel]] = MarketplaceSettings

    def __init__(
        self,
        settings: MarketplaceSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        """Build the client; ``transport`` replaces the network (tests), under the retries."""
        self.settings = settings
        policy = retry_policy or RetryPolicy(
            max_attempts=settings.max_attempts, deadline=settings.retry_deadline
        )
        self._client = httpx.Client(
            base_url=settings.base_url.rstrip("/") + "/api/v1/",
            headers={
                "X-Api-Key": settings.api_key.get_secret_value(),
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            transport=RetryTransport(
                transport,
                policy,
                pool_size=settings.pool_size,
                max_response_bytes=settings.max_response_mb * MEGABYTE,
            ),
        )

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> MarketplaceAdapter:
        """Build from plain settings (a profile's table), validating them."""
        return cls(MarketplaceSettings.model_validate(dict(data)))

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> MarketplaceAdapter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent_write: bool = False,
        accept: tuple[int, ...] = (),
    ) -> tuple[httpx.Response, RawExchange]:
        """Send one request; any failure the retries could not fix is a ChannelError.

        Status codes in ``accept`` are returned to the caller instead of raising.
        """
        headers = {}
        extensions: dict[str, Any] = {}
        if idempotent_write:
            # The marketplace answers a repeated key with the first answer: safe to retry.
            headers["Idempotency-Key"] = str(uuid.uuid4())
            extensions[RETRY_EXTENSION] = RETRY_ALWAYS
        request = self._client.build_request(
            method, path, params=params, json=body, headers=headers, extensions=extensions
        )
        try:
            response = self._client.send(request)
        except httpx.HTTPError as exc:
            # A certificate refused, an answer too large or too slow: said as such.
            final = final_failure_message("the marketplace", exc)
            raw = RawExchange.from_httpx(request, note=final or f"{type(exc).__name__}: {exc}")
            message = final or f"{method} {path} failed: {type(exc).__name__}"
            raise ChannelError(message, raw=raw) from exc
        raw = RawExchange.from_httpx(request, response)
        status = response.status_code
        if status >= 400 and status not in accept:
            raise ChannelError(
                f"{method} {path} answered HTTP {status}: {self._error_detail(response)}",
                raw=raw,
                status_code=status,
            )
        return response, raw

    @staticmethod
    def _error_detail(response: httpx.Response) -> str:
        """The server's reason, short enough for a one-line message."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:_DETAIL_IN_MESSAGE]
        if isinstance(body, dict):
            body = body.get("detail") or body.get("code") or body
        text = str(body)
        return text if len(text) <= _DETAIL_IN_MESSAGE else text[:_DETAIL_IN_MESSAGE] + "…"

    @staticmethod
    def _json(response: httpx.Response, raw: RawExchange) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ChannelError(
                "the marketplace answered with invalid JSON",
                raw=raw,
                status_code=response.status_code,
            ) from exc

    # -- listings ----------------------------------------------------------------------

    def _stream(
        self,
        path: str,
        label: str,
        since: datetime | None,
        parse: Callable[[Mapping[str, Any]], T],
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[Fetched[T]]:
        """Page through a listing, yielding one :class:`Fetched` per record.

        A listing that does not advance (a page or a ``next_page`` seen before, a
        ``next_page`` that is not further on) or goes on past ``max_pages`` raises
        :class:`ChannelError`; what was yielded until then stays valid, and the next
        run goes on from the caller's cursor.
        """
        query: dict[str, Any] = dict(params or {})
        query["size"] = self.settings.page_size
        if since is not None:
            query["created_from"] = _wire_time(since)
        guard = PageGuard()
        listing = f"The marketplace's listing GET {self._client.base_url.path}{path}"
        for page in range(1, self.settings.max_pages + 1):
            query["page"] = page
            response, raw = self._call("GET", path, params=query)
            body = self._json(response, raw)
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ChannelError(f"GET {path}: the answer has no items list", raw=raw)
            # The last page says so; a short page also ends it (new records append).
            last = body.get("next_page") is None or len(items) < self.settings.page_size
            if not last:
                next_ref = body.get("next_page")
                stuck = guard.check(page, items, next_ref, _page_number(next_ref))
                if stuck:
                    raise ChannelError(
                        f"{listing} does not advance: {stuck}; stopped after {page} pages.",
                        raw=raw,
                    )
            for payload in items:
                yield self._fetched(payload, raw, label, parse)
            if last:
                return
        raise ChannelError(
            f"{listing} still had more after {self.settings.max_pages} pages of "
            f"{self.settings.page_size}; stopped here, and the next run goes on from here "
            "(raise max_pages to read more in one run)."
        )

    @staticmethod
    def _fetched(
        payload: Any, page_raw: RawExchange, label: str, parse: Callable[[Mapping[str, Any]], T]
    ) -> Fetched[T]:
        record = payload if isinstance(payload, dict) else {"value": payload}
        raw = RawExchange(
            request=page_raw.request,
            response=json.dumps(record, ensure_ascii=False),
            status_code=page_raw.status_code,
        )
        remote_id = str(record.get("id", ""))
        number = str(record.get("order_number", "") or "")
        cursor = _parse_time(record.get("created_at"))
        try:
            item = parse(record)
        except ValidationError as exc:
            error = _describe(exc)
        except (ValueError, TypeError, AttributeError) as exc:
            error = str(exc) or type(exc).__name__
        else:
            return Fetched(
                raw, record, item=item, remote_id=remote_id, number=number, cursor=cursor
            )
        # Name the record as people know it: "order 3100000034: ...".
        name = number if label == "order" and number else remote_id or "?"
        return Fetched(
            raw,
            record,
            error=f"{label} {name}: {error}",
            remote_id=remote_id,
            number=number,
            cursor=cursor,
        )

    def fetch_new_orders(self, since: datetime | None) -> Iterator[Fetched[ChannelOrder]]:
        """Orders created at or after ``since``, oldest first."""
        return self._stream("orders", "order", since, parse_order)

    def fetch_cancelled_orders(self, since: datetime | None) -> Iterator[Fetched[ChannelCancel]]:
        """Cancellations recorded at or after ``since``, oldest first."""
        return self._stream("cancellations", "cancellation", since, parse_cancel)

    def fetch_line_updates(self, since: datetime | None) -> Iterator[Fetched[ChannelLineUpdate]]:
        """Line changes at or after ``since``, oldest first."""
        return self._stream("line-updates", "line update", since, parse_line_update)

    def fetch_cancellation_requests(
        self, since: datetime | None
    ) -> Iterator[Fetched[ChannelCancellationRequest]]:
        """Customers' cancellation/refund requests made at or after ``since``."""
        return self._stream(
            "cancellation-requests", "cancellation request", since, parse_cancellation_request
        )

    # -- writes ------------------------------------------------------------------------

    def send_updated_orders(
        self, updates: Iterable[OrderStatusUpdate], *, sync: bool
    ) -> SendResult:
        """Send status updates; orders the marketplace cannot express fail locally."""
        refused: list[OrderUpdateResult] = []
        wire: list[dict[str, Any]] = []
        for update in updates:
            status = TO_MARKETPLACE_STATUS.get(update.status)
            problem = ""
            if status is None:
                problem = f"status {update.status} has no marketplace equivalent"
            elif not update.remote_id.isdigit():
                problem = f"remote id {update.remote_id!r} is not a marketplace order id"
            elif any(not item.remote_id.isdigit() for item in update.items):
                problem = "a line remote id is not a marketplace line id"
            if problem:
                refused.append(
                    OrderUpdateResult(
                        remote_id=update.remote_id,
                        number=update.number,
                        status="FAIL",
                        message=problem,
                    )
                )
                continue
            wire.append(
                {
                    "order_id": int(update.remote_id),
                    "order_number": update.number,
                    "status": status,
                    "tracking_number": update.tracking_number,
                    "cargo_provider_code": update.cargo_company,
                    "lines": [
                        {
                            "line_id": int(item.remote_id),
                            "status": TO_MARKETPLACE_STATUS.get(item.status, status),
                        }
                        for item in update.items
                    ],
                }
            )
        if not wire:
            return SendResult(results=tuple(refused))
        path = "orders/status-updates" if sync else "orders/status-updates/batches"
        response, raw = self._call("POST", path, body={"updates": wire}, idempotent_write=True)
        body = self._json(response, raw)
        if sync:
            results = self._results(body.get("results"), raw)
            return SendResult(results=(*refused, *results), raw=raw)
        batch_id = str(body.get("batch_id") or "")
        if not batch_id:
            raise ChannelError("the marketplace accepted the batch without a batch id", raw=raw)
        return SendResult(results=tuple(refused), remote_batch_id=batch_id, raw=raw)

    @staticmethod
    def _results(rows: Any, raw: RawExchange) -> tuple[OrderUpdateResult, ...]:
        if not isinstance(rows, list):
            raise ChannelError("the marketplace answer has no results list", raw=raw)
        try:
            return tuple(
                OrderUpdateResult(
                    remote_id=str(row.get("order_id", "")),
                    number=row.get("order_number") or "",
                    status=row.get("status"),
                    message=row.get("message") or "",
                )
                for row in rows
            )
        except (ValidationError, AttributeError) as exc:
            raise ChannelError(f"unreadable per-order results: {exc}", raw=raw) from exc

    def check_remote_batch(self, remote_batch_id: str) -> RemoteBatchResult:
        """The state of an async batch at the marketplace."""
        response, raw = self._call("GET", f"orders/status-updates/batches/{remote_batch_id}")
        body = self._json(response, raw)
        status = body.get("status") if isinstance(body, dict) else None
        if status not in ("processing", "completed", "failed"):
            raise ChannelError(f"batch {remote_batch_id}: unknown status {status!r}", raw=raw)
        results = self._results(body.get("results") or [], raw) if status == "completed" else ()
        return RemoteBatchResult(
            remote_batch_id=remote_batch_id,
            status=status,
            results=results,
            message=body.get("failure_reason") or "",
            raw=raw,
        )

    def update_cancellation_request(
        self, decision: CancellationRequestDecision
    ) -> CancellationRequestUpdateResult:
        """Approve or reject a request; a refusal (unknown, already decided) is a FAIL."""
        body = {
            "status": "approved" if decision.approved else "rejected",
            "reason_code": decision.reason,
            "note": decision.note,
        }
        response, raw = self._call(
            "PATCH",
            f"cancellation-requests/{decision.remote_id}",
            body=body,
            # Deciding the same way twice answers the same: replays are harmless.
            idempotent_write=True,
            accept=(404, 409, 422),
        )
        if response.status_code >= 400:
            return CancellationRequestUpdateResult(
                remote_id=decision.remote_id,
                status="FAIL",
                message=self._error_detail(response),
                raw=raw,
            )
        return CancellationRequestUpdateResult(
            remote_id=decision.remote_id, status="SUCCESS", raw=raw
        )
