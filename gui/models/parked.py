"""The parked records table: channel work waiting for its order in Omnitron."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QObject

from gui.models.formatting import format_age, format_time
from gui.models.lazy import Column, LazyTableModel
from service.store import ParkedItem, Store

# From these ages on a parked record stands out: it may wait for a fix, not for a run.
WARN_AFTER = timedelta(days=1)
ALARM_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class ParkedQuery:
    """Which parked records to list: every flow's, or one flow's."""

    flow: str | None = None


def age_kind(item: ParkedItem, now: datetime | None = None) -> str:
    """The badge of a record's age: ``warning`` after a day, ``danger`` after a week."""
    if item.first_seen_at is None:
        return "neutral"
    age = (now or datetime.now(UTC)) - item.first_seen_at
    if age >= ALARM_AFTER:
        return "danger"
    return "warning" if age >= WARN_AFTER else "neutral"


PARKED_COLUMNS: tuple[Column, ...] = (
    Column("Flow", lambda p: p.flow),
    Column("Subject", lambda p: p.subject, tooltip=lambda p: p.remote_id),
    Column("Age", lambda p: format_age(p.first_seen_at), badge=age_kind),
    Column("Attempts", lambda p: str(p.attempts), numeric=True),
    Column("Last tried", lambda p: format_time(p.last_seen_at)),
    Column("Reason", lambda p: p.reason, tooltip=lambda p: p.reason or None),
)


def parked_id(item: ParkedItem) -> int:
    """A stable number for a record (flow and key), so a refresh keeps the selection."""
    return zlib.crc32(f"{item.flow}\0{item.remote_id}".encode())


class ParkedModel(LazyTableModel):
    """Parked records, oldest first (the order they are waiting in)."""

    def __init__(
        self, store: Store, query: ParkedQuery | None = None, parent: QObject | None = None
    ) -> None:
        """A model over the parked records of ``store``."""
        super().__init__(store, PARKED_COLUMNS, query or ParkedQuery(), parent=parent)

    def fetch_rows(
        self, store: Store, query: ParkedQuery, offset: int, limit: int
    ) -> list[ParkedItem]:
        """One page of parked records."""
        return store.parked(query.flow, limit=limit, offset=offset)

    def count_rows(self, store: Store, query: ParkedQuery) -> int | None:
        """How many records are parked (of the flow)."""
        return store.count_parked(query.flow)

    def record_id(self, record: ParkedItem) -> int:
        """See :func:`parked_id`."""
        return parked_id(record)
