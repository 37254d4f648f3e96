"""Parked channel records: work the channel sent that Omnitron cannot take yet.

A line update, cancel or cancellation request for an order that is not in Omnitron
yet (fetch-orders has not brought it, or parked it) cannot be applied now, but it must
not be dropped: the feed cursor moves on past it. The flow's handler raises
:class:`NotInOmnitronYet`; the record is then kept in the store's ``parked`` table
under its key, with the reason and the record itself, and reported once. Each later
run of the flow retries its parked records before it reads the feed (at most
:data:`RETRY_LIMIT`, least recently tried first); a record that goes through — or
now fails for good, with its own report — leaves the table.

Parked records are retried for as long as they wait, never given up: what they wait
for (the order) can arrive at any time, e.g. when the operator fixes the mapping an
order was parked for, and a cancel given up would leave a cancelled order to be
shipped. A retry costs one to three lookups and the queue rotates, so a backlog that
never clears costs a bounded amount per run and never starves newer records. Their
age and attempts are listed (``python main.py parked``, the console's Parked view),
and their report is touched, not repeated, on every retry.

A retry the operator asks for (:mod:`service.flows.retry`) runs the flow inside
:func:`retrying`: only the chosen parked records are tried, and the feed is not read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from service.channel.adapter import Fetched
from service.flows.run import FlowRun
from service.net.exchange import RawExchange
from service.store import ParkedItem
from service.store_records import utc_now
from service.time_text import format_span

T = TypeVar("T", bound=BaseModel)

# Parked records retried per run, least recently tried first.
RETRY_LIMIT = 200

# The keys of the parked records an operator's retry takes up; ``None`` in a normal run.
# A context variable, so the flow bodies keep their signature and a retry run of one
# flow never changes what a concurrent run of another flow does.
_RETRY_KEYS: ContextVar[frozenset[str] | None] = ContextVar("retry_keys", default=None)


@contextmanager
def retrying(keys: Iterable[str]) -> Iterator[None]:
    """Within this block, a flow retries only the parked records ``keys`` and reads no feed."""
    token = _RETRY_KEYS.set(frozenset(keys))
    try:
        yield
    finally:
        _RETRY_KEYS.reset(token)


def retry_only() -> frozenset[str] | None:
    """The parked records a retry run is limited to, or ``None`` for a normal run."""
    return _RETRY_KEYS.get()


class NotInOmnitronYet(Exception):
    """The record concerns an order or item Omnitron does not hold yet: park it.

    ``description`` is the report's text; it must not vary between runs, so a retry
    that still waits touches the same report.
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class Parking(Generic[T]):
    """How a feed's records are parked.

    ``model`` rebuilds a parked record; ``key`` names the one entry a record is kept
    under (a newer record with the same key replaces the older one, e.g. a line's
    later update carries its whole state).
    """

    model: type[T]
    key: Callable[[T], str]


def order_in_omnitron(run: FlowRun, order_remote_id: str) -> bool:
    """Whether Omnitron holds the order with this channel id (integration actions, set (b))."""
    return bool(order_remote_id) and bool(
        run.omnitron.object_ids_for_remote_id("order", order_remote_id)
    )


