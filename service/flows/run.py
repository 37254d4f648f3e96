"""Running one flow: the bookkeeping every flow shares.

:func:`execute` records the run in the store, delivers reports waiting in the outbox,
finishes batches an interrupted earlier run left open, reads the channel (an inactive
channel does nothing), calls the flow body, and whatever the body does — finish,
fail, be cancelled — closes this run's batches and records the outcome.

A flow body is a function ``body(run: FlowRun) -> None`` that does the work and
counts it on ``run.tally``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from service.channel.adapter import ChannelAdapter, ChannelError
from service.flows.batch import BatchSession, mirror_of, outcome_of
from service.flows.context import FlowCancelled, RunContext
from service.flows.names import Flow
from service.flows.orphans import finish_orphan_batches
from service.flows.reporting import ErrorReporter
from service.flows.result import BatchOutcome, FlowResult, RunOutcome, Tally
from service.omnitron.client import OmnitronClient
from service.omnitron.errors import OmnitronError
from service.omnitron.models.batch import BatchStatus
from service.omnitron.models.channel import Channel
from service.store import Store

# States an async batch waits in by design; recovery leaves them to check-batches.
AWAITING_CHANNEL = frozenset({BatchStatus.SENT_TO_REMOTE.value, BatchStatus.ONGOING.value})


class FlowOptions(BaseModel):
    """The options a run was started with (``is_success_log`` etc. as in the reference)."""

    model_config = ConfigDict(frozen=True)

    is_success_log: bool = True
    is_sync: bool = True
    add_order_items: bool = False
    workers: int = Field(4, ge=1, le=32)


@dataclass
class FlowRun:
    """Everything a flow body works with during one run."""

    flow: Flow
    run_id: int
    omnitron: OmnitronClient
    channel: ChannelAdapter
    store: Store
    ctx: RunContext
    options: FlowOptions
    reporter: ErrorReporter
    channel_info: Channel | None = None
    tally: Tally = field(default_factory=Tally)
    batches: list[BatchSession] = field(default_factory=list)
    extra_batches: list[BatchOutcome] = field(default_factory=list)
    message: str = ""

    def open_batch(self) -> BatchSession:
        """Open this run's batch request; error codes are prefixed with its id from now on."""
        session = BatchSession.open(
            self.omnitron, self.store, self.ctx, flow=self.flow, run_id=self.run_id
        )
        self.batches.append(session)
        self.reporter.use_batch(session.batch.pk, session.local_batch_id)
        return session


FlowBody = Callable[[FlowRun], None]


