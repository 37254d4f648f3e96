"""A flow's options (report successes, sync or async…) are kept per profile."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from gui.flow_tab import FlowPanel
from service.flows.names import Flow
from tests.gui.conftest import ini_settings


def _panel(qtbot: QtBot, path: Path, profile: str) -> FlowPanel:
    panel = FlowPanel(Flow.FETCH_ORDERS, ini_settings(path), profile=profile)
    qtbot.addWidget(panel)
    return panel


def test_an_option_chosen_on_one_profile_leaves_the_others_as_they_were(
    qtbot: QtBot, tmp_path: Path
) -> None:
    path = tmp_path / "ui.ini"
    _panel(qtbot, path, "acme").success_log.setChecked(False)

    assert _panel(qtbot, path, "acme").success_log.isChecked() is False
    assert _panel(qtbot, path, "bazaar").success_log.isChecked() is True


def test_an_option_chosen_before_profiles_had_their_own_still_counts(
    qtbot: QtBot, tmp_path: Path
) -> None:
    path = tmp_path / "ui.ini"
    earlier = ini_settings(path)
    earlier.setValue("flows/fetch-orders/success_log", False)
    earlier.sync()

    panel = _panel(qtbot, path, "acme")
    assert panel.success_log.isChecked() is False
    panel.success_log.setChecked(True)
    assert _panel(qtbot, path, "acme").success_log.isChecked() is True
