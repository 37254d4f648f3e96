"""The batch requests table: filters, quick status groups and the stale highlight."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QObject
from PySide6.QtGui import QColor

from gui.models.badges import ATTENTION_BACKGROUND, BATCH_STATUS_KINDS
from gui.models.formatting import format_age, format_span, format_time
from gui.models.lazy import Column, LazyTableModel
from gui.models.origin import ORIGIN_KINDS, ORIGIN_TIPS
from service.store import BatchMirror, Store
from service.store_records import Origin

# The quick filters' status groups; None = every status. "with-failures" is every
# status too, narrowed to batches holding failed objects (BatchQuery.with_failures).
STATUS_GROUPS: dict[str, tuple[str, ...] | None] = {
    "all": None,
    "progress": ("initialized", "commit", "sent_to_remote", "ongoing"),
    "done": ("done",),
    "failed": ("fail",),
    "with-failures": None,
}
# States a batch should leave soon; sitting in one for long means something is stuck.
PENDING_STATUSES: frozenset[str] = frozenset(STATUS_GROUPS["progress"] or ())
DEFAULT_STALE_AFTER = timedelta(minutes=60)


@dataclass(frozen=True)
class BatchQuery:
    """The filters and order of the batches table (the arguments of ``list_batches``)."""

    statuses: tuple[str, ...] | None = None
    content_type: str | None = None
    flow: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # Only batches holding failed objects (a "done" batch may hold many).
    with_failures: bool = False
    # Only this profile's batches ("local") or those mirrored from Omnitron ("remote").
    origin: Origin | None = None
    order_by: str = "created_at"
    descending: bool = True

    def filters(self) -> dict[str, object]:
        """The keyword arguments both ``list_batches`` and ``count_batches`` take."""
        return {
            "statuses": self.statuses,
            "content_type": self.content_type,
            "flow": self.flow,
            "since": self.since,
            "until": self.until,
            "with_failures": self.with_failures,
            "origin": self.origin,
        }

    def admits(self, batch: BatchMirror) -> bool:
        """Whether ``batch`` passes these filters."""
        if self.statuses is not None and batch.status not in self.statuses:
            return False
        if self.with_failures and not batch.failed_count:
            return False
        if self.content_type is not None and batch.content_type != self.content_type:
            return False
        if self.flow is not None and batch.flow != self.flow:
            return False
        if self.origin is not None and batch.origin != self.origin:
            return False
        created = batch.created_at
        if created is not None and self.since is not None and created < self.since:
            return False
        return not (created is not None and self.until is not None and created >= self.until)


def _flow_text(batch: BatchMirror) -> str:
    """The batch's flow; ``remote`` for one another deployment opened (mirrored)."""
    if batch.origin == "remote":
        return "remote"
    return batch.flow or ""


def _last_change(batch: BatchMirror) -> datetime | None:
    return batch.last_transition_at or batch.created_at


BATCH_COLUMNS: tuple[Column, ...] = (
    # A batch another deployment opened has no flow here: it says so instead.
    Column("Flow", _flow_text, sort_key="flow", tooltip=lambda b: ORIGIN_TIPS[b.origin]),
    # Ascending age is descending creation time.
    Column(
        "Age",
        lambda b: format_age(b.created_at),
        sort_key="created_at",
        reversed_sort=True,
        tooltip=lambda b: f"Created {format_time(b.created_at)}" if b.created_at else None,
    ),
    Column("Objects", lambda b: str(b.object_count), numeric=True),
    Column("Failed", lambda b: str(b.failed_count) if b.failed_count else "", numeric=True),
    Column("Status", lambda b: b.status, sort_key="status", badge=lambda b: _status_kind(b)),
    Column(
        "Last transition",
        lambda b: format_time(b.last_transition_at),
        sort_key="last_transition_at",
    ),
    Column("Content type", lambda b: b.content_type or "", sort_key="content_type"),
    Column("Created", lambda b: format_time(b.created_at), sort_key="created_at"),
    # Ids last: long, and read only to match a batch with Omnitron or the channel.
    Column("Id", lambda b: str(b.pk), sort_key="pk", numeric=True),
    Column("Local batch id", lambda b: b.local_batch_id, tooltip=lambda b: b.local_batch_id),
    Column("Remote batch id", lambda b: b.remote_batch_id or ""),
    Column("Origin", lambda b: b.origin, badge=lambda b: ORIGIN_KINDS[b.origin]),
)
# Behind the header's column menu by default (Flow and Age say as much).
BATCH_HIDDEN_COLUMNS: tuple[str, ...] = ("Content type", "Created", "Origin")


def _status_kind(batch: BatchMirror) -> str:
    return BATCH_STATUS_KINDS.get(batch.status, "neutral")


class BatchesModel(LazyTableModel):
    """Batch mirrors matching a :class:`BatchQuery`, newest first by default."""

    def __init__(
        self, store: Store, query: BatchQuery | None = None, parent: QObject | None = None
    ) -> None:
        """A model over the batch mirrors of ``store``."""
        super().__init__(store, BATCH_COLUMNS, query or BatchQuery(), parent=parent)
        self._stale_after = DEFAULT_STALE_AFTER

    @property
    def stale_after(self) -> timedelta:
        """How long a batch may sit in a pending status before it is highlighted."""
        return self._stale_after

    @stale_after.setter
    def stale_after(self, value: timedelta) -> None:
        self._stale_after = value
        if self._rows:
            last = self.index(len(self._rows) - 1, len(self.columns) - 1)
            self.dataChanged.emit(self.index(0, 0), last)

    def is_stale(self, batch: BatchMirror, now: datetime | None = None) -> bool:
        """Whether ``batch`` has been pending (not yet sent on or finished) for too long."""
        changed = _last_change(batch)
        if batch.status not in PENDING_STATUSES or changed is None:
            return False
        return (now or datetime.now(UTC)) - changed > self._stale_after

    def background(self, record: BatchMirror) -> QColor | None:
        """Amber for a stale batch."""
        return ATTENTION_BACKGROUND if self.is_stale(record) else None

    def row_tooltip(self, record: BatchMirror) -> str | None:
        """Why a stale batch is highlighted."""
        if not self.is_stale(record):
            return None
        changed = _last_change(record)
        pending = format_span(datetime.now(UTC) - changed) if changed else "?"
        limit = int(self._stale_after.total_seconds() // 60)
        return f"In {record.status} for {pending} (longer than {limit} min): is it stuck?"

    def fetch_rows(
        self, store: Store, query: BatchQuery, offset: int, limit: int
    ) -> list[BatchMirror]:
        """One page of batches."""
        return store.list_batches(
            **query.filters(),  # type: ignore[arg-type]
            order_by=query.order_by,
            descending=query.descending,
            limit=limit,
            offset=offset,
        )

    def count_rows(self, store: Store, query: BatchQuery) -> int:
        """How many batches match."""
        return store.count_batches(**query.filters())  # type: ignore[arg-type]

    def count_key(self, query: BatchQuery) -> Hashable:
        """The filters alone."""
        return replace(query, order_by="created_at", descending=True)

    def ordered(self, query: BatchQuery, sort_key: str, descending: bool) -> BatchQuery:
        """``query`` in a new order."""
        return replace(query, order_by=sort_key, descending=descending)

    def sort_state(self) -> tuple[str | None, bool]:
        """The current order."""
        return self.query.order_by, self.query.descending

    def record_id(self, record: BatchMirror) -> int:
        """The batch's pk."""
        return record.pk
