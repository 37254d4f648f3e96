"""Unencrypted remote URLs need a tick in Settings and then show a banner; credentials never."""

from __future__ import annotations

import tomllib
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QCheckBox, QFrame, QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from gui.main_window import MainWindow
from gui.session import ConsoleSession
from gui.views.settings_dialog import SettingsDialog
from service.config import Profile, load_profile, save_profile
from service.connect import Locations
from tests.gui.settings_form import FakeKeyring, acme_form, click, find

PLAIN_URL = "http://omnitron.acme.lan"


def test_settings_refuse_plain_http_until_allowed(
    qtbot: QtBot,
    dialog: SettingsDialog,
    locations: Locations,
    keyring_backend: FakeKeyring,
) -> None:
    click(qtbot, dialog, "settings-profile-add")
    acme_form(dialog, **{"settings-omnitron-url": PLAIN_URL})
    click(qtbot, dialog, "settings-profile-save")

    error = find(dialog, QLabel, "settings-profile-error")
    assert error.text() == (
        f"Omnitron URL {PLAIN_URL}/ is not encrypted and not on this computer; "
        "use https://, or set allow_insecure_http = true in the profile if this network is "
        "trusted"
    )
    assert find(dialog, QLineEdit, "settings-omnitron-url").property("invalid") is True
    assert not locations.config_file.exists()

    find(dialog, QCheckBox, "settings-profile-allow-insecure-http").setChecked(True)
    click(qtbot, dialog, "settings-profile-save")

    assert not error.isVisible()
    table = tomllib.loads(locations.config_file.read_text())["profiles"]["acme"]
    assert table["allow_insecure_http"] is True
    assert find(dialog, QCheckBox, "settings-profile-allow-insecure-http").isChecked()


def test_settings_refuse_credentials_in_the_channel_url(
    qtbot: QtBot,
    dialog: SettingsDialog,
    locations: Locations,
    keyring_backend: FakeKeyring,
) -> None:
    click(qtbot, dialog, "settings-profile-add")
    acme_form(dialog, **{"settings-channel-base-url": "https://seller:hunter2@mp.example/"})
    find(dialog, QCheckBox, "settings-profile-allow-insecure-http").setChecked(True)
    click(qtbot, dialog, "settings-profile-save")

    error = find(dialog, QLabel, "settings-profile-error")
    assert error.text() == (
        "Channel base URL holds a user name or password; remove them "
        "from the URL (the password and API key go in the keyring)"
    )
    assert find(dialog, QLineEdit, "settings-channel-base-url").property("invalid") is True
    assert not locations.config_file.exists()


def test_console_on_an_allowed_plain_http_profile_shows_a_banner(
    qtbot: QtBot,
    tmp_path: Path,
    locations: Locations,
) -> None:
    save_profile(
        Profile.model_validate(
            {
                "name": "acme",
                "allow_insecure_http": True,
                "omnitron": {
                    "url": PLAIN_URL,
                    "username": "integration",
                    "channel_id": 7,
                    "catalog_id": 2,
                },
                "channel": {"settings": {"base_url": "https://mp.example/"}},
            }
        ),
        path=locations.config_file,
    )
    profile = load_profile("acme", path=locations.config_file)
    session = ConsoleSession(profile, locations)  # not started: nothing is contacted
    window = MainWindow(session, QSettings(str(tmp_path / "c.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    try:
        banner = window.findChild(QFrame, "insecure-http-banner")
        assert banner is not None
        assert window.findChild(QLabel, "insecure-http-banner-text").text() == (
            f"profile 'acme': Omnitron URL {PLAIN_URL}/ is not encrypted (allow_insecure_http "
            "= true): the password, the token and customer data cross the network readable"
        )
    finally:
        window.scheduler.stop()
        session.close()
