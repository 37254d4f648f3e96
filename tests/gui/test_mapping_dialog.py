"""The mapping assistant on the sandbox: candidates ranked, Enter saves, Omnitron maps.

A console session over both simulators runs fetch-orders once; its unknown city,
unknown cargo company and unmapped SKU become open problems, and each is fixed in
the dialog by object name. What was saved is checked in the store and over
Omnitron's API, and the next run creates the orders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLineEdit, QListWidget, QPushButton, QTableWidget, QTabWidget
from pytestqt.qtbot import QtBot

from gui.session import ConsoleSession
from gui.views.mapping_dialog import MappingDialog
from gui.views.settings_dialog import SettingsDialog
from service.connect import Connection
from service.omnitron.models import IntegrationAction
from service.store import Alias
from service.store_records import Problem
from tests.gui.conftest import Console, fetched_sandbox_session

TIMEOUT_MS = 30_000


@pytest.fixture
def session(qtbot: QtBot, tmp_path: Path) -> Iterator[ConsoleSession]:
    """A ready session whose first fetch-orders left three problems to fix."""
    # 20 orders at the default 15 % broken: an unknown city, cargo and SKU.
    opened = fetched_sandbox_session(qtbot, tmp_path, orders=20, timeout_ms=TIMEOUT_MS)
    yield opened
    opened.close()


def _connection(session: ConsoleSession) -> Connection:
    assert session.connection is not None
    return session.connection


def _problem(session: ConsoleSession, cause: str) -> Problem:
    problems = [p for p in _connection(session).store.open_problems() if p.cause == cause]
    assert len(problems) == 1, problems
    return problems[0]


def _open(qtbot: QtBot, session: ConsoleSession, problem: Problem) -> MappingDialog:
    dialog = MappingDialog(session, problem)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _candidates(dialog: MappingDialog) -> QListWidget:
    found = dialog.findChild(QListWidget, "mapping-candidates")
    assert found is not None
    return found


def _texts(dialog: MappingDialog) -> list[str]:
    listing = _candidates(dialog)
    return [listing.item(row).text() for row in range(listing.count())]


def _wait_listed(qtbot: QtBot, dialog: MappingDialog, check: Callable[[list[str]], bool]) -> None:
    qtbot.waitUntil(lambda: check(_texts(dialog)), timeout=TIMEOUT_MS)


def test_istambul_lists_istanbul_first_and_enter_saves_the_alias(
    qtbot: QtBot, session: ConsoleSession
) -> None:
    problem = _problem(session, "unknown_city")
    assert problem.cause_value == "Istambul"
    dialog = _open(qtbot, session, problem)

    _wait_listed(qtbot, dialog, lambda texts: len(texts) == 81)
    assert _texts(dialog)[0] == "İstanbul"
    assert _candidates(dialog).currentRow() == 0
    qtbot.waitUntil(lambda: _candidates(dialog).hasFocus())
    with qtbot.waitSignal(dialog.saved, timeout=TIMEOUT_MS) as saved:
        qtbot.keyClick(_candidates(dialog), Qt.Key.Key_Return)

    connection = _connection(session)
    alias = connection.store.find_alias("city", "", "ISTAMBUL")
    assert isinstance(saved.args[0], Alias)
    assert alias is not None
    assert alias.label == "İstanbul"
    country = connection.omnitron.find_country("tr")
    assert country is not None
    istanbul = connection.omnitron.find_city(country.pk, "İstanbul")
    assert istanbul is not None
    assert alias.omnitron_pk == istanbul.pk
    assert not dialog.isVisible()

    # The next run creates the orders that spelled it so (checked in Omnitron).
    assert session.service is not None
    session.service.fetch_and_create_order(is_success_log=False)
    for number in problem.subjects:
        assert connection.omnitron.find_order_by_number(number) is not None, number


def test_the_search_box_narrows_cargo_companies_and_save_stores_the_pick(
    qtbot: QtBot, session: ConsoleSession
) -> None:
    problem = _problem(session, "unknown_cargo")
    dialog = _open(qtbot, session, problem)
    _wait_listed(qtbot, dialog, lambda texts: len(texts) >= 5)
    search = dialog.findChild(QLineEdit, "mapping-search")
    assert search is not None

    # Typing with the list focused types into the search box.
    _candidates(dialog).setFocus()
    qtbot.keyClicks(_candidates(dialog), "yurt")
    assert search.text() == "yurt"

    assert [t.split()[0] for t in _texts(dialog)] == ["Yurtiçi"]
    with qtbot.waitSignal(dialog.saved, timeout=TIMEOUT_MS):
        qtbot.mouseClick(dialog.findChild(QPushButton, "mapping-save"), Qt.MouseButton.LeftButton)
    alias = _connection(session).store.find_alias("cargo", "", problem.cause_value)
    assert alias is not None
    yurtici = next(
        c for c in _connection(session).omnitron.list_cargo_companies() if c.erp_code == "yurtici"
    )
    assert alias.omnitron_pk == yurtici.pk


def test_an_unmapped_sku_finds_its_product_and_save_links_it_in_omnitron(
    qtbot: QtBot, session: ConsoleSession
) -> None:
    problem = _problem(session, "unmapped_sku")
    sku = problem.cause_value
    omnitron = _connection(session).omnitron
    assert omnitron.product_ids_for_skus([sku]) == {}
    dialog = _open(qtbot, session, problem)

    # The SKU is searched at once; typing searches again (debounced, off the GUI thread).
    _wait_listed(qtbot, dialog, lambda texts: len(texts) == 1 and sku in texts[0])
    product = omnitron.search_products(sku)[0]
    search = dialog.findChild(QLineEdit, "mapping-search")
    assert search is not None
    search.clear()
    qtbot.keyClicks(search, product.name.split()[0])
    _wait_listed(qtbot, dialog, lambda texts: len(texts) > 1)
    search.setText(sku)
    _wait_listed(qtbot, dialog, lambda texts: len(texts) == 1 and sku in texts[0])
    with qtbot.waitSignal(dialog.saved, timeout=TIMEOUT_MS) as saved:
        qtbot.keyClick(_candidates(dialog), Qt.Key.Key_Enter)

    action = saved.args[0]
    assert isinstance(action, IntegrationAction)
    assert (action.object_id, action.remote_id) == (product.pk, sku)
    assert omnitron.product_ids_for_skus([sku]) == {sku: product.pk}
    assert session.service is not None
    session.service.fetch_and_create_order(is_success_log=False)
    for number in problem.subjects:
        assert omnitron.find_order_by_number(number) is not None, number


def test_esc_closes_without_saving(qtbot: QtBot, session: ConsoleSession) -> None:
    problem = _problem(session, "unknown_city")
    dialog = _open(qtbot, session, problem)
    _wait_listed(qtbot, dialog, lambda texts: len(texts) == 81)

    qtbot.keyClick(_candidates(dialog), Qt.Key.Key_Escape)

    assert not dialog.isVisible()
    assert _connection(session).store.aliases() == []


def test_settings_lists_aliases_picks_one_again_and_removes_another(
    qtbot: QtBot, session: ConsoleSession, tmp_path: Path
) -> None:
    connection = _connection(session)
    country = connection.omnitron.find_country("tr")
    assert country is not None
    ankara = connection.omnitron.find_city(country.pk, "Ankara")
    istanbul = connection.omnitron.find_city(country.pk, "İstanbul")
    assert ankara is not None
    assert istanbul is not None
    # A wrong pick made earlier, and a cargo mapping.
    connection.store.set_alias(
        Alias(kind="city", channel_value="Istambul", omnitron_pk=ankara.pk, label="Ankara")
    )
    connection.store.set_alias(Alias(kind="cargo", channel_value="horoz", omnitron_pk=1))
    dialog = SettingsDialog(
        session.locations,
        QSettings(str(tmp_path / "console.ini"), QSettings.Format.IniFormat),
        session=session,
    )
    qtbot.addWidget(dialog)
    dialog.show()
    table = dialog.findChild(QTableWidget, "settings-aliases")
    assert table is not None
    qtbot.waitUntil(lambda: table.rowCount() == 2)
    rows = {table.item(r, 1).text(): r for r in range(table.rowCount())}
    assert table.item(rows["Istambul"], 2).text() == f"Ankara (pk {ankara.pk})"

    # Edit… opens the assistant on the alias; İstanbul is first, Save replaces the pick.
    table.selectRow(rows["Istambul"])
    page = dialog.aliases_page
    assert page is not None
    mapping_dialog = page.edit_selected()
    assert mapping_dialog is not None
    _wait_listed(qtbot, mapping_dialog, lambda texts: len(texts) >= 81)
    assert _texts(mapping_dialog)[0] == "İstanbul"
    qtbot.mouseClick(
        mapping_dialog.findChild(QPushButton, "mapping-save"), Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(
        lambda: any(
            table.item(r, 2).text() == f"İstanbul (pk {istanbul.pk})"
            for r in range(table.rowCount())
        ),
        timeout=TIMEOUT_MS,
    )
    alias = connection.store.find_alias("city", "", "Istambul")
    assert alias is not None
    assert alias.omnitron_pk == istanbul.pk

    # Remove forgets the cargo mapping.
    rows = {table.item(r, 1).text(): r for r in range(table.rowCount())}
    table.selectRow(rows["horoz"])
    qtbot.mouseClick(
        dialog.findChild(QPushButton, "settings-alias-remove"), Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(lambda: table.rowCount() == 1)
    assert connection.store.find_alias("cargo", "", "horoz") is None
    assert table.item(0, 1).text() == "Istambul"


def test_the_consoles_settings_have_a_mappings_page(
    qtbot: QtBot, make_console: Callable[..., Console]
) -> None:
    console = make_console(orders=0)
    _connection(console.session).store.set_alias(
        Alias(kind="cargo", channel_value="horoz", omnitron_pk=1, label="Aras")
    )

    console.window.open_settings()

    dialog = console.find(SettingsDialog, "settings-dialog")
    tabs = dialog.findChild(QTabWidget, "settings-tabs")
    assert tabs is not None
    assert tabs.tabText(tabs.count() - 1) == "Mappings"
    table = dialog.findChild(QTableWidget, "settings-aliases")
    assert table is not None
    qtbot.waitUntil(lambda: table.rowCount() == 1)
    assert [table.item(0, c).text() for c in range(3)] == ["Cargo", "horoz", "Aras (pk 1)"]
