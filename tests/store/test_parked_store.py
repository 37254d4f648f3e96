"""The store's parked records: every flow's listing, counts, keys and the retry queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.store import ParkedItem, Store

T0 = datetime(2020, 1, 6, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def _park(store: Store, flow: str, key: str, parked: int, tried: int | None = None) -> None:
    store.park(
        ParkedItem(
            flow=flow,
            remote_id=key,
            first_seen_at=T0 + timedelta(minutes=parked),
            last_seen_at=T0 + timedelta(minutes=parked if tried is None else tried),
        )
    )


def test_lists_every_flow_oldest_first_and_counts(store: Store) -> None:
    _park(store, "fetch-cancels", "c2", parked=20)
    _park(store, "fetch-item-updates", "l1", parked=10)
    _park(store, "fetch-cancels", "c1", parked=30)

    assert [p.remote_id for p in store.parked()] == ["l1", "c2", "c1"]
    assert [p.remote_id for p in store.parked(limit=2, offset=1)] == ["c2", "c1"]
    assert [p.remote_id for p in store.parked("fetch-cancels")] == ["c2", "c1"]
    assert (store.count_parked(), store.count_parked("fetch-cancels")) == (3, 2)
    assert store.parked_keys("fetch-cancels") == {"c1", "c2"}


def test_retry_queue_takes_the_least_recently_tried_first(store: Store) -> None:
    _park(store, "fetch-item-updates", "old-tried-now", parked=0, tried=100)
    _park(store, "fetch-item-updates", "new", parked=50)
    _park(store, "fetch-item-updates", "old-tried-before", parked=5, tried=60)
    _park(store, "fetch-cancels", "other-flow", parked=1)

    queue = store.retry_queue("fetch-item-updates", limit=2)

    assert [p.remote_id for p in queue] == ["new", "old-tried-before"]
    # Parking again (a retry that still waits) moves it to the back, age kept.
    store.park(ParkedItem(flow="fetch-item-updates", remote_id="new"))
    again = store.retry_queue("fetch-item-updates", limit=3)
    assert [p.remote_id for p in again] == ["old-tried-before", "old-tried-now", "new"]
    assert (again[-1].attempts, again[-1].first_seen_at) == (2, T0 + timedelta(minutes=50))
