"""Running one flow: the bookkeeping every flow shares.

:func:`execute` first takes the run's leases (its flow, and its content type's commit
lock; see :mod:`service.flows.lease`) — a live run elsewhere holding one means this
run does not start at all. It then records the run, marks runs whose process died
``interrupted``, delivers reports waiting in the outbox, finishes batches that dead
runs left open, reads the channel (an inactive channel does nothing), calls the flow
body, and whatever the body does — finish, fail, be cancelled — closes this run's
batches, records the outcome and gives the leases back.

A flow body is a function ``body(run: FlowRun) -> None`` that does the work and
counts it on ``run.tally``. Its batch (:meth:`FlowRun.open_batch`) is created in
Omnitron only on first need, so a run with nothing to do opens none. Every event of
the run is kept in the store's ``run_log`` (:mod:`service.flows.run_log`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from service.channel.adapter import ChannelAdapter, ChannelError
from service.flows.batch import BatchSession, LazyBatch, RollingBatch, mirror_of, outcome_of
from service.flows.context import FlowCancelled, RunContext
from service.flows.lease import (
    LEASE_TTL_S,
    OUTBOX_LEASE,
    LeaseBook,
    LeaseBusy,
    LeasesUnreachable,
    RunCounts,
    RunLease,
    local_time,
    owner_gone,
    run_is_live,
)
from service.flows.names import Flow
from service.flows.orphans import finish_orphan_batches
from service.flows.reporting import ErrorReporter
from service.flows.result import BatchOutcome, FlowResult, RunOutcome, Tally
from service.flows.run_log import RunLogWriter
from service.omnitron.client import OmnitronClient
from service.omnitron.errors import OmnitronError, OmnitronOutage
from service.omnitron.models.batch import BatchStatus
from service.omnitron.models.channel import Channel
from service.store import RecordNotFound, Store
from service.store_errors import StoreError

# States an async batch waits in by design; recovery leaves them to check-batches.
AWAITING_CHANNEL = frozenset({BatchStatus.SENT_TO_REMOTE.value, BatchStatus.ONGOING.value})
_FLOW_NAMES = frozenset(flow.value for flow in Flow)


class FlowOptions(BaseModel):
    """The options a run was started with (``is_success_log`` etc. as in the reference)."""

    model_config = ConfigDict(frozen=True)

    is_success_log: bool = True
    is_sync: bool = True
    add_order_items: bool = False
    workers: int = Field(12, ge=1, le=32)
    # Objects one batch request of fetch-orders carries at most; the next window opens
    # another. Omnitron answers every commit with all the objects its batch holds, so
    # this bounds every answer of a run however long it is.
    max_batch_objects: int = Field(2000, ge=10)
    # While another live run holds a lease this run needs: 0 gives up at once
    # (LeaseBusy), N waits up to N seconds, None waits until it frees or is cancelled.
    lease_wait_s: float | None = Field(0.0, ge=0)

    def recorded(self) -> dict[str, object]:
        """The options as the run's record keeps them (how it waited is not one)."""
        return self.model_dump(exclude={"lease_wait_s"})


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
    batches: list[BatchSession | LazyBatch] = field(default_factory=list)
    extra_batches: list[BatchOutcome] = field(default_factory=list)
    message: str = ""

    def open_batch(self) -> LazyBatch:
        """This run's batch request, created in Omnitron on its first commit or report.

        Error codes are prefixed with its id once it exists. A run that commits
        nothing and writes no report never creates it.
        """

        def create() -> BatchSession:
            session = BatchSession.open(
                self.omnitron, self.store, self.ctx, flow=self.flow, run_id=self.run_id
            )
            self.reporter.use_batch(session.batch.pk, session.local_batch_id)
            return session

        batch = LazyBatch(create)
        self.batches.append(batch)
        self.reporter.open_batch_on_write(batch.session)
        return batch

    def rolling_batch(self) -> RollingBatch:
        """This run's batches for a flow that only declares objects: a new batch request
        once one holds ``options.max_batch_objects``."""
        return RollingBatch(self.open_batch, self.options.max_batch_objects)


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
    leases: LeaseBook | None = None,
) -> FlowResult:
    """Run ``body`` as one recorded run of ``flow`` and return what it did.

    The run's leases are kept in ``leases`` (default: ``store``'s own rows; a
    ``workers`` profile's are in Redis, shared by every machine of the fleet).

    Raises :class:`~service.flows.lease.LeaseBusy` — before anything is recorded,
    delivered or recovered — when a live run (of this process or another) holds a
    lease the run needs and ``options.lease_wait_s`` does not let it wait long
    enough. Otherwise never raises for a failure of the run itself (unreachable
    Omnitron, a refused login, a bug in one flow): the result says ``failed`` with a
    one-line message. A :class:`BaseException` such as ``KeyboardInterrupt`` is not
    caught; the run is recorded ``interrupted`` and its batch left for the next run
    to recover, as after a killed process. Raises
    :class:`~service.flows.lease.LeasesUnreachable` (an ``OSError``), also before
    anything is recorded, when ``leases`` cannot be reached.
    """
    waited: list[LeaseBusy] = []
    log = RunLogWriter(store)
    ctx.log_sink = log.add

    def on_wait(busy: LeaseBusy) -> None:
        waited.append(busy)
        ctx.event("run.waiting", flow.value, busy.waiting_message, logging.WARNING)

    try:
        lease = RunLease.acquire(
            store,
            flow,
            wait_s=options.lease_wait_s,
            cancel=ctx.cancel,
            on_wait=on_wait,
            book=leases,
        )
    except BaseException:
        ctx.log_sink = None  # not started: there is no run for these events
        raise
    if waited:
        ctx.event(
            "run.started",
            flow.value,
            f"{waited[0].holder.flow} is no longer running; this run starts.",
        )
    try:
        return _execute_leased(
            flow,
            body,
            lease,
            log,
            omnitron=omnitron,
            channel=channel,
            store=store,
            ctx=ctx,
            options=options,
            profile=profile,
        )
    finally:
        ctx.log_sink = None
        try:
            # A store that failed mid-run already said so; its last lines are lost.
            with suppress(StoreError):
                log.flush()
        finally:
            lease.release()