def age_text(since: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``since`` was, in its two largest units: ``3 d 4 h``, ``2 h 5 min``."""
    if since is None:
        return ""
    return format_span((now or utc_now()) - since)


class ParkedRecords(Generic[T]):
    """The parked records of one flow during one run: park, retry, settle."""

    def __init__(
        self,
        run: FlowRun,
        parking: Parking[T],
        *,
        label: str,
        command: str,
        subject_of: Callable[[Fetched[T]], str],
    ) -> None:
        self._run = run
        self._flow = run.flow.value
        self._parking = parking
        self._label = label
        self._noun = label.replace("_", " ")
        self._command = command
        self._subject_of = subject_of
        self._keys = run.store.parked_keys(self._flow)
        # Records retried in this run, by key: the feed lists the last one again (its
        # cursor is inclusive), and handling it twice in one run would be no news.
        self._retried: dict[str, dict[str, Any]] = {}

    def park(self, fetched: Fetched[T], wait: NotInOmnitronYet, *, retried: bool = False) -> None:
        """Keep the record for a later run, with one report touched on every repeat.

        A record fetched now counts as failed; a retried one that still waits counts
        as waiting, not as a new failure (it is no news).
        """
        run = self._run
        item = _item(fetched)
        key = self._parking.key(item)
        subject = self._subject_of(fetched)
        report_id = run.reporter.failure(
            once=True,
            command=self._command,
            subject=subject,
            description=wait.description,
            raw=fetched.raw,
            raw_payload=dict(fetched.payload),
        )
        run.store.park(
            ParkedItem(
                flow=self._flow,
                remote_id=key,
                subject=subject,
                payload={"item": item.model_dump(mode="json"), "record": dict(fetched.payload)},
                reason=wait.description,
                error_report_id=report_id,
            )
        )
        self._keys.add(key)
        if retried:
            run.tally.add(waiting=1)
        else:
            run.tally.add(failed=1)
            run.ctx.event(f"{self._label}.parked", subject, wait.description, logging.WARNING)

    def retried(self, fetched: Fetched[T]) -> bool:
        """Whether this very record was already retried in this run."""
        key = self._parking.key(_item(fetched))
        return self._retried.get(key) == dict(fetched.payload)

    def settled(self, item: T) -> None:
        """The record is recorded for good (applied, skipped, or failed with a report)."""
        key = self._parking.key(item)
        if key in self._keys:
            self._keys.discard(key)
            self._run.store.unpark(self._flow, key)

    def retry(self, attempt: Callable[[Fetched[T]], bool]) -> None:
        """Try the parked records due now again, before the feed is read.

        ``attempt`` handles one record as the feed would and says whether it is settled
        (went through, or failed for good with a report) — then it was unparked — or
        still waits. A stop request or an outage ends the retries; what was not tried
        stays parked.
        """
        run = self._run
        only = retry_only()
        if only is None:
            queue = run.store.retry_queue(self._flow, limit=RETRY_LIMIT)
        else:
            queue = [item for item in run.store.parked(self._flow) if item.remote_id in only]
        if not queue:
            return
        run.ctx.event(
            f"{self._label}.retry_parked", "", f"Retrying {len(queue)} parked {self._noun}(s)."
        )
        waiting = 0
        for done, entry in enumerate(queue):
            run.ctx.check_cancelled()
            run.ctx.progress(done, len(queue), f"parked {self._noun} {entry.subject}")
            fetched = self._rebuild(entry)
            if fetched is not None:
                self._retried[entry.remote_id] = dict(fetched.payload)
            if fetched is None or not attempt(fetched):
                waiting += 1
                continue
            run.ctx.event(
                f"{self._label}.unparked",
                entry.subject,
                f"Parked {self._noun} {entry.subject} was handled after "
                f"{age_text(entry.first_seen_at)} ({entry.attempts + 1} attempts).",
            )
        run.ctx.progress(len(queue), len(queue))
        if waiting:
            run.ctx.event(
                f"{self._label}.still_parked",
                "",
                f"{waiting} parked {self._noun}(s) still wait for their orders in Omnitron.",
            )

    def _rebuild(self, entry: ParkedItem) -> Fetched[T] | None:
        """The parked record as the handler takes it; ``None`` if it cannot be read back."""
        try:
            item = self._parking.model.model_validate(entry.payload["item"])
            record = dict(entry.payload.get("record") or {})
        except (KeyError, TypeError, ValueError) as exc:
            # Kept in another form by an older version: it stays listed, and moves to
            # the back of the queue so it does not take a retry slot every run.
            self._run.store.park(entry.model_copy(update={"attempts": 1, "last_seen_at": None}))
            self._run.ctx.event(
                f"{self._label}.unreadable_parked",
                entry.subject,
                f"Parked {self._noun} {entry.subject} cannot be read back: {exc}",
                logging.WARNING,
            )
            return None
        return Fetched(
            raw=RawExchange(request=""),
            payload=record,
            item=item,
            remote_id=entry.remote_id,
            number=str(record.get("order_number") or ""),
        )


def _item(fetched: Fetched[T]) -> T:
    if fetched.item is None:  # only parsed records are parked
        raise ValueError("an unreadable record cannot be parked")
    return fetched.item


def parked_json(item: ParkedItem, now: datetime | None = None) -> dict[str, Any]:
    """A parked record for ``parked --json``: its fields and its age in seconds."""
    data = item.model_dump(mode="json")
    moment = now or utc_now()
    data["age_s"] = (
        None
        if item.first_seen_at is None
        else round((moment - item.first_seen_at) / timedelta(seconds=1), 1)
    )
    return data
