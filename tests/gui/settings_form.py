"""Driving the Settings dialog in tests: a keyring kept in memory, and the form by
object name."""

from __future__ import annotations

import socket
from typing import Any

import keyring.errors
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from gui.views.settings_dialog import SettingsDialog


class FakeKeyring:
    """An in-memory keyring backend with the two calls :class:`Secrets` makes."""

    def __init__(self) -> None:
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.passwords.get((service, user))

    def set_password(self, service: str, user: str, password: str) -> None:
        self.passwords[(service, user)] = password

    def delete_password(self, service: str, user: str) -> None:
        if self.passwords.pop((service, user), None) is None:
            raise keyring.errors.PasswordDeleteError(user)


def find(dialog: SettingsDialog, cls: type, name: str) -> Any:
    widget = dialog.findChild(cls, name)
    assert widget is not None, name
    return widget


def click(qtbot: QtBot, dialog: SettingsDialog, name: str) -> None:
    qtbot.mouseClick(find(dialog, QPushButton, name), Qt.MouseButton.LeftButton)


def fill(dialog: SettingsDialog, **fields: str) -> None:
    for name, text in fields.items():
        edit = find(dialog, QLineEdit, name)
        edit.clear()
        edit.setText(text)


def acme_form(dialog: SettingsDialog, **overrides: str) -> None:
    fields = {
        "settings-profile-name": "acme",
        "settings-omnitron-url": "https://acme.omnitron.example",
        "settings-omnitron-username": "integration",
        "settings-omnitron-channel-id": "7",
        "settings-omnitron-catalog-id": "2",
        "settings-omnitron-password": "s3cret-pass",
        "settings-channel-base-url": "https://api.marketplace.example/",
        "settings-channel-api-key": "key-123",
    }
    fields.update(overrides)
    fill(dialog, **fields)


def select(dialog: SettingsDialog, name: str) -> None:
    profiles = dialog.profile_list
    for row in range(profiles.count()):
        if profiles.item(row).data(Qt.ItemDataRole.UserRole) == name:
            profiles.setCurrentRow(row)
            return
    raise AssertionError(f"no profile {name!r} in the list")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
