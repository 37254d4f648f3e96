"""The local store's schema: versioned migrations applied on open.

``PRAGMA user_version`` holds the number of migrations applied. To change the
schema, append a function to :data:`MIGRATIONS`; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from service.report_causes import classify
from service.report_search import searchable_values

Migration = Callable[[sqlite_utils.Database], None]

# The columns of error_reports that full-text search covered as v1 made it (v3 changes them).
FTS_COLUMNS: tuple[str, ...] = ("code", "description", "raw_request", "raw_response")


def _v1_initial(db: sqlite_utils.Database) -> None:
    """Create every table, index and the full-text index."""
    db.executescript(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            flow TEXT NOT NULL,
            profile TEXT NOT NULL DEFAULT '',
            options TEXT NOT NULL DEFAULT '{}',
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT NOT NULL DEFAULT 'running',
            created INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            error_count INTEGER NOT NULL DEFAULT 0,
            message TEXT NOT NULL DEFAULT '',
            duration_s REAL
        );
        CREATE INDEX ix_runs_flow_started ON runs (flow, started_at);
        CREATE INDEX ix_runs_started ON runs (started_at);

        CREATE TABLE batch_requests (
            pk INTEGER PRIMARY KEY,
            local_batch_id TEXT NOT NULL,
            remote_batch_id TEXT,
            content_type TEXT,
            status TEXT NOT NULL,
            objects TEXT NOT NULL DEFAULT '[]',
            object_count INTEGER NOT NULL DEFAULT 0,
            failed_count INTEGER NOT NULL DEFAULT 0,
            flow TEXT,
            run_id INTEGER REFERENCES runs (id),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_transition_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX ux_batch_requests_local_batch_id
            ON batch_requests (local_batch_id);
        -- (filter, created_at): each filter also serves the default newest-first order.
        CREATE INDEX ix_batch_requests_status ON batch_requests (status, created_at);
        CREATE INDEX ix_batch_requests_content_type
            ON batch_requests (content_type, created_at);
        CREATE INDEX ix_batch_requests_flow ON batch_requests (flow, created_at);
        CREATE INDEX ix_batch_requests_created_at ON batch_requests (created_at);
        CREATE INDEX ix_batch_requests_run_id ON batch_requests (run_id);

        CREATE TABLE batch_events (
            id INTEGER PRIMARY KEY,
            batch_pk INTEGER NOT NULL REFERENCES batch_requests (pk),
            status TEXT NOT NULL,
            at TEXT NOT NULL,
            run_id INTEGER,
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX ix_batch_events_batch_at ON batch_events (batch_pk, at);

        CREATE TABLE error_reports (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            is_ok INTEGER NOT NULL DEFAULT 0,
            flow TEXT NOT NULL DEFAULT '',
            run_id INTEGER,
            batch_pk INTEGER,
            local_batch_id TEXT,
            content_type TEXT NOT NULL DEFAULT '',
            object_id TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL DEFAULT '',
            raw_request TEXT NOT NULL DEFAULT '',
            raw_response TEXT NOT NULL DEFAULT '',
            omnitron_payload TEXT NOT NULL DEFAULT '{}',
            delivered INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            delivered_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 1,
            last_seen_at TEXT NOT NULL
        );
        CREATE INDEX ix_error_reports_created_at ON error_reports (created_at);
        CREATE INDEX ix_error_reports_is_ok ON error_reports (is_ok, created_at);
        CREATE INDEX ix_error_reports_code ON error_reports (code, created_at);
        CREATE INDEX ix_error_reports_content_type
            ON error_reports (content_type, created_at);
        CREATE INDEX ix_error_reports_flow ON error_reports (flow, created_at);
        CREATE INDEX ix_error_reports_run_id ON error_reports (run_id, created_at);
        CREATE INDEX ix_error_reports_batch_pk ON error_reports (batch_pk, created_at);
        CREATE INDEX ix_error_reports_local_batch_id
            ON error_reports (local_batch_id, created_at);
        -- The outbox: only the few undelivered rows are in this index.
        CREATE INDEX ix_error_reports_undelivered ON error_reports (id) WHERE delivered = 0;
        -- find_open_report: same failure of the same subject, not ok.
        CREATE INDEX ix_error_reports_open ON error_reports (flow, subject) WHERE is_ok = 0;

        CREATE TABLE cursors (
            flow TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE parked (
            flow TEXT NOT NULL,
            remote_id TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            payload TEXT NOT NULL DEFAULT '{}',
            reason TEXT NOT NULL DEFAULT '',
            error_report_id INTEGER,
            attempts INTEGER NOT NULL DEFAULT 1,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            PRIMARY KEY (flow, remote_id)
        );
        """
    )
    db["error_reports"].enable_fts(FTS_COLUMNS, fts_version="FTS5", create_triggers=True)


