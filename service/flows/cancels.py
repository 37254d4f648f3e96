"""fetch-cancels: cancel in Omnitron what the channel cancelled (fetch_and_create_cancel).

For each cancellation the channel lists since the cursor: find the order by its
channel id (integration actions, set (b)), the items of each cancelled line (set
(c); a line of quantity 3 is three items), map each line's channel reason through
``reason_mapping`` (fallback ``cancellation_reason_id``), and POST
``orders/{pk}/cancel/`` for the items that are not cancelled yet.

What the batch carries: the cancelled order and the items this run cancelled, with
the ``modified_date`` Omnitron gave them *after* the cancel as ``version_date``. That
marks the cancellation as the synced version, so update-orders does not echo the
status change back to the channel that made it. A cancel that could not be applied
to a known order declares the order with a ``failed_reason_type`` (``mapping`` for
an unknown line or reason, ``channel_app`` when Omnitron refused it), so the failure
is visible on the order's integration action; the batch still ends ``done``.

Idempotent: a re-fetched cancel finds its items cancelled (status 100, or 50
waiting) and is skipped — no second cancel POST. A cancel for an order that is not
in Omnitron yet is parked (:mod:`service.flows.parking`) with one report and applied
by the first run after the order arrived. Several Omnitron orders claiming the
channel id, an unknown line or an unmapped reason is one error report naming the
order and the cause (repeated on re-fetch only as a touch of the same report).
Counts are per cancellation record.
"""

from __future__ import annotations

import logging

from service.channel.adapter import Fetched
from service.channel.models import ChannelCancel
from service.flows.channel_feed import (
    CommitBuffer,
    conf_of,
    drain_feed_into_batch,
    is_record_failure,
    item_pks_for_line,
    reason_id_for,
)
from service.flows.parking import NotInOmnitronYet, Parking
from service.flows.reporting import BATCH_MODEL
from service.flows.run import FlowRun
from service.net.exchange import RawExchange
from service.omnitron.client import CANCELLED_STATUSES
from service.omnitron.errors import OmnitronError
from service.omnitron.models.batch import BatchObject, FailedReasonType
from service.omnitron.models.order import CancelOrderRequest, Order, OrderItem

COMMAND = "CreateOrderCancel"
LABEL = "cancel"


def _parking_key(cancel: ChannelCancel) -> str:
    """The cancellation's channel id; without one, the order and its cancelled lines."""
    return cancel.remote_id or f"{cancel.order}:{','.join(cancel.cancel_items)}"


PARKING = Parking(ChannelCancel, key=_parking_key)


class _CancelProblem(Exception):
    """A cancel that cannot be applied as the channel sent it (reported, not retried)."""

    def __init__(self, cause: str, reason: FailedReasonType) -> None:
        super().__init__(cause)
        self.cause = cause
        self.reason = reason


def fetch_cancels(run: FlowRun) -> None:
    """Bring the channel's cancellations since the cursor into Omnitron."""
    drain_feed_into_batch(
        run,
        run.channel.fetch_cancelled_orders,
        label=LABEL,
        command=COMMAND,
        handle=lambda objects, cancel, fetched: _apply(run, objects, cancel, fetched),
        subject_of=_subject,
        parking=PARKING,
    )


def _subject(fetched: Fetched[ChannelCancel]) -> str:
    item = fetched.item
    if item is not None:
        return item.number or item.order
    return fetched.number or str(fetched.payload.get("order_id") or fetched.remote_id or "?")


def _name(cancel: ChannelCancel) -> str:
    """How the operator knows the order: its number, with the channel id when both exist."""
    if cancel.number and cancel.number != cancel.order:
        return f"order {cancel.number} (channel id {cancel.order})"
    return f"order {cancel.order}"


