"""The runs view over a real store file: the table, the flow filter, the chart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from gui.models.lazy import BADGE_ROLE
from gui.views.runs_view import RunsView
from gui.widgets.hourly_chart import HourlyChart
from service.store import NewErrorReport, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def _run(store: Store, flow: str, created: int, outcome: str = "completed") -> int:
    run_id = store.start_run(flow, {})
    store.finish_run(
        run_id,
        outcome=outcome,
        created=created,
        updated=1,
        skipped=2,
        failed=3,
        error_count=4,
        message=f"{flow} done",
        duration_s=12.5,
    )
    return run_id


def test_lists_runs_filters_by_flow_and_charts_the_day(qtbot: QtBot, store: Store) -> None:
    _run(store, "fetch-orders", 5)
    _run(store, "update-orders", 0, outcome="failed")
    _run(store, "fetch-orders", 2)
    store.add_error_report(NewErrorReport(code="x"))
    view = RunsView(store)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)
    model = view.model
    assert [model.index(r, 0).data() for r in range(3)] == [
        "fetch-orders",
        "update-orders",
        "fetch-orders",
    ]
    assert model.index(1, 2).data() == "failed"
    assert model.index(1, 2).data(BADGE_ROLE) == "danger"
    assert [model.index(0, c).data() for c in range(3, 10)] == [
        "2", "1", "2", "3", "4", "12.5 s", "fetch-orders done",
    ]  # fmt: skip

    chart = view.findChild(HourlyChart, "runs-chart")
    qtbot.waitUntil(lambda: chart.totals() == (7, 1), timeout=5000)
    assert chart.series()[0][-1] == 7  # this hour is the last bar

    with qtbot.waitSignal(model.loaded, timeout=5000):
        view.flow_filter.setCurrentText("update-orders")
    assert model.rowCount() == 1

    _run(store, "update-orders", 0)
    with qtbot.waitSignal(view.activity_loaded, timeout=5000):
        view.refresh()
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=5000)
    view.grab()  # paints the chart and the badges without error