def _v2_integrity(db: sqlite_utils.Database) -> None:
    """Run leases, run owners, dead letters in the outbox, report delivery state.

    - ``leases``: who owns a flow or a commit lock right now (one row per name, e.g.
      ``flow:fetch-orders`` or ``commit:order``), with the owner's pid, host and a
      heartbeat, so a second process can tell a live owner from a dead one.
    - ``runs`` gain the owner (pid, host) and its heartbeat, so a run whose process
      died can be marked ``interrupted`` by the next one.
    - ``error_reports`` gain ``dead`` (Omnitron refused the report for good; kept,
      out of the outbox), ``delivery_error`` (the last answer) and ``sending_at``
      (a POST was started: if its answer was lost, look before posting again).
    - ``runs.pending_batch_id``: the ``local_batch_id`` a run asked Omnitron to
      create, recorded before the POST, so a lost answer leaves no anonymous batch.
    """
    # Statement by statement, not executescript(): that would COMMIT the migration's
    # transaction first, and a failure half-way would leave a half-migrated file.
    for statement in _V2_STATEMENTS:
        db.execute(statement)


_V2_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        run_id INTEGER,
        flow TEXT NOT NULL DEFAULT '',
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        token TEXT NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
    )""",
    "ALTER TABLE runs ADD COLUMN pid INTEGER",
    "ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE runs ADD COLUMN heartbeat_at TEXT",
    "ALTER TABLE runs ADD COLUMN pending_batch_id TEXT",
    "CREATE INDEX ix_runs_outcome ON runs (outcome) WHERE outcome = 'running'",
    "ALTER TABLE error_reports ADD COLUMN dead INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE error_reports ADD COLUMN delivery_error TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE error_reports ADD COLUMN sending_at TEXT",
    "DROP INDEX ix_error_reports_undelivered",
    "CREATE INDEX ix_error_reports_undelivered ON error_reports (id) "
    "WHERE delivered = 0 AND dead = 0",
    "CREATE INDEX ix_error_reports_dead ON error_reports (id) WHERE dead = 1",
)


def _v3_operator_loop(db: sqlite_utils.Database) -> None:
    """Causes and resolution of reports, values-only search, run logs, mapping aliases.

    - ``error_reports`` gain ``cause`` (a code of :mod:`service.causes`) and
      ``cause_value`` (what was not found, e.g. the city ``Istambul``): a problem is the
      open failures of one (cause, value). ``resolved_at`` is set when the item went
      through later. ``search_values`` holds the raw request and response without their
      JSON keys (:mod:`service.report_search`); full-text search covers it instead of
      the raw text, and its update trigger fires only when an indexed column changes.
    - ``runs.waiting``: parked items the run retried that still wait (not failures).
    - ``run_log``: each run's events, kept after a restart.
    - ``aliases``: the operator's mapping of a channel's spelling (a city, a cargo
      company) to an Omnitron object, used before Omnitron is asked.
    """
    for statement in _V3_SCHEMA:
        db.execute(statement)
    rows = db.execute("SELECT id, raw_request, raw_response FROM error_reports").fetchall()
    db.conn.executemany(
        "UPDATE error_reports SET search_values = ? WHERE id = ?",
        [(searchable_values(request, response), pk) for pk, request, response in rows],
    )
    for statement in _V3_SEARCH:
        db.execute(statement)


_V3_SCHEMA: tuple[str, ...] = (
    "ALTER TABLE error_reports ADD COLUMN cause TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE error_reports ADD COLUMN cause_value TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE error_reports ADD COLUMN resolved_at TEXT",
    "ALTER TABLE error_reports ADD COLUMN search_values TEXT NOT NULL DEFAULT ''",
    # Open problems: unresolved failures grouped by cause and value.
    "CREATE INDEX ix_error_reports_problems ON error_reports (cause, cause_value, created_at) "
    "WHERE is_ok = 0 AND resolved_at IS NULL",
    "CREATE INDEX ix_error_reports_cause ON error_reports (cause, created_at)",
    # Parked items a run retried that still wait: not new failures.
    "ALTER TABLE runs ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0",
    """CREATE TABLE run_log (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL,
        at TEXT NOT NULL,
        level INTEGER NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL
    )""",
    "CREATE INDEX ix_run_log_run ON run_log (run_id, id)",
    """CREATE TABLE aliases (
        kind TEXT NOT NULL,
        scope TEXT NOT NULL DEFAULT '',
        channel_value TEXT NOT NULL,
        folded TEXT NOT NULL,
        omnitron_pk INTEGER NOT NULL,
        label TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        PRIMARY KEY (kind, scope, folded)
    )""",
)

_V3_SEARCH: tuple[str, ...] = (
    "DROP TRIGGER error_reports_ai",
    "DROP TRIGGER error_reports_ad",
    "DROP TRIGGER error_reports_au",
    "DROP TABLE error_reports_fts",
    "CREATE VIRTUAL TABLE error_reports_fts USING FTS5 "
    "(code, description, subject, search_values, content = error_reports)",
    """CREATE TRIGGER error_reports_ai AFTER INSERT ON error_reports BEGIN
        INSERT INTO error_reports_fts (rowid, code, description, subject, search_values)
        VALUES (new.id, new.code, new.description, new.subject, new.search_values);
    END""",
    """CREATE TRIGGER error_reports_ad AFTER DELETE ON error_reports BEGIN
        INSERT INTO error_reports_fts
            (error_reports_fts, rowid, code, description, subject, search_values)
        VALUES ('delete', old.id, old.code, old.description, old.subject, old.search_values);
    END""",
    # Delivery bookkeeping updates a report often; only a change of indexed text
    # needs the index touched.
    """CREATE TRIGGER error_reports_au
        AFTER UPDATE OF code, description, subject, search_values ON error_reports BEGIN
        INSERT INTO error_reports_fts
            (error_reports_fts, rowid, code, description, subject, search_values)
        VALUES ('delete', old.id, old.code, old.description, old.subject, old.search_values);
        INSERT INTO error_reports_fts (rowid, code, description, subject, search_values)
        VALUES (new.id, new.code, new.description, new.subject, new.search_values);
    END""",
    "INSERT INTO error_reports_fts (error_reports_fts) VALUES ('rebuild')",
)


def _v4_classify_causes(db: sqlite_utils.Database) -> None:
    """Give every failure report stored before causes existed its cause and value.

    The cause is read from the description the flow wrote (:mod:`service.report_causes`),
    so an old store shows its failures as problems too. Successes keep ``''``.
    """
    rows = db.execute(
        "SELECT id, description FROM error_reports WHERE is_ok = 0 AND cause = ''"
    ).fetchall()
    updates = []
    for pk, description in rows:
        cause, value = classify(description or "")
        updates.append((cause.value, value, pk))
    db.conn.executemany("UPDATE error_reports SET cause = ?, cause_value = ? WHERE id = ?", updates)


def _v5_fleet(db: sqlite_utils.Database) -> None:
    """Runs on Celery workers, and what another deployment wrote to Omnitron.

    - ``runs.task_id``: the Celery task a worker ran the run for; the console records a
      worker's run under it, so a store both share holds it once.
    - ``origin`` of batch requests and error reports: ``local`` when this store's runs
      wrote them, ``remote`` when the mirror read them from Omnitron's listings.
    - ``error_reports.remote_pk``: the report's id in Omnitron, once known (delivered
      or mirrored), so the mirror never stores a report twice.
    """
    for statement in _V5_STATEMENTS:
        db.execute(statement)


_V5_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE runs ADD COLUMN task_id TEXT",
    "CREATE UNIQUE INDEX ux_runs_task_id ON runs (task_id) WHERE task_id IS NOT NULL",
    "ALTER TABLE batch_requests ADD COLUMN origin TEXT NOT NULL DEFAULT 'local'",
    "ALTER TABLE error_reports ADD COLUMN origin TEXT NOT NULL DEFAULT 'local'",
    "ALTER TABLE error_reports ADD COLUMN remote_pk INTEGER",
    "CREATE UNIQUE INDEX ux_error_reports_remote_pk ON error_reports (remote_pk) "
    "WHERE remote_pk IS NOT NULL",
)


MIGRATIONS: tuple[Migration, ...] = (
    _v1_initial,
    _v2_integrity,
    _v3_operator_loop,
    _v4_classify_causes,
    _v5_fleet,
)
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(db: sqlite_utils.Database) -> int:
    """The number of migrations applied to ``db``."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def backup_path(path: Path, version: int) -> Path:
    """Where a file at schema ``version`` is copied before it is migrated."""
    return path.with_name(f"{path.name}.v{version}.bak")