def _apply(
    run: FlowRun, objects: CommitBuffer, cancel: ChannelCancel, fetched: Fetched[ChannelCancel]
) -> None:
    subject = _subject(fetched)
    order_pks = sorted(set(run.omnitron.object_ids_for_remote_id("order", cancel.order)))
    if not order_pks:
        raise NotInOmnitronYet(
            f"Cannot cancel {_name(cancel)} yet: the order is not in Omnitron (no "
            "integration action for its channel id); the cancel is parked until it is."
        )
    if len(order_pks) > 1:
        cause = f"several Omnitron orders claim its channel id: {order_pks}"
        _fail(run, fetched, subject, f"Cannot cancel {_name(cancel)}: {cause}.")
        return
    order_pk = order_pks[0]
    items = {item.pk: item for item in run.omnitron.list_order_items(order_pk)}
    try:
        to_cancel, reasons = _plan(run, cancel, order_pk, items)
    except _CancelProblem as problem:
        _fail(
            run,
            fetched,
            subject,
            f"Cannot cancel {_name(cancel)}: {problem.cause}.",
            order_pk=order_pk,
            objects=objects,
            reason=problem.reason,
        )
        return
    if not to_cancel:
        run.tally.add(skipped=1)
        message = f"{_name(cancel).capitalize()}: every cancelled line is already cancelled."
        run.ctx.event("cancel.skipped", subject, message)
        run.reporter.success(
            command=COMMAND,
            subject=subject,
            description=message,
            content_type="order",
            object_id=order_pk,
        )
        return
    request = CancelOrderRequest(
        order=order_pk,
        cancel_items=to_cancel,
        reasons={str(pk): reason for pk, reason in reasons.items()},
        forced_refund_amount=cancel.forced_refund_amount,
    )
    try:
        run.omnitron.cancel_order(order_pk, request)
    except OmnitronError as exc:
        if not is_record_failure(exc):
            raise
        _fail(
            run,
            fetched,
            subject,
            f"Cannot cancel {_name(cancel)}: Omnitron refused the cancel: {exc.message}",
            order_pk=order_pk,
            objects=objects,
            reason=FailedReasonType.CHANNEL_APP,
            raw=exc.exchange,
        )
        return
    # Read back the versions the cancel produced, so the batch marks them as synced.
    order = run.omnitron.get_order(order_pk)
    after = {item.pk: item for item in run.omnitron.list_order_items(order_pk)}
    objects.add(_objects(cancel, order, [after[pk] for pk in to_cancel if pk in after]))
    run.tally.add(updated=1)
    message = (
        f"Cancelled {len(to_cancel)} item(s) of {_name(cancel)}"
        f"{'; the whole order is cancelled' if order.status in CANCELLED_STATUSES else ''}."
    )
    run.ctx.event("cancel.applied", subject, message)
    run.reporter.success(
        command=COMMAND,
        subject=subject,
        description=message,
        content_type="order",
        object_id=order_pk,
        modified_date=order.modified_date,
    )


def _plan(
    run: FlowRun, cancel: ChannelCancel, order_pk: int, items: dict[int, OrderItem]
) -> tuple[list[int], dict[int, int]]:
    """The item pks to cancel now and their Omnitron reasons; raises on what cannot map."""
    conf = conf_of(run)
    to_cancel: list[int] = []
    reasons: dict[int, int] = {}
    # Only lines in cancel_items count: a reason for any other key is ignored (§6.10).
    for line_id in dict.fromkeys(cancel.cancel_items):
        pks = [pk for pk in item_pks_for_line(run, line_id) if pk in items]
        if not pks:
            raise _CancelProblem(
                f"line {line_id} has no order item in Omnitron order {order_pk}",
                FailedReasonType.MAPPING,
            )
        code = str(cancel.reasons.get(line_id) or "")
        reason = reason_id_for(conf, code)
        if reason is None:
            raise _CancelProblem(
                f"reason {code or '(none)'} of line {line_id} is not in the channel's "
                "reason_mapping and no cancellation_reason_id is configured",
                FailedReasonType.MAPPING,
            )
        for pk in pks:
            if items[pk].status in CANCELLED_STATUSES:
                continue  # cancelled before (a re-fetch, or in Omnitron): never twice
            to_cancel.append(pk)
            reasons[pk] = reason
    return to_cancel, reasons


def _objects(cancel: ChannelCancel, order: Order, items: list[OrderItem]) -> list[BatchObject]:
    objects = [
        BatchObject(
            pk=order.pk,
            version_date=order.modified_date,
            content_type="order",
            remote_id=cancel.order,
        )
    ]
    objects.extend(
        BatchObject(
            pk=item.pk,
            version_date=item.modified_date,
            content_type="orderitem",
            remote_id=item.remote_id,
        )
        for item in items
    )
    return objects


def _fail(
    run: FlowRun,
    fetched: Fetched[ChannelCancel],
    subject: str,
    description: str,
    *,
    order_pk: int | None = None,
    objects: CommitBuffer | None = None,
    reason: FailedReasonType | None = None,
    raw: RawExchange | None = None,
) -> None:
    """One report for the cancel; a known order is declared as failed on the batch.

    ``raw`` is Omnitron's refusal when there was one; otherwise the report carries the
    channel's record as it arrived.
    """
    run.tally.add(failed=1)
    run.ctx.event("cancel.failed", subject, description, logging.WARNING)
    run.reporter.failure(
        once=True,
        command=COMMAND,
        subject=subject,
        description=description,
        raw=raw if raw is not None else fetched.raw,
        raw_payload=None if raw is not None else dict(fetched.payload),
        content_type="order" if order_pk is not None else BATCH_MODEL,
        object_id=order_pk,
    )
    if order_pk is not None and objects is not None and reason is not None:
        cancel = fetched.item
        objects.add(
            [
                BatchObject(
                    pk=order_pk,
                    content_type="order",
                    failed_reason_type=reason,
                    remote_id=cancel.order if cancel is not None else None,
                )
            ]
        )
