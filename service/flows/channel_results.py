"""The channel's per-order verdicts on an order update, applied to a batch request.

update-orders (sync) gets the verdicts at once; check-batches gets them when the
channel's asynchronous batch completes. Both apply them the same way
(docs/omnitron-api.md §4, §6.1, §6.13):

- each verdict is matched to the order it concerns by the channel order id the update
  carried (fallback: the order number);
- ``FAIL``: the order (and its items, if they were sent) is marked
  ``failed_reason_type="channel_app"`` and a failure report carries the channel's
  message — whether or not successes are logged;
- ``SUCCESS``: counted as updated, a success report when the run logs successes;
- no verdict for an order: ``remote`` plus a report, unless that order's refusal was
  already reported for this batch before it was sent (then ``channel_app``).

Nothing here talks to the channel or finishes the batch: the caller does, once every
verdict is applied, so a stop request never leaves a batch half-applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from service.causes import Cause
from service.channel.models import OrderUpdateResult
from service.flows.batch import Batch
from service.flows.run import FlowRun
from service.net.exchange import RawExchange
from service.omnitron.models.batch import FailedReasonType

ORDER = "order"
ORDER_ITEM = "orderitem"
# The command per-order results are reported under, sync or async alike.
SEND_COMMAND = "SendUpdatedOrders"


@dataclass(frozen=True, slots=True)
class SentOrder:
    """An order that went to the channel as part of an update."""

    pk: int
    remote_id: str
    number: str = ""
    version_date: str | None = None
    item_pks: tuple[int, ...] = ()

    @property
    def subject(self) -> str:
        """How reports and events name the order: its number, else its channel id."""
        return self.number or self.remote_id or str(self.pk)


@dataclass(frozen=True, slots=True)
class ResultCounts:
    """How many orders of an update the channel accepted and refused."""

    updated: int = 0
    failed: int = 0


def match_results(
    orders: Sequence[SentOrder], results: Iterable[OrderUpdateResult]
) -> tuple[list[tuple[SentOrder, OrderUpdateResult | None]], list[OrderUpdateResult]]:
    """Pair each order with its verdict; also return verdicts that match no order.

    A verdict is used once: by channel order id first, then by number.
    """
    unused = list(results)
    by_remote: dict[str, int] = {}
    by_number: dict[str, int] = {}
    for index, result in enumerate(unused):
        if result.remote_id:
            by_remote.setdefault(result.remote_id, index)
        if result.number:
            by_number.setdefault(result.number, index)
    taken: set[int] = set()
    pairs: list[tuple[SentOrder, OrderUpdateResult | None]] = []
    for order in orders:
        index = by_remote.get(order.remote_id)
        if index is None or index in taken:
            index = by_number.get(order.number) if order.number else None
        if index is None or index in taken:
            pairs.append((order, None))
            continue
        taken.add(index)
        pairs.append((order, unused[index]))
    stray = [result for index, result in enumerate(unused) if index not in taken]
    return pairs, stray


def apply_results(
    run: FlowRun,
    session: Batch,
    orders: Sequence[SentOrder],
    results: Iterable[OrderUpdateResult],
    *,
    raw: RawExchange | None,
    items_of: Callable[[SentOrder], Iterable[int]] | None = None,
    reported: Collection[int] = (),
    progress_offset: int = 0,
    progress_total: int | None = None,
) -> ResultCounts:
    """Mark the batch's objects from the channel's verdicts, report and count them.

    ``items_of`` gives the item pks sent with an order (default: ``order.item_pks``);
    it is asked only for failed orders. ``reported`` holds order pks whose refusal was
    already reported for this batch (refused before sending an async batch).
    """
    pairs, stray = match_results(orders, results)
    items = items_of or (lambda order: order.item_pks)
    # Every object is marked before anything is reported: if reporting breaks off,
    # the batch still carries every verdict when the runner finishes it.
    outcomes = [
        (
            order,
            result,
            None
            if result is not None and result.ok
            else _mark_refused(session, order, result, items, reported),
        )
        for order, result in pairs
    ]
    updated = failed = 0
    total = progress_total if progress_total is not None else len(pairs)
    for done, (order, result, reason) in enumerate(outcomes, start=progress_offset + 1):
        if reason is None and result is not None:
            updated += 1
            _accepted(run, session, order, result, raw)
        else:
            failed += 1
            _report_refused(run, order, result, raw, reported)
        run.ctx.progress(done, total, f"order {order.subject}")
    for result in stray:
        run.ctx.event(
            "order.unexpected_result",
            result.number or result.remote_id,
            f"The channel answered for order {result.number or result.remote_id}, "
            "which was not in this update; ignored.",
            logging.WARNING,
        )
    run.tally.add(updated=updated, failed=failed)
    return ResultCounts(updated=updated, failed=failed)


def _accepted(
    run: FlowRun,
    session: Batch,
    order: SentOrder,
    result: OrderUpdateResult,
    raw: RawExchange | None,
) -> None:
    if result.remote_id and result.remote_id != order.remote_id:
        # Matched by number: keep the id the channel knows the order by.
        session.set_remote_id(ORDER, order.pk, result.remote_id)
    note = f" ({result.message})" if result.message else ""
    message = f"order {order.subject}: the channel accepted the update{note}"
    run.ctx.event("order.updated", order.subject, message)
    run.reporter.success(
        command=SEND_COMMAND,
        side="channel",
        subject=order.subject,
        description=message,
        raw=raw,
        content_type=ORDER,
        object_id=order.pk,
        modified_date=order.version_date,
    )


def _mark_refused(
    session: Batch,
    order: SentOrder,
    result: OrderUpdateResult | None,
    items_of: Callable[[SentOrder], Iterable[int]],
    reported: Collection[int],
) -> FailedReasonType:
    """Mark a refused (or unanswered) order and the items sent with it."""
    if result is None and order.pk not in reported:
        reason = FailedReasonType.REMOTE
    else:
        reason = FailedReasonType.CHANNEL_APP
    session.mark_failed(ORDER, order.pk, reason)
    for item_pk in items_of(order):
        session.mark_failed(ORDER_ITEM, item_pk, reason)
    return reason


def _report_refused(
    run: FlowRun,
    order: SentOrder,
    result: OrderUpdateResult | None,
    raw: RawExchange | None,
    reported: Collection[int],
) -> None:
    if result is not None:
        description = f"order {order.subject}: marketplace refused the update: {result.message}"
    elif order.pk in reported:
        description = f"order {order.subject}: refused before sending (reported then)"
    else:
        description = f"order {order.subject}: the channel gave no result for the update"
    run.ctx.event("order.update_failed", order.subject, description, logging.WARNING)
    if result is None and order.pk in reported:
        return  # its refusal was reported when the batch was sent
    run.reporter.failure(
        command=SEND_COMMAND,
        side="channel",
        subject=order.subject,
        description=description,
        raw=raw,
        answer=None if result is None else result.model_dump(mode="json"),
        cause=Cause.CHANNEL_REFUSED,
        content_type=ORDER,
        object_id=order.pk,
        modified_date=order.version_date,
    )
