"""check-batches: settle the order batches the channel processes asynchronously.

The reference's get_order_batch_requests crashes and never finishes a batch
(docs/omnitron-api.md §6.1). Here, for each of this channel's ``order`` batch requests in
``sent_to_remote``/``ongoing``, the channel is asked about its batch:

- still processing → ``ongoing`` (PATCHed only on the first sighting: a repeated
  ``ongoing`` would change nothing);
- completed → the per-order verdicts are applied exactly as update-orders does in
  sync mode (:mod:`service.flows.channel_results`) and the batch ends ``done``;
- failed as a whole, or unknown to the channel, or without a remote batch id → the
  batch ends ``fail`` with a report: nothing was applied, and ``fail`` puts the
  orders back into ``orders/updates/`` for the next update-orders run.

One batch's trouble (a refused transition, an odd answer) is reported and the others
are still checked; an outage of the channel or of Omnitron ends the run, and the
batches not reached wait for the next one. A stop request is honoured between
batches, never while one batch's verdicts are being applied.

Counts are per order: ``updated`` accepted by the channel, ``failed`` refused or in a
failed batch, ``skipped`` still waiting on the channel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from service.channel.adapter import ChannelError
from service.channel.models import RemoteBatchResult
from service.flows.batch import BatchSession, mirror_of
from service.flows.channel_results import (
    ORDER,
    ORDER_ITEM,
    SentOrder,
    apply_results,
)
from service.flows.names import Flow
from service.flows.run import AWAITING_CHANNEL, FlowRun
from service.net.exchange import RawExchange
from service.omnitron.errors import (
    OmnitronAuthError,
    OmnitronError,
    OmnitronNotFound,
    OmnitronUnavailable,
)
from service.omnitron.models.batch import BatchObject, BatchRequest, BatchStatus
from service.store import ErrorQuery

CHECK_COMMAND = "CheckOrderBatch"
WAITING = (BatchStatus.SENT_TO_REMOTE, BatchStatus.ONGOING)
# Channel answers that say the channel itself is unusable now, not this batch.


def check_batches(run: FlowRun) -> None:
    """Ask the channel about every waiting order batch and move each one on."""
    batches = list(
        run.omnitron.list_batch_requests(status=WAITING, content_type=run.flow.content_type)
    )
    _reconcile_mirror(run, {batch.pk for batch in batches})
    if not batches:
        run.ctx.event("batches.none", "", "No order batch is waiting on the channel.")
        return
    total = len(batches)
    run.ctx.progress(0, total, "checking batches")
    for done, batch in enumerate(batches, start=1):
        run.ctx.check_cancelled()
        try:
            _check(run, batch)
        except (OmnitronUnavailable, OmnitronAuthError):
            raise
        except ChannelError as exc:
            if exc.is_outage:
                raise
            _could_not_check(run, batch, str(exc), exc.raw)
        except OmnitronError as exc:
            _could_not_check(run, batch, str(exc), exc.exchange)
        except Exception as exc:  # one batch's unexpected data must not stop the others
            logging.getLogger(__name__).exception("checking batch request %s failed", batch.pk)
            _could_not_check(run, batch, f"{type(exc).__name__}: {exc}", None)
        run.ctx.progress(done, total, f"batch {batch.pk}")


def _check(run: FlowRun, batch: BatchRequest) -> None:
    session = BatchSession(
        run.omnitron,
        run.store,
        run.ctx,
        flow=run.flow,
        run_id=run.run_id,
        batch=batch,
        owned=False,
    )
    run.batches.append(session)
    run.reporter.use_batch(batch.pk, batch.local_batch_id)
    remote_id = batch.remote_batch_id
    if not remote_id:
        _fail(
            run,
            session,
            f"batch request {batch.pk} waits on the channel but has no remote batch id, "
            "so it cannot be checked",
        )
        return
    try:
        remote = run.channel.check_remote_batch(remote_id)
    except ChannelError as exc:
        if exc.status_code != 404:
            raise
        _fail(
            run,
            session,
            f"batch request {batch.pk}: the channel does not know batch {remote_id}: {exc}",
            raw=exc.raw,
        )
        return
    if remote.status == "processing":
        _still_processing(run, session, remote_id)
    elif remote.status == "completed":
        _completed(run, session, remote)
    else:
        reason = remote.message or "no reason given"
        _fail(
            run,
            session,
            f"batch request {batch.pk}: the channel could not process batch {remote_id} "
            f"as a whole: {reason}",
            raw=remote.raw,
        )


def _orders_of(objects: Iterable[BatchObject]) -> list[int]:
    return [obj.pk for obj in objects if obj.content_type == ORDER]


def _still_processing(run: FlowRun, session: BatchSession, remote_id: str) -> None:
    if session.status is BatchStatus.SENT_TO_REMOTE:
        session.ongoing()
    run.tally.add(skipped=len(_orders_of(session.objects)))
    run.ctx.event(
        "remote_batch.processing",
        remote_id,
        f"Batch request {session.batch.pk}: the channel is still processing batch {remote_id}.",
    )


def _completed(run: FlowRun, session: BatchSession, remote: RemoteBatchResult) -> None:
    batch = session.batch
    declared = session.objects
    order_objects = [obj for obj in declared if obj.content_type == ORDER]
    # Numbers name the orders in reports and are the fallback match for verdicts.
    orders = {order.pk: order for order in run.omnitron.get_orders(_orders_of(declared))}
    sent = []
    for obj in order_objects:
        order = orders.get(obj.pk)
        sent.append(
            SentOrder(
                pk=obj.pk,
                remote_id=obj.remote_id or (order.remote_id if order else None) or "",
                number=order.number if order else "",
                version_date=obj.version_date,
            )
        )
    item_pks = {obj.pk for obj in declared if obj.content_type == ORDER_ITEM}

    def items_of(order: SentOrder) -> Iterable[int]:
        # Asked only for refused orders: which of the batch's items were sent with it.
        if not item_pks:
            return ()
        return [item.pk for item in run.omnitron.list_order_items(order.pk) if item.pk in item_pks]

    counts = apply_results(
        run,
        session,
        sent,
        remote.results,
        raw=remote.raw,
        items_of=items_of,
        reported=_refused_before_sending(run, batch.pk),
    )
    session.done()
    run.ctx.event(
        "remote_batch.completed",
        remote.remote_batch_id,
        f"Batch request {batch.pk}: the channel accepted {counts.updated} and refused "
        f"{counts.failed} orders of batch {remote.remote_batch_id}.",
    )


def _refused_before_sending(run: FlowRun, batch_pk: int) -> set[int]:
    """Orders of the batch whose refusal update-orders reported when it sent the batch."""
    query = ErrorQuery(
        batch_pk=batch_pk,
        flow=Flow.UPDATE_ORDERS.value,
        content_type=ORDER,
        is_ok=False,
        limit=10_000,
    )
    return {
        int(report.object_id)
        for report in run.store.search_error_reports(query)
        if report.object_id.isdigit()
    }


def _fail(
    run: FlowRun, session: BatchSession, description: str, raw: RawExchange | None = None
) -> None:
    """The channel's batch failed as a whole (or cannot be followed): ``fail`` it."""
    batch = session.batch
    run.reporter.failure(
        command=CHECK_COMMAND,
        side="channel",
        subject=batch.remote_batch_id or str(batch.pk),
        description=description,
        raw=raw,
    )
    orders = len(_orders_of(session.objects))
    session.fail()
    run.tally.add(failed=orders)
    run.ctx.event(
        "remote_batch.failed", batch.remote_batch_id or str(batch.pk), description, logging.WARNING
    )


