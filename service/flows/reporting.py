"""Error reports: every failure becomes one, in the local store and in Omnitron.

A report is written to the store first (an outbox row, ``delivered=False``) and then
posted to Omnitron's ``error_reports/``. The outbox is a queue of independent letters
(:meth:`ErrorReporter.deliver_outbox` runs at the start of every run):

- Never twice: a report is marked ``sending_at`` before its POST. If the answer is
  lost (or a 5xx leaves it unknown), or the process dies before it is marked
  delivered, it is looked up in Omnitron by its unique ``error_code`` before it is
  posted again (docs/omnitron-api.md §7, §9).
- Never lost: a transient failure (5xx, timeout, dropped connection, 429 after the
  retries) leaves the report and everything after it queued and stops delivering
  for the rest of the run; the next run goes on.
- Never a line: a report Omnitron refuses for good (a 4xx such as 400 or 413) is
  marked dead, with the answer, kept and shown; the next report goes on.

Raw request and response text and descriptions are bounded (:mod:`service.bounded_text`)
before they are stored or posted.

Codes keep the reference's prefix, so Omnitron's log filter by batch id still works,
and end with a unique suffix (docs/omnitron-api.md §4, §7):

- channel side: ``{local_batch_id}-Channel-{Command}_{subject}-{suffix}``
- Omnitron side: ``{local_batch_id}-{Command}_{subject}-{suffix}``
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from service.bounded_text import (
    DESCRIPTION_LIMIT,
    RAW_TEXT_LIMIT,
    SUBJECT_LIMIT,
    truncate_text,
)
from service.causes import Cause
from service.flows.context import RunContext
from service.flows.names import Flow
from service.net.exchange import RawExchange
from service.omnitron.client import OmnitronClient
from service.omnitron.errors import OmnitronError, OmnitronNotFound, OmnitronUnavailable
from service.omnitron.models.error_report import ErrorReportCreate
from service.report_causes import classify
from service.store import NewErrorReport, OutboxCounts, Store, StoredErrorReport

Side = Literal["channel", "omnitron"]
# Where a report points when it concerns the run or batch as a whole.
BATCH_MODEL = "batchrequest"
# 4xx answers that are not about the report itself: auth, timeout, throttling.
TRANSIENT_4XX = frozenset({401, 408, 429})
OUTBOX_PAGE = 500  # reports read from the store at a time
POST_ATTEMPTS = 3  # POSTs of one report per delivery when the answer is a 5xx or lost
_ANSWER_LIMIT = 500  # characters of a refusal kept as the report's delivery error

Delivery = Literal["delivered", "waiting", "refused"]


def report_code(prefix: str, side: Side, command: str, subject: str = "") -> str:
    """A unique error code in the reference's format."""
    head = f"{prefix}-Channel-{command}" if side == "channel" else f"{prefix}-{command}"
    if subject:
        head += f"_{subject}"
    return f"{head}-{uuid.uuid4().hex[:8]}"


