"""Table models over the local store: rows loaded lazily, sorted and counted in SQL."""

from gui.models.batches import BatchesModel, BatchQuery
from gui.models.errors import ErrorReportsModel, export_error_reports_csv
from gui.models.lazy import BADGE_ROLE, ID_ROLE, RECORD_ROLE, Column, LazyTableModel
from gui.models.runs import RunQuery, RunsModel

__all__ = [
    "BADGE_ROLE",
    "ID_ROLE",
    "RECORD_ROLE",
    "BatchQuery",
    "BatchesModel",
    "Column",
    "ErrorReportsModel",
    "LazyTableModel",
    "RunQuery",
    "RunsModel",
    "export_error_reports_csv",
]
