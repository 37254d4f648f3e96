"""Where the mirror stopped, kept in the store's ``cursors`` table.

Only ``sort=-id`` and paging are relied on to find new rows (docs/omnitron-api.md §9),
so the watermarks are ids; the modification date is kept only to ask for changed
batch requests (an optimisation checked row by row, see :mod:`service.mirror.batches`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from service.omnitron.client import omnitron_time
from service.store import Store

BATCHES = "mirror:batch_requests"  # the highest batch-request pk read
REPORTS = "mirror:error_reports"  # the highest error-report id read
BATCHES_MODIFIED = "mirror:batch_requests:modified"  # the latest batch modified_date read
# A batch that changed while a sync read the listing may carry an earlier date than
# one read after it: the next sync asks for changes from this long before the latest.
MODIFIED_MARGIN = timedelta(minutes=15)


def read_id(store: Store, name: str) -> int:
    """The id watermark ``name`` (0 before the first sync)."""
    value = store.get_cursor(name)
    return int(value) if value and value.isdigit() else 0


def write_id(store: Store, name: str, value: int) -> None:
    """Move the id watermark ``name`` up to ``value`` (never down: syncs may overlap)."""
    if value > read_id(store, name):
        store.set_cursor(name, str(value))


def read_since(store: Store) -> datetime | None:
    """From when to ask for changed batch requests (``None``: never asked yet)."""
    latest = omnitron_time(store.get_cursor(BATCHES_MODIFIED))
    return None if latest is None else latest - MODIFIED_MARGIN


def write_modified(store: Store, latest: datetime) -> None:
    """Remember the latest batch modification date read (never moved back)."""
    known = omnitron_time(store.get_cursor(BATCHES_MODIFIED))
    if known is None or latest > known:
        store.set_cursor(BATCHES_MODIFIED, latest.isoformat())
