"""The simulator's state in SQLite: a file under ``data_dir`` or an in-memory database.

Feeds (orders, line updates, cancellations, cancellation requests) are tables with an
integer id, a ``created_at`` in the sortable wire format and the JSON payload the API
serves, so a listing is one indexed range query ordered by ``(created_at, id)``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FEEDS = ("orders", "line_updates", "cancellations", "cancellation_requests")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, idx INTEGER NOT NULL UNIQUE, number TEXT NOT NULL,
    created_at TEXT NOT NULL, status TEXT NOT NULL, broken TEXT, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orders_created ON orders (created_at, id);
CREATE INDEX IF NOT EXISTS orders_status ON orders (status, created_at, id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, order_id INTEGER NOT NULL,
    kind TEXT NOT NULL, data TEXT NOT NULL, applied INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS events_due ON events (applied, at, id);
CREATE TABLE IF NOT EXISTS line_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS line_updates_created ON line_updates (created_at, id);
CREATE TABLE IF NOT EXISTS cancellations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cancellations_created ON cancellations (created_at, id);
CREATE TABLE IF NOT EXISTS cancellation_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, status TEXT NOT NULL,
    line_id INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cancellation_requests_created
    ON cancellation_requests (created_at, id);
CREATE TABLE IF NOT EXISTS status_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, complete_at TEXT NOT NULL,
    payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, status_code INTEGER NOT NULL, body TEXT NOT NULL);
"""


