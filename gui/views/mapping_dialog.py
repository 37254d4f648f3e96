"""The mapping assistant: fix an unknown location, cargo company or SKU in a few keys.

For a location or cargo problem the dialog lists Omnitron's candidates (the cities of
the order's country, the townships of its city, the districts of its township, every
cargo company), ranked by similarity to the channel's spelling with Turkish-aware
folding, so the likeliest one is selected already; the search box narrows the list.
For an unmapped SKU the search box searches Omnitron's products by SKU, barcode or
name as the operator types. Save stores an alias in the profile's store, or creates
the product's integration action in Omnitron, and emits ``saved``.

Everything that touches Omnitron or the store runs on the dialog's own
:class:`~gui.tasks.TaskRunner`; the dialog only shows the results. Keys: Enter saves
the selected candidate, Esc closes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.session import ConsoleSession
from gui.tasks import TaskRunner
from gui.widgets.plain_text import plain_label
from service import mapping
from service.causes import info
from service.mapping import Candidate, MappingImpossible, MappingTarget
from service.omnitron.errors import OmnitronError
from service.store import Alias
from service.store_errors import StoreError
from service.text_fold import fold

T = TypeVar("T")

SEARCH_DELAY_MS = 300  # typing pauses this long before a product search is sent
_NOUNS = {
    "city": "city",
    "township": "township",
    "district": "district",
    "cargo": "cargo company",
    "sku": "product",
}
_PLURALS = {
    "city": "cities",
    "township": "townships",
    "district": "districts",
    "cargo": "cargo companies",
    "sku": "products",
}


@dataclass(frozen=True)
class _Refused:
    """A foreseeable failure of background work, in the operator's words."""

    message: str


def _or_refused(fn: Callable[[], T]) -> Callable[[], T | _Refused]:
    """``fn`` whose expected failures (Omnitron's answer, the store) come back as text."""

    def run() -> T | _Refused:
        try:
            return fn()
        except (MappingImpossible, OmnitronError, StoreError) as exc:
            return _Refused(str(exc))

    return run


class ProblemLike(Protocol):
    """What the dialog reads of a problem (:class:`service.store_records.Problem`)."""

    cause: str
    cause_value: str
    flow: str
    subjects: list[str]


@dataclass(frozen=True)
class AliasProblem:
    """An alias to pick again, read as the problem it fixed (no orders are known)."""

    cause: str
    cause_value: str
    flow: str = mapping.FETCH_ORDERS
    subjects: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, alias: Alias) -> AliasProblem:
        """The problem ``alias`` fixes: ``unknown_<kind>`` of its channel spelling."""
        return cls(f"unknown_{alias.kind}", alias.channel_value)


