"""The data views' shared widgets: last-updated indicator, empty state, column chooser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from gui.models.parked import ParkedModel
from gui.widgets.column_chooser import ColumnChooser
from gui.widgets.empty_state import EmptyState
from gui.widgets.last_updated import NOT_YET, LastUpdated, updated_text
from service.store import ParkedItem, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_last_updated_counts_from_the_last_mark(qtbot: QtBot) -> None:
    clock = Clock()
    label = LastUpdated("batches", clock=clock)
    qtbot.addWidget(label)
    assert label.objectName() == "last-updated-batches"
    assert label.text() == NOT_YET
    label.mark()
    assert label.text() == "Updated just now"
    clock.now += 42
    label.update_text()
    assert label.text() == "Updated 42 s ago"
    clock.now += 600
    label.update_text()
    assert label.text() == "Updated 10 min ago"
    label.mark()
    assert label.text() == "Updated just now"
    assert updated_text(None) == NOT_YET


def test_empty_state_covers_an_empty_table_only(qtbot: QtBot, store: Store) -> None:
    model = ParkedModel(store)
    table = QTableView()
    qtbot.addWidget(table)
    table.setModel(model)
    table.show()
    messages = iter(["Nothing parked", "Nothing parked either"])
    empty = EmptyState("parked", table, model, lambda: next(messages))
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.refresh()
    assert empty.isVisible()
    assert empty.text() == "Nothing parked"
    assert empty.geometry().width() > 0
    store.park(ParkedItem(flow="fetch-cancels", remote_id="c-1", reason="order not in Omnitron"))
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.refresh()
    assert model.rowCount() == 1
    assert not empty.isVisible()
    model.shutdown()


def test_column_chooser_never_hides_the_last_column(
    qtbot: QtBot, store: Store, tmp_path: Path
) -> None:
    model = ParkedModel(store)
    table = QTableView()
    qtbot.addWidget(table)
    table.setModel(model)
    settings = QSettings(str(tmp_path / "c.ini"), QSettings.Format.IniFormat)
    chooser = ColumnChooser("parked", table, ["Reason"], settings)
    titles = chooser.titles()
    assert chooser.hidden() == ["Reason"]
    for title in titles:
        chooser.set_visible(title, False)
    assert len(chooser.hidden()) == len(titles) - 1
    assert settings.value("parked/hidden_columns", type=list) == chooser.hidden()
    model.shutdown()
