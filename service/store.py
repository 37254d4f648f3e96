"""The local store: one SQLite file per profile with runs, batches, error reports.

Flows write to it from worker threads; the GUI reads it from its own thread with
its own :class:`Store` on the same file. Each ``Store`` owns one connection, used
under an ``RLock``; SQLite's WAL mode lets the GUI's reads run while a worker writes,
and ``busy_timeout`` makes a second writer wait instead of failing.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import platformdirs
import sqlite_utils

from service.fleet.protocol import RemoteRun
from service.omnitron.models.batch import BatchStatus
from service.report_search import searchable_values
from service.store_errors import (
    StoreError,
    make_private,
    newer_schema,
    private_dir,
    private_file,
    store_errors,
)
from service.store_records import (
    BATCH_ORDER_COLUMNS,
    FINAL_OUTCOMES,
    PROBLEM_SUBJECTS,
    Alias,
    BatchEvent,
    BatchMirror,
    ErrorQuery,
    LeaseRecord,
    NewErrorReport,
    Origin,
    OutboxCounts,
    ParkedItem,
    Problem,
    RunLogEntry,
    RunRecord,
    StoredErrorReport,
    iso,
    utc_now,
)
from service.store_schema import SCHEMA_VERSION, migrate, user_version
from service.text_fold import fold

__all__ = [
    "Alias",
    "BatchEvent",
    "BatchMirror",
    "ErrorQuery",
    "NewErrorReport",
    "OutboxCounts",
    "ParkedItem",
    "Problem",
    "RecordNotFound",
    "RunLogEntry",
    "RunRecord",
    "Store",
    "StoreError",
    "StoredErrorReport",
    "fts_query",
]

APP_NAME = "ChannelDesk"
BUSY_TIMEOUT_MS = 10_000
OPEN_BATCH_STATUSES: tuple[str, ...] = tuple(s.value for s in BatchStatus if not s.is_final)
_PROFILE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_WORD = re.compile(r"\w", re.UNICODE)

_ERROR_COLUMNS = (
    "id, code, description, is_ok, flow, run_id, batch_pk, local_batch_id, content_type, "
    "object_id, subject, raw_request, raw_response, omnitron_payload, delivered, "
    "created_at, delivered_at, attempts, last_seen_at, dead, delivery_error, sending_at, "
    "cause, cause_value, resolved_at, origin, remote_pk"
)
_BATCH_COLUMNS = (
    "pk, local_batch_id, remote_batch_id, content_type, status, objects, flow, run_id, "
    "created_at, updated_at, last_transition_at, origin"
)


# Columns the runs can be listed by (the name goes into SQL text: only these).
RUN_ORDER_COLUMNS: frozenset[str] = frozenset(
    {"started_at", "flow", "outcome", "created", "updated", "skipped", "failed"}
    | {"error_count", "duration_s", "id", "host", "pid"}
)


class RecordNotFound(LookupError):
    """The run or error report asked for is not in the store."""


# What keeping a mirrored row did (Store.mirror_batch, Store.mirror_report).
MirrorChange = Literal["new", "updated", "same", "ours"]


def fts_query(text: str) -> str | None:
    """Turn free user text into a safe FTS5 ``MATCH`` expression.

    Every whitespace-separated word becomes a quoted phrase (so ``:``, ``-``, ``"``
    and FTS operators in the text are data, never syntax) with a prefix ``*``, and
    the words are ANDed. Words without a letter or digit are dropped; ``None``
    means nothing searchable is left.
    """
    phrases = ['"' + word.replace('"', '""') + '"*' for word in text.split() if _WORD.search(word)]
    return " ".join(phrases) or None


def _like_pattern(fragment: str) -> str:
    """``%fragment%`` with LIKE's wildcards in ``fragment`` taken literally."""
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _json(value: Any) -> str:
    # default=str: options may hold dates or paths; the store keeps their text.
    return json.dumps(value, ensure_ascii=False, default=str)


