"""The batches view over a real store file: quick filters, stale highlight, detail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QStyleOptionViewItem,
    QTableWidget,
    QTreeWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot

from gui.models.badges import ATTENTION_BACKGROUND
from gui.models.lazy import ID_ROLE
from gui.views.batches_view import BatchesView
from service.store import BatchMirror, NewErrorReport, Store

NOW = datetime.now(UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def _batch(pk: int, status: str, **kw: object) -> BatchMirror:
    fields: dict[str, object] = {
        "pk": pk,
        "local_batch_id": f"lb-{pk}",
        "content_type": "order",
        "status": status,
        "flow": "update-orders",
    }
    fields.update(kw)
    return BatchMirror(**fields)


def _fill(store: Store) -> None:
    """Six batches, oldest (pk 1) to newest (pk 6)."""
    store.record_batch(
        _batch(
            1,
            "sent_to_remote",
            remote_batch_id="rb-1",
            created_at=NOW - timedelta(hours=5),
            last_transition_at=NOW - timedelta(hours=3),
        ),
    )
    store.record_batch(_batch(2, "done", created_at=NOW - timedelta(hours=4)))
    store.record_batch(_batch(3, "fail", created_at=NOW - timedelta(hours=3)))
    store.record_batch(
        _batch(
            4,
            "ongoing",
            created_at=NOW - timedelta(hours=2),
            last_transition_at=NOW - timedelta(minutes=5),
        ),
    )
    store.record_batch(
        _batch(5, "done", content_type="cancellationrequest", created_at=NOW - timedelta(hours=1))
    )
    store.record_batch(_batch(6, "initialized", created_at=NOW - timedelta(minutes=1)))


@pytest.fixture
def view(qtbot: QtBot, store: Store) -> BatchesView:
    widget = BatchesView(store)
    qtbot.addWidget(widget)
    widget.resize(1300, 700)
    return widget


def _settle(qtbot: QtBot, view: BatchesView, change: Callable[[], object] | None = None) -> None:
    if change is not None:
        with qtbot.waitSignal(view.model.loaded, timeout=5000):
            change()
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=5000)


def _pks(view: BatchesView) -> list[int]:
    return [b.pk for b in view.model.records()]


def _click(view: QWidget, name: str, qtbot: QtBot) -> None:
    button = view.findChild(QPushButton, name)
    assert button is not None, name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_quick_filters_narrow_the_table(qtbot: QtBot, store: Store, view: BatchesView) -> None:
    _fill(store)
    _settle(qtbot, view, view.refresh)
    assert _pks(view) == [6, 5, 4, 3, 2, 1]
    _settle(qtbot, view, lambda: _click(view, "batches-filter-progress", qtbot))
    assert _pks(view) == [6, 4, 1]
    _settle(qtbot, view, lambda: _click(view, "batches-filter-done", qtbot))
    assert _pks(view) == [5, 2]
    _settle(qtbot, view, lambda: _click(view, "batches-filter-failed", qtbot))
    assert _pks(view) == [3]
    _settle(qtbot, view, lambda: _click(view, "batches-filter-all", qtbot))
    assert view.model.rowCount() == 6
    _settle(qtbot, view, lambda: view.type_filter.setCurrentText("cancellationrequest"))
    assert _pks(view) == [5]
    _settle(qtbot, view, lambda: view.type_filter.setCurrentIndex(0))
    _settle(qtbot, view, lambda: view.date_range.preset.setCurrentText("Last hour"))
    assert _pks(view) == [6]
    qtbot.waitUntil(lambda: view.count_label.text() == "1 of 1 batches", timeout=5000)


def test_stale_highlight_marks_old_pending_batches_only(
    qtbot: QtBot, store: Store, view: BatchesView
) -> None:
    _fill(store)
    _settle(qtbot, view, view.refresh)
    model = view.model

    def background(pk: int) -> object:
        return model.index(model.row_of(pk), 2).data(Qt.ItemDataRole.BackgroundRole)

    assert background(1) == ATTENTION_BACKGROUND  # sent_to_remote for 3 h
    tooltip = model.index(model.row_of(1), 2).data(Qt.ItemDataRole.ToolTipRole)
    assert "sent_to_remote" in tooltip
    assert "60 min" in tooltip
    assert background(4) is None  # ongoing, but only for 5 minutes
    assert background(2) is None  # done long ago: finished, not stuck
    assert background(6) is None

    spin = view.findChild(QSpinBox, "batches-stale-minutes")
    assert spin.value() == 60
    spin.setValue(4)
    assert background(4) == ATTENTION_BACKGROUND
    spin.setValue(600)
    assert background(1) is None


def test_detail_shows_timeline_objects_and_reports(
    qtbot: QtBot, store: Store, view: BatchesView
) -> None:
    run_id = store.start_run("update-orders", {})
    objects = [
        {"pk": 11, "content_type": "order", "remote_id": "R-11", "failed_reason_type": None},
        {"pk": 12, "content_type": "order", "remote_id": "R-12", "failed_reason_type": "remote"},
        {"pk": 13, "content_type": "order", "remote_id": None, "failed_reason_type": "mapping"},
    ]
    store.record_batch(_batch(9, "initialized", run_id=run_id), note="opened")
    store.record_batch(_batch(9, "commit", objects=objects), note="3 orders")
    store.record_batch(_batch(9, "sent_to_remote", remote_batch_id="rb-9"), note="sent")
    store.record_batch(_batch(9, "fail", remote_batch_id="rb-9", objects=objects), note="2 failed")
    store.add_error_report(
        NewErrorReport(code="lb-9-Channel-Results-x", description="order 12 rejected", batch_pk=9)
    )
    _settle(qtbot, view, view.refresh)
    with qtbot.waitSignal(view.detail_loaded, timeout=5000):  # read off the GUI thread
        view.table.selectRow(0)

    detail = view.findChild(QWidget, "batch-detail")
    assert detail.isEnabled()
    timeline = detail.findChild(QTreeWidget, "batch-timeline")
    lines = [
        (timeline.topLevelItem(i).text(0), timeline.topLevelItem(i).text(3))
        for i in range(timeline.topLevelItemCount())
    ]
    assert lines == [
        ("initialized", "opened"),
        ("commit", "3 orders"),
        ("sent_to_remote", "sent"),
        ("fail", "2 failed"),
    ]
    assert timeline.topLevelItem(0).text(2) == str(run_id)

    table = detail.findChild(QTableWidget, "batch-objects")
    rows = [
        tuple(table.item(r, c).text() for c in range(table.columnCount()))
        for r in range(table.rowCount())
    ]
    assert rows == [
        ("11", "order", "R-11", ""),
        ("12", "order", "R-12", "remote"),
        ("13", "order", "", "mapping"),
    ]
    reports = view.reports_list
    assert reports.count() == 1
    assert "order 12 rejected" in reports.item(0).text()

    _click(view, "batches-copy-ids", qtbot)
    assert QGuiApplication.clipboard().text() == (
        "pk: 9\nlocal_batch_id: lb-9\nremote_batch_id: rb-9"
    )
    with qtbot.waitSignal(view.check_now_requested):
        _click(view, "batches-check-now", qtbot)


def test_show_batch_selects_it_even_when_filtered_out(
    qtbot: QtBot, store: Store, view: BatchesView
) -> None:
    _fill(store)
    _settle(qtbot, view, lambda: _click(view, "batches-filter-failed", qtbot))
    assert _pks(view) == [3]
    view.show_batch(2)  # done: hidden by the "failed" filter
    qtbot.waitUntil(lambda: bool(view.table.selectionModel().selectedRows()), timeout=5000)
    (selected,) = view.table.selectionModel().selectedRows()
    assert selected.data(ID_ROLE) == 2
    assert view.findChild(QPushButton, "batches-filter-all").isChecked()
    assert view.detail_title.text().startswith("Batch 2 · lb-2 · done")


def test_show_batch_loads_pages_until_it_finds_it(
    qtbot: QtBot, store: Store, view: BatchesView
) -> None:
    for pk in range(1, 451):
        store.record_batch(_batch(pk, "done", created_at=NOW - timedelta(minutes=pk)))
    _settle(qtbot, view, view.refresh)
    assert view.model.rowCount() == 200
    view.show_batch(440)
    qtbot.waitUntil(lambda: bool(view.table.selectionModel().selectedRows()), timeout=5000)
    assert view.table.selectionModel().selectedRows()[0].data(ID_ROLE) == 440


def test_sorting_requeries_and_scrolling_fetches_more(
    qtbot: QtBot, store: Store, view: BatchesView
) -> None:
    for pk in range(1, 251):
        status = "fail" if pk == 125 else "done"
        store.record_batch(_batch(pk, status, created_at=NOW - timedelta(minutes=pk)))
    _settle(qtbot, view, view.refresh)
    assert view.model.rowCount() == 200
    assert _pks(view)[0] == 1
    view.table.scrollToBottom()
    qtbot.waitUntil(lambda: view.model.rowCount() == 250, timeout=5000)
    assert len(set(_pks(view))) == 250

    pk_column, status_column, age_column = 8, 4, 1
    _settle(qtbot, view, lambda: view.table.sortByColumn(pk_column, Qt.SortOrder.AscendingOrder))
    assert _pks(view)[:2] == [1, 2]
    _settle(qtbot, view, lambda: view.table.sortByColumn(pk_column, Qt.SortOrder.DescendingOrder))
    assert _pks(view)[0] == 250
    _settle(
        qtbot, view, lambda: view.table.sortByColumn(status_column, Qt.SortOrder.DescendingOrder)
    )
    assert _pks(view)[0] == 125  # "fail" sorts after "done"
    _settle(qtbot, view, lambda: view.table.sortByColumn(age_column, Qt.SortOrder.DescendingOrder))
    assert _pks(view)[0] == 250  # oldest first: descending age


def _with_failed_objects(failed: int, total: int) -> list[dict[str, object]]:
    return [
        {"pk": n, "content_type": "order", "failed_reason_type": "remote" if n < failed else None}
        for n in range(total)
    ]


def test_with_failures_finds_done_batches_holding_failed_objects(
    qtbot: QtBot, store: Store, view: BatchesView
) -> None:
    _fill(store)
    store.record_batch(_batch(2, "done", objects=_with_failed_objects(22, 30)))
    store.record_batch(_batch(5, "done", objects=_with_failed_objects(90, 117)))
    _settle(qtbot, view, view.refresh)
    model = view.model
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    shown = [h for c, h in enumerate(headers) if not view.table.isColumnHidden(c)]
    assert shown[:5] == ["Flow", "Age", "Objects", "Failed", "Status"]
    assert shown[-3:] == ["Id", "Local batch id", "Remote batch id"]
    row = model.row_of(5)
    assert [model.index(row, c).data() for c in range(4)][2:] == ["117", "90"]

    _settle(qtbot, view, lambda: _click(view, "batches-filter-failed", qtbot))
    assert _pks(view) == [3]  # "Failed" still means status fail
    _settle(qtbot, view, lambda: _click(view, "batches-filter-with-failures", qtbot))
    assert _pks(view) == [5, 2]
    qtbot.waitUntil(lambda: view.count_label.text() == "2 of 2 batches", timeout=5000)


def test_detail_clears_when_the_filter_hides_its_batch(
    qtbot: QtBot, store: Store, view: BatchesView
) -> None:
    _fill(store)
    _settle(qtbot, view, view.refresh)
    view.table.selectRow(view.model.row_of(2))
    assert view.detail_title.text().startswith("Batch 2 ·")
    _settle(qtbot, view, lambda: _click(view, "batches-filter-failed", qtbot))
    assert not view.detail.isEnabled()
    assert view.detail_title.text() == "Select a batch to see its history"

    # A batch that leaves the filter on a refresh (it finished) leaves the detail too.
    _settle(qtbot, view, lambda: _click(view, "batches-filter-progress", qtbot))
    view.table.selectRow(view.model.row_of(4))
    assert view.detail_title.text().startswith("Batch 4 ·")
    store.record_batch(_batch(4, "done"))
    _settle(qtbot, view, view.refresh)
    assert view.model.row_of(4) is None
    assert not view.detail.isEnabled()


def test_double_click_on_a_detail_report_asks_to_open_it(
    qtbot: QtBot, store: Store, view: BatchesView
) -> None:
    store.record_batch(_batch(9, "done"))
    report_id = store.add_error_report(
        NewErrorReport(code="lb-9-x", description="order 12 rejected", batch_pk=9)
    )
    view.show()
    _settle(qtbot, view, view.refresh)
    with qtbot.waitSignal(view.detail_loaded, timeout=5000):
        view.table.selectRow(0)
    reports = view.findChild(QListWidget, "batch-errors")
    rect = reports.visualItemRect(reports.item(0))
    qtbot.mouseClick(reports.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(view.report_activated) as opened:
        qtbot.mouseDClick(reports.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == [report_id]


def test_nothing_is_clipped_at_1024_px(qtbot: QtBot, store: Store) -> None:
    store.record_batch(_batch(1, "sent_to_remote"), note="sent to the channel " * 8)
    view = BatchesView(store)
    qtbot.addWidget(view)
    view.resize(1024, 700)
    view.show()
    qtbot.waitExposed(view)
    _settle(qtbot, view, view.refresh)
    view.table.selectRow(0)
    header = view.table.horizontalHeader()
    metrics = view.table.fontMetrics()
    for column, spec in enumerate(view.model.columns):
        if view.table.isColumnHidden(column):
            continue
        assert header.sectionSize(column) >= metrics.horizontalAdvance(spec.title) + 20, spec.title
    status = header.sectionSize(4)
    delegate = view.table.itemDelegateForColumn(4)
    option = QStyleOptionViewItem()
    option.initFrom(view.table)
    assert status >= delegate.sizeHint(option, view.model.index(0, 4)).width()
    timeline = view.findChild(QTreeWidget, "batch-timeline")
    assert timeline.wordWrap()
    line = timeline.fontMetrics().height()
    # The note wraps to the column's width: its row grows instead of cutting it off.
    qtbot.waitUntil(
        lambda: timeline.visualItemRect(timeline.topLevelItem(0)).height() > line * 1.5,
        timeout=5000,
    )
    empty = view.findChild(QLabel, "batches-empty")
    assert not empty.isVisible()
