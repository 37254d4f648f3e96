"""Statements that take a store back to an older schema, to test its migration."""

from __future__ import annotations

# What v5 (fleet) added, undone so the store looks as v4 left it.
UNDO_V5: tuple[str, ...] = (
    "DROP INDEX ux_runs_task_id",
    "ALTER TABLE runs DROP COLUMN task_id",
    "DROP INDEX ux_error_reports_remote_pk",
    "ALTER TABLE error_reports DROP COLUMN remote_pk",
    "ALTER TABLE error_reports DROP COLUMN origin",
    "ALTER TABLE batch_requests DROP COLUMN origin",
)
