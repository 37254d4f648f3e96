"""The simulator's state: tables, tokens, the lock every request holds, time-driven progress."""

from __future__ import annotations

import heapq
import random
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from service.sandbox.clock import SimClock
from service.sandbox.omnitron.config import OmnitronSimConfig
from service.sandbox.omnitron.formats import iso, parse_datetime
from service.sandbox.omnitron.schema import Tables
from service.sandbox.omnitron.seeding import seed_tables
from service.sandbox.omnitron.store import Row, Store
from service.sandbox.seed import load_seed

# How long after creation an order moves on (approved → preparing → shipped → delivered).
PREPARING_AFTER = timedelta(minutes=30)
SHIPPED_AFTER = timedelta(hours=2)
DELIVERED_AFTER = timedelta(days=1)
STATUS_CANCELLED = "100"
STATUS_APPROVED = "400"
STATUS_PREPARING = "450"
STATUS_SHIPPED = "500"
STATUS_DELIVERED = "550"
# status → (next status, time after creation at which it is reached)
PROGRESSION: dict[str, tuple[str, timedelta]] = {
    STATUS_APPROVED: (STATUS_PREPARING, PREPARING_AFTER),
    STATUS_PREPARING: (STATUS_SHIPPED, SHIPPED_AFTER),
    STATUS_SHIPPED: (STATUS_DELIVERED, DELIVERED_AFTER),
}
_TICK = timedelta(microseconds=1)


class SimState:
    """Everything a request handler works on. Hold :meth:`transaction` while touching it."""

    def __init__(self, config: OmnitronSimConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.store = Store(config.data_dir)
        self.tables = Tables(self.store)
        # One lock for the whole state: uvicorn runs sync handlers on a thread pool.
        self.lock = threading.RLock()
        self.tokens: set[str] = set()
        self._last_stamp = clock.now()
        if len(self.tables.channels) == 0:
            seed_tables(self.tables, load_seed(), config, clock.now())
            self.store.flush()
        # Orders by next transition time, so progress costs nothing when nothing is due.
        self._due: list[tuple[datetime, int]] = []
        for order in self.tables.orders.rows():
            self.schedule(order)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Serialise a request: apply due progress first, persist its writes after."""
        with self.lock:
            self.progress()
            try:
                yield
            finally:
                self.store.flush()

    def stamp(self) -> datetime:
        """The current time, strictly later than any stamp handed out before."""
        now = self.clock.now()
        if now <= self._last_stamp:
            now = self._last_stamp + _TICK
        self._last_stamp = now
        return now

    def stamp_iso(self) -> str:
        """:meth:`stamp` in the wire format."""
        return iso(self.stamp())

    def issue_token(self) -> str:
        """A new random token (random, so a token from before a restart never matches)."""
        token = secrets.token_hex(20)
        self.tokens.add(token)
        return token

    def rng(self, *parts: object) -> random.Random:
        """A generator determined by the config seed and ``parts`` (e.g. a kind and a pk)."""
        return random.Random(":".join(str(p) for p in (self.config.seed, *parts)))

    # --- time-driven order progress ---------------------------------------------------

    def schedule(self, order: Row) -> None:
        """Queue the order's next status change, if it has one."""
        if not self.config.progress_orders:
            return
        step = PROGRESSION.get(order["status"])
        created = parse_datetime(order["created_date"])
        if step is None or created is None:
            return
        heapq.heappush(self._due, (created + step[1], order["pk"]))

    def progress(self) -> None:
        """Apply every status change that is due by the simulated clock."""
        if not self._due:
            return
        now = self.clock.now()
        while self._due and self._due[0][0] <= now:
            due, pk = heapq.heappop(self._due)
            order = self.tables.orders.get(pk)
            if order is None:
                continue
            step = PROGRESSION.get(order["status"])
            created = parse_datetime(order["created_date"])
            if step is None or created is None or created + step[1] != due:
                continue  # cancelled or changed by hand meanwhile: a stale entry
            self._advance(order, step[0], due)
            self.schedule(order)

    def _advance(self, order: Row, status: str, due: datetime) -> None:
        previous = parse_datetime(order["modified_date"]) or due
        # The change happened at its due time; never earlier than the last modification.
        moment = iso(max(due, previous + _TICK))
        changes: dict[str, object] = {"status": status, "modified_date": moment}
        tracking = order.get("tracking_number")
        if status == STATUS_SHIPPED and not tracking:
            tracking = self.tracking_number(order["pk"])
            changes["tracking_number"] = tracking
        self.tables.orders.update(order["pk"], changes)
        for pk in sorted(self.tables.order_items.lookup("order", order["pk"])):
            item = self.tables.order_items.get(pk)
            if item is None or item["status"] == STATUS_CANCELLED:
                continue
            item_changes: dict[str, object] = {"status": status, "modified_date": moment}
            if status == STATUS_SHIPPED and not item.get("tracking_number"):
                item_changes["tracking_number"] = tracking
            if status == STATUS_DELIVERED:
                item_changes["delivered_date"] = moment
            self.tables.order_items.update(pk, item_changes)

    def tracking_number(self, order_pk: int) -> str:
        """The cargo tracking number an order gets when it ships (deterministic)."""
        return f"SIM{self.rng('tracking', order_pk).randrange(10**9, 10**10)}"

    def close(self) -> None:
        """Flush and close the database."""
        with self.lock:
            self.store.close()
