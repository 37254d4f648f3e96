"""The Settings dialog: profiles through the form, secrets to the keyring, tests, defaults."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from gui.views.settings_dialog import SettingsDialog
from service.config import SANDBOX, load_profiles
from service.connect import Locations
from tests.gui.settings_form import FakeKeyring, acme_form, click, closed_port, fill, find, select


def test_the_builtin_sandbox_is_listed_read_only(dialog: SettingsDialog) -> None:
    assert dialog.objectName() == "settings-dialog"
    assert dialog.profile_list.objectName() == "settings-profiles"
    select(dialog, SANDBOX)
    assert not find(dialog, QPushButton, "settings-profile-edit").isEnabled()
    assert not find(dialog, QPushButton, "settings-profile-remove").isEnabled()


def test_add_profile_writes_toml_and_keeps_secrets_in_the_keyring(
    qtbot: QtBot, dialog: SettingsDialog, locations: Locations, keyring_backend: FakeKeyring
) -> None:
    click(qtbot, dialog, "settings-profile-add")
    acme_form(dialog)
    find(dialog, type(dialog.workers_spin), "settings-profile-workers").setValue(6)
    with qtbot.waitSignal(dialog.profiles_changed, timeout=2000):
        click(qtbot, dialog, "settings-profile-save")

    profile = load_profiles(locations.config_file)["acme"]
    assert profile.omnitron is not None
    assert profile.omnitron.url == "https://acme.omnitron.example/"
    assert (profile.omnitron.channel_id, profile.omnitron.catalog_id) == (7, 2)
    assert profile.channel.settings == {"base_url": "https://api.marketplace.example/"}
    assert profile.workers == 6
    assert keyring_backend.passwords == {
        ("ChannelDesk", "acme:omnitron"): "s3cret-pass",
        ("ChannelDesk", "acme:channel"): "key-123",
    }
    text = locations.config_file.read_text()
    assert "s3cret-pass" not in text
    assert "key-123" not in text
    assert not dialog.error_label.isVisible()
    # The form shows the saved profile, with its secrets reported as stored.
    assert dialog.profile_list.currentItem().data(Qt.ItemDataRole.UserRole) == "acme"
    assert find(dialog, QLabel, "settings-omnitron-password-state").text() == "stored in keyring"
    assert find(dialog, QLineEdit, "settings-omnitron-password").text() == ""


def test_edit_and_remove_round_trip(
    qtbot: QtBot,
    dialog: SettingsDialog,
    locations: Locations,
    keyring_backend: FakeKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    click(qtbot, dialog, "settings-profile-add")
    acme_form(dialog)
    click(qtbot, dialog, "settings-profile-save")

    select(dialog, "acme")
    click(qtbot, dialog, "settings-profile-edit")
    assert find(dialog, QLineEdit, "settings-profile-name").isReadOnly()
    fill(dialog, **{"settings-omnitron-username": "ops", "settings-omnitron-channel-id": "9"})
    with qtbot.waitSignal(dialog.profiles_changed, timeout=2000):
        click(qtbot, dialog, "settings-profile-save")
    profile = load_profiles(locations.config_file)["acme"]
    assert profile.omnitron is not None
    assert (profile.omnitron.username, profile.omnitron.channel_id) == ("ops", 9)
    # An empty password field keeps the stored password.
    assert keyring_backend.passwords[("ChannelDesk", "acme:omnitron")] == "s3cret-pass"

    asked: list[str] = []

    def confirm(*args: object, **kwargs: object) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", confirm)
    select(dialog, "acme")
    with qtbot.waitSignal(dialog.profiles_changed, timeout=2000):
        click(qtbot, dialog, "settings-profile-remove")
    assert len(asked) == 1
    assert "acme" in asked[0]
    assert set(load_profiles(locations.config_file)) == {SANDBOX}
    assert dialog.profile_list.count() == 1
    assert not [user for _, user in keyring_backend.passwords if user.startswith("acme:")]


def test_editing_keeps_the_omnitron_settings_the_form_does_not_show(
    qtbot: QtBot, dialog: SettingsDialog, locations: Locations
) -> None:
    locations.config_file.write_text(
        """[profiles.acme.omnitron]