class ErrorReporter:
    """Writes this run's reports. Safe to call from worker threads."""

    def __init__(
        self,
        omnitron: OmnitronClient,
        store: Store,
        ctx: RunContext,
        *,
        flow: Flow,
        run_id: int,
        is_success_log: bool,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._omnitron = omnitron
        self._sleep = sleep
        self._store = store
        self._ctx = ctx
        self._flow = flow
        self._run_id = run_id
        self.is_success_log = is_success_log
        self._lock = threading.Lock()
        self._failure_ids: list[int] = []
        # Subjects that failed in this run: a later "went through" of the same subject
        # in this run (a record applied in part) must not resolve that fresh failure.
        self._failed_subjects: set[str] = set()
        # Once Omnitron could not take a report, the rest of the run's reports go
        # straight to the outbox instead of each waiting out the retries.
        self._omnitron_down = False
        self._lookup_refused = False  # said once per run, not once per report
        self._batch_pk: int | None = None
        self._prefix = f"run{run_id}"
        self._open_batch: Callable[[], object] | None = None

    def use_batch(self, pk: int, local_batch_id: str) -> None:
        """Prefix later codes with this batch's id and point batch-level reports at it."""
        self._batch_pk = pk
        self._prefix = local_batch_id

    def open_batch_on_write(self, opener: Callable[[], object] | None) -> None:
        """Call ``opener`` before each new report is written; ``None`` stops that.

        The run's batch is created lazily (:class:`~service.flows.batch.LazyBatch`):
        ``opener`` creates it on the first report (which then carries its id, via
        :meth:`use_batch`) and is a no-op afterwards. A touched repeat writes nothing,
        so it opens nothing.
        """
        self._open_batch = opener

    @property
    def failure_ids(self) -> tuple[int, ...]:
        """Store ids of the failure reports written so far."""
        with self._lock:
            return tuple(self._failure_ids)

    def failure(
        self,
        *,
        command: str,
        description: str,
        side: Side = "omnitron",
        subject: str = "",
        raw: RawExchange | None = None,
        raw_payload: Any = None,
        answer: Any = None,
        content_type: str = BATCH_MODEL,
        object_id: int | None = None,
        modified_date: str | datetime | None = None,
        once: bool = False,
        cause: Cause | None = None,
        cause_value: str = "",
    ) -> int:
        """Record a failure; returns the store id of its report.

        ``cause`` is one of :class:`Cause` with ``cause_value`` what was not found or
        refused (the city ``Istambul``); without one it is read from ``description``.
        ``raw`` is the exchange that failed: its request and the answer (Omnitron's or
        the channel's). Without a failing call, ``raw_payload`` — what we were given,
        e.g. the channel's order JSON — is the raw request, and ``answer`` (the other
        side's verdict on it, e.g. the channel's per-order result) the raw response.
        With ``once``,
        the same failure of the same subject already on record (a re-fetched record, a
        parked order retried) is only touched: the operator sees one report that keeps
        being seen, not a new one per run.
        """
        description = truncate_text(description, DESCRIPTION_LIMIT)
        subject = truncate_text(subject, SUBJECT_LIMIT)
        if cause is None:
            cause, cause_value = classify(description)
        with self._lock:
            self._failed_subjects.add(subject)
        if once:
            existing = self._store.find_open_report(self._flow.value, subject, description)
            if existing is not None:
                self._store.touch_report(existing.id)
                self._ctx.event("report.repeated", subject, description, logging.WARNING)
                return existing.id
        report_id = self._write(
            is_ok=False,
            command=command,
            description=description,
            side=side,
            subject=subject,
            raw=raw,
            raw_payload=raw_payload,
            answer=answer,
            content_type=content_type,
            object_id=object_id,
            modified_date=modified_date,
            cause=cause.value,
            cause_value=truncate_text(cause_value, SUBJECT_LIMIT),
        )
        with self._lock:
            self._failure_ids.append(report_id)
        self._ctx.event("report.failure", subject, description, logging.WARNING)
        return report_id

    def success(
        self,
        *,
        command: str,
        description: str,
        side: Side = "channel",
        subject: str = "",
        raw: RawExchange | None = None,
        content_type: str = BATCH_MODEL,
        object_id: int | None = None,
        modified_date: str | datetime | None = None,
    ) -> int | None:
        """Record a success when the run logs successes (``is_success_log``)."""
        if not self.is_success_log:
            return None
        return self._write(
            is_ok=True,
            command=command,
            description=description,
            side=side,
            subject=subject,
            raw=raw,
            raw_payload=None,
            answer=None,
            content_type=content_type,
            object_id=object_id,
            modified_date=modified_date,
        )

    def resolved(self, subject: str) -> int:
        """``subject`` went through in this flow: its open failure reports are resolved.

        A subject that failed earlier in this same run stays open.
        """
        with self._lock:
            if subject in self._failed_subjects:
                return 0
        count = self._store.resolve_reports(self._flow.value, subject)
        if count:
            self._ctx.event(
                "report.resolved", subject, f"{subject}: went through; its failure is resolved."
            )
        return count

    def deliver_outbox(self) -> int:
        """Post reports earlier runs left in the outbox, oldest first; how many arrived.

        Never raises for Omnitron's sake: a refused report is marked dead and the
        next one goes on; a transient failure stops this pass and leaves the rest
        queued. A cancel stops the pass too (the run then stops at its next check).
        """
        delivered = refused = 0
        after_id = 0
        while not self._omnitron_down and not self._ctx.cancel.cancelled:
            page = self._store.undelivered_reports(limit=OUTBOX_PAGE, after_id=after_id)
            for report in page:
                if self._omnitron_down or self._ctx.cancel.cancelled:
                    break
                state = self._deliver(report)
                delivered += state == "delivered"
                refused += state == "refused"
            if len(page) < OUTBOX_PAGE:
                break
            after_id = page[-1].id
        if delivered:
            self._ctx.event("report.outbox", "", f"Delivered {delivered} waiting error reports.")
        counts = self._store.outbox_counts()
        if counts.waiting or refused:
            self._ctx.event("report.waiting", "", outbox_sentence(counts), logging.WARNING)
        return delivered

    def _write(
        self,
        *,
        is_ok: bool,
        command: str,
        description: str,
        side: Side,
        subject: str,
        raw: RawExchange | None,
        raw_payload: Any,
        answer: Any,
        content_type: str,
        object_id: int | None,
        modified_date: str | datetime | None,
        cause: str = "",
        cause_value: str = "",
    ) -> int:
        description = truncate_text(description, DESCRIPTION_LIMIT)
        subject = truncate_text(subject, SUBJECT_LIMIT)
        if self._open_batch is not None:
            self._open_batch()
        code = report_code(self._prefix, side, command, subject)
        raw_request = raw.request if raw else ""
        raw_response = raw.response if raw else ""
        if raw is None and raw_payload is not None:
            # No call failed: what we were given is the request of this item.
            raw_request = _as_text(raw_payload)
        if raw is None and answer is not None:
            raw_response = _as_text(answer)
        raw_request = truncate_text(raw_request, RAW_TEXT_LIMIT)
        raw_response = truncate_text(raw_response, RAW_TEXT_LIMIT)
        if object_id is None:
            content_type, object_id = BATCH_MODEL, self._batch_pk or 0
        payload = {
            "action_content_type": content_type,
            "action_object_id": object_id,
            "obj_modified_date": _report_date(modified_date),
            "error_code": code,
            "error_desc": description,
            "raw_request": raw_request,
            "raw_response": raw_response,
            "is_ok": is_ok,
        }
        report_id = self._store.add_error_report(
            NewErrorReport(
                code=code,
                description=description,
                is_ok=is_ok,
                flow=self._flow.value,
                run_id=self._run_id,
                batch_pk=self._batch_pk,
                local_batch_id=None if self._batch_pk is None else self._prefix,
                content_type=content_type,
                object_id=str(object_id),
                subject=subject,
                raw_request=raw_request,
                raw_response=raw_response,
                omnitron_payload=payload,
                cause=cause,
                cause_value=cause_value,
            )
        )
        self._deliver(self._store.get_error_report(report_id))
        return report_id

    def _deliver(self, report: StoredErrorReport) -> Delivery:
        """Deliver one stored report, at most once; where it stands afterwards."""
        if self._omnitron_down:
            return "waiting"
        code = report.code
        try:
            # sending_at without delivered: an earlier POST's answer was lost, or its
            # process died waiting for it. The report may be in Omnitron already.
            if report.sending_at is not None:
                landed = self._landed(code)
                if landed is not None:
                    self._store.mark_delivered(report.id, remote_pk=landed)
                    return "delivered"
            body = self._body(report.omnitron_payload)
            self._store.mark_sending(report.id)
            remote_pk = self._post_once(body)
        except (OmnitronError, UnsendableReport, LookupFailed) as exc:
            answer = one_line(exc)
            if is_refusal(exc):
                self._store.mark_dead(report.id, answer)
                self._ctx.event(
                    "report.refused",
                    code,
                    f"Omnitron refused error report {code} for good ({answer}); "
                    "it is kept in the store, marked refused.",
                    logging.WARNING,
                )
                return "refused"
            self._omnitron_down = True
            self._store.note_delivery_error(report.id, answer)
            self._ctx.event(
                "report.undelivered",
                "",
                f"Error reports wait in the outbox: Omnitron did not take them ({answer}).",
                logging.WARNING,
            )
            return "waiting"
        self._store.mark_delivered(report.id, remote_pk=remote_pk)
        return "delivered"

    def _post_once(self, body: ErrorReportCreate) -> int | None:
        """POST a report; after a 5xx or a lost answer look it up before trying again.

        Returns Omnitron's id of the report when its answer (or the look-up) named
        one, so the mirror knows the report as ours. A few tries only: a report that
        cannot go now waits in the outbox, and the look-up at its next delivery keeps
        it from arriving twice.
        """
        for attempt in range(1, POST_ATTEMPTS + 1):
            try:
                stored = self._omnitron.create_error_report(body)
                return None if stored is None else stored.pk
            except OmnitronUnavailable as exc:
                if not exc.maybe_processed or attempt == POST_ATTEMPTS:
                    raise
                landed = self._landed(body.error_code)
                if landed is not None:
                    return landed
                self._sleep(self._omnitron.policy.backoff(attempt))

    def _landed(self, code: str) -> int | None:
        """Omnitron's id of the report with ``code`` when it holds it already, else ``None``.

        No answer (5xx, timeout) means "cannot tell": :class:`LookupFailed` keeps the
        report queued. A listing Omnitron refuses (a 4xx: it offers no such look-up)
        counts as "not there" — the report is posted rather than held back forever,
        so it may arrive twice but is never lost nor blocks the reports after it.
        """
        try:
            found = self._omnitron.find_error_report(code)
        except OmnitronError as exc:
            if not is_refusal(exc):
                raise LookupFailed(
                    f"could not look error report {code} up: {one_line(exc)}"
                ) from exc
            if not self._lookup_refused:
                self._lookup_refused = True
                self._ctx.event(
                    "report.lookup_refused",
                    code,
                    f"Omnitron refused to look error reports up by code ({one_line(exc)}); "
                    "a report whose answer was lost is posted again.",
                    logging.WARNING,
                )
            return None
        return None if found is None else found.pk

    def _body(self, payload: dict[str, Any]) -> ErrorReportCreate:
        """The POST body of a stored payload (the store keeps model names, not ids)."""
        model = payload.get("action_content_type")
        if not isinstance(model, str) or not model:
            raise UnsendableReport("the stored report names no content type")
        body = dict(payload)
        body["action_content_type"] = self._omnitron.content_type(model).id
        # Payloads stored before text was bounded are bounded on their way out.
        for key in ("raw_request", "raw_response"):
            body[key] = truncate_text(str(body.get(key) or ""), RAW_TEXT_LIMIT)
        body["error_desc"] = truncate_text(str(body.get("error_desc") or ""), DESCRIPTION_LIMIT)
        try:
            return ErrorReportCreate.model_validate(body)
        except ValidationError as exc:
            raise UnsendableReport(
                f"the stored report is not a valid error report: {exc.error_count()} "
                f"problem(s), first: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}"
            ) from None


class LookupFailed(Exception):
    """Omnitron did not answer whether it holds a report: delivery waits (transient)."""


class UnsendableReport(Exception):
    """A stored report no POST can carry (a malformed payload): it cannot be delivered."""


def is_refusal(exc: Exception) -> bool:
    """Whether Omnitron refused a report for good (retrying the same body cannot help).

    A 4xx answer is about the report itself, except 401, 408 and 429; a body that
    cannot be built (a malformed stored payload, a content type Omnitron does not
    have) cannot be sent either. Anything else — 5xx, no answer — is transient.
    """
    if isinstance(exc, UnsendableReport):
        return True
    status = exc.status_code if isinstance(exc, OmnitronError) else None
    if status is None:
        return isinstance(exc, OmnitronNotFound)
    return 400 <= status < 500 and status not in TRANSIENT_4XX


def one_line(exc: Exception) -> str:
    """An exception as one short line, for a report's delivery error and events."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _ANSWER_LIMIT else text[: _ANSWER_LIMIT - 1] + "…"


def outbox_sentence(counts: OutboxCounts) -> str:
    """What the outbox holds, for run events and the CLI's run summary."""
    parts = [f"{counts.waiting} error report(s) wait in the outbox for Omnitron"]
    if counts.refused:
        parts.append(f"{counts.refused} refused by Omnitron")
    return "; ".join(parts) + " (python main.py errors --outbox lists them)."


def _as_text(payload: Any) -> str:
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, default=str, indent=None)


def _report_date(value: str | datetime | None) -> str:
    if isinstance(value, str) and value:
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        value = datetime.now(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")
