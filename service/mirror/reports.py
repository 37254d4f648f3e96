"""Error reports another deployment wrote: new ones by id, newest first.

Reports are written once, so an id watermark finds every new one with ``sort=-id`` and
paging alone (docs/omnitron-api.md §9). Each is kept with its cause and value read from
its description (:func:`service.report_causes.classify`), so failures form problems,
and with its flow and subject read from its code (:mod:`service.mirror.codes`). Our
own delivered reports are recognised (:meth:`Store.mirror_report`).
"""

from __future__ import annotations

from service.bounded_text import DESCRIPTION_LIMIT, RAW_TEXT_LIMIT, SUBJECT_LIMIT, truncate_text
from service.flows.context import CancelToken
from service.flows.reporting import BATCH_MODEL
from service.mirror.codes import flow_of, subject_of
from service.mirror.counts import KindCounts
from service.mirror.watermarks import REPORTS, read_id, write_id
from service.omnitron.client import OmnitronClient, omnitron_time
from service.omnitron.errors import OmnitronNotFound
from service.omnitron.models.error_report import ErrorReport
from service.report_causes import classify
from service.store import NewErrorReport, Store

FIRST_SYNC_ROWS = 1000  # error reports the first sync reads (the newest)


class ContentTypeNames:
    """Content type ids → model names (``order``), each asked of Omnitron once."""

    def __init__(self, omnitron: OmnitronClient) -> None:
        self._omnitron = omnitron
        self._names: dict[int, str] = {}

    def __call__(self, pk: int | None) -> str:
        """The model name of content type ``pk`` (its number when Omnitron has none)."""
        if pk is None:
            return ""
        if pk not in self._names:
            try:
                self._names[pk] = self._omnitron.content_type_by_id(pk).model
            except OmnitronNotFound:
                self._names[pk] = str(pk)
        return self._names[pk]


def remote_report(report: ErrorReport, content_type: str) -> NewErrorReport:
    """The store's record of a report another deployment wrote."""
    description = truncate_text(report.error_desc, DESCRIPTION_LIMIT)
    object_id = "" if report.action_object_id is None else str(report.action_object_id)
    subject = subject_of(report.error_code) or f"{content_type} {object_id}".strip()
    cause, value = ("", "") if report.is_ok else classify(description)
    # A report about a batch as a whole points at it, as ours do (service/flows/reporting.py).
    batch_pk = report.action_object_id if content_type == BATCH_MODEL else None
    return NewErrorReport(
        code=report.error_code,
        description=description,
        is_ok=report.is_ok,
        flow=flow_of(report.error_code),
        batch_pk=batch_pk,
        content_type=content_type,
        object_id=object_id,
        subject=truncate_text(subject, SUBJECT_LIMIT),
        raw_request=truncate_text(report.raw_request, RAW_TEXT_LIMIT),
        raw_response=truncate_text(report.raw_response, RAW_TEXT_LIMIT),
        delivered=True,
        cause=str(cause),
        cause_value=truncate_text(value, SUBJECT_LIMIT),
        origin="remote",
        remote_pk=report.pk,
    )


def mirror_reports(
    omnitron: OmnitronClient, store: Store, *, cancel: CancelToken | None = None
) -> tuple[KindCounts, bool]:
    """Mirror the error reports written since the last sync; the counts and whether it
    finished (a cancelled one leaves the watermark, see :func:`mirror_batches`)."""
    counts = KindCounts()
    names = ContentTypeNames(omnitron)
    watermark = read_id(store, REPORTS)
    top = watermark
    newest = None if watermark else FIRST_SYNC_ROWS
    for report in omnitron.error_reports_above(watermark, newest=newest):
        if cancel is not None and cancel.cancelled:
            return counts, False
        record = remote_report(report, names(report.action_content_type))
        created = omnitron_time(report.created_date or report.modified_date)
        counts.add(store.mirror_report(record, created))
        top = max(top, report.pk)
    write_id(store, REPORTS, top)
    return counts, True