def execute(
    flow: Flow,
    body: FlowBody,
    *,
    omnitron: OmnitronClient,
    channel: ChannelAdapter,
    store: Store,
    ctx: RunContext,
    options: FlowOptions,
    profile: str = "",
) -> FlowResult:
    """Run ``body`` as one recorded run of ``flow`` and return what it did.

    Never raises for a failure of the run itself (unreachable Omnitron, a refused
    login, a bug in one flow): the result says ``failed`` with a one-line message.
    A :class:`BaseException` such as ``KeyboardInterrupt`` is not caught; like a
    killed process, it leaves the batch for the next run to recover.
    """
    started = time.monotonic()
    run_id = store.start_run(flow.value, options.model_dump(), profile)
    reporter = ErrorReporter(
        omnitron,
        store,
        ctx,
        flow=flow,
        run_id=run_id,
        is_success_log=options.is_success_log,
    )
    run = FlowRun(flow, run_id, omnitron, channel, store, ctx, options, reporter)
    outcome = RunOutcome.COMPLETED
    try:
        reporter.deliver_outbox()
        _recover_open_batches(run)
        finish_orphan_batches(run)
        run.channel_info = omnitron.get_channel()
        if not run.channel_info.is_active:
            run.message = f"Channel {run.channel_info.pk} is inactive in Omnitron: nothing to do."
            ctx.event("run.inactive", "", run.message, logging.WARNING)
        else:
            body(run)
    except FlowCancelled:
        outcome = RunOutcome.CANCELLED
        run.message = "Cancelled by the operator."
    except (OmnitronError, ChannelError) as exc:
        outcome = RunOutcome.FAILED
        run.message = str(exc)
        reporter.failure(
            command=_command(flow),
            description=f"{flow.value} failed: {exc}",
            raw=exc.raw if isinstance(exc, ChannelError) else exc.exchange,
        )
    except Exception as exc:
        outcome = RunOutcome.FAILED
        run.message = f"{type(exc).__name__}: {exc}"
        logging.getLogger(__name__).exception("%s failed", flow.value)
        reporter.failure(command=_command(flow), description=f"{flow.value} failed: {run.message}")
    _close_batches(run, succeeded=outcome is not RunOutcome.FAILED)
    duration = time.monotonic() - started
    tally = run.tally
    result = FlowResult(
        flow=flow,
        run_id=run_id,
        outcome=outcome,
        created=tally.created,
        updated=tally.updated,
        skipped=tally.skipped,
        failed=tally.failed,
        batches=tuple(session.outcome() for session in run.batches) + tuple(run.extra_batches),
        error_report_ids=reporter.failure_ids,
        duration_s=round(duration, 3),
        message=run.message,
    )
    store.finish_run(
        run_id,
        outcome=outcome.value,
        created=result.created,
        updated=result.updated,
        skipped=result.skipped,
        failed=result.failed,
        error_count=result.error_count,
        message=result.message,
        duration_s=result.duration_s,
    )
    ctx.event("run.finished", flow.value, _summary_line(result))
    return result


def _close_batches(run: FlowRun, *, succeeded: bool) -> None:
    """Finish every batch of the run that is not final; never raises."""
    for session in run.batches:
        try:
            session.close(succeeded=succeeded)
        except OmnitronError as exc:
            # Omnitron is unreachable: the store still shows the batch open, and the
            # next run finishes it (_recover_open_batches).
            run.ctx.event(
                "batch.left_open",
                str(session.batch.pk),
                f"Batch request {session.batch.pk} could not be finished now: {exc}",
                logging.WARNING,
            )


def _recover_open_batches(run: FlowRun) -> None:
    """Finish batches of this flow that an interrupted run left open.

    Their declared objects are real Omnitron objects, so they end ``done``; a batch
    that declared nothing ends ``fail``. Batches waiting on the channel are left to
    check-batches.
    """
    for mirror in run.store.open_batches():
        # Only this flow's own batches: another flow of the same content type may be
        # running right now (one flow of a kind at a time), and its batch is live. A
        # batch that never committed has no content type yet, so match on the flow.
        if mirror.status in AWAITING_CHANNEL or mirror.flow != run.flow.value:
            continue
        batch = run.omnitron.get_batch_request(mirror.pk)
        if not batch.status.is_final and batch.status.value not in AWAITING_CHANNEL:
            status = BatchStatus.DONE if batch.objects else BatchStatus.FAIL
            batch = run.omnitron.update_batch_request(
                batch.pk,
                status,
                objects=batch.objects,
                content_type=None if batch.content_type else run.flow.content_type,
            )
            run.ctx.event(
                "batch.recovered",
                str(batch.pk),
                f"Finished batch request {batch.pk} left open by an interrupted run: "
                f"{batch.status.value}.",
                logging.WARNING,
            )
            run.extra_batches.append(outcome_of(batch))
        run.store.record_batch(
            mirror_of(batch, flow=None, run_id=None), note=f"recovered by run {run.run_id}"
        )


def _command(flow: Flow) -> str:
    """The command name a flow's run-level reports carry, e.g. ``FetchOrders``."""
    return "".join(part.capitalize() for part in flow.value.split("-"))


def _summary_line(result: FlowResult) -> str:
    return (
        f"{result.flow.value} {result.outcome.value}: {result.created} created, "
        f"{result.updated} updated, {result.skipped} skipped, {result.failed} failed, "
        f"{result.error_count} error reports in {result.duration_s:.1f}s."
    )
