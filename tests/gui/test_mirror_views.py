"""The console shows what another deployment wrote to Omnitron, with its origin.

A sandbox session; the other deployment is a plain HTTP client on the session's
Omnitron simulator. "Sync from Omnitron" is clicked in the views, and the tables'
cells are read from their models.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QPushButton
from pytestqt.qtbot import QtBot

from gui.mirror_sync import SYNC_SHORTCUT, MirrorSync
from gui.session import ConsoleSession
from gui.views.batches_view import BatchesView
from gui.views.errors_view import ErrorsView
from gui.views.problems_view import ProblemsView
from service.config import builtin_sandbox
from service.connect import Locations
from service.store import Store
from tests.gui.conftest import fetched_sandbox_session
from tests.sandbox.omnitron_api import OmnitronApi, new_batch, set_batch

TIMEOUT_MS = 60_000


@pytest.fixture
def session(qtbot: QtBot, tmp_path: Path) -> Iterator[ConsoleSession]:
    """A ready sandbox session whose own fetch-orders left batches and failures."""
    profile = builtin_sandbox().model_copy(update={"mirror_minutes": 5})
    opened = fetched_sandbox_session(
        qtbot, tmp_path, orders=12, profile=profile, timeout_ms=TIMEOUT_MS
    )
    yield opened
    opened.close()


@pytest.fixture
def other(session: ConsoleSession) -> Iterator[OmnitronApi]:
    """Another deployment of the channel, writing to the session's Omnitron."""
    assert session.sandbox_urls is not None
    client = OmnitronApi(session.sandbox_urls[0])
    yield client
    client.close()


def _cells(model: object, row: int) -> list[str]:
    return [model.index(row, c).data() for c in range(model.columnCount())]  # type: ignore[attr-defined]


def _column(model: object, title: str) -> int:
    titles = [
        model.headerData(c, Qt.Orientation.Horizontal)  # type: ignore[attr-defined]
        for c in range(model.columnCount())  # type: ignore[attr-defined]
    ]
    return titles.index(title)


def test_sync_from_omnitron_shows_remote_batches_reports_and_problems(
    qtbot: QtBot, session: ConsoleSession, other: OmnitronApi
) -> None:
    store = session.store
    batches, errors = BatchesView(store), ErrorsView(store)
    problems = ProblemsView(store, session=session)
    for view in (batches, errors, problems):
        qtbot.addWidget(view)
    mirror = MirrorSync(session)
    batches.sync_requested.connect(mirror.sync_now)
    errors.sync_requested.connect(mirror.sync_now)
    for view in (batches, errors, problems):
        mirror.finished.connect(lambda _summary, v=view: v.refresh())
    qtbot.waitUntil(lambda: batches.model.total is not None and batches.model.total > 0)
    ours = batches.model.total
    batch = new_batch(other)
    set_batch(other, batch, "fail")
    report = other.post(
        other.ch("error_reports/"),
        {
            "error_code": f"{batch['local_batch_id']}-Channel-GetOrders_RM-1",
            "error_desc": "order RM-1: city 'Atlantis' not found",
        },
    )

    with qtbot.waitSignal(mirror.finished, timeout=TIMEOUT_MS) as synced:
        qtbot.mouseClick(batches.findChild(QPushButton, "batches-sync"), Qt.MouseButton.LeftButton)
    assert synced.args == ["Synced from Omnitron: 1 new batch request, 1 new error report."]

    qtbot.waitUntil(lambda: batches.model.total == ours + 1, timeout=TIMEOUT_MS)
    row = batches.model.row_of(batch["pk"])
    assert row is not None
    cells = _cells(batches.model, row)
    assert cells[_column(batches.model, "Flow")] == "remote"
    assert cells[_column(batches.model, "Status")] == "fail"
    assert cells[_column(batches.model, "Origin")] == "remote"
    local_row = next(r for r in range(batches.model.rowCount()) if r != row)
    assert _cells(batches.model, local_row)[_column(batches.model, "Origin")] == "local"

    qtbot.waitUntil(lambda: report["error_code"] in _codes(errors), timeout=TIMEOUT_MS)
    remote = next(
        r for r in range(errors.model.rowCount()) if _code(errors, r) == report["error_code"]
    )
    cells = _cells(errors.model, remote)
    assert cells[_column(errors.model, "Status")] == "open · remote"
    assert cells[_column(errors.model, "Subject")] == "RM-1"
    assert cells[_column(errors.model, "Origin")] == "remote"
    errors.table.selectRow(remote)
    assert errors.retry_requests() == []  # another deployment's failure
    delivered = errors.findChild(QLabel, "error-detail-delivered").text()
    assert delivered == (
        f"written there by another deployment (Omnitron id {report['pk']}), mirrored"
    )

    origin = errors.origin_filter
    origin.setCurrentIndex(origin.findData("remote"))
    qtbot.waitUntil(lambda: _codes(errors) == [report["error_code"]], timeout=TIMEOUT_MS)

    qtbot.waitUntil(lambda: _problem_row(problems) is not None, timeout=TIMEOUT_MS)
    problem_row = _problem_row(problems)
    assert problem_row is not None
    assert _cells(problems.model, problem_row)[1] == "fetch-orders · remote"
    problems.table.selectRow(problem_row)
    qtbot.waitUntil(lambda: problems.items_model.rowCount() == 1, timeout=TIMEOUT_MS)
    assert not problems.retry_button.isEnabled()

    with qtbot.waitSignal(mirror.finished, timeout=TIMEOUT_MS) as again:
        qtbot.mouseClick(errors.findChild(QPushButton, "errors-sync"), Qt.MouseButton.LeftButton)
    assert again.args == ["Nothing new from Omnitron."]
    mirror.close()


