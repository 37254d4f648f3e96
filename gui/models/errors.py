"""The error reports table, modelled on Omnitron's marketplace-log page, and its CSV export."""

from __future__ import annotations

import csv
from collections.abc import Hashable
from pathlib import Path

from PySide6.QtCore import QObject

from gui.models.csv_safe import safe_row
from gui.models.formatting import format_time
from gui.models.lazy import Column, LazyTableModel
from gui.models.origin import ORIGIN_KINDS, ORIGIN_TIPS
from service.causes import info
from service.store import ErrorQuery, Store, StoredErrorReport

EXPORT_PAGE_SIZE = 2_000
CSV_FIELDS: tuple[str, ...] = (
    "id",
    "code",
    "status",
    "content_type",
    "object_id",
    "subject",
    "description",
    "flow",
    "run_id",
    "batch_pk",
    "local_batch_id",
    "created_at",
    "attempts",
    "cause",
    "cause_value",
    "resolved_at",
    "origin",
    "raw_request",
    "raw_response",
)


def report_status(report: StoredErrorReport) -> str:
    """``Success`` or ``Fail``, as Omnitron's log page says it."""
    return "Success" if report.is_ok else "Fail"


def state_text(report: StoredErrorReport) -> str:
    """The Status column: ``open``/``resolved`` (``ok`` for a success), then delivery.

    Delivery is named only when Omnitron does not hold the report: ``not sent``
    (waiting in the outbox) or ``refused``. A report another deployment wrote
    (mirrored from Omnitron) says ``remote``.
    """
    state = "ok" if report.is_ok else ("resolved" if report.resolved_at else "open")
    if report.origin == "remote":
        return f"{state} · remote"
    delivery = report.delivery_state
    if delivery == "waiting":
        return f"{state} · not sent"
    if delivery == "refused":
        return f"{state} · refused"
    return state


def state_kind(report: StoredErrorReport) -> str:
    """The Status badge: open failures red, resolved ones green, successes grey."""
    if report.is_ok:
        return "neutral"
    return "success" if report.resolved_at else "danger"


def cause_text(report: StoredErrorReport) -> str:
    """The Cause column: the cause's title with its value ("Unknown city: Istambul")."""
    if report.is_ok:
        return ""
    title = info(report.cause).title
    return f"{title}: {report.cause_value}" if report.cause_value else title


def subject_text(report: StoredErrorReport) -> str:
    """What the report is about in the operator's words, else the object's id."""
    return report.subject or report.object_id


def _first_line(text: str, limit: int = 200) -> str:
    line = text.split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


ERROR_COLUMNS: tuple[Column, ...] = (
    Column("When", lambda r: format_time(r.created_at), sort_key="created_at"),
    Column("Flow", lambda r: r.flow, sort_key="flow"),
    Column("Subject", subject_text, tooltip=lambda r: subject_text(r) or None),
    Column(
        "Cause", cause_text, tooltip=lambda r: info(r.cause).what_to_do if not r.is_ok else None
    ),
    Column(
        "Description",
        lambda r: _first_line(r.description),
        tooltip=lambda r: r.description[:2000] or None,
    ),
    Column("Status", state_text, badge=state_kind),
    # Behind the column chooser (ERROR_HIDDEN_COLUMNS).
    Column("Log id", lambda r: r.code, sort_key="code", tooltip=lambda r: r.code),
    Column("Log type", lambda r: r.content_type, sort_key="content_type"),
    Column("Object", lambda r: r.object_id),
    Column("Attempts", lambda r: str(r.attempts), sort_key="attempts", numeric=True),
    Column("Last seen", lambda r: format_time(r.last_seen_at), sort_key="last_seen_at"),
    Column("Run", lambda r: "" if r.run_id is None else str(r.run_id), numeric=True),
    Column("Batch", lambda r: "" if r.batch_pk is None else str(r.batch_pk), numeric=True),
    Column(
        "Origin",
        lambda r: r.origin,
        badge=lambda r: ORIGIN_KINDS[r.origin],
        tooltip=lambda r: ORIGIN_TIPS[r.origin],
    ),
)
# Shown only when the user picks them in the header's column menu.
ERROR_HIDDEN_COLUMNS: tuple[str, ...] = tuple(c.title for c in ERROR_COLUMNS[6:])


class ErrorReportsModel(LazyTableModel):
    """Error reports matching an :class:`ErrorQuery`, newest first by default.

    By default it lists failures only (``is_ok=False``), as the operator looks for them.
    """

    def __init__(
        self, store: Store, query: ErrorQuery | None = None, parent: QObject | None = None
    ) -> None:
        """A model over the error reports of ``store``."""
        super().__init__(store, ERROR_COLUMNS, query or ErrorQuery(is_ok=False), parent=parent)

    def fetch_rows(
        self, store: Store, query: ErrorQuery, offset: int, limit: int
    ) -> list[StoredErrorReport]:
        """One page of reports."""
        return store.search_error_reports(
            query.model_copy(update={"offset": offset, "limit": limit})
        )

    def count_rows(self, store: Store, query: ErrorQuery) -> int:
        """How many reports match."""
        return store.count_error_reports(query)

    def count_key(self, query: ErrorQuery) -> Hashable:
        """The filters alone (order and page do not change the count)."""
        return query.model_copy(
            update={"order_by": "created_at", "descending": True, "limit": 100, "offset": 0}
        )

    def ordered(self, query: ErrorQuery, sort_key: str, descending: bool) -> ErrorQuery:
        """``query`` in a new order."""
        return query.model_copy(update={"order_by": sort_key, "descending": descending})

    def sort_state(self) -> tuple[str | None, bool]:
        """The current order."""
        return self.query.order_by, self.query.descending

    def record_id(self, record: StoredErrorReport) -> int:
        """The report's id."""
        return record.id


def export_error_reports_csv(store: Store, query: ErrorQuery, path: Path | str) -> int:
    """Write every report matching ``query`` (in its order) to a CSV file at ``path``.

    Cells that a spreadsheet would run as a formula are written as text
    (:mod:`gui.models.csv_safe`). Reads in pages, so memory stays flat however many
    reports match. Returns the number of rows written (the header not counted).
    """
    written = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        offset = 0
        while True:
            page = store.search_error_reports(
                query.model_copy(update={"offset": offset, "limit": EXPORT_PAGE_SIZE})
            )
            for report in page:
                writer.writerow(safe_row(_csv_row(report)))
            written += len(page)
            if len(page) < EXPORT_PAGE_SIZE:
                return written
            offset += len(page)


def _csv_row(report: StoredErrorReport) -> list[object]:
    values: dict[str, object] = report.model_dump(include=set(CSV_FIELDS))
    values["status"] = report_status(report).lower()
    values["created_at"] = report.created_at.isoformat()
    if report.resolved_at is not None:
        values["resolved_at"] = report.resolved_at.isoformat()
    return ["" if values.get(name) is None else values[name] for name in CSV_FIELDS]
