"""What the flows that read a channel feed share: the cursor loop, lookups, reports.

Cancellations, line updates and cancellation requests arrive as channel listings
read from a stored cursor (docs/omnitron-api.md §4). :func:`drain_feed` runs one such
listing: it first retries the records earlier runs parked (:mod:`service.flows.parking`),
then reads the feed, checks for a stop between records, reports progress, turns
unreadable records and record-level Omnitron refusals into error reports, parks
records whose order is not in Omnitron yet, and moves the cursor only past recorded
work — a record applied, skipped as unchanged, failed for good with a report, or
parked. The adapter's ``since`` is inclusive, so the last recorded record comes again
next run: every handler must be idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from service.channel.adapter import Fetched
from service.flows.batch import RollingBatch
from service.flows.parking import NotInOmnitronYet, ParkedRecords, Parking, retry_only
from service.flows.run import FlowRun
from service.omnitron.errors import (
    BatchTransitionRefused,
    OmnitronBadRequest,
    OmnitronConflict,
    OmnitronError,
    OmnitronMultipleFound,
    OmnitronNotFound,
    OmnitronResponseInvalid,
)
from service.omnitron.models.batch import BatchObject
from service.omnitron.models.channel import ChannelConf

T = TypeVar("T", bound=BaseModel)

# The reference's fallback when neither the mapping nor the channel conf names a reason.
DEFAULT_REASON_ID = 10
# Objects declared per commit PATCH: fewer round trips, bounded request bodies.
COMMIT_CHUNK = 50


class FeedCursor:
    """The fetch position of one flow, persisted in the store as ISO 8601 text."""

    def __init__(self, run: FlowRun) -> None:
        self._run = run
        self.since = _as_time(run.store.get_cursor(run.flow.value))
        self._latest = self.since
        self._moved = False

    def advance(self, moment: datetime | None) -> None:
        """Remember that every record up to ``moment`` has been handled."""
        if moment is None:
            return
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if self._latest is None or moment > self._latest:
            self._latest = moment
            self._moved = True

    def save(self) -> None:
        """Persist the position reached (nothing to do when it did not move)."""
        if self._moved and self._latest is not None:
            self._run.store.set_cursor(self._run.flow.value, self._latest.isoformat())
            self._moved = False


def _as_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CommitBuffer:
    """Objects waiting to be declared on the run's batches, committed in chunks.

    ``on_commit`` is told which objects each commit declared, once it went through.
    """

    def __init__(
        self,
        batches: RollingBatch,
        on_commit: Callable[[list[BatchObject]], None] | None = None,
    ) -> None:
        self._batches = batches
        self._on_commit = on_commit
        self._pending: list[BatchObject] = []

    def add(self, objects: Iterable[BatchObject]) -> None:
        """Queue objects; a full chunk is committed at once."""
        self._pending.extend(objects)
        if len(self._pending) >= COMMIT_CHUNK:
            self.flush()

    def flush(self) -> None:
        """Commit everything queued."""
        if self._pending:
            pending, self._pending = self._pending, []
            self._batches.commit([(obj,) for obj in pending])
            if self._on_commit is not None:
                self._on_commit(pending)


def is_record_failure(exc: OmnitronError) -> bool:
    """Whether Omnitron refused this one record (go on) rather than became unusable (stop)."""
    if isinstance(exc, BatchTransitionRefused):
        return False  # the run's batch itself is refused: nothing else can be recorded
    return isinstance(
        exc,
        OmnitronBadRequest
        | OmnitronNotFound
        | OmnitronConflict
        | OmnitronMultipleFound
        | OmnitronResponseInvalid,
    )


def drain_feed(
    run: FlowRun,
    feed: Callable[[datetime | None], Iterator[Fetched[T]]],
    *,
    label: str,
    command: str,
    handle: Callable[[T, Fetched[T]], None],
    subject_of: Callable[[Fetched[T]], str],
    parking: Parking[T],
    before_save: Callable[[], None] | None = None,
) -> None:
    """Run ``handle`` on the parked records due now, then on the listing from the cursor.

    ``handle`` raises :class:`~service.flows.parking.NotInOmnitronYet` for a record
    whose order Omnitron does not hold yet: it is parked. Unreadable records and
    Omnitron's refusal of one record become error reports and count as failed; a stop
    request, a channel or an Omnitron outage end the loop, and the cursor is saved up
    to the last record recorded either way — after ``before_save`` (which declares
    what the records did); if that raises, the cursor stays and the records come again.
    """
    parked = ParkedRecords(run, parking, label=label, command=command, subject_of=subject_of)

    def attempt(fetched: Fetched[T], *, retried: bool) -> bool:
        """Handle one parsed record; ``False`` when it was parked (it waits)."""
        item = fetched.item
        assert item is not None
        if not retried and parked.retried(fetched):
            return True  # recorded by this run's retries already
        try:
            handle(item, fetched)
        except NotInOmnitronYet as wait:
            parked.park(fetched, wait, retried=retried)
            return False
        except OmnitronError as exc:
            if not is_record_failure(exc):
                raise
            _refused(run, fetched, exc, label=label, command=command, subject_of=subject_of)
        else:
            # Applied or up to date (a failure reported inside ``handle`` is not undone).
            run.reporter.resolved(subject_of(fetched))
        parked.settled(item)
        return True

    parked.retry(lambda fetched: attempt(fetched, retried=True))
    if retry_only() is not None:
        return  # the operator's retry of chosen parked records: the feed waits
    cursor = FeedCursor(run)
    noun = label.replace("_", " ")
    done = 0
    try:
        for fetched in feed(cursor.since):
            run.ctx.check_cancelled()
            subject = subject_of(fetched)
            run.ctx.progress(done, None, f"{label} {subject}")
            if fetched.item is None:
                run.tally.add(failed=1)
                run.ctx.event(f"{label}.unreadable", subject, fetched.error, logging.WARNING)
                run.reporter.failure(
                    once=True,
                    command=command,
                    side="channel",
                    subject=subject,
                    description=f"Unreadable {noun} from the channel: {fetched.error}",
                    raw=fetched.raw,
                )
            else:
                attempt(fetched, retried=False)
            # Recorded: applied, skipped, reported for good, or parked.
            cursor.advance(fetched.cursor)
            done += 1
            run.ctx.progress(done, None, f"{label} {subject}")
    finally:
        if before_save is not None:
            before_save()
        cursor.save()


def _refused(
    run: FlowRun,
    fetched: Fetched[T],
    exc: OmnitronError,
    *,
    label: str,
    command: str,
    subject_of: Callable[[Fetched[T]], str],
) -> None:
    """Omnitron refused this one record: one report, counted as failed."""
    subject = subject_of(fetched)
    noun = label.replace("_", " ")
    run.tally.add(failed=1)
    run.ctx.event(f"{label}.failed", subject, str(exc), logging.WARNING)
    run.reporter.failure(
        once=True,
        command=command,
        subject=subject,
        description=f"{noun} {subject}: Omnitron refused it: {exc.message}",
        raw=exc.exchange,
        raw_payload=None if exc.exchange else dict(fetched.payload),
    )


def item_pks_for_line(run: FlowRun, line_id: str) -> list[int]:
    """Omnitron order items of a channel line (set (c)): one per unit, in pk order."""
    return sorted(set(run.omnitron.object_ids_for_remote_id("orderitem", line_id)))


def reason_id_for(conf: ChannelConf, code: str, *, default: int | None = None) -> int | None:
    """The Omnitron reason for a channel reason code, else the conf's fallback, else ``default``."""
    mapping: Mapping[str, int] = conf.reason_mapping
    if code and code in mapping:
        return int(mapping[code])
    if conf.cancellation_reason_id is not None:
        return int(conf.cancellation_reason_id)
    return default


