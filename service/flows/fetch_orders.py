"""fetch-orders (fetch_and_create_order): new channel orders into Omnitron.

The main thread reads the channel's order stream and hands orders to a small pool
of workers (``run.options.workers``), never more than twice that many in flight, so
memory stays flat however many orders arrive. Before a window of orders is handed
out, the product pks of all their SKUs are fetched in one bulk lookup.

Orders parked by earlier runs (they failed on the Omnitron side: unknown city,
unmapped SKU, ..., or Omnitron kept failing their calls while it answered others)
are retried first. Only an outage (the client's circuit breaker opened) stops the
run; the orders not yet recorded stay ahead of the cursor. Each failure is one
error report; the same failure of the same order on a later run touches that report
instead of writing another. The fetch cursor moves only past a contiguous prefix of
orders whose outcome is recorded, so a crash or a cancel never skips an order.
"""

from __future__ import annotations

from collections import deque
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
from service.flows.orders.create_order import OrderCreator, Outcome
from service.flows.orders.errors import OrderRejected
from service.flows.orders.lookups import OrderLookups
from service.flows.run import FlowRun
from service.omnitron.errors import OmnitronOutage, OmnitronUnavailable
from service.omnitron.models.batch import FailedReasonType
from service.store import ParkedItem

# Orders read ahead of the workers: their SKUs are mapped in one bulk request.
MIN_WINDOW = 25


class _Status(Enum):
    RECORDED = "recorded"  # created, linked, skipped, or its failure reported/parked
    NOT_STARTED = "not_started"  # stopped (cancel, crash) before it began


@dataclass
class _Slot:
    """One stream record in flight; the cursor may pass it once it is recorded."""

    cursor: datetime | None
    future: Future[_Status]


def fetch_orders(run: FlowRun) -> None:
    """Bring new channel orders into Omnitron on one batch request, finished ``done``."""
    batch = run.open_batch()
    lookups = OrderLookups(run.omnitron, run.channel_info, aliases=run.store)
    with _Pipeline(run, OrderCreator(run, lookups), lookups) as pipeline:
        pipeline.retry_parked()
        pipeline.fetch_new()
    batch.done()


def retry_orders(run: FlowRun, orders: list[ChannelOrder]) -> None:
    """Create ``orders`` (failed earlier) on their own batch request, finished ``done``.

    The same per-order path as a normal run: a parked order that goes in is unparked,
    and every order that goes in resolves its failure reports. The feed is not read.
    """
    batch = run.open_batch()
    lookups = OrderLookups(run.omnitron, run.channel_info, aliases=run.store)
    with _Pipeline(run, OrderCreator(run, lookups), lookups) as pipeline:
        pipeline.retry(orders)
    batch.done()


class _Pipeline:
    """Streams orders to the worker pool and keeps the cursor behind finished work."""

    def __init__(self, run: FlowRun, creator: OrderCreator, lookups: OrderLookups) -> None:
        self._run = run
        self._flow = run.flow.value
        self._creator = creator
        self._lookups = lookups
        workers = run.options.workers
        self._bound = 2 * workers
        self._window = max(MIN_WINDOW, 4 * workers)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch-orders")
        self._in_flight: set[Future[_Status]] = set()
        self._by_number: dict[str, Future[_Status]] = {}
        self._handled: set[str] = set()  # channel ids settled in this run
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
            window = orders[start : start + self._window]
            self._lookups.prefetch_products(_skus(window))
            for order in window:
                self._handled.add(order.remote_id)
                self._submit(order.number, None, self._order_task(order, None))
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

    def _hand_out(self, window: list[Fetched[ChannelOrder]]) -> None:
        self._lookups.prefetch_products(_skus(f.item for f in window if f.item is not None))
        for fetched in window:
            if self._run.ctx.cancel.cancelled:
                return
            key = fetched.remote_id or fetched.number
            if fetched.item is not None:
                key = fetched.item.remote_id
            if key in self._handled:
                # Already settled in this run (a parked order the channel listed again).
                done: Future[_Status] = Future()
                done.set_result(_Status.RECORDED)
                self._slots.append(_Slot(fetched.cursor, done))
                continue
            self._handled.add(key)
            if fetched.item is None:
                task = self._parse_failure_task(fetched)
            else:
                task = self._order_task(fetched.item, fetched)
            self._submit(fetched.number or key, fetched.cursor, task, tracked=True)

    def _submit(
        self,
        number: str,
        cursor: datetime | None,
        task: Callable[[], _Status],
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
            self._slots.append(_Slot(cursor, future))

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
            if slot.future.result() is not _Status.RECORDED:
                # Stopped before it began: the cursor stays before it for the next run.
                self._slots.appendleft(slot)
                break
            moved = slot.cursor or moved
        if moved is not None:
            self._run.store.set_cursor(self._flow, moved.isoformat())

    # -- the work of one record (worker threads) ---------------------------------------------

    def _order_task(
        self, order: ChannelOrder, fetched: Fetched[ChannelOrder] | None
    ) -> Callable[[], _Status]:
        def task() -> _Status:
            if self._stopping or self._run.ctx.cancel.cancelled:
                return _Status.NOT_STARTED
            self._create(order, fetched)
            self._progress(order.number)
            return _Status.RECORDED

        return task

    def _parse_failure_task(self, fetched: Fetched[ChannelOrder]) -> Callable[[], _Status]:
        def task() -> _Status:
            if self._stopping or self._run.ctx.cancel.cancelled:
                return _Status.NOT_STARTED
            subject = fetched.number or fetched.remote_id
            # The channel's record itself is wrong: only the channel can fix it.
            self._fail(
                subject,
                fetched.error,
                command="GetOrders",
                side="channel",
                raw=fetched.raw,
                payload=dict(fetched.payload),
            )
            self._progress(subject)
            return _Status.RECORDED

        return task

    def _create(self, order: ChannelOrder, fetched: Fetched[ChannelOrder] | None) -> None:
        run = self._run
        try:
            result = self._creator.create(order)
        except OmnitronOutage:
            raise  # Omnitron is down for everyone: the run stops, the order stays ahead
        except OmnitronUnavailable as exc:
            # This order's calls kept failing while others went through: park it, so
            # the next run tries again (it finds the order if the create had landed).
            self._report_fetched(order, fetched)
            self._reject(order, _transient(order, exc))
            return
        except OrderRejected as exc:
            self._report_fetched(order, fetched)
            self._reject(order, exc)
            return
        if result.outcome is Outcome.SKIPPED:
            # Already in Omnitron (the channel lists the cursor's order again): no news,
            # and no report, so a run with nothing new opens no batch request.
            run.tally.add(skipped=1)
        else:
            self._report_fetched(order, fetched)
            run.tally.add(created=1)
        # In Omnitron now: earlier failures of this order are resolved.
        run.reporter.resolved(order.number)
        if order.remote_id in self._parked:
            run.store.unpark(self._flow, order.remote_id)
            run.ctx.event("order.unparked", order.number, f"Parked order {order.number} went in.")

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
