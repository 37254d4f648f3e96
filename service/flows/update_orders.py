"""update-orders: Omnitron's changed orders go to the channel (docs/omnitron-api.md §4).

One run takes one page of ``orders/updates/`` (up to 100 orders, as the reference):
one run is one batch request and, in async mode, one channel batch, so the two can
be followed side by side; the schedule runs the flow again for the rest. The batch
is opened first (the run's reports point at it) and, when nothing changed, finished
``done`` empty — every run leaves a final batch of content type ``order``.

The orders (and with ``add_order_items`` their items, which also travel in the
update) are committed before anything is sent, so they are held while in flight and
the listing cannot hand them to a parallel run. Then, honouring ``is_sync`` (§6.3):

- **sync**: the channel's per-order verdicts are applied at once
  (:mod:`service.flows.channel_results`) and the batch ends ``done``;
- **async**: the channel's batch id is stored and the batch is left
  ``sent_to_remote`` for check-batches (§6.1, §6.2).

If sending fails as a whole (the channel unreachable after retries, or an
unreadable answer), the batch ends ``fail``: nothing was processed, ``fail`` releases
every integration action to what it was, so the orders come back in
``orders/updates/`` unchanged for the next run. ``done`` with ``remote`` failures
would release them too, but would claim each order was processed and failed, and
mark their integration actions ``error``, which is not what happened.

Orders that cannot be sent at all (no channel order id, no status) are not
committed: they are reported (once while the problem lasts) and counted as failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from service.causes import Cause
from service.channel.models import OrderStatusUpdate, OrderStatusUpdateItem, SendResult
from service.flows.batch import Batch
from service.flows.channel_results import (
    ORDER,
    ORDER_ITEM,
    SEND_COMMAND,
    SentOrder,
    apply_results,
)
from service.flows.run import FlowRun
from service.omnitron.client import CANCELLED_STATUSES
from service.omnitron.errors import OmnitronError
from service.omnitron.models.batch import BatchObject, FailedReasonType
from service.omnitron.models.order import Order, OrderItem

UPDATE_LIMIT = 100


@dataclass(frozen=True, slots=True)
class _Planned:
    """One order ready to send: what is committed and what the channel is told."""

    sent: SentOrder
    update: OrderStatusUpdate
    objects: tuple[BatchObject, ...]


def update_orders(run: FlowRun) -> None:
    """Send one page of Omnitron's updated orders to the channel (sync or async)."""
    session = run.open_batch()
    orders = run.omnitron.list_updated_orders(limit=UPDATE_LIMIT)
    if not orders:
        run.ctx.event("orders.none", "", "No order changed since it was last sent.")
        return
    total = len(orders)
    run.ctx.progress(0, total, "reading orders")
    planned = _plan(run, orders)
    # Last safe point to stop: once committed, the orders must be sent and settled.
    run.ctx.check_cancelled()
    if not planned:
        return
    session.commit(obj for plan in planned for obj in plan.objects)
    sent_orders = [plan.sent for plan in planned]
    try:
        sent = run.channel.send_updated_orders(
            [plan.update for plan in planned], sync=run.options.is_sync
        )
    except Exception:
        _fail_unsent(run, session)
        raise
    if sent.remote_batch_id:
        _await_remote(run, session, sent_orders, sent)
        run.ctx.progress(total, total, "sent to the channel")
        return
    apply_results(
        run,
        session,
        sent_orders,
        sent.results,
        raw=sent.raw,
        progress_offset=total - len(planned),
        progress_total=total,
    )
    session.done()


def _plan(run: FlowRun, orders: Sequence[Order]) -> list[_Planned]:
    """Resolve channel ids, cargo codes and (optionally) items; report unsendable orders."""
    remote_ids = run.omnitron.remote_ids_for_objects(ORDER, [order.pk for order in orders])
    cargo_codes = _cargo_codes(run, orders)
    items = _items(run, orders) if run.options.add_order_items else {}
    planned: list[_Planned] = []
    for order in orders:
        remote_id = remote_ids.get(order.pk) or order.remote_id
        if remote_id and order.status:
            items_of = items.get(order.pk, [])
            planned.append(_plan_one(order, remote_id, order.status, cargo_codes, items_of))
            continue
        subject = order.number or str(order.pk)
        problem = (
            "it has no status"
            if remote_id
            else "it has no channel order id (integration action or extra_field.id)"
        )
        description = f"order {subject}: cannot be sent to the channel: {problem}"
        run.tally.add(failed=1)
        run.ctx.event("order.unsendable", subject, description, logging.WARNING)
        run.reporter.failure(
            once=True,
            command=SEND_COMMAND,
            subject=subject,
            description=description,
            content_type=ORDER,
            object_id=order.pk,
        )
    return planned


