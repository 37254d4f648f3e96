"""The repository: typed tables of JSON rows in memory, written through to SQLite.

Every row is a plain JSON-able dict keyed by ``pk``. Lookups go through in-memory
secondary indexes (O(1) with tens of thousands of rows); each write marks the row
dirty and :meth:`Store.flush` persists the dirty rows of a request in one SQLite
transaction. Fields starting with ``_`` are private bookkeeping, never serialised.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

Row = dict[str, Any]
IndexKey = Callable[[Row], Hashable | None]

DB_FILE = "omnitron.sqlite3"


class Table:
    """One resource's rows with its secondary indexes (value → set of pks)."""

    def __init__(self, name: str, indexes: Mapping[str, IndexKey] | None = None) -> None:
        self.name = name
        self._rows: dict[int, Row] = {}
        self._index_keys: dict[str, IndexKey] = dict(indexes or {})
        self._indexes: dict[str, dict[Hashable, set[int]]] = {n: {} for n in self._index_keys}
        self._next_pk = 1
        self.dirty: set[int] = set()

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def next_pk(self) -> int:
        """The pk the next :meth:`insert` without an explicit pk will use."""
        return self._next_pk

    def has_index(self, name: str) -> bool:
        """Whether equality lookups on ``name`` can use an index."""
        return name in self._index_keys

    def _index(self, row: Row) -> None:
        for name, key in self._index_keys.items():
            value = key(row)
            if value is not None:
                self._indexes[name].setdefault(value, set()).add(row["pk"])

    def _unindex(self, row: Row) -> None:
        for name, key in self._index_keys.items():
            value = key(row)
            if value is not None:
                bucket = self._indexes[name].get(value)
                if bucket is not None:
                    bucket.discard(row["pk"])
                    if not bucket:
                        del self._indexes[name][value]

    def load(self, rows: Iterable[Row]) -> None:
        """Put persisted rows back (no dirty marks)."""
        for row in rows:
            self._rows[row["pk"]] = row
            self._index(row)
            self._next_pk = max(self._next_pk, row["pk"] + 1)

    def insert(self, row: Row, pk: int | None = None) -> Row:
        """Store a new row under the next pk (or ``pk``) and return it."""
        if pk is None:
            pk = self._next_pk
        self._next_pk = max(self._next_pk, pk + 1)
        stored = {"pk": pk, **{k: v for k, v in row.items() if k != "pk"}}
        self._rows[pk] = stored
        self._index(stored)
        self.dirty.add(pk)
        return stored

    def update(self, pk: int, changes: Mapping[str, Any]) -> Row:
        """Apply ``changes`` to the row, keeping the indexes right; returns the row."""
        row = self._rows[pk]
        self._unindex(row)
        row.update(changes)
        self._index(row)
        self.dirty.add(pk)
        return row

    def get(self, pk: int) -> Row | None:
        """The row with this pk, or None."""
        return self._rows.get(pk)

    def lookup(self, index: str, value: Hashable) -> set[int]:
        """Pks whose index ``index`` has ``value`` (a copy, safe to mutate)."""
        return set(self._indexes[index].get(value, ()))

    def first(self, index: str, value: Hashable) -> Row | None:
        """The lowest-pk row matching an index value, or None."""
        pks = self._indexes[index].get(value)
        return self._rows[min(pks)] if pks else None

    def rows(self, pks: Iterable[int] | None = None) -> Iterator[Row]:
        """All rows in pk order, or the given pks' rows in pk order."""
        if pks is None:
            return iter([self._rows[pk] for pk in sorted(self._rows)])
        return iter([self._rows[pk] for pk in sorted(pks) if pk in self._rows])


class Store:
    """All tables, persisted write-through to ``omnitron.sqlite3`` or kept in memory."""

    def __init__(self, data_dir: Path | None) -> None:
        self.tables: dict[str, Table] = {}
        self._db: sqlite3.Connection | None = None
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: requests run on uvicorn's pool threads; the
            # simulator's own lock serialises every access.
            self._db = sqlite3.connect(data_dir / DB_FILE, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS rows (tbl TEXT NOT NULL, pk INTEGER NOT NULL,"
                " data TEXT NOT NULL, PRIMARY KEY (tbl, pk)) WITHOUT ROWID"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._db.commit()

    def add_table(self, name: str, indexes: Mapping[str, IndexKey] | None = None) -> Table:
        """Register a table and load its persisted rows, if any."""
        table = Table(name, indexes)
        if self._db is not None:
            cursor = self._db.execute("SELECT data FROM rows WHERE tbl = ? ORDER BY pk", (name,))
            table.load(json.loads(data) for (data,) in cursor)
        self.tables[name] = table
        return table

    def get_meta(self, key: str) -> str | None:
        """A persisted flag (None in memory or when unset)."""
        if self._db is None:
            return None
        found = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return found[0] if found else None

    def set_meta(self, key: str, value: str) -> None:
        """Persist a flag (written on the next :meth:`flush`)."""
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def flush(self) -> None:
        """Write every dirty row in one transaction."""
        batch: list[tuple[str, int, str]] = []
        for table in self.tables.values():
            if table.dirty:
                if self._db is not None:
                    for pk in table.dirty:
                        row = table.get(pk)
                        if row is not None:
                            batch.append((table.name, pk, json.dumps(row, ensure_ascii=False)))
                table.dirty.clear()
        if self._db is not None:
            if batch:
                self._db.executemany(
                    "INSERT OR REPLACE INTO rows (tbl, pk, data) VALUES (?, ?, ?)", batch
                )
            self._db.commit()

    def close(self) -> None:
        """Flush and close the database."""
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def public(row: Row) -> Row:
    """A deep copy of a row without private ``_`` fields, with ``id`` mirroring ``pk``."""
    out = {"pk": row["pk"], "id": row["pk"]}
    out.update({k: copy.deepcopy(v) for k, v in row.items() if not k.startswith("_")})
    return out