class MappingDialog(QDialog):
    """Pick the Omnitron object a channel's spelling means, and save the mapping."""

    saved = Signal(object)  # the Alias stored, or the IntegrationAction created

    def __init__(
        self,
        session: ConsoleSession,
        problem: ProblemLike,
        parent: QWidget | None = None,
        *,
        target: MappingTarget | None = None,
    ) -> None:
        """Fix ``problem``; with ``target`` (an alias edited again) its orders are not read."""
        super().__init__(parent)
        self.setObjectName("mapping-dialog")
        self._session = session
        self._problem = problem
        self._fix = info(problem.cause).fix
        self._target: MappingTarget | None = None
        self._given = target
        self._all: list[Candidate] = []
        self._closed = False
        self._searches = itertools.count(1)
        self._search_id = 0
        # One worker: a search typed on waits behind the one under way (whose answer is
        # then dropped); closing the dialog closes the runner, nothing is delivered after.
        self._runner = TaskRunner(max_threads=1, parent=self, name="mapping")
        noun = _NOUNS.get(self._fix or "", "mapping")
        nouns = _PLURALS.get(self._fix or "", "mappings")
        self.setWindowTitle(f"Fix: {info(problem.cause).title} '{problem.cause_value}'")
        self.setMinimumSize(520, 420)

        self._intro = plain_label(self._intro_text(noun), self)
        self._intro.setWordWrap(True)
        self._search = QLineEdit(self)
        self._search.setObjectName("mapping-search")
        self._search.setClearButtonEnabled(True)
        self._search.setPlaceholderText(
            "Search by name, SKU or barcode" if self._fix == "sku" else f"Filter the {nouns}"
        )
        self._list = QListWidget(self)
        self._list.setObjectName("mapping-candidates")
        self._list.setAccessibleName(f"Omnitron {nouns}")
        self._status = plain_label("", self)
        self._status.setObjectName("mapping-status")
        self._status.setWordWrap(True)
        buttons = QDialogButtonBox(self)
        self._save = QPushButton("Save", self)
        self._save.setObjectName("mapping-save")
        self._save.setDefault(True)
        self._save.setEnabled(False)
        buttons.addButton(self._save, QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setObjectName("mapping-cancel")

        layout = QVBoxLayout(self)
        layout.addWidget(self._intro)
        layout.addWidget(self._search)
        layout.addWidget(self._list, 1)
        layout.addWidget(self._status)
        layout.addWidget(buttons)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._search_products)
        self._search.textChanged.connect(self._text_changed)
        self._list.currentItemChanged.connect(lambda *_: self._update_save())
        self._list.itemActivated.connect(lambda _item: self._save_selected())
        self._list.installEventFilter(self)
        self._save.clicked.connect(self._save_selected)
        buttons.rejected.connect(self.reject)
        self._start()

    # -- what the dialog is about -------------------------------------------------

    def _intro_text(self, noun: str) -> str:
        value = self._problem.cause_value
        count = len(self._problem.subjects)
        affected = f"{count} order{'s' if count != 1 else ''}" if count else "Orders"
        if self._fix == "sku":
            return (
                f"{affected} carry the SKU '{value}', which no Omnitron product is linked to. "
                "Find the product; Save links it to this SKU for the channel in Omnitron."
            )
        return (
            f"{affected} spell the {noun} '{value}', which Omnitron does not know. Pick the "
            f"Omnitron {noun} it means; every later run uses this mapping."
        )

    def _start(self) -> None:
        connection = self._session.connection
        if self._fix is None or connection is None:
            self._show_status(
                "Omnitron is not connected yet; try again in a moment."
                if self._fix is not None
                else f"{info(self._problem.cause).title} is not fixed by a mapping."
            )
            self._search.setEnabled(False)
            return
        problem = self._problem
        if self._fix == "sku":
            self._target = MappingTarget("sku", problem.cause_value)
            self._search.setText(problem.cause_value)  # searches at once, see _text_changed
            return
        self._show_status(f"Loading Omnitron's {_NOUNS[self._fix]}s…")
        given = self._given

        def load() -> tuple[MappingTarget, list[Candidate]]:
            target = given or mapping.target_for(
                connection.omnitron,
                connection.store,
                problem.cause,
                problem.cause_value,
                problem.subjects,
                flow=problem.flow,
            )
            return target, mapping.load_candidates(connection.omnitron, target)

        self._runner.submit(_or_refused(load), on_done=self._loaded, on_failed=self._show_failure)

    def _loaded(self, loaded: tuple[MappingTarget, list[Candidate]] | _Refused) -> None:
        if self._closed:
            return
        if isinstance(loaded, _Refused):
            self._show_status(loaded.message)
            return
        self._target, self._all = loaded
        where = f" ({self._target.parent})" if self._target.parent else ""
        self._show_status(
            f"{len(self._all)} Omnitron {_PLURALS[self._target.fix]}{where}, "
            f"most like '{self._target.value}' first."
        )
        self._fill(self._all)

    # -- the list -----------------------------------------------------------------

    def _fill(self, candidates: list[Candidate]) -> None:
        self._list.clear()
        for candidate in candidates:
            text = candidate.label + (f"  —  {candidate.detail}" if candidate.detail else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, candidate)
            self._list.addItem(item)
        if candidates:
            self._list.setCurrentRow(0)
        self._update_save()

    def _text_changed(self, text: str) -> None:
        if self._fix == "sku":
            self._search_timer.start()
            return
        wanted = fold(text)
        self._fill([c for c in self._all if wanted in fold(f"{c.label} {c.detail}")])

    def _search_products(self) -> None:
        connection = self._session.connection
        text = self._search.text().strip()
        if connection is None or not text:
            self._fill([])
            return
        self._search_id = search_id = next(self._searches)
        self._show_status(f"Searching Omnitron's products for '{text}'…")
        self._runner.submit(
            _or_refused(lambda: mapping.search_products(connection.omnitron, text)),
            on_done=lambda found: self._found(search_id, text, found),
            on_failed=self._show_failure,
        )

    def _found(self, search_id: int, text: str, found: list[Candidate] | _Refused) -> None:
        # An answer to an older search (the operator typed on) is dropped.
        if self._closed or search_id != self._search_id:
            return
        if isinstance(found, _Refused):
            self._show_status(found.message)
            self._fill([])
            return
        self._show_status(
            f"{len(found)} product{'s' if len(found) != 1 else ''} match '{text}'."
            if found
            else f"No product matches '{text}'; try its name or barcode."
        )
        self._fill(found)

    def _selected(self) -> Candidate | None:
        item = self._list.currentItem()
        if item is None:
            return None
        candidate: Any = item.data(Qt.ItemDataRole.UserRole)
        return candidate if isinstance(candidate, Candidate) else None

    def _update_save(self) -> None:
        self._save.setEnabled(self._target is not None and self._selected() is not None)

    # -- saving -------------------------------------------------------------------

    def _save_selected(self) -> None:
        connection = self._session.connection
        candidate = self._selected()
        target = self._target
        if connection is None or candidate is None or target is None or not self._save.isEnabled():
            return
        self._save.setEnabled(False)
        self._show_status(f"Saving '{target.value}' → {candidate.label}…")
        self._runner.submit(
            _or_refused(
                lambda: mapping.save(connection.omnitron, connection.store, target, candidate)
            ),
            on_done=self._saved,
            on_failed=self._save_failed,
        )

    def _saved(self, result: object) -> None:
        if self._closed:
            return
        if isinstance(result, _Refused):
            self._save_failed(f"Not saved: {result.message}")
            return
        self.saved.emit(result)
        self.accept()

    def _save_failed(self, message: str) -> None:
        self._show_failure(message)
        self._update_save()

    # -- status and life cycle ------------------------------------------------------

    def _show_status(self, text: str) -> None:
        self._status.setText(text)

    def _show_failure(self, message: str) -> None:
        if not self._closed:
            self._show_status(message)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Typing in the list types into the search box (arrows and Enter stay the list's)."""
        if watched is self._list and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            text = event.text()
            plain = event.modifiers() in (
                Qt.KeyboardModifier.NoModifier,
                Qt.KeyboardModifier.ShiftModifier,
            )
            if plain and text.isprintable() and text.strip() and self._search.isEnabled():
                self._search.setFocus(Qt.FocusReason.OtherFocusReason)
                self._search.insert(text)
                return True
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        """The list has the focus when the dialog opens: arrows pick, Enter saves."""
        super().showEvent(event)
        self._list.setFocus(Qt.FocusReason.OtherFocusReason)

    def done(self, result: int) -> None:
        """Close; answers of background work still under way are ignored from now on."""
        self._closed = True
        self._search_timer.stop()
        self._runner.close()
        super().done(result)
