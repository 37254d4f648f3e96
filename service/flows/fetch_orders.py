"""fetch-orders (fetch_and_create_order): new channel orders into Omnitron.

The main thread reads the channel's order stream and hands orders to a small pool
of workers (``run.options.workers``), never more than twice that many in flight, so
memory stays flat however many orders arrive. Orders go out in windows: before a
window is handed out, the product pks of all its SKUs and the order integration
actions of all its orders are fetched in bulk (an order already linked costs no
request of its own). The worker that finishes a window's last order commits the
objects of the whole window on the batch in one PATCH; a batch request holds at most
``options.max_batch_objects`` objects, then the next window opens a new one, so no
answer grows with the run.

Orders parked by earlier runs (they failed on the Omnitron side: unknown city,
unmapped SKU, ..., or Omnitron kept failing their calls while it answered others)
are retried first. Only an outage (the client's circuit breaker opened) stops the
run; the orders not yet recorded stay ahead of the cursor. Each failure is one
error report; the same failure of the same order on a later run touches that report
instead of writing another. The fetch cursor moves only past a contiguous prefix of
orders whose outcome is recorded (a created order: once its window is committed), so
a crash or a cancel never skips an order.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import ValidationError

from service.causes import Cause
from service.channel.adapter import Fetched
from service.channel.models import ChannelOrder
from service.flows.batch import RollingBatch
from service.flows.orders.create_order import OrderCreator, Outcome
from service.flows.orders.errors import OrderRejected
from service.flows.orders.lookups import OrderLookups
from service.flows.run import FlowRun
from service.omnitron.errors import OmnitronOutage, OmnitronUnavailable
from service.omnitron.models import BatchObject, IntegrationAction
from service.omnitron.models.batch import FailedReasonType
from service.store import ParkedItem

# Orders read ahead of the workers: their SKUs and links are looked up in bulk, and
# their objects committed in one PATCH.
MIN_WINDOW = 25
# Channel ids of the stream remembered as settled in this run: a feed lists an order
# again near where it first did (the cursor's overlap), not a whole run later.
HANDLED_MEMORY = 10_000


class _Status(Enum):
    RECORDED = "recorded"  # created, linked, skipped, or its failure reported/parked
    NOT_STARTED = "not_started"  # stopped (cancel, crash) before it began


class _Window:
    """Orders handed out together: the last of them to finish commits them all."""

    def __init__(self, size: int, batches: RollingBatch) -> None:
        self._left = size
        self._batches = batches
        self._lock = threading.Lock()
        self._orders: list[tuple[BatchObject, ...]] = []
        self._after: list[Callable[[], None]] = []
        self.settled = size == 0

    def finish(
        self, objects: tuple[BatchObject, ...] = (), after: Callable[[], None] | None = None
    ) -> None:
        """One order of the window is over; ``after`` runs once its objects are committed."""
        with self._lock:
            if objects:
                self._orders.append(objects)
            if after is not None:
                self._after.append(after)
            self._left -= 1
            if self._left > 0:
                return
            orders, after_ = self._orders, self._after
            self._orders, self._after = [], []
        if orders:
            self._batches.commit(orders)
        for hook in after_:
            hook()
        self.settled = True


@dataclass
class _Slot:
    """One stream record in flight; the cursor may pass it once it is recorded."""

    cursor: datetime | None
    future: Future[_Status]
    window: _Window


def fetch_orders(run: FlowRun) -> None:
    """Bring new channel orders into Omnitron on the run's batch requests, finished ``done``."""
    batches = run.rolling_batch()
    lookups = OrderLookups(run.omnitron, run.channel_info, aliases=run.store)
    with _Pipeline(run, OrderCreator(run, lookups), lookups, batches) as pipeline:
        pipeline.retry_parked()
        pipeline.fetch_new()
    batches.done()


def retry_orders(run: FlowRun, orders: list[ChannelOrder]) -> None:
    """Create ``orders`` (failed earlier) on their own batch request, finished ``done``.

    The same per-order path as a normal run: a parked order that goes in is unparked,
    and every order that goes in resolves its failure reports. The feed is not read.
    """
    batches = run.rolling_batch()
    lookups = OrderLookups(run.omnitron, run.channel_info, aliases=run.store)
    with _Pipeline(run, OrderCreator(run, lookups), lookups, batches) as pipeline:
        pipeline.retry(orders)
    batches.done()


