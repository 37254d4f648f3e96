"""Text from servers and channels shows literally: never an image, a link or bold.

An order number ``<img src=file:///etc/passwd><a href=x>y</a>`` in an error report
and a 401 ``detail`` ``<b>bold</b><a href=x>link</a>`` from Omnitron (forced by the
hostile proxy in front of the real simulator) must reach the screen as those very
characters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel, QListWidget, QTreeWidget, QWidget
from pytestqt.qtbot import QtBot

from gui.models.lazy import ID_ROLE
from gui.views.batches_view import BatchesView
from gui.views.errors_view import ErrorsView
from gui.views.settings_dialog import SettingsDialog
from service.store import BatchMirror, NewErrorReport, Store
from tests.conftest import RunningOmnitron
from tests.gui.settings_form import FakeKeyring, acme_form, click, find, select
from tests.hostile.proxy import HostileProxy, Rule

ORDER_NUMBER = "<img src=file:///etc/passwd><a href=x>y</a>"
DETAIL = "<b>bold</b><a href=x>link</a>"


def rendered(html: str) -> str:
    """What a rich-text widget would draw for ``html``, as plain characters."""
    document = QTextDocument()
    document.setHtml(html)
    return document.toPlainText()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def _hostile_report(store: Store) -> int:
    """A failed order whose number, subject and description carry HTML, as the flow files it."""
    store.record_batch(
        BatchMirror(pk=9, local_batch_id="lb-9", status="fail", flow="fetch-orders"),
        note=f"order {ORDER_NUMBER} refused",
    )
    return store.add_error_report(
        NewErrorReport(
            code=f"lb-9-CreateOrder_{ORDER_NUMBER}",
            description=f"order {ORDER_NUMBER}: city {DETAIL} not found",
            flow="fetch-orders",
            content_type="order",
            object_id=ORDER_NUMBER,
            subject=DETAIL,
            batch_pk=9,
            local_batch_id="lb-9",
            raw_request=f'POST /api/v1/orders/ {{"number": "{ORDER_NUMBER}"}}',
            raw_response=f'{{"detail": "{DETAIL}"}}',
        )
    )


def _assert_value_labels_plain(view: QWidget, prefix: str) -> None:
    """Every label showing a value (named ``prefix…``; form captions are ours) is plain."""
    values = [label for label in view.findChildren(QLabel) if label.objectName().startswith(prefix)]
    assert len(values) >= 4
    for label in values:
        assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()


def test_error_report_detail_shows_order_number_literally(qtbot: QtBot, store: Store) -> None:
    report_id = _hostile_report(store)
    view = ErrorsView(store)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.model.is_loading and view.model.rowCount() == 1)

    view.table.selectRow(0)

    title = view.findChild(QLabel, "error-detail-title")
    assert title.text() == f"{DETAIL} — Other failure"  # subject — cause
    assert title.textFormat() == Qt.TextFormat.PlainText
    assert view.findChild(QLabel, "error-detail-code").text() == f"lb-9-CreateOrder_{ORDER_NUMBER}"
    shown = view.findChild(QLabel, "error-detail-object")
    assert shown.text() == f"{ORDER_NUMBER} · {DETAIL}"
    _assert_value_labels_plain(view, "error-detail-")
    # Tooltips cannot be plain: they carry the text escaped, so it draws literally.
    index = view.model.index(0, 0)
    assert index.data(ID_ROLE) == report_id
    tooltips = {
        view.model.headerData(column, Qt.Orientation.Horizontal): rendered(
            view.model.index(0, column).data(Qt.ItemDataRole.ToolTipRole)
        )
        for column in range(view.model.columnCount())
    }
    assert tooltips["Log id"] == f"lb-9-CreateOrder_{ORDER_NUMBER}"
    assert tooltips["Subject"] == DETAIL


def test_batch_detail_shows_notes_and_reports_literally(qtbot: QtBot, store: Store) -> None:
    _hostile_report(store)
    view = BatchesView(store)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.model.is_loading and view.model.rowCount() == 1)

    with qtbot.waitSignal(view.detail_loaded, timeout=5000):  # read off the GUI thread
        view.show_batch(9)
    assert view.detail_title.text().startswith("Batch 9")

    _assert_value_labels_plain(view, "batch-detail-")
    timeline = view.findChild(QTreeWidget, "batch-timeline")
    note = timeline.topLevelItem(0)
    assert note.text(3) == f"order {ORDER_NUMBER} refused"
    assert rendered(note.toolTip(3)) == f"order {ORDER_NUMBER} refused"
    reports = view.findChild(QListWidget, "batch-errors")
    description = f"order {ORDER_NUMBER}: city {DETAIL} not found"
    assert rendered(reports.item(0).toolTip()) == description


@pytest.mark.parametrize("status", [401, 403])
def test_settings_connection_test_shows_a_refusal_detail_literally(
    qtbot: QtBot,
    dialog: SettingsDialog,
    keyring_backend: FakeKeyring,
    omnitron: RunningOmnitron,
    status: int,
) -> None:
    with HostileProxy(upstream=omnitron.base_url) as proxy:
        # The login goes through; asking for the channel is refused with HTML in it.
        rule = proxy.add(
            Rule(
                method="GET",
                path=r"/channels/",
                action="status",
                status=status,
                body={"detail": DETAIL},
                times=None,
            )
        )
        click(qtbot, dialog, "settings-profile-add")
        config = omnitron.config
        acme_form(
            dialog,
            **{
                "settings-omnitron-url": proxy.url,
                "settings-omnitron-username": config.username,
                "settings-omnitron-password": config.password,
                "settings-omnitron-channel-id": str(config.channel_id),
                "settings-omnitron-catalog-id": str(config.catalog_id),
            },
        )
        click(qtbot, dialog, "settings-profile-save")
        select(dialog, "acme")
        result = find(dialog, QLabel, "settings-test-result")

        click(qtbot, dialog, "settings-test-omnitron")
        qtbot.waitUntil(lambda: not dialog.testing(), timeout=15000)

    assert rule.hits >= 1, result.text()
    assert result.property("state") == "fail", result.text()
    assert result.textFormat() == Qt.TextFormat.PlainText
    assert result.text().startswith(f"Omnitron at {proxy.url}: GET ")
    if status == 403:  # the answer's text is part of the message: drawn as characters
        assert DETAIL in result.text(), result.text()