def _plan_one(
    order: Order,
    remote_id: str,
    status: str,
    cargo_codes: Mapping[int, str],
    items: Sequence[OrderItem],
) -> _Planned:
    linked = [item for item in items if item.remote_id]
    objects = [
        BatchObject(
            pk=order.pk,
            version_date=order.modified_date,
            content_type=ORDER,
            remote_id=remote_id,
        ),
        *(
            BatchObject(
                pk=item.pk,
                version_date=item.modified_date,
                content_type=ORDER_ITEM,
                remote_id=item.remote_id,
            )
            for item in linked
        ),
    ]
    update = OrderStatusUpdate(
        remote_id=remote_id,
        number=order.number,
        status=status,
        tracking_number=order.tracking_number or "",
        cargo_company=""
        if order.cargo_company is None
        else cargo_codes.get(order.cargo_company, ""),
        items=_lines(linked, status),
    )
    sent = SentOrder(
        pk=order.pk,
        remote_id=remote_id,
        number=order.number,
        version_date=order.modified_date,
        item_pks=tuple(item.pk for item in linked),
    )
    return _Planned(sent=sent, update=update, objects=tuple(objects))


def _lines(items: Sequence[OrderItem], order_status: str) -> tuple[OrderStatusUpdateItem, ...]:
    """One entry per channel line: a line of quantity n is n Omnitron items.

    The line takes the status of its first unit that is not cancelled (the line lives
    on while one unit does), else of its first unit.
    """
    by_line: dict[str, list[OrderItem]] = {}
    for item in items:
        by_line.setdefault(item.remote_id or "", []).append(item)
    lines = []
    for line_id, units in by_line.items():
        live = [unit for unit in units if unit.status not in CANCELLED_STATUSES]
        unit = (live or units)[0]
        lines.append(
            OrderStatusUpdateItem(
                remote_id=line_id,
                status=unit.status or order_status,
                tracking_number=unit.tracking_number or "",
            )
        )
    return tuple(lines)


def _cargo_codes(run: FlowRun, orders: Sequence[Order]) -> dict[int, str]:
    """Cargo company pk → erp code, read only when an order names a cargo company."""
    if all(order.cargo_company is None for order in orders):
        return {}
    return {cargo.pk: cargo.erp_code or "" for cargo in run.omnitron.list_cargo_companies()}


def _items(run: FlowRun, orders: Sequence[Order]) -> dict[int, list[OrderItem]]:
    """Every order's items, read in parallel (one request per order)."""
    workers = min(run.options.workers, len(orders))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="update-orders") as pool:
        found = pool.map(run.omnitron.list_order_items, [order.pk for order in orders])
        return {order.pk: items for order, items in zip(orders, found, strict=True)}


def _await_remote(
    run: FlowRun,
    session: Batch,
    orders: Sequence[SentOrder],
    sent: SendResult,
) -> None:
    """Async: report orders the channel refused before sending, then wait on its batch.

    Their failure reasons cannot travel with ``sent_to_remote``; check-batches finds
    the reports written here and marks them ``channel_app`` when the batch completes.
    """
    refused = {result.remote_id: result for result in sent.results}
    for order in orders:
        result = refused.get(order.remote_id)
        if result is None:
            continue
        description = f"order {order.subject}: marketplace refused the update: {result.message}"
        run.tally.add(failed=1)
        run.ctx.event("order.update_failed", order.subject, description, logging.WARNING)
        run.reporter.failure(
            command=SEND_COMMAND,
            side="channel",
            subject=order.subject,
            description=description,
            answer=result.model_dump(mode="json"),
            cause=Cause.CHANNEL_REFUSED,
            content_type=ORDER,
            object_id=order.pk,
            modified_date=order.version_date,
        )
    try:
        session.send_to_remote(sent.remote_batch_id)
    except OmnitronError:
        # The channel has the orders but Omnitron cannot hear of its batch: when the
        # runner finishes the batch, nothing of it may count as synced.
        _mark_all(session, FailedReasonType.REMOTE)
        raise
    # Not counted as updated: the channel's verdicts come with check-batches. Until
    # then the orders wait, and the run says so rather than "nothing new".
    waiting = len(orders) - len(refused)
    run.tally.add(waiting=waiting)
    run.message = (
        f"Sent {waiting} orders to the channel as batch {sent.remote_batch_id}; "
        "check-batches settles them."
    )
    run.ctx.event("orders.sent", sent.remote_batch_id, run.message)


def _fail_unsent(run: FlowRun, session: Batch) -> None:
    """Sending failed as a whole: release the orders so the next run sends them again."""
    # If the ``fail`` below cannot reach Omnitron, the runner finishes the batch
    # ``done``: these reasons keep that from marking unsent orders as synced.
    _mark_all(session, FailedReasonType.REMOTE)
    try:
        session.fail()
    except OmnitronError as exc:
        run.ctx.event(
            "batch.left_open",
            str(session.batch.pk),
            f"Batch request {session.batch.pk} could not be failed now: {exc}",
            logging.WARNING,
        )


def _mark_all(session: Batch, reason: FailedReasonType) -> None:
    for obj in session.objects:
        session.mark_failed(obj.content_type, obj.pk, reason)