def _could_not_check(
    run: FlowRun, batch: BatchRequest, problem: str, raw: RawExchange | None
) -> None:
    """Report a batch that could not be settled now; it keeps waiting for the next run."""
    description = f"batch request {batch.pk} could not be checked now: {problem}"
    run.reporter.failure(
        command=CHECK_COMMAND,
        side="channel",
        subject=batch.remote_batch_id or str(batch.pk),
        description=description,
        raw=raw,
    )
    run.tally.add(skipped=len(_orders_of(batch.objects)))
    run.ctx.event("remote_batch.unchecked", str(batch.pk), description, logging.WARNING)


def _reconcile_mirror(run: FlowRun, waiting: set[int]) -> None:
    """Batches the store still shows waiting but Omnitron no longer lists: mirror them.

    Another console or a person may have finished them; the mirror follows Omnitron.
    """
    for mirror in run.store.open_batches(run.flow.content_type):
        if mirror.status not in AWAITING_CHANNEL or mirror.pk in waiting:
            continue
        try:
            batch = run.omnitron.get_batch_request(mirror.pk)
        except OmnitronNotFound:
            continue  # gone from Omnitron: nothing to follow
        run.store.record_batch(
            mirror_of(batch, flow=None, run_id=None), note=f"seen by run {run.run_id}"
        )
