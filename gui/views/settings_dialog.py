"""The Settings dialog: profiles (with connection tests) and the console's defaults.

Profiles are read from and written to the profiles file of the :class:`Locations`
passed in (``service.config``); passwords and API keys typed here go to the keyring
through :class:`Secrets` and never into that file. Connection tests run on the
dialog's :class:`~gui.tasks.TaskRunner`; the dialog only shows their one-line result.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_core import ErrorDetails
from PySide6.QtCore import (
    QEvent,
    QRegularExpression,
    QSettings,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.icons import icon
from gui.session import ConsoleSession
from gui.tasks import Task, TaskRunner
from gui.theme import THEMES, repolish
from gui.views.aliases_page import AliasesPage
from gui.widgets.plain_text import plain_label, plain_tooltip
from service.channel.registry import available_adapters
from service.config import (
    SANDBOX,
    ChannelProfile,
    Profile,
    ProfileError,
    Secrets,
    delete_profile,
    field_problem,
    load_profiles,
    save_profile,
)
from service.connect import Locations, connect

THEME_KEY = "ui/theme"
WORKERS_KEY = "flows/workers"
DEFAULT_WORKERS = 4
_KINDS = ("omnitron", "channel")
_LABELS = {"omnitron": "Omnitron", "channel": "Channel"}
_TEST_HINT = "Tests the selected profile, or the form while editing."
_THEME_LABELS = {"system": "System", "light": "Light", "dark": "Dark"}


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a connection test may take: overrides for the clients it opens.

    ``omnitron`` holds :class:`~service.omnitron.settings.OmnitronSettings` fields;
    ``channel`` is merged into the adapter's settings (so only keys the profile's
    adapter accepts belong there; empty by default because adapters differ).
    """

    omnitron: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType(
            {"max_attempts": 2, "timeout": 10.0, "deadline": 20.0}
        )
    )
    channel: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


class _TypedSecrets(Secrets):
    """Secrets typed into the form take precedence over the stored ones (for a test)."""

    def __init__(self, stored: Secrets, password: str, api_key: str) -> None:
        super().__init__(env={})
        self._stored = stored
        self._password = password
        self._api_key = api_key

    def omnitron_password(self, profile: Profile) -> SecretStr:
        """The typed password, else the stored one."""
        if self._password:
            return SecretStr(self._password)
        return self._stored.omnitron_password(profile)

    def channel_api_key(self, profile: Profile) -> SecretStr:
        """The typed API key, else the stored one."""
        if self._api_key:
            return SecretStr(self._api_key)
        return self._stored.channel_api_key(profile)