url = "https://acme.omnitron.example/"
username = "integration"
channel_id = 7
catalog_id = 2
max_response_mb = 5
outage_failures = 3
outage_seconds = 10
""",
        encoding="utf-8",
    )
    dialog.reload_profiles(select="acme")
    click(qtbot, dialog, "settings-profile-edit")
    fill(dialog, **{"settings-omnitron-username": "ops"})
    with qtbot.waitSignal(dialog.profiles_changed, timeout=2000):
        click(qtbot, dialog, "settings-profile-save")

    omnitron = load_profiles(locations.config_file)["acme"].omnitron
    assert omnitron is not None
    assert omnitron.username == "ops"
    assert (omnitron.max_response_mb, omnitron.outage_failures, omnitron.outage_seconds) == (
        5,
        3,
        10,
    )


def test_remove_asks_first_and_keeps_the_profile_on_no(
    qtbot: QtBot, dialog: SettingsDialog, locations: Locations, monkeypatch: pytest.MonkeyPatch
) -> None:
    click(qtbot, dialog, "settings-profile-add")
    acme_form(dialog)
    click(qtbot, dialog, "settings-profile-save")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    select(dialog, "acme")
    click(qtbot, dialog, "settings-profile-remove")
    assert "acme" in load_profiles(locations.config_file)


def test_invalid_input_is_shown_inline_and_nothing_is_saved(
    qtbot: QtBot, dialog: SettingsDialog, locations: Locations, keyring_backend: FakeKeyring
) -> None:
    click(qtbot, dialog, "settings-profile-add")
    acme_form(
        dialog,
        **{"settings-omnitron-channel-id": "0", "settings-omnitron-url": "acme.example"},
    )
    with qtbot.assertNotEmitted(dialog.profiles_changed):
        click(qtbot, dialog, "settings-profile-save")

    error = find(dialog, QLabel, "settings-profile-error")
    assert error.isVisible()
    # Each field is named as the form labels it, not by its key in profiles.toml.
    assert "Channel id must be greater than 0" in error.text()
    assert "Omnitron URL must be an http:// or https:// URL" in error.text()
    assert "omnitron." not in error.text()
    assert "\n" not in error.text()
    assert find(dialog, QLineEdit, "settings-omnitron-channel-id").property("invalid") is True
    assert not locations.config_file.exists()
    assert keyring_backend.passwords == {}
    # Nothing typed is lost: the form is still open with the values in it.
    assert find(dialog, QLineEdit, "settings-omnitron-url").text() == "acme.example"
    assert find(dialog, QLineEdit, "settings-omnitron-password").text() == "s3cret-pass"
    assert find(dialog, QPushButton, "settings-profile-save").isVisible()

    fill(
        dialog,
        **{"settings-omnitron-channel-id": "7", "settings-omnitron-url": "https://a.example"},
    )
    click(qtbot, dialog, "settings-profile-save")
    assert "acme" in load_profiles(locations.config_file)
    assert not error.isVisible()


def test_a_profile_named_sandbox_is_refused(
    qtbot: QtBot, dialog: SettingsDialog, locations: Locations
) -> None:
    click(qtbot, dialog, "settings-profile-add")
    acme_form(dialog, **{"settings-profile-name": SANDBOX})
    click(qtbot, dialog, "settings-profile-save")
    assert dialog.error_label.isVisible()
    assert not locations.config_file.exists()


def test_connection_to_the_sandbox_shows_the_channel(qtbot: QtBot, dialog: SettingsDialog) -> None:
    select(dialog, SANDBOX)
    result = find(dialog, QLabel, "settings-test-result")
    click(qtbot, dialog, "settings-test-omnitron")
    qtbot.waitUntil(lambda: not dialog.testing(), timeout=15000)
    assert result.property("state") == "ok", result.text()
    assert result.text() == "Omnitron: connected, channel 'Sandbox marketplace' active"

    click(qtbot, dialog, "settings-test-channel")
    qtbot.waitUntil(lambda: not dialog.testing(), timeout=15000)
    assert result.property("state") == "ok", result.text()
    assert result.text().startswith("Channel (marketplace): connected")


def test_connection_to_a_closed_port_fails_in_one_line(
    qtbot: QtBot, dialog: SettingsDialog, keyring_backend: FakeKeyring
) -> None:
    port = closed_port()
    click(qtbot, dialog, "settings-profile-add")
    acme_form(
        dialog,
        **{
            "settings-omnitron-url": f"http://127.0.0.1:{port}/",
            "settings-channel-base-url": f"http://127.0.0.1:{port}/",
        },
    )
    click(qtbot, dialog, "settings-profile-save")
    select(dialog, "acme")
    result = find(dialog, QLabel, "settings-test-result")

    click(qtbot, dialog, "settings-test-omnitron")
    assert not find(dialog, QPushButton, "settings-test-omnitron").isEnabled()
    qtbot.waitUntil(lambda: not dialog.testing(), timeout=15000)
    assert result.property("state") == "fail"
    assert result.text().startswith(f"Omnitron at http://127.0.0.1:{port}: ")
    assert "\n" not in result.text()
    assert "s3cret-pass" not in result.text()

    click(qtbot, dialog, "settings-test-channel")
    qtbot.waitUntil(lambda: not dialog.testing(), timeout=15000)
    assert result.property("state") == "fail"
    assert result.text().startswith(f"Channel at http://127.0.0.1:{port}: ")
    assert "\n" not in result.text()
    assert find(dialog, QPushButton, "settings-test-omnitron").isEnabled()


def test_testing_the_form_uses_the_typed_password(
    qtbot: QtBot, dialog: SettingsDialog, keyring_backend: FakeKeyring
) -> None:
    click(qtbot, dialog, "settings-profile-add")
    acme_form(
        dialog,
        **{"settings-omnitron-url": f"http://127.0.0.1:{closed_port()}/"},
    )
    click(qtbot, dialog, "settings-test-omnitron")
    qtbot.waitUntil(lambda: not dialog.testing(), timeout=15000)
    result = find(dialog, QLabel, "settings-test-result")
    # It got as far as the network: the typed password was used, nothing was stored.
    assert result.property("state") == "fail"
    assert "no Omnitron password" not in result.text()
    assert keyring_backend.passwords == {}


def test_general_defaults_are_kept_in_the_settings(
    dialog: SettingsDialog, qsettings: QSettings, qtbot: QtBot
) -> None:
    workers = dialog.findChild(type(dialog.default_workers_spin), "settings-workers")
    theme = dialog.findChild(type(dialog.theme_combo), "settings-theme")
    workers.setValue(8)
    with qtbot.waitSignal(dialog.theme_changed, timeout=1000) as signal:
        theme.setCurrentIndex(theme.findData("dark"))
    assert signal.args == ["dark"]
    assert int(qsettings.value("flows/workers")) == 8
    assert qsettings.value("ui/theme") == "dark"
    # A new profile starts with the default number of workers.
    dialog.add_button.click()
    assert dialog.workers_spin.value() == 8