class _Pipeline:
    """Streams orders to the worker pool and keeps the cursor behind finished work."""

    def __init__(
        self, run: FlowRun, creator: OrderCreator, lookups: OrderLookups, batches: RollingBatch
    ) -> None:
        self._run = run
        self._flow = run.flow.value
        self._creator = creator
        self._lookups = lookups
        self._batches = batches
        workers = run.options.workers
        self._bound = 2 * workers
        self._window = max(MIN_WINDOW, 4 * workers)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch-orders")
        self._in_flight: set[Future[_Status]] = set()
        self._by_number: dict[str, Future[_Status]] = {}
        # Channel ids settled in this run: parked and retried ones, and the stream's
        # recent ones (a feed may list an order twice); bounded, so memory stays flat.
        self._handled: _RecentKeys = _RecentKeys(HANDLED_MEMORY)
        self._parked: set[str] = set()
        self._slots: deque[_Slot] = deque()
        self._stopping = False
        self._total: int | None = None

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        # On any failure, queued orders are dropped and running ones end at their
        # next step; what finished is still committed and behind the cursor.
        self._stopping = exc_type is not None
        self._pool.shutdown(wait=True, cancel_futures=exc_type is not None)

    # -- the two sources -----------------------------------------------------------------

    def retry_parked(self) -> None:
        """Retry the orders earlier runs parked (the operator may have fixed a mapping)."""
        items = self._run.store.parked(self._flow)
        if not items:
            return
        self._run.ctx.event("orders.parked", "", f"Retrying {len(items)} parked orders.")
        orders: list[ChannelOrder] = []
        for item in items:
            self._parked.add(item.remote_id)
            try:
                orders.append(ChannelOrder.model_validate(item.payload))
            except ValidationError:
                # Not an order we can read any more (an older format): nothing to retry.
                self._run.store.unpark(self._flow, item.remote_id)
        self._create_all(orders)

    def retry(self, orders: list[ChannelOrder]) -> None:
        """Create these failed orders again (the operator fixed their cause)."""
        self._parked.update(self._run.store.parked_keys(self._flow))
        self._run.ctx.event("orders.retry", "", f"Retrying {len(orders)} failed orders.")
        self._create_all(orders)
        self._run.ctx.check_cancelled()

    def _create_all(self, orders: list[ChannelOrder]) -> None:
        self._total = len(orders)
        for start in range(0, len(orders), self._window):
            part = orders[start : start + self._window]
            actions = self._look_ahead(part)
            window = _Window(len(part), self._batches)
            for order in part:
                self._handled.add(order.remote_id, keep=True)
                task = self._order_task(order, None, actions.get(order.remote_id), window)
                self._submit(order.number, None, task, window)
        self._drain()
        self._total = None

    def fetch_new(self) -> None:
        """Stream the channel's new orders since the cursor and create each."""
        cursor = self._run.store.get_cursor(self._flow)
        since = datetime.fromisoformat(cursor) if cursor else None
        window: list[Fetched[ChannelOrder]] = []
        for fetched in self._run.channel.fetch_new_orders(since=since):
            if self._run.ctx.cancel.cancelled:
                break
            window.append(fetched)
            if len(window) >= self._window:
                self._hand_out(window)
                window = []
        if window and not self._run.ctx.cancel.cancelled:
            self._hand_out(window)
        self._drain()
        self._run.ctx.check_cancelled()

    # -- handing out and collecting ---------------------------------------------------------

    def _look_ahead(self, orders: list[ChannelOrder]) -> dict[str, IntegrationAction]:
        """Map a window's SKUs and find its linked orders: a few requests for all of it."""
        self._lookups.prefetch_products(_skus(orders))
        return self._run.omnitron.order_actions(order.remote_id for order in orders)

    def _hand_out(self, fetched_window: list[Fetched[ChannelOrder]]) -> None:
        actions = self._look_ahead([f.item for f in fetched_window if f.item is not None])
        window = _Window(len(fetched_window), self._batches)
        for fetched in fetched_window:
            if self._run.ctx.cancel.cancelled:
                # The rest of the window never starts: the cursor stays before it.
                window.finish()
                continue
            key = fetched.remote_id or fetched.number
            if fetched.item is not None:
                key = fetched.item.remote_id
            if key in self._handled:
                # Already settled in this run (a parked order the channel listed again).
                done: Future[_Status] = Future()
                done.set_result(_Status.RECORDED)
                window.finish()
                self._slots.append(_Slot(fetched.cursor, done, window))
                continue
            self._handled.add(key)
            if fetched.item is None:
                task = self._parse_failure_task(fetched, window)
            else:
                task = self._order_task(
                    fetched.item, fetched, actions.get(fetched.item.remote_id), window
                )
            self._submit(fetched.number or key, fetched.cursor, task, window, tracked=True)

    def _submit(
        self,
        number: str,
        cursor: datetime | None,
        task: Callable[[], _Status],
        window: _Window,
        *,
        tracked: bool = False,
    ) -> None:
        # Orders sharing a number go in stream order: the first one wins the number.
        previous = self._by_number.get(number)
        if previous is not None and not previous.done():
            self._wait([previous])
        while len(self._in_flight) >= self._bound:
            self._wait(self._in_flight, FIRST_COMPLETED)
        future = self._pool.submit(task)
        self._in_flight.add(future)
        self._by_number[number] = future
        if tracked:
            self._slots.append(_Slot(cursor, future, window))

    def _wait(self, futures: Iterable[Future[_Status]], how: str = "ALL_COMPLETED") -> None:
        done, _ = wait(list(futures), return_when=how)
        self._collect(done)

    def _drain(self) -> None:
        while self._in_flight:
            self._wait(self._in_flight, FIRST_COMPLETED)

    def _collect(self, done: Iterable[Future[_Status]]) -> None:
        for future in done:
            self._in_flight.discard(future)
            future.result()  # a task's own failure is the run's failure: raise it here
        for number in [n for n, f in self._by_number.items() if f.done()]:
            del self._by_number[number]
        self._advance_cursor()

    def _advance_cursor(self) -> None:
        moved: datetime | None = None
        while self._slots and self._slots[0].future.done():
            slot = self._slots.popleft()
            if slot.future.result() is not _Status.RECORDED or not slot.window.settled:
                # Stopped before it began, or its window is not committed yet: the
                # cursor stays before it.
                self._slots.appendleft(slot)
                break
            moved = slot.cursor or moved
        if moved is not None:
            self._run.store.set_cursor(self._flow, moved.isoformat())

    # -- the work of one record (worker threads) ---------------------------------------------

    def _order_task(
        self,
        order: ChannelOrder,
        fetched: Fetched[ChannelOrder] | None,
        action: IntegrationAction | None,
        window: _Window,
    ) -> Callable[[], _Status]:
        def task() -> _Status:
            if self._stopping or self._run.ctx.cancel.cancelled:
                window.finish()
                return _Status.NOT_STARTED
            try:
                objects, after = self._create(order, fetched, action)
            except Exception:
                # This order fails the run; the others of its window that went in are
                # committed all the same. (Only the process going down commits nothing.)
                window.finish()
                raise
            window.finish(objects, after)
            self._progress(order.number)
            return _Status.RECORDED

        return task

    def _parse_failure_task(
        self, fetched: Fetched[ChannelOrder], window: _Window
    ) -> Callable[[], _Status]:
        def task() -> _Status:
            if self._stopping or self._run.ctx.cancel.cancelled:
                window.finish()
                return _Status.NOT_STARTED
            subject = fetched.number or fetched.remote_id
            try:
                # The channel's record itself is wrong: only the channel can fix it.
                self._fail(
                    subject,
                    fetched.error,
                    command="GetOrders",
                    side="channel",
                    raw=fetched.raw,
                    payload=dict(fetched.payload),
                )
            except Exception:
                window.finish()
                raise
            window.finish()
            self._progress(subject)
            return _Status.RECORDED

        return task

    def _create(
        self,
        order: ChannelOrder,
        fetched: Fetched[ChannelOrder] | None,
        action: IntegrationAction | None,
    ) -> tuple[tuple[BatchObject, ...], Callable[[], None] | None]:
        """Create one order; return its objects to commit and what follows the commit."""
        run = self._run
        try:
            result = self._creator.create(order, action)
        except OmnitronOutage:
            raise  # Omnitron is down for everyone: the run stops, the order stays ahead
        except OmnitronUnavailable as exc:
            # This order's calls kept failing while others went through: park it, so
            # the next run tries again (it finds the order if the create had landed).
            self._report_fetched(order, fetched)
            self._reject(order, _transient(order, exc))
            return (), None
        except OrderRejected as exc:
            self._report_fetched(order, fetched)
            self._reject(order, exc)
            return (), None
        # In Omnitron now: earlier failures of this order are resolved.
        run.reporter.resolved(order.number)
        if result.outcome is Outcome.SKIPPED:
            # Already in Omnitron (the channel lists the cursor's order again): no news,
            # and no report, so a run with nothing new opens no batch request.
            run.tally.add(skipped=1)
            self._unpark(order)
            return (), None
        self._report_fetched(order, fetched)

        def committed() -> None:
            run.tally.add(created=1)
            run.ctx.event(
                "order.committed",
                order.number,
                f"Order {order.number} and its items are on the batch.",
            )
            self._unpark(order)

        return result.objects, committed

    def _unpark(self, order: ChannelOrder) -> None:
        if order.remote_id in self._parked:
            self._run.store.unpark(self._flow, order.remote_id)
            self._run.ctx.event(
                "order.unparked", order.number, f"Parked order {order.number} went in."
            )

    def _report_fetched(self, order: ChannelOrder, fetched: Fetched[ChannelOrder] | None) -> None:
        """The success report of an order read from the channel (none for a retried one)."""
        if fetched is not None:
            self._run.reporter.success(
                command="GetOrders",
                side="channel",
                subject=order.number,
                description=f"order {order.number}: fetched from the channel",
                raw=fetched.raw,
                modified_date=order.created_at,
            )

    def _reject(self, order: ChannelOrder, exc: OrderRejected) -> None:
        """Report an order that could not be created; park it when a later run may."""
        run = self._run
        report_id = self._fail(
            order.number,
            exc.description,
            command="CreateOrder",
            side="omnitron",
            raw=exc.raw,
            payload=order.model_dump(mode="json"),
            cause=exc.cause,
            cause_value=exc.value,
            # A parked order that still cannot go in waits on: not a new failure.
            waiting=exc.retryable and order.remote_id in self._parked,
        )
        if exc.retryable:
            run.store.park(
                ParkedItem(
                    flow=self._flow,
                    remote_id=order.remote_id,
                    subject=order.number,
                    payload=order.model_dump(mode="json"),
                    reason=exc.description,
                    error_report_id=report_id,
                )
            )
        elif order.remote_id in self._parked:
            run.store.unpark(self._flow, order.remote_id)

    def _fail(
        self,
        subject: str,
        description: str,
        *,
        command: str,
        side: str,
        raw: Any,
        payload: Any,
        waiting: bool = False,
        cause: Cause | None = None,
        cause_value: str = "",
    ) -> int:
        """One report per distinct failure of a subject: a repeat touches the first one.

        Without ``cause`` (a record the channel sent unreadable) the cause is read from
        the description: a missing e-mail, a malformed amount.
        """
        run = self._run
        if waiting:
            run.tally.add(waiting=1)
        else:
            run.tally.add(failed=1)
        return run.reporter.failure(
            once=True,
            command=command,
            side="channel" if side == "channel" else "omnitron",
            subject=subject,
            description=description,
            raw=raw,
            raw_payload=payload,
            content_type="order",
            cause=cause,
            cause_value=cause_value,
        )

    def _progress(self, subject: str) -> None:
        self._run.ctx.progress(self._run.tally.done, self._total, current=f"order {subject}")


def _transient(order: ChannelOrder, exc: OmnitronUnavailable) -> OrderRejected:
    return OrderRejected(
        f"order {order.number}: Omnitron did not answer in time ({exc}); "
        "the order is parked and the next run tries again",
        cause=Cause.NETWORK,
        raw=exc.exchange,
        reason=FailedReasonType.CHANNEL_APP,
    )


def _skus(orders: Iterable[ChannelOrder]) -> list[str]:
    return [line.product for order in orders for line in order.lines]


class _RecentKeys:
    """A set that forgets its oldest keys beyond ``limit``, except those kept for good."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._kept: set[str] = set()

    def __contains__(self, key: object) -> bool:
        return key in self._kept or key in self._recent

    def add(self, key: str, *, keep: bool = False) -> None:
        """Remember ``key``; ``keep`` never forgets it (parked and retried orders)."""
        if keep:
            self._kept.add(key)
            return
        self._recent[key] = None
        if len(self._recent) > self._limit:
            self._recent.popitem(last=False)
