"""Customers' cancellation and refund requests, both ways.

**fetch-cancellation-requests** (channel → Omnitron): for each pending request since
the cursor, resolve the line's item (set (c)), map the channel's reason code
(``reason_mapping``, else ``cancellation_reason_id``, else reason 10), POST
``cancellation_requests/`` and declare the new request on the run's batch with the
channel's request id as ``remote_id``. Declarations are committed in chunks
(:class:`~service.flows.channel_feed.CommitBuffer`: one PATCH per 50 requests, not one
per request) and whatever ends the run flushes them — commits add to the batch's
objects, they never replace them (§6.12). The commit creates the integration action
that makes a re-fetch skip the request. A request posted by a run that died before
its chunk was committed is found by its remote id and linked, never posted again: the
ids of requests posted but not yet declared are kept in the store (:class:`_Posted`),
and only those are looked up — a lookup for every new request would cost one to six
requests each where Omnitron ignores the ``remote_id`` filter (§9).

The channel decides a request for a whole line (all its units), so one Omnitron
request is made per channel request, on the line's first item that is not
cancelled: one request, one remote id, one decision going back. Requests the channel
has already decided are not imported (the cancellation itself comes through
fetch-cancels). A request for a line whose order is not in Omnitron yet is parked
(:mod:`service.flows.parking`) and created by the first run after the order arrived.

**update-cancellation-requests** (Omnitron → channel): read
``cancellation_requests/updates/``, commit them, find the item's and the request's
channel ids (sets (d)/(f)), map the reason back to the channel's code and send the
decision. A request still waiting for a decision has nothing to send: it is kept as
synced. A refused or unanswered decision is ``failed_reason_type="remote"`` plus an
error report; a rejection whose reason has no channel code is ``mapping``.

The batch ends ``done`` in every case, with per-object failures (§7), rather than
``fail`` when nothing succeeded (§4): ``fail`` would put every integration action
back and hide which requests failed and why, while ``done`` marks them ``error``
and — as their version is not advanced — they come back in ``updates/`` for the
next run to retry. Counts are per request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from service.channel.adapter import ChannelError, Fetched
from service.channel.models import CancellationRequestDecision, ChannelCancellationRequest
from service.flows.batch import Batch
from service.flows.channel_feed import (
    DEFAULT_REASON_ID,
    CommitBuffer,
    channel_code_for,
    conf_of,
    drain_feed_into_batch,
    item_pks_for_line,
    reason_id_for,
)
from service.flows.parking import NotInOmnitronYet, Parking, order_in_omnitron, retry_only
from service.flows.run import FlowRun
from service.net.exchange import RawExchange
from service.omnitron.client import CANCELLED_STATUSES
from service.omnitron.models.batch import BatchObject, FailedReasonType
from service.omnitron.models.cancellation import CancellationRequest, CancellationRequestCreate
from service.store import Store

CONTENT_TYPE = "cancellationrequest"
FETCH_COMMAND = "CreateCancellationRequest"
UPDATE_COMMAND = "UpdateCancellationRequest"
LABEL = "cancellation_request"
# Omnitron request statuses and what the channel is told for them.
APPROVED_STATUSES = frozenset({"approved", "completed"})
REJECTED_STATUSES = frozenset({"rejected"})
# A channel request still open; an empty status means the channel does not say.
PENDING_CHANNEL_STATUSES = frozenset({"", "pending"})
PARKING = Parking(ChannelCancellationRequest, key=lambda request: request.remote_id)


# -- channel → Omnitron -------------------------------------------------------------------


class _Posted:
    """Channel ids of requests posted to Omnitron and perhaps not declared on a batch yet.

    Kept in the store (beside the feed's cursor) before each POST and settled once the
    commit declaring them went through, so they outlive a run that dies in between.
    A store whose runs predate this record may hold undeclared requests of unknown
    ids: each new request is looked up until a run has read the feed through.
    """

    def __init__(self, store: Store, flow: str) -> None:
        self._store = store
        self._key = f"{flow}:posted"
        raw = store.get_cursor(self._key)
        self._ids: set[str] = set()
        # This run is recorded already: more than one run means earlier ones exist.
        self._unknown = raw is None and store.count_runs(flow=flow) > 1
        if raw is not None:
            try:
                self._ids = {str(remote_id) for remote_id in json.loads(raw)}
            except (TypeError, ValueError):
                self._unknown = True

    def may_be_undeclared(self, remote_id: str) -> bool:
        """Whether a request with this channel id may exist in Omnitron undeclared."""
        return self._unknown or remote_id in self._ids

    def posting(self, remote_id: str) -> None:
        """Record, before its POST, that this request may soon exist undeclared."""
        self._ids.add(remote_id)
        self._save()

    def settled(self, remote_ids: Iterable[str]) -> None:
        """These requests are declared (their integration action exists)."""
        before = len(self._ids)
        self._ids.difference_update(remote_ids)
        if len(self._ids) != before:
            self._save()

    def caught_up(self) -> None:
        """The feed was read through and everything posted is declared."""
        if self._unknown:
            self._unknown = False
            self._save()

    def _save(self) -> None:
        # While the ids are unknown, every request is looked up anyway; the record
        # starts once a run has caught up.
        if not self._unknown:
            self._store.set_cursor(self._key, json.dumps(sorted(self._ids)))


def fetch_cancellation_requests(run: FlowRun) -> None:
    """Create Omnitron cancellation requests for the channel's new ones since the cursor."""
    posted = _Posted(run.store, run.flow.value)
    drain_feed_into_batch(
        run,
        run.channel.fetch_cancellation_requests,
        label=LABEL,
        command=FETCH_COMMAND,
        handle=lambda objects, request, fetched: _create(run, objects, posted, request, fetched),
        subject_of=lambda fetched: fetched.remote_id or "?",
        parking=PARKING,
        on_commit=lambda declared: posted.settled(obj.remote_id or "" for obj in declared),
    )
    if retry_only() is None:
        posted.caught_up()


def _create(
    run: FlowRun,
    objects: CommitBuffer,
    posted: _Posted,
    request: ChannelCancellationRequest,
    fetched: Fetched[ChannelCancellationRequest],
) -> None:
    subject = request.remote_id
    if request.status.lower() not in PENDING_CHANNEL_STATUSES:
        run.tally.add(skipped=1)
        run.ctx.event(
            "cancellation_request.skipped",
            subject,
            f"Cancellation request {subject} is already {request.status} at the channel.",
        )
        return
    existing = run.omnitron.object_ids_for_remote_id(CONTENT_TYPE, subject)
    if existing:
        posted.settled([subject])
        run.tally.add(skipped=1)
        message = f"Cancellation request {subject} is already in Omnitron ({sorted(existing)})."
        run.ctx.event("cancellation_request.skipped", subject, message)
        run.reporter.success(
            command=FETCH_COMMAND,
            subject=subject,
            description=message,
            content_type=CONTENT_TYPE,
            object_id=min(existing),
        )
        return
    if (
        posted.may_be_undeclared(subject)
        and (orphan := run.omnitron.find_cancellation_request(subject)) is not None
    ):
        # Created by a run that stopped before declaring it: link it, never POST twice.
        _link(run, objects, orphan)
        return
    line_pks = item_pks_for_line(run, request.order_item)
    if not line_pks and not order_in_omnitron(run, request.order_remote_id):
        raise NotInOmnitronYet(
            f"Cannot create cancellation request {subject} for line {request.order_item}"
            f"{_of_order(request)} yet: the order is not in Omnitron; the request is "
            "parked until it is."
        )
    item_pk = _open_item(run, line_pks)
    if item_pk is None:
        _fetch_failed(
            run,
            fetched,
            f"Cannot create cancellation request {subject} for line {request.order_item}"
            f"{_of_order(request)}: no order item in Omnitron that is not already cancelled.",
        )
        return
    reason = reason_id_for(conf_of(run), request.reason)
    if reason is None:
        reason = DEFAULT_REASON_ID
    posted.posting(subject)
    created = run.omnitron.create_cancellation_request(
        CancellationRequestCreate(
            order_item=item_pk,
            reason=reason,
            remote_id=subject,
            description=request.description,
            cancellation_type=request.cancellation_type,
        )
    )
    # Before the commit declares it: the window a crash-safe rerun must cover.
    run.ctx.event("cancellation_request.posted", subject, f"Posted cancellation request {subject}.")
    message = (
        f"Created cancellation request {created.pk} ({request.cancellation_type}, reason "
        f"{reason}) for item {item_pk}, line {request.order_item}{_of_order(request)}."
    )
    _declare(run, objects, created, "cancellation_request.created", message)


def _link(run: FlowRun, objects: CommitBuffer, orphan: CancellationRequest) -> None:
    """Declare a request an interrupted run created but never declared."""
    message = (
        f"Cancellation request {orphan.remote_id} was already created in Omnitron "
        f"({orphan.pk}) by a run that stopped before recording it; linked it."
    )
    _declare(run, objects, orphan, "cancellation_request.linked", message)


def _declare(
    run: FlowRun, objects: CommitBuffer, created: CancellationRequest, kind: str, message: str
) -> None:
    subject = created.remote_id or ""
    # Its integration action, made when the chunk is committed, makes a re-fetch skip it.
    objects.add(
        [
            BatchObject(
                pk=created.pk,
                version_date=created.modified_date,
                content_type=CONTENT_TYPE,
                remote_id=subject,
            )
        ]
    )
    run.tally.add(created=1)
    run.ctx.event(kind, subject, message)
    run.reporter.success(
        command=FETCH_COMMAND,
        subject=subject,
        description=message,
        content_type=CONTENT_TYPE,
        object_id=created.pk,
        modified_date=created.modified_date,
    )


def _of_order(request: ChannelCancellationRequest) -> str:
    return f" of order {request.order_remote_id}" if request.order_remote_id else ""


def _open_item(run: FlowRun, line_pks: list[int]) -> int | None:
    """The line's first item that is not cancelled (the request covers the whole line)."""
    for pk in line_pks:
        if run.omnitron.get_order_item(pk).status not in CANCELLED_STATUSES:
            return pk
    return None


def _fetch_failed(
    run: FlowRun, fetched: Fetched[ChannelCancellationRequest], description: str
) -> None:
    subject = fetched.remote_id or "?"
    run.tally.add(failed=1)
    run.ctx.event("cancellation_request.failed", subject, description, logging.WARNING)
    run.reporter.failure(
        once=True,
        command=FETCH_COMMAND,
        subject=subject,
        description=description,
        raw=fetched.raw,
        raw_payload=dict(fetched.payload),
    )


# -- Omnitron → channel -------------------------------------------------------------------


def update_cancellation_requests(run: FlowRun) -> None:
    """Send Omnitron's decisions on cancellation requests to the channel."""
    session = run.open_batch()
    updates = list(run.omnitron.list_cancellation_request_updates())
    if not updates:
        run.ctx.event("cancellation_request.none", "", "No cancellation request changed.")
        return
    request_ids = run.omnitron.remote_ids_for_objects(CONTENT_TYPE, [r.pk for r in updates])
    item_ids = run.omnitron.remote_ids_for_objects(
        "orderitem", [r.order_item for r in updates if r.order_item is not None]
    )
    session.commit(
        BatchObject(
            pk=request.pk,
            version_date=request.modified_date,
            content_type=CONTENT_TYPE,
            remote_id=request_ids.get(request.pk) or request.remote_id,
        )
        for request in updates
    )
    conf = conf_of(run)
    done = 0
    try:
        for request in updates:
            run.ctx.check_cancelled()
            run.ctx.progress(done, len(updates), f"cancellation request {request.pk}")
            remote_id = request_ids.get(request.pk) or request.remote_id
            line = item_ids.get(request.order_item) if request.order_item is not None else None
            code = channel_code_for(conf, request.reason)
            _send_decision(run, session, request, remote_id, line, code)
            done += 1
    except Exception:
        # Committed but not sent (a stop, or a bug): done must not mark them synced,
        # or their decisions would never reach the channel. As failures they come back.
        for request in updates[done:]:
            session.mark_failed(CONTENT_TYPE, request.pk, FailedReasonType.CHANNEL_APP)
        run.ctx.event(
            "cancellation_request.not_sent",
            "",
            f"{len(updates) - done} decision(s) not sent in this run; the next run sends them.",
            logging.WARNING,
        )
        raise
    run.ctx.progress(done, len(updates))


def _send_decision(
    run: FlowRun,
    session: Batch,
    request: CancellationRequest,
    remote_id: str | None,
    line: str | None,
    reason_code: str,
) -> None:
    subject = remote_id or str(request.pk)
    status = (request.status or "").lower()
    what = f"cancellation request {request.pk} (channel {remote_id or '?'}, line {line or '?'})"
    if status not in APPROVED_STATUSES | REJECTED_STATUSES:
        run.tally.add(skipped=1)
        run.ctx.event(
            "cancellation_request.undecided",
            subject,
            f"{what.capitalize()} is {status or 'without a status'}: nothing to send.",
        )
        return
    approved = status in APPROVED_STATUSES
    if remote_id is None or (not approved and not reason_code):
        cause = (
            "it has no channel id"
            if remote_id is None
            else f"reason {request.reason} has no channel code in reason_mapping"
        )
        _decision_failed(
            run,
            session,
            request,
            subject,
            FailedReasonType.MAPPING,
            f"Cannot send {what}: {cause}.",
        )
        return
    decision = CancellationRequestDecision(
        remote_id=remote_id, approved=approved, reason=reason_code, note=request.description
    )
    try:
        result = run.channel.update_cancellation_request(decision)
    except ChannelError as exc:
        if exc.is_outage:
            raise  # the run ends; decisions not sent stay unsynced for the next run
        _decision_failed(
            run,
            session,
            request,
            subject,
            FailedReasonType.REMOTE,
            f"The channel did not answer the decision on {what}: {exc.message}",
            raw=exc.raw,
        )
        return
    if result.status != "SUCCESS":
        _decision_failed(
            run,
            session,
            request,
            subject,
            FailedReasonType.REMOTE,
            f"The channel refused the decision on {what}: {result.message or 'no reason given'}",
            raw=result.raw,
        )
        return
    session.set_remote_id(CONTENT_TYPE, request.pk, remote_id)
    run.tally.add(updated=1)
    message = f"Sent {'approval' if approved else 'rejection'} of {what} to the channel."
    run.ctx.event("cancellation_request.decided", subject, message)
    run.reporter.success(
        command=UPDATE_COMMAND,
        subject=subject,
        description=message,
        raw=result.raw,
        content_type=CONTENT_TYPE,
        object_id=request.pk,
        modified_date=request.modified_date,
    )


def _decision_failed(
    run: FlowRun,
    session: Batch,
    request: CancellationRequest,
    subject: str,
    reason: FailedReasonType,
    description: str,
    raw: RawExchange | None = None,
) -> None:
    session.mark_failed(CONTENT_TYPE, request.pk, reason)
    run.tally.add(failed=1)
    run.ctx.event("cancellation_request.decision_failed", subject, description, logging.WARNING)
    run.reporter.failure(
        once=True,
        command=UPDATE_COMMAND,
        side="channel",
        subject=subject,
        description=description,
        raw=raw,
        content_type=CONTENT_TYPE,
        object_id=request.pk,
    )