def _execute_leased(
    flow: Flow,
    body: FlowBody,
    lease: RunLease,
    log: RunLogWriter,
    *,
    omnitron: OmnitronClient,
    channel: ChannelAdapter,
    store: Store,
    ctx: RunContext,
    options: FlowOptions,
    profile: str,
) -> FlowResult:
    started = time.monotonic()
    run_id = store.start_run(
        flow.value,
        options.recorded(),
        profile,
        pid=lease.pid,
        host=lease.host,
        task_id=ctx.task_id,
    )
    log.attach(run_id)
    ctx.on_recorded(run_id)
    reporter = ErrorReporter(
        omnitron,
        store,
        ctx,
        flow=flow,
        run_id=run_id,
        is_success_log=options.is_success_log,
    )
    run = FlowRun(flow, run_id, omnitron, channel, store, ctx, options, reporter)
    # A stalled process whose lease was taken over stops at its next safe point.
    lease.start_heartbeat(run_id, lambda: _counts(run), on_lost=ctx.cancel.cancel)
    outcome = RunOutcome.COMPLETED
    try:
        _interrupt_dead_runs(run)
        _deliver_outbox(run, lease)
        _recover_open_batches(run)
        finish_orphan_batches(run, is_alive=run_is_live)
        run.channel_info = omnitron.get_channel()
        if not run.channel_info.is_active:
            run.message = f"Channel {run.channel_info.pk} is inactive in Omnitron: nothing to do."
            ctx.event("run.inactive", "", run.message, logging.WARNING)
        else:
            body(run)
    except FlowCancelled:
        outcome = RunOutcome.CANCELLED
        run.message = _cancel_sentence(run)
        if lease.lost:
            outcome = RunOutcome.INTERRUPTED
            run.message = (
                f"This process gave no sign of life for more than {LEASE_TTL_S:.0f} s and "
                f"another run took over {flow.value}."
            )
    except (OmnitronError, ChannelError) as exc:
        outcome = RunOutcome.FAILED
        run.message = _failure_sentence(run, exc)
        # The run's own failure is no reason to create a batch it never needed.
        reporter.open_batch_on_write(None)
        reporter.failure(
            command=_command(flow),
            description=f"{flow.value} failed: {exc}",
            raw=exc.raw if isinstance(exc, ChannelError) else exc.exchange,
        )
    except StoreError:
        # Nothing more can be recorded; the caller says so in one line, and the next
        # run finishes this run's batch.
        raise
    except Exception as exc:
        outcome = RunOutcome.FAILED
        run.message = f"{type(exc).__name__}: {exc}"
        logging.getLogger(__name__).exception("%s failed", flow.value)
        reporter.open_batch_on_write(None)
        reporter.failure(command=_command(flow), description=f"{flow.value} failed: {run.message}")
    except BaseException as exc:
        # Like a killed process, but this one can still say so and keep its counts
        # (saved before the leases are refreshed, so an unreachable Redis keeps them).
        with suppress(LeasesUnreachable):
            lease.beat()
        store.interrupt_run(run_id, f"Interrupted by {type(exc).__name__} in this process.")
        raise
    reporter.open_batch_on_write(None)
    _close_batches(run, succeeded=outcome is not RunOutcome.FAILED)
    duration = time.monotonic() - started
    tally = run.tally
    progress = ctx.last_progress
    outcomes = (session.outcome() for session in run.batches)
    result = FlowResult(
        flow=flow,
        run_id=run_id,
        outcome=outcome,
        created=tally.created,
        updated=tally.updated,
        skipped=tally.skipped,
        failed=tally.failed,
        waiting=tally.waiting,
        total=None if progress is None else progress.total,
        batches=tuple(o for o in outcomes if o is not None) + tuple(run.extra_batches),
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
        waiting=result.waiting,
    )
    ctx.event("run.finished", flow.value, _summary_line(result))
    return result


