"""The error reports table, modelled on Omnitron's marketplace-log page, and its CSV export."""

from __future__ import annotations

import csv
from collections.abc import Hashable
from pathlib import Path

from PySide6.QtCore import QObject

from gui.models.csv_safe import safe_row
from gui.models.formatting import format_time
from gui.models.lazy import Column, LazyTableModel
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
    "raw_request",
    "raw_response",
)


def report_status(report: StoredErrorReport) -> str:
    """``Success`` or ``Fail``, as Omnitron's log page says it."""
    return "Success" if report.is_ok else "Fail"


def _first_line(text: str, limit: int = 200) -> str:
    line = text.split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


ERROR_COLUMNS: tuple[Column, ...] = (
    Column("Log id", lambda r: r.code, sort_key="code", tooltip=lambda r: r.code),
    Column("Status", report_status, badge=lambda r: "success" if r.is_ok else "danger"),
    Column("Log type", lambda r: r.content_type, sort_key="content_type"),
    Column("Object", lambda r: r.object_id, tooltip=lambda r: r.subject or None),
    Column(
        "Description",
        lambda r: _first_line(r.description),
        tooltip=lambda r: r.description[:2000] or None,
    ),
    Column("Created", lambda r: format_time(r.created_at), sort_key="created_at"),
)


class ErrorReportsModel(LazyTableModel):
    """Error reports matching an :class:`ErrorQuery`, newest first by default."""

    def __init__(
        self, store: Store, query: ErrorQuery | None = None, parent: QObject | None = None
    ) -> None:
        """A model over the error reports of ``store``."""
        super().__init__(store, ERROR_COLUMNS, query or ErrorQuery(), parent=parent)

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
    return ["" if values.get(name) is None else values[name] for name in CSV_FIELDS]