def channel_code_for(conf: ChannelConf, reason_id: int | None) -> str:
    """The channel's code of an Omnitron reason (first match of the mapping), or ``""``."""
    if reason_id is None:
        return ""
    return next((code for code, rid in conf.reason_mapping.items() if int(rid) == reason_id), "")


def conf_of(run: FlowRun) -> ChannelConf:
    """The channel settings read at the start of the run."""
    return run.channel_info.conf if run.channel_info is not None else ChannelConf()


def drain_feed_into_batch(
    run: FlowRun,
    feed: Callable[[datetime | None], Iterator[Fetched[T]]],
    *,
    label: str,
    command: str,
    handle: Callable[[CommitBuffer, T, Fetched[T]], None],
    subject_of: Callable[[Fetched[T]], str],
    parking: Parking[T],
    on_commit: Callable[[list[BatchObject]], None] | None = None,
) -> None:
    """:func:`drain_feed` on the run's new batch, declaring what ``handle`` buffers.

    The buffer is flushed whatever ends the loop (also a stop request or an outage),
    so every change already made in Omnitron is declared before the batch finishes,
    and before the cursor moves past its records: when that last commit fails, the
    cursor stays, and the next run reads those records again (every handler is
    idempotent) instead of leaving their changes undeclared for good.
    """
    objects = CommitBuffer(run.rolling_batch(), on_commit)
    try:
        drain_feed(
            run,
            feed,
            label=label,
            command=command,
            handle=lambda item, fetched: handle(objects, item, fetched),
            subject_of=subject_of,
            parking=parking,
            before_save=objects.flush,
        )
    finally:
        objects.flush()