def _cancel_sentence(run: FlowRun) -> str:
    """What a cancelled run says: how far it got, when it knows."""
    progress = run.ctx.last_progress
    if progress is None:
        return "Cancelled by the operator."
    noun = run.flow.items
    if progress.total is None:
        return f"Cancelled by the operator after {progress.done} {noun}."
    return f"Cancelled by the operator after {progress.done} of {progress.total} {noun}."


def _failure_sentence(run: FlowRun, exc: OmnitronError | ChannelError) -> str:
    """The run's end in one sentence; an outage says how far the run got."""
    if not isinstance(exc, OmnitronOutage):
        return str(exc)
    progress = run.ctx.last_progress
    if progress is None:
        return exc.sentence()
    return exc.sentence(done=progress.done, total=progress.total, noun=run.flow.items)


def _counts(run: FlowRun) -> RunCounts:
    """The run's tally so far, as its heartbeat saves it."""
    tally = run.tally
    return RunCounts(
        created=tally.created,
        updated=tally.updated,
        skipped=tally.skipped,
        failed=tally.failed,
        error_count=len(run.reporter.failure_ids),
        waiting=tally.waiting,
    )


def _interrupt_dead_runs(run: FlowRun) -> None:
    """Close the records of runs (of any flow) whose process died mid-run.

    They stay ``running`` otherwise, forever. Each keeps the counts its last
    heartbeat saved; its open batches are recovered next (:func:`_recover_open_batches`).
    """
    for other in run.store.running_runs():
        if other.id == run.run_id or not owner_gone(other.pid, other.host, other.heartbeat_at):
            continue
        owner = f"pid {other.pid} on {other.host}" if other.pid is not None else "its process"
        last = other.heartbeat_at or other.started_at
        message = (
            f"Interrupted: {owner} stopped without finishing the run "
            f"(last sign of life at {local_time(last)})."
        )
        if run.store.interrupt_run(other.id, message):
            run.ctx.event(
                "run.interrupted",
                str(other.id),
                f"Run {other.id} of {other.flow} was interrupted: {owner} stopped "
                f"(last sign of life at {local_time(last)}); it is recorded as interrupted.",
                logging.WARNING,
            )


def _deliver_outbox(run: FlowRun, lease: RunLease) -> None:
    """Deliver waiting reports, unless another live run is delivering them right now."""
    if not lease.try_take(OUTBOX_LEASE):
        run.ctx.event(
            "outbox.busy", "", "Another run is delivering the waiting reports.", logging.DEBUG
        )
        return
    try:
        run.reporter.deliver_outbox()
    finally:
        lease.give_back(OUTBOX_LEASE)


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
    """Finish batches that runs which are no longer alive left open.

    A batch is touched only when the run that opened it is over (finished, or marked
    ``interrupted`` because its process died): a live run's batch — of another flow,
    or in another process — is never failed under it. Its declared objects are real
    Omnitron objects, so it ends ``done``; a batch that declared nothing ends
    ``fail``. Batches waiting on the channel are left to check-batches.
    """
    for mirror in run.store.open_batches():
        if mirror.status in AWAITING_CHANNEL or not _owner_over(run, mirror.run_id, mirror.flow):
            continue
        # A batch that never committed has no content type yet: its flow's.
        flow = Flow(mirror.flow) if mirror.flow in _FLOW_NAMES else run.flow
        batch = run.omnitron.get_batch_request(mirror.pk)
        if not batch.status.is_final and batch.status.value not in AWAITING_CHANNEL:
            status = BatchStatus.DONE if batch.objects else BatchStatus.FAIL
            batch = run.omnitron.update_batch_request(
                batch.pk,
                status,
                objects=batch.objects,
                content_type=None if batch.content_type else flow.content_type,
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


def _owner_over(run: FlowRun, owner_id: int | None, flow: str | None) -> bool:
    """Whether the run that opened a batch is over, so its open batch may be finished."""
    if owner_id == run.run_id:
        return False
    if owner_id is None:
        # Nobody to ask: only a run of the batch's own flow, which holds that
        # flow's lease, can be sure no live run of it exists.
        return flow == run.flow.value
    try:
        owner = run.store.get_run(owner_id)
    except RecordNotFound:
        return True
    return not run_is_live(owner)


def _command(flow: Flow) -> str:
    """The command name a flow's run-level reports carry, e.g. ``FetchOrders``."""
    return "".join(part.capitalize() for part in flow.value.split("-"))


def _summary_line(result: FlowResult) -> str:
    waiting = f", {result.waiting} still waiting" if result.waiting else ""
    return (
        f"{result.flow.value} {result.outcome_label}: {result.created} created, "
        f"{result.updated} updated, {result.skipped} skipped, {result.failed} failed"
        f"{waiting}, {result.error_count} error reports in {result.duration_s:.1f}s."
    )