class MarketplaceStore:
    """Thread-safe access to the simulator's tables (one connection, one lock)."""

    def __init__(self, data_dir: Path | None) -> None:
        if data_dir is None:
            target = ":memory:"
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            target = str(data_dir / "marketplace.sqlite3")
        # Request handlers run in a thread pool; the lock serialises them.
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self.lock = threading.RLock()
        with self.lock:
            if data_dir is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock and run the block in one SQLite transaction."""
        with self.lock:
            self._db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- meta --------------------------------------------------------------------------

    def meta(self, key: str, default: str | None = None) -> str | None:
        """A stored setting or counter."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row["value"])

    def set_meta(self, key: str, value: object) -> None:
        """Store a setting or counter."""
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    # -- orders and their scripts -------------------------------------------------------

    def insert_order(
        self, index: int, payload: dict[str, Any], broken: str | None, events: list[tuple]
    ) -> None:
        """Store a new order and its scripted events ``(at, kind, data)``."""
        self._db.execute(
            "INSERT INTO orders (id, idx, number, created_at, status, broken, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                payload["id"],
                index,
                payload["order_number"],
                payload["created_at"],
                payload["status"],
                broken,
                json.dumps(payload),
            ),
        )
        self._db.executemany(
            "INSERT INTO events (at, order_id, kind, data) VALUES (?, ?, ?, ?)",
            [(at, payload["id"], kind, json.dumps(data)) for at, kind, data in events],
        )

    def order(self, order_id: int) -> dict[str, Any] | None:
        """The stored payload of an order."""
        row = self._db.execute("SELECT payload FROM orders WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else json.loads(row["payload"])

    def order_of_line(self, line_id: int) -> dict[str, Any] | None:
        """The order holding line ``line_id`` (line ids are ``order id * 100 + n``)."""
        order = self.order(line_id // 100)
        if order and any(line["id"] == line_id for line in order["lines"]):
            return order
        return None

    def save_order(self, payload: dict[str, Any]) -> None:
        """Replace an order's payload (after a status change)."""
        self._db.execute(
            "UPDATE orders SET status = ?, payload = ? WHERE id = ?",
            (payload["status"], json.dumps(payload), payload["id"]),
        )

    def order_briefs(self, broken_only: bool = False) -> list[dict[str, Any]]:
        """Id, number, status and broken kind of every order, oldest first."""
        where = "WHERE broken IS NOT NULL" if broken_only else ""
        rows = self._db.execute(
            f"SELECT id, idx, number, created_at, status, broken FROM orders {where} "
            "ORDER BY created_at, id"
        ).fetchall()
        return [dict(row) for row in rows]

    def due_events(self, now: str) -> list[sqlite3.Row]:
        """Scripted events due at ``now``, oldest first."""
        return self._db.execute(
            "SELECT * FROM events WHERE applied = 0 AND at <= ? ORDER BY at, id", (now,)
        ).fetchall()

    def mark_applied(self, event_id: int) -> None:
        """Record that a scripted event has happened."""
        self._db.execute("UPDATE events SET applied = 1 WHERE id = ?", (event_id,))

    # -- feeds -------------------------------------------------------------------------

    def append(self, feed: str, created_at: str, payload: dict[str, Any], **columns: Any) -> int:
        """Append to a feed; the new row's id is also written into the payload."""
        assert feed in FEEDS[1:]
        names = ["created_at", "payload", *columns]
        cursor = self._db.execute(
            f"INSERT INTO {feed} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            (created_at, "{}", *columns.values()),
        )
        row_id = int(cursor.lastrowid or 0)
        payload["id"] = row_id
        self._db.execute(
            f"UPDATE {feed} SET payload = ? WHERE id = ?", (json.dumps(payload), row_id)
        )
        return row_id

    def feed_page(
        self,
        feed: str,
        *,
        created_from: str | None,
        created_to: str | None,
        page: int,
        size: int,
        filters: dict[str, Any] | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """One page of a feed in ``(created_at, id)`` order, and the total matching."""
        assert feed in FEEDS
        where, params = ["1 = 1"], []
        if created_from is not None:
            where.append("created_at >= ?")
            params.append(created_from)
        if created_to is not None:
            where.append("created_at < ?")
            params.append(created_to)
        for column, value in (filters or {}).items():
            where.append(f"{column} = ?")
            params.append(value)
        clause = " AND ".join(where)
        total = self._db.execute(f"SELECT COUNT(*) FROM {feed} WHERE {clause}", params).fetchone()
        rows = self._db.execute(
            f"SELECT payload FROM {feed} WHERE {clause} ORDER BY created_at, id LIMIT ? OFFSET ?",
            [*params, size, (page - 1) * size],
        ).fetchall()
        return int(total[0]), [json.loads(row["payload"]) for row in rows]

    def feed_item(self, feed: str, item_id: int) -> dict[str, Any] | None:
        """One feed entry by id."""
        assert feed in FEEDS
        row = self._db.execute(f"SELECT payload FROM {feed} WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else json.loads(row["payload"])

    def save_cancellation_request(self, payload: dict[str, Any]) -> None:
        """Store a decided cancellation request."""
        self._db.execute(
            "UPDATE cancellation_requests SET status = ?, payload = ? WHERE id = ?",
            (payload["status"], json.dumps(payload), payload["id"]),
        )

    def open_request_for_line(self, line_id: int) -> bool:
        """Whether a pending cancellation request exists for the line."""
        row = self._db.execute(
            "SELECT 1 FROM cancellation_requests WHERE line_id = ? AND status = 'pending'",
            (line_id,),
        ).fetchone()
        return row is not None

    def count(self, table: str, where: str = "1 = 1") -> int:
        """Rows of ``table`` matching a fixed condition (for the summary)."""
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0])

    # -- what we were sent -------------------------------------------------------------

    def record_status_update(self, entry: dict[str, Any]) -> None:
        """Remember one order status update as received."""
        self._db.execute("INSERT INTO status_updates (payload) VALUES (?)", (json.dumps(entry),))

    def status_updates(self) -> list[dict[str, Any]]:
        """Every order status update received, in arrival order."""
        rows = self._db.execute("SELECT id, payload FROM status_updates ORDER BY id").fetchall()
        return [{"id": row["id"], **json.loads(row["payload"])} for row in rows]

    def insert_batch(self, batch_id: str, created_at: str, complete_at: str, payload: dict) -> None:
        """Store an async status-update batch."""
        self._db.execute(
            "INSERT INTO batches (id, created_at, complete_at, payload) VALUES (?, ?, ?, ?)",
            (batch_id, created_at, complete_at, json.dumps(payload)),
        )

    def batch(self, batch_id: str) -> tuple[str, dict[str, Any]] | None:
        """``(complete_at, payload)`` of a batch."""
        row = self._db.execute(
            "SELECT complete_at, payload FROM batches WHERE id = ?", (batch_id,)
        ).fetchone()
        return None if row is None else (str(row["complete_at"]), json.loads(row["payload"]))

    def idempotent_answer(self, key: str) -> tuple[int, Any] | None:
        """The stored answer to an earlier request with the same ``Idempotency-Key``."""
        row = self._db.execute(
            "SELECT status_code, body FROM idempotency WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else (int(row["status_code"]), json.loads(row["body"]))

    def remember_answer(self, key: str, status_code: int, body: Any) -> None:
        """Store the answer given to a request with an ``Idempotency-Key``."""
        self._db.execute(
            "INSERT OR REPLACE INTO idempotency (key, status_code, body) VALUES (?, ?, ?)",
            (key, status_code, json.dumps(body)),
        )
