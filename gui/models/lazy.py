"""A table model over one store query, loaded a page at a time in the background.

The model holds only the rows fetched so far, as records (``data()`` formats one
field, nothing more). ``canFetchMore``/``fetchMore`` ask the store for the next
page as the view scrolls; ``sort()`` asks the store for a new ORDER BY instead of
sorting in a proxy; the total for "N of M" labels is counted once per filter and
cached. Queries run on a :class:`~gui.models.reader.StoreReader`, so ``rowCount``
changes when the rows arrive: wait for :attr:`LazyTableModel.loaded`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from gui.models.badges import badge_colors
from gui.models.reader import StoreReader
from gui.widgets.plain_text import plain_tooltip
from service.store import Store

ID_ROLE = int(Qt.ItemDataRole.UserRole)
"""Role of a row's record id (an ``int``)."""
RECORD_ROLE = ID_ROLE + 1
"""Role of a row's whole record."""
BADGE_ROLE = ID_ROLE + 2
"""Role of a badge column's kind: ``success``, ``danger``, ``warning``, ``info``, ``neutral``."""

Index = QModelIndex | QPersistentModelIndex

PAGE_SIZE = 200
# Rows asked for at once while looking for one record (show_batch and the like).
LOCATE_PAGE_SIZE = 500
# How far locate() reads before it gives up; the record is then not in this query.
LOCATE_LIMIT = 50_000


@dataclass(frozen=True)
class Column:
    """One column: its title, how a record shows in it, and the store column it sorts by."""

    title: str
    display: Callable[[Any], str]
    sort_key: str | None = None
    tooltip: Callable[[Any], str | None] | None = None
    badge: Callable[[Any], str] | None = None
    numeric: bool = False
    # Sorting this column ascending shows what a user calls "descending" (age → created_at).
    reversed_sort: bool = False


