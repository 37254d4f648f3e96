"""The contract between the order flows and a sales channel.

A flow talks to a channel only through :class:`ChannelAdapter`. Listings are
iterators of :class:`Fetched` results: a record that the adapter could not turn into
a DTO comes out as a failure with its raw data (the flow writes an error report and
goes on), never as an exception. Only transport-level failures that survived the
retries raise :class:`ChannelError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from service.channel.models import (
    CancellationRequestDecision,
    CancellationRequestUpdateResult,
    ChannelCancel,
    ChannelCancellationRequest,
    ChannelLineUpdate,
    ChannelOrder,
    OrderStatusUpdate,
    RemoteBatchResult,
    SendResult,
)
from service.net.exchange import RawExchange

T = TypeVar("T")
# Answers that say the channel cannot serve anyone now, whatever the request.
OUTAGE_STATUS_CODES = frozenset({401, 403, 408, 429})


class ChannelError(Exception):
    """The channel could not be reached or refused a whole request (after retries)."""

    def __init__(
        self, message: str, *, raw: RawExchange | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.raw = raw
        self.status_code = status_code

    @property
    def is_outage(self) -> bool:
        """Whether the channel as a whole is unusable: no answer, auth, rate limit, 5xx.

        A flow stops on an outage instead of waiting out the retries once per item.
        """
        status = self.status_code
        if status is None:
            # No status: either no answer at all, or an answer that could not be read.
            return self.raw is None or self.raw.status_code is None
        return status in OUTAGE_STATUS_CODES or status >= 500


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """One record of a channel listing: a parsed ``item`` or a readable ``error``.

    Always carries the redacted ``raw`` exchange (the page request, and as response
    only this record's JSON) and the record's ``payload`` as received. ``remote_id``
    and ``number`` are filled whenever the payload has them, also for failures.
    ``cursor`` is the record's position in its listing (its creation time): a caller
    moves its fetch cursor only past records it has recorded.
    """

    raw: RawExchange
    payload: Mapping[str, Any]
    item: T | None = None
    error: str = ""
    remote_id: str = ""
    number: str = ""
    cursor: datetime | None = None

    def __post_init__(self) -> None:
        if (self.item is None) == (not self.error):
            raise ValueError("a Fetched result has either an item or an error")
        # The payload is evidence for an error report: keep it read-only.
        object.__setattr__(self, "payload", MappingProxyType(dict(self.payload)))

    @property
    def ok(self) -> bool:
        """Whether the record parsed."""
        return self.item is not None


@runtime_checkable
class ChannelAdapter(Protocol):
    """What the order flows need from a sales channel."""

    def fetch_new_orders(self, since: datetime | None) -> Iterator[Fetched[ChannelOrder]]:
        """Orders created at or after ``since`` (all when ``None``), oldest first."""
        ...

    def fetch_cancelled_orders(self, since: datetime | None) -> Iterator[Fetched[ChannelCancel]]:
        """Cancellations recorded at or after ``since``, oldest first."""
        ...

    def fetch_line_updates(self, since: datetime | None) -> Iterator[Fetched[ChannelLineUpdate]]:
        """Line changes (status, invoice, tracking) at or after ``since``, oldest first."""
        ...

    def fetch_cancellation_requests(
        self, since: datetime | None
    ) -> Iterator[Fetched[ChannelCancellationRequest]]:
        """Customers' cancellation/refund requests made at or after ``since``."""
        ...

    def send_updated_orders(
        self, updates: Iterable[OrderStatusUpdate], *, sync: bool
    ) -> SendResult:
        """Send order status updates: per-order results (sync) or a remote batch id (async)."""
        ...

    def check_remote_batch(self, remote_batch_id: str) -> RemoteBatchResult:
        """The state of an async batch: processing, completed with results, or failed."""
        ...

    def update_cancellation_request(
        self, decision: CancellationRequestDecision
    ) -> CancellationRequestUpdateResult:
        """Approve or reject a customer's cancellation request."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
