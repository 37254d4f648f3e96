"""Batches nobody would finish, found in Omnitron by the batch ids our store knows.

A run records the ``local_batch_id`` it asks Omnitron for before it sends the POST
(``runs.pending_batch_id``). If the answer was lost and the run ended before finding
the batch (killed, or stopped by an outage), Omnitron holds an ``initialized`` batch
the store has no mirror of, so the recovery from mirrors cannot see it. Batches a
finished run of another flow could not close (Omnitron was down) are in the same
state. :func:`finish_orphan_batches` finishes both kinds: ``done`` with the objects
they hold, ``fail`` when they hold none — as the run that opened them would have.

Only batches whose run is over are touched. Whether a run is over is ``is_alive``'s
to say; the default trusts the run's recorded outcome (a killed run stays
``running`` until the run lease marks it ``interrupted``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from service.flows.batch import mirror_of, outcome_of
from service.flows.names import Flow
from service.omnitron.errors import BatchTransitionRefused
from service.omnitron.models.batch import BatchRequest, BatchStatus
from service.store_records import RunRecord

if TYPE_CHECKING:  # run.py calls this module: a runtime import would be circular
    from service.flows.run import FlowRun

# A batch still in one of these states was never finished by the run that opened it.
UNFINISHED = (BatchStatus.INITIALIZED, BatchStatus.COMMIT)


def run_recorded_as_running(record: RunRecord) -> bool:
    """The default liveness test: a run is alive while its outcome is ``running``."""
    return record.is_running


def finish_orphan_batches(
    run: FlowRun, *, is_alive: Callable[[RunRecord], bool] = run_recorded_as_running
) -> list[BatchRequest]:
    """Finish this channel's unfinished batches that runs of this store opened and left.

    Returns the batches as finished (each also mirrored in the store and added to the
    run's result as an extra batch). Batches our store does not know, and batches of
    runs still alive, are left alone.
    """
    unfinished = list(run.omnitron.list_batch_requests(UNFINISHED))
    if not unfinished:
        return []
    owners = run.store.runs_of_batch_ids([batch.local_batch_id for batch in unfinished])
    finished: list[BatchRequest] = []
    for batch in unfinished:
        owner = owners.get(batch.local_batch_id)
        if owner is None or owner.id == run.run_id or is_alive(owner):
            continue
        finished.append(_finish(run, batch, owner))
    return finished


def _finish(run: FlowRun, batch: BatchRequest, owner: RunRecord) -> BatchRequest:
    flow = Flow(owner.flow)
    left = batch.status.value
    status = BatchStatus.DONE if batch.objects else BatchStatus.FAIL
    try:
        batch = run.omnitron.update_batch_request(
            batch.pk,
            status,
            objects=batch.objects,
            content_type=None if batch.content_type else flow.content_type,
        )
    except BatchTransitionRefused:
        # Finished by someone else between our listing and this PATCH: keep theirs.
        batch = run.omnitron.get_batch_request(batch.pk)
    run.store.record_batch(
        mirror_of(batch, flow=flow, run_id=owner.id), note=f"orphan finished by run {run.run_id}"
    )
    run.ctx.event(
        "batch.recovered",
        str(batch.pk),
        f"Finished batch request {batch.pk} that {flow.value} run {owner.id} left {left}: "
        f"{batch.status.value}.",
        logging.WARNING,
    )
    run.extra_batches.append(outcome_of(batch))
    return batch