class LazyTableModel(QAbstractTableModel):
    """Base of the store-backed tables; subclasses say how to fetch, count and order."""

    loaded = Signal()
    """A query finished and its rows are in the model (first page, more, or a refresh)."""
    total_changed = Signal()
    """The cached total of the current filters arrived or changed."""
    load_failed = Signal(str)
    """A query failed; the message says why."""

    def __init__(
        self,
        store: Store,
        columns: Sequence[Column],
        query: Any,
        *,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
    ) -> None:
        """A model over ``store`` with ``query`` (not loaded until :meth:`refresh`)."""
        super().__init__(parent)
        self.store = store
        self.columns: tuple[Column, ...] = tuple(columns)
        self.page_size = page_size
        self._query = query
        self._rows: list[Any] = []
        self._reader = StoreReader(store, self)
        self._generation = 0
        self._loading = False
        self._has_more = False
        self._started = False
        self._pending: list[Future[Any]] = []
        self._totals: dict[Hashable, int] = {}
        self._count_epoch = 0
        self._locating: tuple[int, Callable[[int | None], None]] | None = None

    # -- hooks for subclasses ------------------------------------------------------

    def fetch_rows(self, store: Store, query: Any, offset: int, limit: int) -> list[Any]:
        """One page of records of ``query``; runs on the reader thread."""
        raise NotImplementedError

    def count_rows(self, store: Store, query: Any) -> int | None:
        """How many records match ``query`` (``None``: not countable); reader thread."""
        return None

    def count_key(self, query: Any) -> Hashable:
        """What the total depends on: ``query`` without its order and page."""
        return query

    def ordered(self, query: Any, sort_key: str, descending: bool) -> Any:
        """``query`` ordered by ``sort_key``; the default cannot reorder."""
        return query

    def sort_state(self) -> tuple[str | None, bool]:
        """The store column and direction the current query is ordered by."""
        return None, True

    def record_id(self, record: Any) -> int:
        """The id of ``record``."""
        raise NotImplementedError

    def background(self, record: Any) -> QColor | None:
        """The background of a whole row, when it stands out."""
        return None

    def row_tooltip(self, record: Any) -> str | None:
        """A tooltip for every cell of a row (a column's own tooltip wins)."""
        return None

    # -- Qt model interface ---------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        """The rows loaded so far."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        """The number of columns."""
        return 0 if parent.isValid() else len(self.columns)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles; sortable columns say so in their tooltip."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole and column.sort_key is None:
            return f"{column.title} (not sortable)"
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """One cell, from the record already in memory."""
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        record = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.display(record)
        if role == ID_ROLE:
            return self.record_id(record)
        if role == RECORD_ROLE:
            return record
        if role == BADGE_ROLE:
            return column.badge(record) if column.badge is not None else None
        if role == Qt.ItemDataRole.ToolTipRole:
            own = column.tooltip(record) if column.tooltip is not None else None
            # Cells hold server text (codes, descriptions, messages): shown literally.
            return plain_tooltip(own or self.row_tooltip(record) or "") or None
        if role == Qt.ItemDataRole.BackgroundRole:
            return self.background(record)
        if role == Qt.ItemDataRole.ForegroundRole and column.badge is not None:
            return badge_colors(column.badge(record), dark=False)[1]
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008, N802
        """True when the last page was full and no load is under way."""
        return not parent.isValid() and self._has_more and not self._loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008, N802
        """Ask for the next page; the rows are appended when it arrives."""
        if not self.canFetchMore(parent):
            return
        self._load_more(self.page_size)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Re-query ordered by ``column`` in SQL; unsortable columns are ignored."""
        if not 0 <= column < len(self.columns) or self.columns[column].sort_key is None:
            return
        spec = self.columns[column]
        descending = order == Qt.SortOrder.DescendingOrder
        if spec.reversed_sort:
            descending = not descending
        if self.sort_state() == (spec.sort_key, descending):
            return  # already so (QTableView calls sort() when sorting is switched on)
        self._query = self.ordered(self._query, spec.sort_key, descending)
        self._reload(keep_rows=False)

    def sort_column(self) -> tuple[int, Qt.SortOrder] | None:
        """The column (and header order) showing the current sort, if one does."""
        key, descending = self.sort_state()
        for number, column in enumerate(self.columns):
            if column.sort_key == key and not column.reversed_sort:
                order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
                return number, order
        return None

    # -- public ------------------------------------------------------------------

    @property
    def query(self) -> Any:
        """The query the rows come from."""
        return self._query

    def set_query(self, query: Any) -> None:
        """Show the rows of ``query`` (a new filter): the first page replaces the rows."""
        if query == self._query and self._started:
            return
        self._query = query
        self._reload(keep_rows=False)

    def refresh(self) -> None:
        """Re-read what is loaded (at least a page) and recount; selection is kept by id."""
        self._totals.clear()
        self._count_epoch += 1
        self._reload(keep_rows=True)

    @property
    def is_loading(self) -> bool:
        """True while the current query's rows are being read."""
        return self._loading

    @property
    def total(self) -> int | None:
        """The cached number of rows matching the filters, ``None`` until counted."""
        return self._totals.get(self.count_key(self._query))

    def total_text(self) -> str:
        """``"200 of 12,345"``, or ``"200+"`` while more may exist and no count is known."""
        loaded = len(self._rows)
        total = self.total
        if total is not None:
            return f"{loaded:,} of {total:,}"
        return f"{loaded:,}+" if self._has_more else f"{loaded:,}"

    def record(self, row: int) -> Any:
        """The record at ``row``."""
        return self._rows[row]

    def records(self) -> list[Any]:
        """The records loaded so far (a copy)."""
        return list(self._rows)

    def row_of(self, record_id: int) -> int | None:
        """The row of the record with ``record_id``, if it is loaded."""
        for row, record in enumerate(self._rows):
            if self.record_id(record) == record_id:
                return row
        return None

    def locate(self, record_id: int, found: Callable[[int | None], None]) -> None:
        """Load pages until the record ``record_id`` is in; ``found(row or None)``."""
        if self._loading:
            # The rows in memory are about to be replaced; look once the new ones are in.
            self._locating = (record_id, found)
            return
        row = self.row_of(record_id)
        if row is not None or not self._has_more:
            found(row)
            return
        self._locating = (record_id, found)
        self._load_more(LOCATE_PAGE_SIZE)

    def read_in_background(
        self,
        work: Callable[[Store], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        """Run ``work(store)`` on this model's reader thread (after its queued reads)."""
        self._reader.submit(work, done, failed)

    def shutdown(self) -> None:
        """Stop the background reader (the model shows what it has from now on)."""
        self._reader.close()

    # -- loading ------------------------------------------------------------------

    def _cancel_pending(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pending = [f for f in self._pending if not f.done()]

    def _reload(self, *, keep_rows: bool) -> None:
        self._started = True
        self._generation += 1
        generation = self._generation
        self._cancel_pending()
        self._loading = True
        query = self._query
        limit = max(self.page_size, len(self._rows)) if keep_rows else self.page_size

        def done(rows: list[Any]) -> None:
            if generation != self._generation:
                return  # a newer query replaced this one
            self._loading = False
            self._has_more = len(rows) == limit
            if keep_rows:
                self._replace_rows(rows)
            else:
                self.beginResetModel()
                self._rows = list(rows)
                self.endResetModel()
            self._loaded()

        self._submit(lambda store: self.fetch_rows(store, query, 0, limit), done, generation)
        self._count(query)

    def _load_more(self, limit: int) -> None:
        generation = self._generation
        query = self._query
        offset = len(self._rows)
        self._loading = True

        def done(rows: list[Any]) -> None:
            if generation != self._generation:
                return
            self._loading = False
            self._has_more = len(rows) == limit
            if rows:
                # The last row of an insertion is first + n - 1 (Qt's example is off by one).
                self.beginInsertRows(QModelIndex(), offset, offset + len(rows) - 1)
                self._rows.extend(rows)
                self.endInsertRows()
            self._loaded()

        self._submit(lambda store: self.fetch_rows(store, query, offset, limit), done, generation)

    def _submit(self, work: Callable[[Store], Any], done: Callable[[Any], None], gen: int) -> None:
        def failed(error: BaseException) -> None:
            if gen == self._generation:
                self._loading = False
                self._has_more = False
                self._locating = None
                self.load_failed.emit(str(error))

        self._pending.append(self._reader.submit(work, done, failed))

    def _count(self, query: Any) -> None:
        key = self.count_key(query)
        if key in self._totals:
            self.total_changed.emit()
            return
        epoch = self._count_epoch

        def done(total: int | None) -> None:
            if epoch != self._count_epoch or total is None:
                return
            self._totals[key] = total
            if key == self.count_key(self._query):
                self.total_changed.emit()

        # Counted after the page was read, so the rows show first.
        self._reader.submit(lambda store: self.count_rows(store, query), done, lambda _e: None)

    def _loaded(self) -> None:
        self._pending = [f for f in self._pending if not f.done()]
        self.loaded.emit()
        if self._locating is not None:
            record_id, found = self._locating
            row = self.row_of(record_id)
            if row is not None or not self._has_more or len(self._rows) >= LOCATE_LIMIT:
                self._locating = None
                found(row)
            else:
                self._load_more(LOCATE_PAGE_SIZE)

    def _replace_rows(self, new: list[Any]) -> None:
        """Swap in re-read rows, moving persistent indexes (the selection) with their ids."""
        old_count, new_count = len(self._rows), len(new)
        if new_count > old_count:
            self.beginInsertRows(QModelIndex(), old_count, new_count - 1)
            self._rows = self._rows + new[old_count:]
            self.endInsertRows()
        self.layoutAboutToBeChanged.emit()
        position = {self.record_id(record): row for row, record in enumerate(new)}
        before = self.persistentIndexList()
        after = []
        for index in before:
            row = position.get(self.record_id(self._rows[index.row()]))
            after.append(QModelIndex() if row is None else self.index(row, index.column()))
        # Same length during the layout change; a shorter result loses its tail below.
        self._rows = list(new) + self._rows[new_count:]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()
        if new_count < old_count:
            self.beginRemoveRows(QModelIndex(), new_count, old_count - 1)
            del self._rows[new_count:]
            self.endRemoveRows()
        if new_count:
            self.dataChanged.emit(
                self.index(0, 0), self.index(new_count - 1, len(self.columns) - 1)
            )