def migrate(db: sqlite_utils.Database, path: Path | None) -> int:
    """Bring ``db`` to :data:`SCHEMA_VERSION`; returns the version it had.

    An existing file with data is first copied to ``<name>.v<old>.bak`` with
    SQLite's online backup, so a failed or unwanted migration can be undone by hand.
    Each migration runs in its own transaction together with its version bump.
    """
    current = user_version(db)
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"{path or 'database'} has schema version {current}, newer than this "
            f"program's {SCHEMA_VERSION}; use a newer ChannelDesk"
        )
    if current == SCHEMA_VERSION:
        return current
    if path is not None and _has_tables(db):
        _backup(db.conn, backup_path(path, current))
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another connection opening the same
            # file at the same moment may have migrated it meanwhile.
            version = user_version(db)
            if version >= SCHEMA_VERSION:
                db.execute("COMMIT")
                return current
            MIGRATIONS[version](db)
            # PRAGMA takes no parameters; the value is an int computed here.
            db.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            db.rollback()
            raise
        db.execute("COMMIT")


def _has_tables(db: sqlite_utils.Database) -> bool:
    row = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return bool(row[0])


def _backup(conn: sqlite3.Connection, target: Path) -> None:
    """Copy the live database (WAL content included) to ``target``."""
    with sqlite3.connect(target) as dest:
        conn.backup(dest)
    dest.close()
