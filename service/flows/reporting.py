"""Error reports: every failure becomes one, in the local store and in Omnitron.

A report is written to the store first (an outbox row, ``delivered=False``) and then
posted to Omnitron's ``error_reports/``. When Omnitron cannot take it, it stays in the
outbox and the next run delivers it (:meth:`ErrorReporter.deliver_outbox`), so no
report is lost while Omnitron is down.

Codes keep the reference's prefix, so Omnitron's log filter by batch id still works,
and end with a unique suffix (docs/omnitron-api.md §4, §7):

- channel side: ``{local_batch_id}-Channel-{Command}_{subject}-{suffix}``
- Omnitron side: ``{local_batch_id}-{Command}_{subject}-{suffix}``
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from service.flows.context import RunContext
from service.flows.names import Flow
from service.net.exchange import RawExchange
from service.omnitron.client import OmnitronClient
from service.omnitron.errors import OmnitronError
from service.omnitron.models.error_report import ErrorReportCreate
from service.store import NewErrorReport, Store

Side = Literal["channel", "omnitron"]
# Where a report points when it concerns the run or batch as a whole.
BATCH_MODEL = "batchrequest"


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
    ) -> None:
        self._omnitron = omnitron
        self._store = store
        self._ctx = ctx
        self._flow = flow
        self._run_id = run_id
        self.is_success_log = is_success_log
        self._lock = threading.Lock()
        self._failure_ids: list[int] = []
        # Once Omnitron refused or could not take a report, the rest of the run's
        # reports go straight to the outbox instead of each waiting out the retries.
        self._omnitron_down = False
        self._batch_pk: int | None = None
        self._prefix = f"run{run_id}"

    def use_batch(self, pk: int, local_batch_id: str) -> None:
        """Prefix later codes with this batch's id and point batch-level reports at it."""
        self._batch_pk = pk
        self._prefix = local_batch_id

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
        content_type: str = BATCH_MODEL,
        object_id: int | None = None,
        modified_date: str | datetime | None = None,
        once: bool = False,
    ) -> int:
        """Record a failure; returns the store id of its report.

        ``raw`` is the exchange that failed; ``raw_payload`` (e.g. the channel's order
        JSON) replaces its response text when there was no failing call. With ``once``,
        the same failure of the same subject already on record (a re-fetched record, a
        parked order retried) is only touched: the operator sees one report that keeps
        being seen, not a new one per run.
        """
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
            content_type=content_type,
            object_id=object_id,
            modified_date=modified_date,
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
            content_type=content_type,
            object_id=object_id,
            modified_date=modified_date,
        )

    def deliver_outbox(self) -> int:
        """Post reports earlier runs could not deliver; returns how many arrived."""
        delivered = 0
        for report in self._store.undelivered_reports():
            if not self._deliver(report.id, report.omnitron_payload):
                break
            delivered += 1
        if delivered:
            self._ctx.event("report.outbox", "", f"Delivered {delivered} waiting error reports.")
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
        content_type: str,
        object_id: int | None,
        modified_date: str | datetime | None,
    ) -> int:
        code = report_code(self._prefix, side, command, subject)
        raw_request = raw.request if raw else ""
        raw_response = raw.response if raw else ""
        if raw_payload is not None:
            raw_response = _as_text(raw_payload)
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
            )
        )
        self._deliver(report_id, payload)
        return report_id

    def _deliver(self, report_id: int, payload: dict[str, Any]) -> bool:
        """Post one stored report; ``False`` (and it stays in the outbox) if that failed."""
        if self._omnitron_down:
            return False
        try:
            # The store keeps model names; Omnitron wants content-type ids.
            body = dict(payload)
            body["action_content_type"] = self._omnitron.content_type(
                str(payload["action_content_type"])
            ).id
            self._omnitron.create_error_report(ErrorReportCreate.model_validate(body))
        except OmnitronError as exc:
            self._omnitron_down = True
            self._ctx.event(
                "report.undelivered",
                "",
                f"Error reports wait in the outbox: Omnitron did not take them ({exc}).",
                logging.WARNING,
            )
            return False
        self._store.mark_delivered(report_id)
        return True


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