def one_line(exc: BaseException) -> str:
    """An exception as one line for a label: its message, else its type name."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def probe_connection(
    kind: str,
    profile: Profile,
    locations: Locations,
    secrets: Secrets,
    limits: ConnectionLimits,
) -> tuple[bool, str]:
    """Open ``profile`` and ask Omnitron (``kind="omnitron"``) or the channel for one thing.

    Returns ``(ok, message)``; never raises, because the message is all a caller shows.
    Blocking: run it off the GUI thread.
    """
    label = _LABELS[kind]
    if limits.channel:
        settings = {**profile.channel.settings, **limits.channel}
        profile = profile.model_copy(
            update={"channel": ChannelProfile(adapter=profile.channel.adapter, settings=settings)}
        )
    try:
        with connect(
            profile, locations, secrets=secrets, omnitron_overrides=dict(limits.omnitron)
        ) as connection:
            if kind == "omnitron":
                channel = connection.omnitron.get_channel()
                state = "active" if channel.is_active else "inactive"
                return True, f"Omnitron: connected, channel {channel.name!r} {state}"
            first = next(iter(connection.channel.fetch_new_orders(None)), None)
            waiting = "new orders waiting" if first is not None else "no new orders"
            return True, f"Channel ({profile.channel.adapter}): connected, {waiting}"
    except Exception as exc:  # every failure is the answer here, shown to the operator
        return False, f"{_where(kind, profile, label)}: {one_line(exc)}"


def _where(kind: str, profile: Profile, label: str) -> str:
    """``label`` plus the URL tried, for a profile that names one (not the sandbox)."""
    if profile.sandbox:
        return label
    if kind == "omnitron":
        url = profile.omnitron.url if profile.omnitron else ""
    else:
        url = str(profile.channel.settings.get("base_url", ""))
    return f"{label} at {url.rstrip('/')}" if url else label


class _FormError(ProfileError):
    """A profile form that does not validate; ``fields`` are the dotted field paths."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class SettingsDialog(QDialog):
    """Profiles (add, edit, remove, test) and the console's defaults (workers, theme)."""

    profiles_changed = Signal()
    theme_changed = Signal(str)

    def __init__(
        self,
        locations: Locations,
        settings: QSettings,
        parent: QWidget | None = None,
        secrets: Secrets | None = None,
        *,
        limits: ConnectionLimits | None = None,
        session: ConsoleSession | None = None,
    ) -> None:
        """Edit the profiles in ``locations.config_file`` and the defaults in ``settings``.

        ``secrets`` is where passwords are stored and read (default: environment and
        OS keyring); ``limits`` bound how long a connection test waits. With the
        console's ``session`` (default: the parent window's ``session``), a Mappings
        page lists its profile's aliases.
        """
        super().__init__(parent)
        self.setObjectName("settings-dialog")
        self.setWindowTitle("Settings")
        self._locations = locations
        self._settings = settings
        self._secrets = secrets or Secrets()
        self._limits = limits or ConnectionLimits()
        self._profiles: dict[str, Profile] = {}
        self._mode = "view"  # "view" | "add" | "edit"
        self._probes: dict[str, Task] = {}
        self._runner = TaskRunner(max_threads=len(_KINDS), parent=self, name="connection-test")

        tabs = QTabWidget()
        tabs.setObjectName("settings-tabs")
        tabs.addTab(self._profiles_page(), "Profiles")
        tabs.addTab(self._general_page(), "General")
        self.aliases_page: AliasesPage | None = None
        if session is None and isinstance(getattr(parent, "session", None), ConsoleSession):
            session = parent.session  # type: ignore[union-attr]
        if session is not None:
            self.aliases_page = AliasesPage(session, self)
            tabs.addTab(self.aliases_page, "Mappings")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)
        self.resize(820, 560)

        self.reload_profiles()
        self._set_icons()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        """Redraw the icons in the new palette's colours after a theme change."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._set_icons()
        super().changeEvent(event)

    def _set_icons(self) -> None:
        self.setWindowIcon(icon("settings"))
        self.save_button.setIcon(icon("check"))
        self.test_omnitron_button.setIcon(icon("refresh"))
        self.test_channel_button.setIcon(icon("refresh"))

    # -- pages -------------------------------------------------------------------------

    def _profiles_page(self) -> QWidget:
        page = QWidget()
        self.profile_list = QListWidget()
        self.profile_list.setObjectName("settings-profiles")
        self.profile_list.currentItemChanged.connect(self._on_selection)
        self.add_button = _button("Add", "settings-profile-add")
        self.edit_button = _button("Edit", "settings-profile-edit")
        self.remove_button = _button("Remove", "settings-profile-remove")
        self.add_button.clicked.connect(self._start_add)
        self.edit_button.clicked.connect(self._start_edit)
        self.remove_button.clicked.connect(self._remove)
        list_buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.remove_button):
            list_buttons.addWidget(button)
        left = QVBoxLayout()
        left.addWidget(self.profile_list)
        left.addLayout(list_buttons)

        right = QVBoxLayout()
        right.addWidget(self._form())
        # Messages quote the profiles file and connection answers: plain text.
        self.error_label = plain_label()
        self.error_label.setObjectName("settings-profile-error")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        right.addWidget(self.error_label)
        self.save_button = _button("Save", "settings-profile-save")
        self.save_button.setDefault(True)
        self.cancel_button = _button("Cancel", "settings-profile-cancel")
        self.save_button.clicked.connect(self.save_form)
        self.cancel_button.clicked.connect(self._cancel_form)
        form_buttons = QHBoxLayout()
        form_buttons.addStretch(1)
        form_buttons.addWidget(self.cancel_button)
        form_buttons.addWidget(self.save_button)
        right.addLayout(form_buttons)
        right.addWidget(self._test_box())
        right.addStretch(1)

        layout = QHBoxLayout(page)
        layout.addLayout(left, 2)
        layout.addLayout(right, 5)
        return page

    def _form(self) -> QGroupBox:
        self.form_box = QGroupBox("Profile")
        self.form_box.setObjectName("settings-profile-form")
        self.name_edit = _line("settings-profile-name", "letters, digits, _ . -")
        self.url_edit = _line("settings-omnitron-url", "https://acme.omnitron.akinon.net/")
        self.username_edit = _line("settings-omnitron-username", "channel-integration")
        digits = QRegularExpressionValidator(QRegularExpression(r"\d{0,12}"), self)
        self.channel_id_edit = _line("settings-omnitron-channel-id", "e.g. 7")
        self.channel_id_edit.setValidator(digits)
        self.catalog_id_edit = _line("settings-omnitron-catalog-id", "e.g. 2")
        self.catalog_id_edit.setValidator(digits)
        self.password_edit = _line("settings-omnitron-password", "")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_state = _state_label("settings-omnitron-password-state")
        self.adapter_combo = QComboBox()
        self.adapter_combo.setObjectName("settings-channel-adapter")
        self.adapter_combo.addItems(available_adapters())
        self.base_url_edit = _line("settings-channel-base-url", "https://api.marketplace.example/")
        self.api_key_edit = _line("settings-channel-api-key", "")
        self.api_key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key_state = _state_label("settings-channel-api-key-state")
        self.workers_spin = QSpinBox()
        self.workers_spin.setObjectName("settings-profile-workers")
        self.workers_spin.setRange(1, 16)
        self.success_log_check = QCheckBox("Also report successful steps to Omnitron")
        self.success_log_check.setObjectName("settings-profile-success-log")
        self.insecure_http_check = QCheckBox(
            "Allow unencrypted http:// to hosts other than this computer"
        )
        self.insecure_http_check.setObjectName("settings-profile-allow-insecure-http")
        self.insecure_http_check.setToolTip(
            "Passwords, tokens and customer data then cross the network readable; "
            "only for a trusted network"
        )
        self.sandbox_note = QLabel(
            "The built-in sandbox runs the Omnitron and marketplace simulators on this "
            "computer. It needs no settings and cannot be changed."
        )
        self.sandbox_note.setObjectName("settings-sandbox-note")
        self.sandbox_note.setWordWrap(True)

        form = self._form_layout = QFormLayout(self.form_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow(self.sandbox_note)
        form.addRow("Name", self.name_edit)
        form.addRow(_section("Omnitron"))
        form.addRow("URL", self.url_edit)
        form.addRow("Username", self.username_edit)
        form.addRow("Channel id", self.channel_id_edit)
        form.addRow("Catalog id", self.catalog_id_edit)
        form.addRow("Password", _with_state(self.password_edit, self.password_state))
        form.addRow(_section("Channel"))
        form.addRow("Adapter", self.adapter_combo)
        form.addRow("Base URL", self.base_url_edit)
        form.addRow("API key", _with_state(self.api_key_edit, self.api_key_state))
        form.addRow(_section("Flows"))
        form.addRow("Workers", self.workers_spin)
        form.addRow("", self.success_log_check)
        form.addRow("", self.insecure_http_check)
        # Widgets by the profile field they edit, to mark the ones a validation names.
        self._field_widgets: dict[str, QWidget] = {
            "name": self.name_edit,
            "omnitron": self.url_edit,
            "omnitron.url": self.url_edit,
            "channel": self.base_url_edit,
            "channel.settings": self.base_url_edit,
            "omnitron.username": self.username_edit,
            "omnitron.channel_id": self.channel_id_edit,
            "omnitron.catalog_id": self.catalog_id_edit,
            "channel.adapter": self.adapter_combo,
            "workers": self.workers_spin,
        }
        return self.form_box

    def _test_box(self) -> QGroupBox:
        box = QGroupBox("Test connection")
        self.test_omnitron_button = _button("Omnitron", "settings-test-omnitron")
        self.test_channel_button = _button("Channel", "settings-test-channel")
        # Bound methods, not lambdas: a lambda holding ``self`` would keep the dialog alive.
        self.test_omnitron_button.clicked.connect(self._test_omnitron)
        self.test_channel_button.clicked.connect(self._test_channel)
        # A test shows what the server answered (an error detail may hold HTML).
        self.test_result = plain_label(_TEST_HINT)
        self.test_result.setObjectName("settings-test-result")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.test_omnitron_button)
        row.addWidget(self.test_channel_button)
        row.addStretch(1)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(self.test_result)
        return box

    def _general_page(self) -> QWidget:
        page = QWidget()
        self.default_workers_spin = QSpinBox()
        self.default_workers_spin.setObjectName("settings-workers")
        self.default_workers_spin.setRange(1, 16)
        self.default_workers_spin.setValue(self.default_workers())
        self.default_workers_spin.valueChanged.connect(self._on_workers)
        self.theme_combo = QComboBox()
        self.theme_combo.setObjectName("settings-theme")
        for name in THEMES:
            self.theme_combo.addItem(_THEME_LABELS[name], name)
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(self.theme())))
        self.theme_combo.currentIndexChanged.connect(self._on_theme)
        form = QFormLayout(page)
        form.addRow("Parallel workers (default)", self.default_workers_spin)
        form.addRow("Theme", self.theme_combo)
        hint = QLabel("Used for new profiles; each profile keeps its own number of workers.")
        hint.setWordWrap(True)
        form.addRow("", hint)
        return page

    # -- general settings ---------------------------------------------------------------

    def default_workers(self) -> int:
        """The parallel workers default kept in the settings (1–16)."""
        try:
            value = int(self._settings.value(WORKERS_KEY, DEFAULT_WORKERS))
        except (TypeError, ValueError):
            value = DEFAULT_WORKERS
        return min(16, max(1, value))

    def theme(self) -> str:
        """The theme kept in the settings (``"system"`` when unset or unknown)."""
        value = self._settings.value(THEME_KEY, "system")
        return value if value in THEMES else "system"

    def _on_workers(self, value: int) -> None:
        self._settings.setValue(WORKERS_KEY, value)

    def _on_theme(self, index: int) -> None:
        name = self.theme_combo.itemData(index)
        self._settings.setValue(THEME_KEY, name)
        self.theme_changed.emit(name)

    # -- profiles -----------------------------------------------------------------------

    def reload_profiles(self, select: str | None = None) -> None:
        """Read the profiles file again and select ``select`` (or keep the selection)."""
        current = select or self._selected_name() or SANDBOX
        load_error = ""
        try:
            self._profiles = load_profiles(self._locations.config_file)
        except ProfileError as exc:
            # The file is broken: show why, and keep the built-in profile usable.
            self._profiles = {SANDBOX: Profile(name=SANDBOX, sandbox=True)}
            load_error = str(exc)
        self.profile_list.blockSignals(True)
        self.profile_list.clear()
        for name, profile in self._profiles.items():
            item = QListWidgetItem(f"{name} (built-in)" if name == SANDBOX else name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            if profile.sandbox:
                font = QFont(item.font())
                font.setItalic(True)
                item.setFont(font)
            self.profile_list.addItem(item)
        self.profile_list.blockSignals(False)
        self._set_mode("view")
        names = list(self._profiles)
        self.profile_list.setCurrentRow(names.index(current) if current in names else 0)
        self._on_selection()
        self._show_error(load_error)

    def _selected_name(self) -> str | None:
        item = self.profile_list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _on_selection(self, *_: object) -> None:
        if self._mode != "view":
            return
        name = self._selected_name()
        profile = self._profiles.get(name) if name else None
        self._fill_form(profile)
        if not self._probes:  # a result belongs to the profile it was tested on
            self._set_test_state("", _TEST_HINT)
        editable = profile is not None and name != SANDBOX
        self.edit_button.setEnabled(editable)
        self.remove_button.setEnabled(editable)

    def _fill_form(self, profile: Profile | None) -> None:
        self._clear_marks()
        omnitron = profile.omnitron if profile else None
        builtin = profile is not None and profile.name == SANDBOX
        self.sandbox_note.setVisible(builtin)
        # The built-in profile has no settings to show: only its note.
        for row in range(1, self._form_layout.rowCount()):
            self._form_layout.setRowVisible(row, not builtin)
        self.name_edit.setText(profile.name if profile else "")
        self.url_edit.setText(omnitron.url if omnitron else "")
        self.username_edit.setText(omnitron.username if omnitron else "")
        self.channel_id_edit.setText(str(omnitron.channel_id) if omnitron else "")
        self.catalog_id_edit.setText(str(omnitron.catalog_id) if omnitron else "")
        channel = profile.channel if profile else ChannelProfile()
        index = self.adapter_combo.findText(channel.adapter)
        if index < 0:
            # An adapter that is not installed here still shows (and is kept on save).
            self.adapter_combo.addItem(channel.adapter)
            index = self.adapter_combo.count() - 1
        self.adapter_combo.setCurrentIndex(index)
        self.base_url_edit.setText(str(channel.settings.get("base_url", "")))
        self.workers_spin.setValue(profile.workers if profile else self.default_workers())
        self.success_log_check.setChecked(profile.is_success_log if profile else True)
        self.insecure_http_check.setChecked(profile.allow_insecure_http if profile else False)
        self.password_edit.clear()
        self.api_key_edit.clear()
        stored = profile is not None and not profile.sandbox
        self._show_secret_state(
            self.password_edit, self.password_state, stored and self._has_secret(profile, 0)
        )
        self._show_secret_state(
            self.api_key_edit, self.api_key_state, stored and self._has_secret(profile, 1)
        )

    def _has_secret(self, profile: Profile | None, which: int) -> bool:
        if profile is None:
            return False
        read = (self._secrets.omnitron_password, self._secrets.channel_api_key)[which]
        try:
            read(profile)
        except ProfileError:
            return False
        return True

    @staticmethod
    def _show_secret_state(edit: QLineEdit, state: QLabel, stored: bool) -> None:
        state.setText("stored in keyring" if stored else "not set")
        edit.setPlaceholderText("stored in keyring; type to replace" if stored else "")

    def _set_mode(self, mode: str) -> None:
        self._mode = mode
        editing = mode != "view"
        # Examples only while typing; in view mode they would read like values.
        for edit in self.form_box.findChildren(QLineEdit):
            hint = edit.property("hint")
            if hint:
                edit.setPlaceholderText(hint if editing else "")
        self.form_box.setEnabled(editing)
        self.name_edit.setReadOnly(mode == "edit")  # a rename would orphan its secrets
        self.save_button.setVisible(editing)
        self.cancel_button.setVisible(editing)
        self.profile_list.setEnabled(not editing)
        self.add_button.setEnabled(not editing)
        name = self._selected_name()
        can_change = not editing and name is not None and name != SANDBOX
        self.edit_button.setEnabled(can_change)
        self.remove_button.setEnabled(can_change)
        self.form_box.setTitle(
            {"view": "Profile", "add": "New profile", "edit": f"Edit profile {name!r}"}[mode]
        )

    def _start_add(self) -> None:
        self._fill_form(None)
        self.sandbox_note.hide()
        self._set_mode("add")
        self._show_error("")
        self.name_edit.setFocus()

    def _start_edit(self) -> None:
        name = self._selected_name()
        if not name or name == SANDBOX:
            return
        self._set_mode("edit")
        self._show_error("")
        self.url_edit.setFocus()

    def _cancel_form(self) -> None:
        self._set_mode("view")
        self._show_error("")
        self._on_selection()

    def _remove(self) -> None:
        name = self._selected_name()
        if not name or name == SANDBOX:
            return
        answer = QMessageBox.question(
            self,
            "Remove profile",
            f"Remove profile {name!r} from {self._locations.config_file}?\n\n"
            "Its password and API key are removed from the keyring; its local history "
            "stays on disk.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            delete_profile(name, path=self._locations.config_file)
            self._secrets.forget(name)
        except ProfileError as exc:
            self._show_error(str(exc))
            return
        self.reload_profiles(select=SANDBOX)
        self.profiles_changed.emit()

    def profile_from_form(self) -> Profile:
        """The profile the form describes; :class:`ProfileError` naming the bad fields."""
        base = self._profiles.get(self._selected_name() or "") if self._mode == "edit" else None
        # Keep the Omnitron settings this form does not show (limits, outage rule).
        omnitron: dict[str, Any] = (
            base.omnitron.model_dump(exclude={"url", "username", "channel_id", "catalog_id"})
            if base and base.omnitron
            else {}
        )
        omnitron |= {
            "url": self.url_edit.text().strip(),
            "username": self.username_edit.text().strip(),
        }
        for key, edit in (
            ("channel_id", self.channel_id_edit),
            ("catalog_id", self.catalog_id_edit),
        ):
            if edit.text().strip():
                omnitron[key] = int(edit.text())
        # Keep the adapter settings this form does not show (e.g. a seller id).
        channel_settings = dict(base.channel.settings) if base else {}
        base_url = self.base_url_edit.text().strip()
        if base_url:
            channel_settings["base_url"] = base_url
        else:
            channel_settings.pop("base_url", None)
        data: dict[str, Any] = {
            "name": self.name_edit.text().strip(),
            "sandbox": base.sandbox if base else False,
            "channel": {"adapter": self.adapter_combo.currentText(), "settings": channel_settings},
            "workers": self.workers_spin.value(),
            "is_success_log": self.success_log_check.isChecked(),
            "allow_insecure_http": self.insecure_http_check.isChecked(),
        }
        shown = ("url", "username", "channel_id", "catalog_id")
        if not (data["sandbox"] and not any(omnitron.get(key) for key in shown)):
            data["omnitron"] = omnitron
        try:
            return Profile.model_validate(data)
        except ValidationError as exc:
            fields = tuple(".".join(str(part) for part in err["loc"]) for err in exc.errors())
            problems = "; ".join(_message(err) for err in exc.errors())
            raise _FormError(problems, fields) from None

    def save_form(self) -> None:
        """Validate the form, write the profile and its secrets, then show it."""
        self._clear_marks()
        try:
            profile = self.profile_from_form()
            if self._mode == "add" and profile.name in self._profiles:
                raise _FormError(f"name: a profile {profile.name!r} exists already", ("name",))
            save_profile(profile, path=self._locations.config_file)
        except _FormError as exc:
            self._show_error(str(exc), exc.fields)
            return
        except ProfileError as exc:
            self._show_error(str(exc))
            return
        # The file is written; now the secrets. A keyring failure keeps the form open
        # (as an edit of the saved profile) with what was typed still in it.
        self._profiles[profile.name] = profile
        for kind, edit in (("omnitron", self.password_edit), ("channel", self.api_key_edit)):
            secret = edit.text()
            if not secret:
                continue
            try:
                self._secrets.store(profile, kind, secret)
            except ProfileError as exc:
                self._reselect_for_edit(profile.name)
                self._show_error(str(exc))
                self.profiles_changed.emit()
                return
            edit.clear()
        self.reload_profiles(select=profile.name)
        self.profiles_changed.emit()

    def _reselect_for_edit(self, name: str) -> None:
        typed = (self.password_edit.text(), self.api_key_edit.text())
        self.reload_profiles(select=name)
        self._set_mode("edit")
        self.password_edit.setText(typed[0])
        self.api_key_edit.setText(typed[1])

    def _show_error(self, message: str, fields: tuple[str, ...] = ()) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        for name in fields:
            widget = self._field_widgets.get(name)
            if widget is not None:
                widget.setProperty("invalid", True)
                widget.setToolTip(plain_tooltip(message))
                repolish(widget)

    def _clear_marks(self) -> None:
        for widget in set(self._field_widgets.values()):
            if widget.property("invalid"):
                widget.setProperty("invalid", False)
                widget.setToolTip("")
                repolish(widget)

    # -- connection tests -----------------------------------------------------------------

    def test_connection(self, kind: str) -> None:
        """Test Omnitron or the channel of the selected profile (or of the form)."""
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, not {kind!r}")
        secrets: Secrets = self._secrets
        if self._mode == "view":
            profile = self._profiles.get(self._selected_name() or "")
            if profile is None:
                return
        else:
            self._clear_marks()
            try:
                profile = self.profile_from_form()
            except _FormError as exc:
                self._show_error(str(exc), exc.fields)
                return
            secrets = _TypedSecrets(
                self._secrets, self.password_edit.text(), self.api_key_edit.text()
            )
        self._set_test_state("running", f"{_LABELS[kind]}: connecting to {profile.name!r}…")
        self.test_omnitron_button.setEnabled(False)
        self.test_channel_button.setEnabled(False)
        # The worker gets plain arguments only, never the dialog.
        probe = functools.partial(
            probe_connection, kind, profile, self._locations, secrets, self._limits
        )
        self._probes[kind] = self._runner.submit(
            probe,
            on_done=lambda outcome: self._on_probe_finished(kind, *outcome),
            on_failed=lambda message: self._on_probe_finished(kind, False, message),
        )

    def _test_omnitron(self) -> None:
        self.test_connection("omnitron")

    def _test_channel(self) -> None:
        self.test_connection("channel")

    def testing(self) -> bool:
        """Whether a connection test is running."""
        return bool(self._probes)

    def _on_probe_finished(self, kind: str, ok: bool, message: str) -> None:
        self._probes.pop(kind, None)
        self._set_test_state("ok" if ok else "fail", message)
        self.test_omnitron_button.setEnabled(True)
        self.test_channel_button.setEnabled(True)

    def _set_test_state(self, state: str, message: str) -> None:
        self.test_result.setText(message)
        self.test_result.setProperty("state", state)
        repolish(self.test_result)


# -- small widget helpers -------------------------------------------------------------------


def _button(text: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    return button


def _line(name: str, hint: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setProperty("hint", hint)
    return edit


def _state_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setEnabled(False)  # drawn in the muted (disabled) text colour
    return label


def _with_state(edit: QLineEdit, state: QLabel) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(state)
    return box


def _section(title: str) -> QLabel:
    label = QLabel(title)
    font = QFont(label.font())
    font.setBold(True)
    label.setFont(font)
    return label


def _message(error: ErrorDetails) -> str:
    """A validation error as the form says it: "Channel id is required"."""
    return field_problem(error["loc"], error["msg"], error["type"])