class Store:
    """Runs, batch requests, error reports (with an outbox), cursors, parked items."""

    def __init__(self, path: Path | str) -> None:
        """Open (creating and migrating as needed) the store at ``path``.

        ``":memory:"`` gives a private in-memory store, for tests.
        """
        memory = str(path) == ":memory:"
        self.path: Path | None = None if memory else Path(path)
        self._lock = threading.RLock()
        # File-level trouble (not a database, damaged, newer, read-only, disk full)
        # becomes one StoreError line; the file itself is never rewritten here.
        with store_errors(self.path):
            if self.path is not None:
                private_dir(self.path.parent)
                private_file(self.path)
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below),
            # so a write never upgrades a read lock mid-transaction and deadlocks.
            conn = sqlite3.connect(
                ":memory:" if self.path is None else str(self.path),
                check_same_thread=False,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            try:
                self._open(conn)
            except BaseException:
                conn.close()
                raise

    def _open(self, conn: sqlite3.Connection) -> None:
        """Set the connection up and bring the schema up to date."""
        self._db = sqlite_utils.Database(conn, execute_plugins=False)
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Checked before anything is written: a newer program's file stays as it is.
        version = user_version(self._db)
        if version > SCHEMA_VERSION and self.path is not None:
            raise newer_schema(self.path, version, SCHEMA_VERSION)
        if self.path is not None:
            self._db.enable_wal()
            # With WAL, NORMAL is durable across application crashes and much faster.
            self._db.execute("PRAGMA synchronous = NORMAL")
        migrate(self._db, self.path)
        if self.path is not None:
            make_private(self.path)

    @classmethod
    def for_profile(cls, profile: str, data_dir: Path | None = None) -> Store:
        """The store of ``profile``: ``<data dir>/profiles/<profile>.sqlite3``."""
        if not _PROFILE_FILE_NAME.match(profile):
            raise ValueError(f"profile name {profile!r} cannot be used as a file name")
        base = (
            data_dir
            if data_dir is not None
            else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
        )
        return cls(base / "profiles" / f"{profile}.sqlite3")

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        with self._lock:
            # Only a planner hint; closing matters more than its success.
            with suppress(sqlite3.Error):
                self._db.execute("PRAGMA optimize")
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path) if self.path else ':memory:'!r})"

    # -- plumbing ---------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction, taking SQLite's write lock up front."""
        with self._lock, store_errors(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.rollback()
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock, store_errors(self.path):
            cursor = self._db.execute(sql, list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock, store_errors(self.path):
            row = self._db.execute(sql, list(params)).fetchone()
            return None if row is None else row[0]

    # -- runs -------------------------------------------------------------------

    def start_run(
        self,
        flow: str,
        options: Mapping[str, Any],
        profile: str = "",
        *,
        pid: int | None = None,
        host: str = "",
        task_id: str | None = None,
    ) -> int:
        """Record that ``flow`` started with ``options`` in process ``pid`` on ``host``.

        ``task_id``: the Celery task a worker runs it for. It names the task's latest
        run: a task run again (redelivered after its worker died) takes the id over
        from its earlier run. Returns the run id. The start is the run's first
        heartbeat.
        """
        now = iso(utc_now())
        row = {
            "flow": flow,
            "profile": profile,
            "options": _json(dict(options)),
            "started_at": now,
            "outcome": "running",
            "pid": pid,
            "host": host,
            "heartbeat_at": now,
            "task_id": task_id,
        }
        with self._write() as db:
            if task_id is not None:
                db.execute("UPDATE runs SET task_id = NULL WHERE task_id = ?", [task_id])
            return int(db["runs"].insert(row).last_rowid)

    def finish_run(
        self,
        run_id: int,
        *,
        outcome: str,
        created: int,
        updated: int,
        skipped: int,
        failed: int,
        error_count: int,
        message: str,
        duration_s: float,
        waiting: int = 0,
    ) -> None:
        """Record how run ``run_id`` ended (``completed``, ``failed`` or ``cancelled``).

        ``waiting``: parked items the run retried that still wait (not failures).
        """
        if outcome not in FINAL_OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(FINAL_OUTCOMES)}, not {outcome!r}")
        with self._write() as db:
            cursor = db.execute(
                "UPDATE runs SET finished_at = ?, outcome = ?, created = ?, updated = ?, "
                "skipped = ?, failed = ?, error_count = ?, message = ?, duration_s = ?, "
                "waiting = ? WHERE id = ?",
                [
                    iso(utc_now()),
                    outcome,
                    created,
                    updated,
                    skipped,
                    failed,
                    error_count,
                    message,
                    duration_s,
                    waiting,
                    run_id,
                ],
            )
            if cursor.rowcount == 0:
                raise RecordNotFound(f"run {run_id} not found")

    def get_run(self, run_id: int) -> RunRecord:
        """The run ``run_id``; :class:`RecordNotFound` if there is none."""
        rows = self._rows("SELECT * FROM runs WHERE id = ?", [run_id])
        if not rows:
            raise RecordNotFound(f"run {run_id} not found")
        return _run(rows[0])

    def list_runs(
        self,
        *,
        flow: str | None = None,
        order_by: str = "started_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs, newest first unless ``order_by`` (one of :data:`RUN_ORDER_COLUMNS`) says."""
        if order_by not in RUN_ORDER_COLUMNS:
            raise ValueError(f"order_by must be one of {sorted(RUN_ORDER_COLUMNS)}")
        where, params = ("WHERE flow = ?", [flow]) if flow is not None else ("", [])
        direction = "DESC" if descending else "ASC"
        rows = self._rows(
            f"SELECT * FROM runs {where} ORDER BY {order_by} {direction}, id {direction} "
            "LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_run(row) for row in rows]

    def count_runs(self, *, flow: str | None = None) -> int:
        """How many runs are recorded, optionally of one flow."""
        where, params = ("WHERE flow = ?", [flow]) if flow is not None else ("", [])
        return int(self._scalar(f"SELECT count(*) FROM runs {where}", params))

    def hourly_activity(
        self, since: datetime, *, flow: str = "fetch-orders"
    ) -> list[tuple[datetime, int, int]]:
        """Per UTC hour from ``since``: orders created (by runs of ``flow``) and errors.

        ``(hour, created, errors)`` for the hours with any, oldest first. Runs count in
        the hour they started; errors are the not-ok reports, by creation time. One
        query, each half a range read of an index (runs by flow and start, reports by
        ok flag and creation time).
        """
        start = iso(since)
        rows = self._rows(
            "SELECT hour, sum(created) AS created, sum(errors) AS errors FROM ("
            " SELECT substr(started_at, 1, 13) AS hour, created, 0 AS errors FROM runs"
            " WHERE flow = ? AND started_at >= ?"
            " UNION ALL"
            " SELECT substr(created_at, 1, 13), 0, 1 FROM error_reports"
            " WHERE is_ok = 0 AND created_at >= ?"
            ") GROUP BY hour ORDER BY hour",
            [flow, start, start],
        )
        return [
            (datetime.fromisoformat(f"{row['hour']}:00:00+00:00"), row["created"], row["errors"])
            for row in rows
        ]

    def running_runs(self) -> list[RunRecord]:
        """Runs without an outcome yet (live ones and ones whose process died), oldest first."""
        rows = self._rows("SELECT * FROM runs WHERE outcome = 'running' ORDER BY id")
        return [_run(row) for row in rows]

    def interrupt_run(self, run_id: int, message: str) -> bool:
        """Close run ``run_id``, still ``running``, as ``interrupted``; ``False`` if it was not.

        It keeps the counts its last heartbeat saved; it ended at that heartbeat.
        """
        with self._write() as db:
            found = self._rows(
                "SELECT started_at, heartbeat_at FROM runs WHERE id = ? AND outcome = 'running'",
                [run_id],
            )
            if not found:
                return False
            started = datetime.fromisoformat(found[0]["started_at"])
            last = found[0]["heartbeat_at"]
            ended = datetime.fromisoformat(last) if last else started
            db.execute(
                "UPDATE runs SET outcome = 'interrupted', finished_at = ?, message = ?, "
                "duration_s = ? WHERE id = ?",
                [iso(ended), message, round((ended - started).total_seconds(), 3), run_id],
            )
            return True

    def record_remote_run(self, run: RemoteRun, *, local_host: str) -> int | None:
        """Keep a run a worker took as this store's row of it (``runs.task_id``).

        One row per task: the row holding the task id — the worker's own when it shares
        this store, or one recorded here earlier — is brought up to date, else a row is
        added. Only runs that started are kept: a queued, waiting or refused run has no
        run yet, as a local run refused for its lease has none. A ``running`` run is
        kept once its worker has recorded it (``run_id`` set) or when it runs on another
        host than ``local_host`` (this machine's name, ``this_host()``): a worker here
        may share this store and record the run under the task id a moment later, and
        must find no row of ours holding it. A finished run sets its outcome, counts and
        message (its worker's result wins over anything recorded before); a running one
        only says on which host and pid it runs, and never reopens a row that ended (its
        event may come after the end). Returns the row's id, or ``None`` when not kept.
        """
        if run.state == "running" and (run.run_id is not None or run.host != local_host):
            final = False
        elif run.state == "finished":
            final = True
        else:
            return None
        owner = {"host": run.host, "pid": run.pid, "heartbeat_at": iso(run.updated_at)}
        with self._write() as db:
            found = self._rows("SELECT id FROM runs WHERE task_id = ?", [run.task_id])
            if found:
                row_id = int(found[0]["id"])
                if final:
                    ended = {**owner, **_remote_ending(run)}
                    db["runs"].update(row_id, ended)
                else:
                    db.execute(
                        "UPDATE runs SET host = ?, pid = ?, heartbeat_at = max("
                        "coalesce(heartbeat_at, ''), ?) WHERE id = ? AND outcome = 'running'",
                        [run.host, run.pid, owner["heartbeat_at"], row_id],
                    )
                return row_id
            row = {
                "flow": run.flow,
                "profile": run.profile,
                "started_at": iso(run.started_at or run.queued_at),
                "outcome": "running",
                "task_id": run.task_id,
                **owner,
                **(_remote_ending(run) if final else {}),
            }
            return int(db["runs"].insert(row).last_rowid)

    def batches_of_run(self, run_id: int) -> list[BatchMirror]:
        """The batch requests run ``run_id`` opened, oldest first (its summary links them)."""
        rows = self._rows(
            f"SELECT {_BATCH_COLUMNS} FROM batch_requests WHERE run_id = ? ORDER BY pk",
            [run_id],
        )
        return [_batch(row) for row in rows]

    # -- run logs -------------------------------------------------------------------

    def append_run_log(self, run_id: int, events: Sequence[RunLogEntry]) -> None:
        """Append ``events`` to run ``run_id``'s log, all in one transaction.

        Callers batch events (a run emits hundreds): one transaction per event would
        make the log the run's bottleneck. Each entry's ``run_id`` is ignored.
        """
        if not events:
            return
        rows = [(run_id, iso(e.at), e.level, e.kind, e.subject, e.message) for e in events]
        with self._write() as db:
            db.conn.executemany(
                "INSERT INTO run_log (run_id, at, level, kind, subject, message) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def run_log(self, run_id: int, *, limit: int = 2000, min_level: int = 0) -> list[RunLogEntry]:
        """The last ``limit`` events of run ``run_id`` at ``min_level`` or above, oldest first."""
        rows = self._rows(
            "SELECT * FROM (SELECT * FROM run_log WHERE run_id = ? AND level >= ? "
            "ORDER BY id DESC LIMIT ?) ORDER BY id",
            [run_id, min_level, limit],
        )
        return [RunLogEntry.model_validate(row) for row in rows]

    # -- leases -------------------------------------------------------------------

    def take_leases(
        self,
        names: Sequence[str],
        *,
        token: str,
        flow: str,
        pid: int,
        host: str,
        run_id: int | None = None,
        is_gone: Callable[[LeaseRecord], bool],
    ) -> LeaseRecord | None:
        """Take every lease of ``names`` for ``token``, or none of them.

        In one write transaction: a lease held by another token whose holder is not
        ``is_gone`` blocks, and that holder is returned (the first in ``names``
        order); otherwise leases held by gone holders are taken over and ``None`` is
        returned. Taking a lease ``token`` already holds keeps its start time.
        """
        now = iso(utc_now())
        marks = ", ".join("?" for _ in names)
        with self._write() as db:
            rows = self._rows(f"SELECT * FROM leases WHERE name IN ({marks})", list(names))
            held = {row["name"]: LeaseRecord.model_validate(row) for row in rows}
            for name in names:
                lease = held.get(name)
                if lease is not None and lease.token != token and not is_gone(lease):
                    return lease
            for name in names:
                lease = held.get(name)
                mine = lease is not None and lease.token == token
                db.execute(
                    "INSERT OR REPLACE INTO leases (name, run_id, flow, pid, host, token, "
                    "started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        name,
                        run_id,
                        flow,
                        pid,
                        host,
                        token,
                        iso(lease.started_at) if mine and lease is not None else now,
                        now,
                    ],
                )
            return None

    def refresh_leases(self, token: str, *, run_id: int | None) -> int:
        """Refresh the leases ``token`` holds, bound to run ``run_id``; how many it still holds."""
        with self._write() as db:
            return _refresh_leases(db, token, run_id, iso(utc_now()))

    def beat_run(
        self,
        run_id: int,
        *,
        created: int = 0,
        updated: int = 0,
        skipped: int = 0,
        failed: int = 0,
        error_count: int = 0,
        waiting: int = 0,
    ) -> None:
        """Run ``run_id`` is alive (its leases are kept elsewhere): save its counts."""
        counts = [created, updated, skipped, failed, error_count, waiting]
        with self._write() as db:
            _beat_run(db, run_id, iso(utc_now()), counts)

    def release_leases(self, token: str, *, names: Sequence[str] | None = None) -> None:
        """Give back the leases ``token`` holds (only ``names`` when given)."""
        with self._write() as db:
            if names is None:
                db.execute("DELETE FROM leases WHERE token = ?", [token])
            else:
                marks = ", ".join("?" for _ in names)
                db.execute(
                    f"DELETE FROM leases WHERE token = ? AND name IN ({marks})",
                    [token, *names],
                )

    def leases(self) -> list[LeaseRecord]:
        """Every lease held now (live or not), by name."""
        rows = self._rows("SELECT * FROM leases ORDER BY name")
        return [LeaseRecord.model_validate(row) for row in rows]

    # -- batch requests -----------------------------------------------------------

    def record_batch(self, batch: BatchMirror, *, note: str = "") -> None:
        """Insert or update the mirror of a batch; log an event when its status changed.

        ``flow``/``run_id``/``created_at`` left ``None`` keep what was stored first.
        """
        now = utc_now()
        with self._write() as db:
            found = self._rows(
                "SELECT status, flow, run_id, created_at, last_transition_at "
                "FROM batch_requests WHERE pk = ?",
                [batch.pk],
            )
            old = found[0] if found else None
            changed = old is None or old["status"] != batch.status
            flow = batch.flow if batch.flow is not None or old is None else old["flow"]
            run_id = batch.run_id if batch.run_id is not None or old is None else old["run_id"]
            if batch.created_at is not None:
                created_at = iso(batch.created_at)
            else:
                created_at = old["created_at"] if old else iso(now)
            if batch.last_transition_at is not None:
                transition_at = iso(batch.last_transition_at)
            else:
                transition_at = iso(now) if changed or old is None else old["last_transition_at"]
            db["batch_requests"].upsert(
                {
                    "pk": batch.pk,
                    "local_batch_id": batch.local_batch_id,
                    "remote_batch_id": batch.remote_batch_id,
                    "content_type": batch.content_type,
                    "status": batch.status,
                    "objects": _json(batch.objects),
                    "object_count": batch.object_count,
                    "failed_count": batch.failed_count,
                    "flow": flow,
                    "run_id": run_id,
                    "created_at": created_at,
                    "updated_at": iso(batch.updated_at or now),
                    "last_transition_at": transition_at,
                },
                pk="pk",
            )
            if changed:
                db["batch_events"].insert(
                    {
                        "batch_pk": batch.pk,
                        "status": batch.status,
                        "at": iso(now),
                        "run_id": run_id,
                        "note": note,
                    }
                )

    def add_batch_objects(self, pk: int, objects: Sequence[dict[str, Any]]) -> None:
        """Append objects a repeated commit declared to the mirror of batch ``pk``.

        Only the new objects are encoded: the stored list grows by text concatenation
        inside SQLite, so a commit costs what it adds, not what the batch holds.
        """
        if not objects:
            return
        failed = sum(1 for obj in objects if obj.get("failed_reason_type"))
        with self._write() as db:
            db.execute(
                "UPDATE batch_requests SET "
                "objects = CASE WHEN objects IS NULL OR objects = '[]' THEN :new "
                "ELSE substr(objects, 1, length(objects) - 1) || ',' || substr(:new, 2) END, "
                "object_count = object_count + :count, "
                "failed_count = failed_count + :failed, updated_at = :now WHERE pk = :pk",
                {
                    "new": _json(list(objects)),
                    "count": len(objects),
                    "failed": failed,
                    "now": iso(utc_now()),
                    "pk": pk,
                },
            )

    def get_batch(self, pk: int) -> BatchMirror | None:
        """The mirror of batch ``pk``, or ``None``."""
        rows = self._rows(f"SELECT {_BATCH_COLUMNS} FROM batch_requests WHERE pk = ?", [pk])
        return _batch(rows[0]) if rows else None

    def open_batches(
        self, content_type: str | None = None, *, limit: int = 1000
    ) -> list[BatchMirror]:
        """Batches of this store's runs not yet ``done`` or ``fail``, oldest first.

        Mirrored batches of another deployment (``origin = 'remote'``) are not ours to
        recover or reconcile: the flows never see them here.
        """
        marks = ", ".join("?" for _ in OPEN_BATCH_STATUSES)
        # IN over the open statuses (not NOT IN over the final ones) so the status
        # index narrows the read to the few open batches.
        sql = (
            f"SELECT {_BATCH_COLUMNS} FROM batch_requests WHERE status IN ({marks}) "
            "AND origin = 'local'"
        )
        params: list[Any] = list(OPEN_BATCH_STATUSES)
        if content_type is not None:
            sql += " AND content_type = ?"
            params.append(content_type)
        sql += " ORDER BY created_at, pk LIMIT ?"
        return [_batch(row) for row in self._rows(sql, [*params, limit])]

    def list_batches(
        self,
        *,
        statuses: Sequence[str] | None = None,
        content_type: str | None = None,
        flow: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        with_failures: bool = False,
        origin: Origin | None = None,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int = 100,
        offset: int = 0,
    ) -> list[BatchMirror]:
        """One page of batch mirrors; ``since`` ≤ ``created_at`` < ``until``.

        ``with_failures`` keeps only batches holding failed objects (any status);
        ``origin`` only this store's (``local``) or mirrored (``remote``) ones.
        """
        if order_by not in BATCH_ORDER_COLUMNS:
            raise ValueError(f"order_by must be one of {sorted(BATCH_ORDER_COLUMNS)}")
        where, params = _batch_filters(
            statuses, content_type, flow, since, until, with_failures=with_failures, origin=origin
        )
        direction = "DESC" if descending else "ASC"
        rows = self._rows(
            f"SELECT {_BATCH_COLUMNS} FROM batch_requests {where} "
            f"ORDER BY {order_by} {direction}, pk {direction} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_batch(row) for row in rows]

    def count_batches(
        self,
        *,
        statuses: Sequence[str] | None = None,
        content_type: str | None = None,
        flow: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        with_failures: bool = False,
        origin: Origin | None = None,
    ) -> int:
        """How many batch mirrors match the same filters as :meth:`list_batches`."""
        where, params = _batch_filters(
            statuses, content_type, flow, since, until, with_failures=with_failures, origin=origin
        )
        return int(self._scalar(f"SELECT count(*) FROM batch_requests {where}", params))

    def batch_events(self, batch_pk: int) -> list[BatchEvent]:
        """The status changes of batch ``batch_pk``, oldest first."""
        rows = self._rows(
            "SELECT id, batch_pk, status, at, run_id, note FROM batch_events "
            "WHERE batch_pk = ? ORDER BY at, id",
            [batch_pk],
        )
        return [BatchEvent.model_validate(row) for row in rows]

    # -- batch ids asked for (a lost answer leaves no anonymous batch) -------------

    def set_pending_batch_id(self, run_id: int, local_batch_id: str) -> None:
        """Remember the ``local_batch_id`` run ``run_id`` is about to ask Omnitron for."""
        with self._write() as db:
            db.execute(
                "UPDATE runs SET pending_batch_id = ? WHERE id = ?", [local_batch_id, run_id]
            )

    def runs_of_batch_ids(self, local_batch_ids: Sequence[str]) -> dict[str, RunRecord]:
        """The run that asked for, or opened, each of these batch ids (unknown ids absent)."""
        found: dict[str, RunRecord] = {}
        for local_id in dict.fromkeys(local_batch_ids):
            rows = self._rows(
                "SELECT * FROM runs WHERE pending_batch_id = ? "
                "OR id = (SELECT run_id FROM batch_requests WHERE local_batch_id = ?) "
                "ORDER BY id LIMIT 1",
                [local_id, local_id],
            )
            if rows:
                found[local_id] = _run(rows[0])
        return found

    # -- error reports ------------------------------------------------------------

    def add_error_report(self, report: NewErrorReport) -> int:
        """Keep a report (undelivered unless ``report.delivered``); returns its id."""
        now = iso(utc_now())
        row = report.model_dump()
        row.update(
            omnitron_payload=_json(report.omnitron_payload),
            created_at=now,
            last_seen_at=now,
            delivered_at=now if report.delivered else None,
            attempts=1,
            search_values=searchable_values(report.raw_request, report.raw_response),
        )
        with self._write() as db:
            return int(db["error_reports"].insert(row).last_rowid)

    def mark_delivered(self, report_id: int, remote_pk: int | None = None) -> None:
        """Omnitron accepted report ``report_id``: take it out of the outbox.

        ``remote_pk``, Omnitron's id of the report when its answer named one, is kept so
        the mirror recognises the report as ours (a known one is never replaced, nor one
        another row already holds: delivery never fails over bookkeeping).
        """
        with self._write() as db:
            cursor = db.execute(
                "UPDATE error_reports SET delivered = 1, delivered_at = coalesce(delivered_at, ?), "
                "remote_pk = coalesce(remote_pk, (SELECT ? WHERE NOT EXISTS "
                "(SELECT 1 FROM error_reports WHERE remote_pk = ?))) WHERE id = ?",
                [iso(utc_now()), remote_pk, remote_pk, report_id],
            )
            if cursor.rowcount == 0:
                raise RecordNotFound(f"error report {report_id} not found")

    def undelivered_reports(self, limit: int = 500, after_id: int = 0) -> list[StoredErrorReport]:
        """The outbox: reports waiting for Omnitron (not refused ones), oldest first.

        Reports of runs still ``running`` are left out: such a run may be posting
        them right now, and delivers them itself. ``after_id`` pages on: only
        reports with a larger id.
        """
        rows = self._rows(
            f"SELECT {_ERROR_COLUMNS} FROM error_reports WHERE delivered = 0 AND dead = 0 "
            "AND id > ? AND (run_id IS NULL OR run_id NOT IN "
            "(SELECT id FROM runs WHERE outcome = 'running')) ORDER BY id LIMIT ?",
            [after_id, limit],
        )
        return [_report(row) for row in rows]

    def mark_sending(self, report_id: int) -> None:
        """A POST of report ``report_id`` starts now: if its answer is lost, look first."""
        self._update_report(report_id, "sending_at = ?", [iso(utc_now())])

    def mark_dead(self, report_id: int, answer: str) -> None:
        """Omnitron refused report ``report_id`` for good: keep it, out of the outbox."""
        self._update_report(report_id, "dead = 1, delivery_error = ?", [answer])

    def note_delivery_error(self, report_id: int, answer: str) -> None:
        """Report ``report_id`` stays in the outbox; ``answer`` says why, for the operator."""
        self._update_report(report_id, "delivery_error = ?", [answer])

    def outbox_counts(self) -> OutboxCounts:
        """Reports waiting for Omnitron and reports it refused (each from its own index)."""
        waiting = self._scalar(
            "SELECT count(*) FROM error_reports WHERE delivered = 0 AND dead = 0"
        )
        refused = self._scalar("SELECT count(*) FROM error_reports WHERE dead = 1")
        return OutboxCounts(waiting=int(waiting), refused=int(refused))

    def _update_report(self, report_id: int, assignments: str, params: list[Any]) -> None:
        with self._write() as db:
            cursor = db.execute(
                f"UPDATE error_reports SET {assignments} WHERE id = ?", [*params, report_id]
            )
            if cursor.rowcount == 0:
                raise RecordNotFound(f"error report {report_id} not found")

    def get_error_report(self, report_id: int) -> StoredErrorReport:
        """Report ``report_id``; :class:`RecordNotFound` if there is none."""
        rows = self._rows(f"SELECT {_ERROR_COLUMNS} FROM error_reports WHERE id = ?", [report_id])
        if not rows:
            raise RecordNotFound(f"error report {report_id} not found")
        return _report(rows[0])

    def search_error_reports(self, query: ErrorQuery) -> list[StoredErrorReport]:
        """One page of reports matching ``query``."""
        where, params = _error_filters(query)
        direction = "DESC" if query.descending else "ASC"
        rows = self._rows(
            f"SELECT {_ERROR_COLUMNS} FROM error_reports {where} "
            f"ORDER BY {query.order_by} {direction}, id {direction} LIMIT ? OFFSET ?",
            [*params, query.limit, query.offset],
        )
        return [_report(row) for row in rows]

    def count_error_reports(self, query: ErrorQuery) -> int:
        """How many reports match ``query`` (its order and page ignored)."""
        where, params = _error_filters(query)
        return int(self._scalar(f"SELECT count(*) FROM error_reports {where}", params))

    def find_open_report(
        self, flow: str, subject: str, description: str
    ) -> StoredErrorReport | None:
        """The latest not-ok report of this store's runs of the same failure of the same
        subject, if any (a mirrored report of another deployment is never touched).

        A flow retrying a parked item calls this to touch the existing report
        instead of writing a duplicate.
        """
        rows = self._rows(
            f"SELECT {_ERROR_COLUMNS} FROM error_reports "
            "WHERE flow = ? AND subject = ? AND is_ok = 0 AND description = ? "
            "AND origin = 'local' ORDER BY id DESC LIMIT 1",
            [flow, subject, description],
        )
        return _report(rows[0]) if rows else None

    def touch_report(self, report_id: int) -> None:
        """The failure of report ``report_id`` happened again: count it, note when."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE error_reports SET attempts = attempts + 1, last_seen_at = ? WHERE id = ?",
                [iso(utc_now()), report_id],
            )
            if cursor.rowcount == 0:
                raise RecordNotFound(f"error report {report_id} not found")

    # -- problems: open failures grouped by flow, cause and value ------------------

    def open_problems(self, *, flow: str | None = None) -> list[Problem]:
        """Unresolved failures grouped by flow, cause and value, newest first.

        Reads the partial index of open failures (``ix_error_reports_problems``).
        """
        where, params = ("AND flow = ?", [flow]) if flow is not None else ("", [])
        # Mirrored failures of another deployment form problems of their own (origin):
        # never mixed with ours, which this store can retry.
        groups = self._rows(
            "SELECT flow, cause, cause_value, origin, count(DISTINCT subject) AS count, "
            "min(created_at) AS first_seen, max(last_seen_at) AS last_seen "
            f"FROM error_reports {_PROBLEMS_INDEX} WHERE {_OPEN_FAILURE} {where} "
            "GROUP BY cause, cause_value, flow, origin "
            "ORDER BY last_seen DESC, flow, cause, cause_value, origin",
            params,
        )
        problems = []
        for group in groups:
            subjects = self._rows(
                "SELECT subject FROM error_reports "
                f"WHERE {_OPEN_FAILURE} AND cause = ? AND cause_value = ? AND flow = ? "
                "AND origin = ? GROUP BY subject ORDER BY max(last_seen_at) DESC LIMIT ?",
                [
                    group["cause"],
                    group["cause_value"],
                    group["flow"],
                    group["origin"],
                    PROBLEM_SUBJECTS,
                ],
            )
            problems.append(
                Problem.model_validate({**group, "subjects": [r["subject"] for r in subjects]})
            )
        return problems

    def count_open_problems(self) -> int:
        """How many problems are open (groups of :meth:`open_problems`)."""
        return int(
            self._scalar(
                f"SELECT count(*) FROM (SELECT 1 FROM error_reports {_PROBLEMS_INDEX} "
                f"WHERE {_OPEN_FAILURE} GROUP BY cause, cause_value, flow, origin)"
            )
        )

    def problem_reports(
        self,
        cause: str,
        cause_value: str,
        *,
        flow: str | None = None,
        origin: Origin | None = None,
        limit: int = 1000,
    ) -> list[StoredErrorReport]:
        """The latest open report of each subject of a problem, newest first.

        ``origin`` narrows it to this store's reports or to mirrored ones.
        """
        where, params = ("AND flow = ?", [flow]) if flow is not None else ("", [])
        if origin is not None:
            where += " AND origin = ?"
            params.append(origin)
        rows = self._rows(
            f"SELECT {_ERROR_COLUMNS} FROM error_reports WHERE id IN ("
            f" SELECT max(id) FROM error_reports WHERE {_OPEN_FAILURE} "
            f" AND cause = ? AND cause_value = ? {where} GROUP BY flow, subject"
            ") ORDER BY id DESC LIMIT ?",
            [cause, cause_value, *params, limit],
        )
        return [_report(row) for row in rows]

    def resolve_reports(self, flow: str, subject: str) -> int:
        """The item ``subject`` of ``flow`` went through: its open failures are resolved.

        Returns how many reports were resolved (0 when none was open).
        """
        if not subject:
            return 0
        with self._write() as db:
            cursor = db.execute(
                "UPDATE error_reports SET resolved_at = ? "
                "WHERE flow = ? AND subject = ? AND is_ok = 0 AND resolved_at IS NULL",
                [iso(utc_now()), flow, subject],
            )
            return int(cursor.rowcount)

    # -- cursors ------------------------------------------------------------------

    def get_cursor(self, flow: str) -> str | None:
        """Where ``flow`` stopped fetching last time, or ``None``."""
        return self._scalar("SELECT value FROM cursors WHERE flow = ?", [flow])

    def set_cursor(self, flow: str, value: str) -> None:
        """Remember where ``flow`` stopped fetching."""
        with self._write() as db:
            db["cursors"].upsert(
                {"flow": flow, "value": value, "updated_at": iso(utc_now())}, pk="flow"
            )

    # -- mirror --------------------------------------------------------------------
    # What another deployment wrote to Omnitron, kept with origin 'remote'. Rows this
    # store's runs wrote are recognised and never touched or marked remote.

    def mirror_batch(self, batch: BatchMirror) -> MirrorChange:
        """Keep a batch request another deployment opened; how the store changed.

        ``ours``: a batch of this store's runs (the same pk mirrored as local, or a
        ``local_batch_id`` one of its runs asked Omnitron for — it may be recorded a
        moment later): left alone. ``new``, ``updated`` (its status or objects moved;
        a status change is a state-history event at Omnitron's modification time) or
        ``same`` for a remote one.
        """
        now = utc_now()
        with self._write() as db:
            found = self._rows(
                "SELECT status, objects, origin, created_at, last_transition_at "
                "FROM batch_requests WHERE pk = ?",
                [batch.pk],
            )
            old = found[0] if found else None
            if old is not None and old["origin"] != "remote":
                return "ours"
            if old is None and self._scalar(
                "SELECT 1 FROM runs WHERE pending_batch_id = ? "
                "UNION ALL SELECT 1 FROM batch_requests WHERE local_batch_id = ? LIMIT 1",
                [batch.local_batch_id, batch.local_batch_id],
            ):
                return "ours"
            objects = _json(batch.objects)
            if old is not None and old["status"] == batch.status and old["objects"] == objects:
                return "same"
            moved = old is None or old["status"] != batch.status
            changed_at = iso(batch.updated_at or now)
            db["batch_requests"].upsert(
                {
                    "pk": batch.pk,
                    "local_batch_id": batch.local_batch_id,
                    "remote_batch_id": batch.remote_batch_id,
                    "content_type": batch.content_type,
                    "status": batch.status,
                    "objects": objects,
                    "object_count": batch.object_count,
                    "failed_count": batch.failed_count,
                    "flow": None,
                    "run_id": None,
                    "created_at": iso(batch.created_at)
                    or (old["created_at"] if old else changed_at),
                    "updated_at": changed_at,
                    "last_transition_at": changed_at if moved else old["last_transition_at"],
                    "origin": "remote",
                },
                pk="pk",
            )
            if moved:
                db["batch_events"].insert(
                    {
                        "batch_pk": batch.pk,
                        "status": batch.status,
                        "at": changed_at,
                        "run_id": None,
                        "note": "mirrored from Omnitron",
                    }
                )
            return "new" if old is None else "updated"

    def open_remote_batches(self, *, limit: int = 10_000) -> list[BatchMirror]:
        """Mirrored batches not yet ``done`` or ``fail``, oldest first (read again each sync)."""
        marks = ", ".join("?" for _ in OPEN_BATCH_STATUSES)
        rows = self._rows(
            f"SELECT {_BATCH_COLUMNS} FROM batch_requests WHERE status IN ({marks}) "
            "AND origin = 'remote' ORDER BY created_at, pk LIMIT ?",
            [*OPEN_BATCH_STATUSES, limit],
        )
        return [_batch(row) for row in rows]

    def mirror_report(self, report: NewErrorReport, created_at: datetime | None) -> MirrorChange:
        """Keep an error report another deployment wrote (``report.remote_pk`` set).

        ``ours``: a report this store delivered — known by its ``remote_pk``, or, when
        delivered before those were kept, by its code, ``is_ok``, content type and
        object (that report then takes the ``remote_pk``). ``same``: mirrored before.
        ``new``: kept as a delivered report with origin ``remote``, dated ``created_at``
        (Omnitron's creation time; now when unknown).
        """
        if report.remote_pk is None:
            raise ValueError("a mirrored report needs Omnitron's id (remote_pk)")
        at = iso(created_at or utc_now())
        with self._write() as db:
            known = self._rows(
                "SELECT origin FROM error_reports WHERE remote_pk = ?", [report.remote_pk]
            )
            if known:
                return "ours" if known[0]["origin"] == "local" else "same"
            match = self._scalar(
                "SELECT id FROM error_reports WHERE code = ? AND remote_pk IS NULL "
                "AND origin = 'local' AND is_ok = ? AND content_type = ? AND object_id = ? "
                "ORDER BY id LIMIT 1",
                [report.code, int(report.is_ok), report.content_type, report.object_id],
            )
            if match is not None:
                db.execute(
                    "UPDATE error_reports SET remote_pk = ? WHERE id = ?", [report.remote_pk, match]
                )
                return "ours"
            row = report.model_dump()
            row.update(
                origin="remote",
                delivered=True,
                omnitron_payload="{}",
                created_at=at,
                last_seen_at=at,
                delivered_at=at,
                attempts=1,
                search_values=searchable_values(report.raw_request, report.raw_response),
            )
            db["error_reports"].insert(row)
            return "new"

    # -- parked items -------------------------------------------------------------

    def park(self, item: ParkedItem) -> None:
        """Keep ``item`` for a later retry; parking it again counts one more attempt."""
        now = iso(utc_now())
        with self._write() as db:
            # Raw SQL: the update must add to the stored attempts, not replace them.
            db.execute(
                "INSERT INTO parked (flow, remote_id, subject, payload, reason, "
                "error_report_id, attempts, first_seen_at, last_seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (flow, remote_id) DO UPDATE SET "
                "subject = excluded.subject, payload = excluded.payload, "
                "reason = excluded.reason, "
                "error_report_id = coalesce(excluded.error_report_id, parked.error_report_id), "
                "attempts = parked.attempts + 1, last_seen_at = excluded.last_seen_at",
                [
                    item.flow,
                    item.remote_id,
                    item.subject,
                    _json(item.payload),
                    item.reason,
                    item.error_report_id,
                    item.attempts,
                    iso(item.first_seen_at) or now,
                    iso(item.last_seen_at) or now,
                ],
            )

    def unpark(self, flow: str, remote_id: str) -> None:
        """Forget a parked item (it went through, or was given up); no-op if absent."""
        with self._write() as db:
            db.execute(
                "DELETE FROM parked WHERE flow = ? AND remote_id = ?", [flow, str(remote_id)]
            )

    def parked(
        self, flow: str | None = None, *, limit: int = 10_000, offset: int = 0
    ) -> list[ParkedItem]:
        """The items ``flow`` (or every flow) has parked, oldest first."""
        where, params = ("WHERE flow = ?", [flow]) if flow is not None else ("", [])
        return self._parked_rows(
            f"{where} ORDER BY first_seen_at, flow, remote_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )

    def retry_queue(self, flow: str, *, limit: int) -> list[ParkedItem]:
        """Up to ``limit`` items of ``flow`` to retry now: the least recently tried first.

        Every park or retry moves an item's ``last_seen_at`` on, so items that cannot go
        through yet rotate to the back and a large backlog never starves newer items.
        """
        return self._parked_rows(
            "WHERE flow = ? ORDER BY last_seen_at, first_seen_at, remote_id LIMIT ?",
            [flow, limit],
        )

    def parked_keys(self, flow: str) -> set[str]:
        """The ``remote_id`` of every item ``flow`` has parked."""
        rows = self._rows("SELECT remote_id FROM parked WHERE flow = ?", [flow])
        return {row["remote_id"] for row in rows}

    def count_parked(self, flow: str | None = None) -> int:
        """How many items ``flow`` (or every flow) has parked."""
        where, params = ("WHERE flow = ?", [flow]) if flow is not None else ("", [])
        return int(self._scalar(f"SELECT count(*) FROM parked {where}", params))

    def _parked_rows(self, tail: str, params: Sequence[Any]) -> list[ParkedItem]:
        rows = self._rows(
            "SELECT flow, remote_id, subject, payload, reason, error_report_id, attempts, "
            f"first_seen_at, last_seen_at FROM parked {tail}",
            params,
        )
        for row in rows:
            row["payload"] = json.loads(row["payload"])
        return [ParkedItem.model_validate(row) for row in rows]

    # -- aliases (the operator's mappings) ------------------------------------------

    def aliases(self, kind: str | None = None) -> list[Alias]:
        """Every alias, or those of ``kind``, by kind, scope and channel spelling."""
        where, params = ("WHERE kind = ?", [kind]) if kind is not None else ("", [])
        rows = self._rows(
            "SELECT kind, scope, channel_value, omnitron_pk, label, created_at FROM aliases "
            f"{where} ORDER BY kind, scope, folded",
            params,
        )
        return [Alias.model_validate(row) for row in rows]

    def set_alias(self, alias: Alias) -> None:
        """Keep ``alias``; it replaces one of the same kind and scope whose spelling folds alike."""
        folded = fold(alias.channel_value)
        if not folded:
            raise ValueError("an alias needs a channel value")
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO aliases (kind, scope, channel_value, folded, "
                "omnitron_pk, label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    alias.kind,
                    alias.scope,
                    alias.channel_value.strip(),
                    folded,
                    alias.omnitron_pk,
                    alias.label,
                    iso(utc_now()),
                ],
            )

    def delete_alias(self, kind: str, scope: str, channel_value: str) -> bool:
        """Forget the alias of this spelling; ``False`` if there was none."""
        with self._write() as db:
            cursor = db.execute(
                "DELETE FROM aliases WHERE kind = ? AND scope = ? AND folded = ?",
                [kind, scope, fold(channel_value)],
            )
            return cursor.rowcount > 0

    def find_alias(self, kind: str, scope: str, channel_value: str) -> Alias | None:
        """The alias of this spelling (Turkish-aware: ``ISTAMBUL`` finds ``Istambul``)."""
        rows = self._rows(
            "SELECT kind, scope, channel_value, omnitron_pk, label, created_at FROM aliases "
            "WHERE kind = ? AND scope = ? AND folded = ?",
            [kind, scope, fold(channel_value)],
        )
        return Alias.model_validate(rows[0]) if rows else None

    # -- overview -------------------------------------------------------------------

    def count_stale_batches(self, statuses: Sequence[str], changed_before: datetime) -> int:
        """How many batches in ``statuses`` have not changed since ``changed_before``."""
        if not statuses:
            return 0
        marks = ", ".join("?" for _ in statuses)
        # The status index narrows the read to the few pending batches.
        return int(
            self._scalar(
                f"SELECT count(*) FROM batch_requests WHERE status IN ({marks}) "
                "AND last_transition_at < ?",
                [*statuses, iso(changed_before)],
            )
        )


# -- row → record -------------------------------------------------------------------


def _refresh_leases(db: sqlite_utils.Database, token: str, run_id: int | None, now: str) -> int:
    return int(
        db.execute(
            "UPDATE leases SET heartbeat_at = ?, run_id = ? WHERE token = ?", [now, run_id, token]
        ).rowcount
    )


def _beat_run(db: sqlite_utils.Database, run_id: int, now: str, counts: list[int]) -> None:
    db.execute(
        "UPDATE runs SET heartbeat_at = ?, created = ?, updated = ?, skipped = ?, "
        "failed = ?, error_count = ?, waiting = ? WHERE id = ? AND outcome = 'running'",
        [now, *counts, run_id],
    )


def _run(row: dict[str, Any]) -> RunRecord:
    row["options"] = json.loads(row["options"])
    return RunRecord.model_validate(row)


def _remote_ending(run: RemoteRun) -> dict[str, Any]:
    """The columns a finished remote run sets: its result's outcome, counts and message."""
    ended = {
        "finished_at": iso(run.finished_at or run.updated_at),
        "message": run.message,
    }
    result = run.result
    if result is None:
        # It ended without a result of the flow (its worker could not run it).
        return {**ended, "outcome": "failed"}
    return {
        **ended,
        "outcome": result.outcome.value,
        "created": result.created,
        "updated": result.updated,
        "skipped": result.skipped,
        "failed": result.failed,
        "waiting": result.waiting,
        "error_count": result.error_count,
        "message": result.message or run.message,
        "duration_s": result.duration_s,
    }


def _batch(row: dict[str, Any]) -> BatchMirror:
    row["objects"] = json.loads(row["objects"])
    return BatchMirror.model_validate(row)


def _report(row: dict[str, Any]) -> StoredErrorReport:
    row["omnitron_payload"] = json.loads(row["omnitron_payload"])
    row["is_ok"] = bool(row["is_ok"])
    row["delivered"] = bool(row["delivered"])
    row["dead"] = bool(row["dead"])
    return StoredErrorReport.model_validate(row)


# -- filters ------------------------------------------------------------------------


def _where(clauses: list[str]) -> str:
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


def _batch_filters(
    statuses: Sequence[str] | None,
    content_type: str | None,
    flow: str | None,
    since: datetime | None,
    until: datetime | None,
    *,
    with_failures: bool = False,
    origin: Origin | None = None,
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if with_failures:
        clauses.append("failed_count > 0")
    if origin is not None:
        clauses.append("origin = ?")
        params.append(origin)
    if statuses is not None:
        statuses = [str(s) for s in statuses]
        if not statuses:
            clauses.append("0")  # an empty selection matches nothing
        else:
            clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
    for column, value in (("content_type", content_type), ("flow", flow)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        clauses.append("created_at >= ?")
        params.append(iso(since))
    if until is not None:
        clauses.append("created_at < ?")
        params.append(iso(until))
    return _where(clauses), params


def _error_filters(query: ErrorQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.text is not None:
        match = fts_query(query.text)
        if match is not None:
            clauses.append(
                "id IN (SELECT rowid FROM error_reports_fts WHERE error_reports_fts MATCH ?)"
            )
            params.append(match)
    if query.code_contains:
        clauses.append("code LIKE ? ESCAPE '\\'")
        params.append(_like_pattern(query.code_contains))
    if query.is_ok is not None:
        clauses.append("is_ok = ?")
        params.append(int(query.is_ok))
    for column in (
        "code",
        "content_type",
        "flow",
        "run_id",
        "batch_pk",
        "local_batch_id",
        "origin",
    ):
        value = getattr(query, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.delivery is not None:
        clauses.append(_DELIVERY_FILTERS[query.delivery])
    if query.cause is not None:
        clauses.append("cause = ?")
        params.append(query.cause)
    if query.resolved is not None:
        clauses.append("resolved_at IS NOT NULL" if query.resolved else "resolved_at IS NULL")
    if query.since is not None:
        clauses.append("created_at >= ?")
        params.append(iso(query.since))
    if query.until is not None:
        clauses.append("created_at < ?")
        params.append(iso(query.until))
    return _where(clauses), params


# An open failure: the rows of the partial index ix_error_reports_problems.
_OPEN_FAILURE = "is_ok = 0 AND resolved_at IS NULL"
# The planner may prefer the wider is_ok index; the partial one holds only open failures.
_PROBLEMS_INDEX = "INDEXED BY ix_error_reports_problems"

# Each reads one of the two partial indexes (outbox, refused) instead of the table.
_WAITING_IDS = "SELECT id FROM error_reports WHERE delivered = 0 AND dead = 0"
_REFUSED_IDS = "SELECT id FROM error_reports WHERE dead = 1"
_DELIVERY_FILTERS: dict[str, str] = {
    "waiting": f"id IN ({_WAITING_IDS})",
    "refused": f"id IN ({_REFUSED_IDS})",
    "undelivered": f"id IN ({_WAITING_IDS} UNION ALL {_REFUSED_IDS})",
}