def test_mirror_sync_keeps_its_own_timer_and_says_when_it_cannot_sync(
    qtbot: QtBot, tmp_path: Path
) -> None:
    session = ConsoleSession(
        builtin_sandbox().model_copy(update={"mirror_minutes": 5}),
        Locations(tmp_path / "data", tmp_path / "profiles.toml"),
    )  # never started: not connected
    mirror = MirrorSync(session)
    mirror.start()
    assert mirror.scheduled
    with qtbot.waitSignal(mirror.failed, timeout=5000) as failed:
        assert not mirror.sync_now()
    assert "not connected yet" in failed.args[0]
    mirror.stop()
    assert not mirror.scheduled
    plain = ConsoleSession(builtin_sandbox(), Locations(tmp_path / "d2", tmp_path / "p.toml"))
    unscheduled = MirrorSync(plain)
    unscheduled.start()
    assert not unscheduled.scheduled  # mirror_minutes = 0: only when asked
    for sync in (mirror, unscheduled):
        sync.close()
    for opened in (session, plain):
        opened.close()


def _code(view: ErrorsView, row: int) -> str:
    return view.model.record(row).code


def _codes(view: ErrorsView) -> list[str]:
    return [_code(view, row) for row in range(view.model.rowCount())]


def _problem_row(view: ProblemsView) -> int | None:
    for row in range(view.model.rowCount()):
        if view.model.record(row).origin == "remote":
            return row
    return None


@pytest.mark.parametrize("kind", [BatchesView, ErrorsView], ids=["batches", "errors"])
def test_the_sync_shortcut_works_within_its_view(
    qtbot: QtBot, tmp_path: Path, kind: type[BatchesView] | type[ErrorsView]
) -> None:
    with Store(tmp_path / "s.sqlite3") as store:
        view = kind(store)
        qtbot.addWidget(view)
        view.show()
        view.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is view)
        view.table.setFocus()
        keys = QKeySequence(SYNC_SHORTCUT)[0]
        with qtbot.waitSignal(view.sync_requested, timeout=5000):
            qtbot.keyClick(view.table, keys.key(), keys.keyboardModifiers())
        view.close()
