"""Profiles: which Omnitron and which channel a console talks to, and how.

The built-in ``sandbox`` profile needs no file. Real profiles live in
``profiles.toml`` in the user config directory (format: docs/configuration.md).
Passwords and API keys never live in that file: :class:`Secrets` reads them from an
environment variable or the OS keyring.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import keyring
import keyring.errors
import platformdirs
import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.flows.names import Flow
from service.net.body import DEFAULT_MAX_RESPONSE_MB
from service.omnitron.settings import OmnitronSettings

APP_NAME = "ChannelDesk"
SANDBOX = "sandbox"
KEYRING_SERVICE = "ChannelDesk"
SECRET_KINDS: tuple[str, ...] = ("omnitron", "channel")
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Key names that hold credentials; refused anywhere in the TOML file.
_SECRET_KEY_SUFFIXES: tuple[str, ...] = (
    "password",
    "passwd",
    "api_key",
    "apikey",
    "token",
    "secret",
)
_TOP_LEVEL_KEYS = frozenset({"profiles"})
_FLEET_DEFAULTS: dict[str, object] = {"runner": "local", "schedules": {}, "mirror_minutes": 0}


class ProfileError(Exception):
    """A profile cannot be loaded, saved or used; the message says where and why."""


class OmnitronProfile(BaseModel):
    """Where the profile's Omnitron is and who the console is there (no password)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(description="Omnitron's root URL; a trailing / is added")
    username: str = Field(min_length=1)
    channel_id: int = Field(gt=0)
    catalog_id: int = Field(gt=0)
    max_response_mb: int = Field(
        DEFAULT_MAX_RESPONSE_MB, ge=1, description="a longer answer from Omnitron is refused"
    )
    # A run stops only on a sustained outage: this many failed requests in a row that
    # span at least this many seconds (service/omnitron/breaker.py).
    outage_failures: int = Field(8, ge=1, description="failed requests in a row that stop a run")
    outage_seconds: float = Field(
        40.0, ge=0, description="seconds those failed requests must span to stop a run"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
            raise ValueError("must be an http:// or https:// URL")
        refuse_credentials(OMNITRON_URL_LABEL, value)
        return value if value.endswith("/") else value + "/"

    def settings(self, password: SecretStr, **overrides: Any) -> OmnitronSettings:
        """The Omnitron client settings of this profile with ``password``."""
        return OmnitronSettings(
            base_url=self.url,
            username=self.username,
            password=password,
            channel_id=self.channel_id,
            catalog_id=self.catalog_id,
            **{
                "max_response_mb": self.max_response_mb,
                "breaker_failures": self.outage_failures,
                "breaker_window": self.outage_seconds,
                **overrides,
            },
        )


class ChannelProfile(BaseModel):
    """The channel adapter to use and its non-secret settings (e.g. ``base_url``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    adapter: str = Field("marketplace", min_length=1)
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("settings")
    @classmethod
    def _no_credentials_in_urls(cls, value: dict[str, Any]) -> dict[str, Any]:
        for label, url in channel_urls(value):
            refuse_credentials(label, url)
        return value


class Profile(BaseModel):
    """One named set-up: an Omnitron, a channel, and how to run the flows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sandbox: bool = False
    # Declared before the URLs it permits: their validators read it.
    allow_insecure_http: bool = False
    omnitron: OmnitronProfile | None = None
    channel: ChannelProfile = Field(default_factory=ChannelProfile)
    workers: int = Field(12, ge=1, le=16)
    is_success_log: bool = True
    # Where the flows run: in the process that starts them, or on the Celery workers
    # that listen on this profile's queue (docs/fleet.md).
    runner: Literal["local", "workers"] = "local"
    # The Redis the profile's workers share (broker, leases, live progress).
    broker_url: str | None = None
    # Minutes between runs that `main.py beat` sends to the workers, by flow name.
    schedules: dict[str, int] = Field(default_factory=dict)
    # Minutes between syncs of Omnitron's batch requests and error reports into the
    # store (docs/fleet.md); 0 syncs only when asked.
    mirror_minutes: int = Field(0, ge=0, le=24 * 60)

    @field_validator("name")
    @classmethod
    def _file_safe_name(cls, value: str) -> str:
        # The name also names the profile's store file and its environment variables.
        if not _PROFILE_NAME.match(value):
            raise ValueError(
                "must start with a letter or digit and contain only letters, digits, _ . -"
            )
        return value

    @field_validator("omnitron")
    @classmethod
    def _omnitron_encrypted(
        cls, value: OmnitronProfile | None, info: ValidationInfo
    ) -> OmnitronProfile | None:
        if value is not None:
            _refuse_plain_http(OMNITRON_URL_LABEL, value.url, info)
        return value

    @field_validator("channel")
    @classmethod
    def _channel_encrypted(cls, value: ChannelProfile, info: ValidationInfo) -> ChannelProfile:
        for label, url in channel_urls(value.settings):
            _refuse_plain_http(label, url, info)
        return value

    @field_validator("broker_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.startswith(("redis://", "rediss://")):
            raise ValueError("must be a redis:// or rediss:// URL")
        if "@" in urlsplit(value).netloc:
            raise ValueError(
                f"{BROKER_URL_LABEL} holds a user name or password; remove them from the URL "
                "and set the whole URL in the environment variable the profile names"
            )
        return value

    @field_validator("schedules")
    @classmethod
    def _known_flows(cls, value: dict[str, int]) -> dict[str, int]:
        known = {flow.value for flow in Flow}
        for name, minutes in value.items():
            if name not in known:
                raise ValueError(f"{name!r} is not a flow; flows: {', '.join(sorted(known))}")
            if not 1 <= minutes <= 24 * 60:
                raise ValueError(f"{name}: minutes must be between 1 and 1440, not {minutes}")
        return value

    @model_validator(mode="after")
    def _omnitron_unless_sandbox(self) -> Profile:
        if self.omnitron is None and not self.sandbox:
            raise ValueError("Omnitron settings are required unless sandbox = true")
        return self

    @model_validator(mode="after")
    def _workers_need_a_broker(self) -> Profile:
        if self.runner == "workers":
            if self.sandbox:
                raise ValueError(
                    'runner = "workers" needs a profile of its own: the built-in sandbox '
                    "runs inside the console"
                )
            if self.broker_url is None:
                raise ValueError('runner = "workers" needs broker_url (a redis:// URL)')
        return self


def builtin_sandbox() -> Profile:
    """The profile that runs against the built-in simulators."""
    return Profile(name=SANDBOX, sandbox=True)


def config_path() -> Path:
    """``profiles.toml`` in the user config directory."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "profiles.toml"


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    """Every profile: the built-in ``sandbox`` and those in the file (if it exists)."""
    path = path or config_path()
    profiles = {SANDBOX: builtin_sandbox()}
    for name, table in _read_profiles_table(path).items():
        profiles[name] = _parse_profile(path, name, table)
    return profiles


def load_profile(name: str = SANDBOX, *, path: Path | None = None) -> Profile:
    """The profile called ``name``; :class:`ProfileError` when unknown or invalid."""
    path = path or config_path()
    if name == SANDBOX:
        return builtin_sandbox()
    tables = _read_profiles_table(path)
    if name not in tables:
        known = ", ".join(sorted({SANDBOX, *tables}))
        where = path if path.exists() else f"{path} (no such file)"
        raise ProfileError(f"{where}: no profile {name!r}; known profiles: {known}")
    return _parse_profile(path, name, tables[name])


def save_profile(profile: Profile, *, path: Path | None = None) -> None:
    """Write ``profile`` into the file, keeping the other profiles there.

    The file is rewritten whole (comments are not kept) and replaced atomically.
    """
    path = path or config_path()
    if profile.name == SANDBOX:
        raise ProfileError(f"{path}: the name {SANDBOX!r} is the built-in profile; pick another")
    table = profile.model_dump(mode="json", exclude={"name"}, exclude_none=True)
    if not profile.allow_insecure_http:
        # Written only when granted, so the file shows it as a deliberate choice.
        del table["allow_insecure_http"]
    # A profile that runs in the console keeps its file as it was before workers existed.
    for key, default in _FLEET_DEFAULTS.items():
        if table.get(key) == default:
            del table[key]
    _refuse_secrets(path, profile.name, table)
    document = _read_document(path)
    document.setdefault("profiles", {})[profile.name] = table
    _write_atomically(path, tomli_w.dumps(document))


def delete_profile(name: str, *, path: Path | None = None) -> None:
    """Remove profile ``name`` from the file (its secrets stay in the keyring)."""
    path = path or config_path()
    if name == SANDBOX:
        raise ProfileError(f"{path}: the built-in profile {SANDBOX!r} cannot be deleted")
    document = _read_document(path)
    profiles = document.get("profiles", {})
    if name not in profiles:
        raise ProfileError(f"{path}: no profile {name!r}")
    del profiles[name]
    _write_atomically(path, tomli_w.dumps(document))


# -- URLs: encrypted unless allowed, never with credentials -------------------------

OMNITRON_URL_LABEL = "Omnitron URL"
BROKER_URL_LABEL = "Broker URL"
CHANNEL_URL_LABEL = "Channel base URL"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


# The Settings form's label of each profile field; fields the form does not show are
# named by their key in profiles.toml.
FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "omnitron": "Omnitron",
    "omnitron.url": OMNITRON_URL_LABEL,
    "omnitron.username": "Username",
    "omnitron.channel_id": "Channel id",
    "omnitron.catalog_id": "Catalog id",
    "channel.adapter": "Adapter",
    "channel.settings": "Channel settings",
    "channel.settings.base_url": CHANNEL_URL_LABEL,
    "workers": "Workers",
}
_SHOULD_BE = "Input should be "


def field_problem(loc: Sequence[int | str], message: str, kind: str = "") -> str:
    """One validation problem of a profile as a sentence naming the field as the form does.

    ``loc``, ``message`` and ``kind`` are a pydantic error's ``loc``, ``msg`` and
    ``type``: ``("omnitron", "channel_id")`` + ``missing`` reads "Channel id is
    required", a ``gt`` bound "Channel id must be greater than 0".
    """
    key = ".".join(str(part) for part in loc)
    label = FIELD_LABELS.get(key, key or "Profile")
    # pydantic prefixes the messages of our own validators with "Value error, ".
    text = message.removeprefix("Value error, ")
    if kind == "missing" or (kind == "string_too_short" and "at least 1 character" in text):
        return f"{label} is required"
    if text.startswith(_SHOULD_BE):
        return f"{label} must be {text.removeprefix(_SHOULD_BE)}"
    if text[:1].islower():
        # Our validators' messages continue the field's name ("must be an http:// URL").
        return f"{label} {text}" if text.startswith(("must ", "required ")) else f"{label}: {text}"
    return text  # a sentence that names its subject already ("Omnitron URL … is not …")


def channel_urls(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The URLs among a channel adapter's settings, each with its label in the form.

    ``base_url`` is the one the form edits; any other ``*_url`` setting an adapter
    takes is named by its key.
    """
    found = []
    for key, value in settings.items():
        if isinstance(value, str) and str(key).lower().endswith("url"):
            label = CHANNEL_URL_LABEL if key == "base_url" else f"Channel setting {key!r}"
            found.append((label, value.strip()))
    return found


def refuse_credentials(label: str, url: str) -> None:
    """ValueError when ``url`` carries a user name or password (``http://user:pass@host``).

    Such a password would sit in profiles.toml and show in every logged request.
    """
    if "@" in urlsplit(url).netloc:
        raise ValueError(
            f"{label} holds a user name or password; remove them from the URL (the "
            "password and API key go in the keyring)"
        )


def is_plain_remote_http(url: str) -> bool:
    """Whether ``url`` is unencrypted ``http://`` to a host other than this computer."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return False
    host = (parts.hostname or "").lower()
    if host in _LOOPBACK_NAMES:
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name, not an address: it may resolve anywhere


def insecure_http_warnings(profile: Profile) -> list[str]:
    """One line per unencrypted remote URL a profile is allowed to use (empty if none)."""
    if profile.sandbox:
        return []
    urls = [(OMNITRON_URL_LABEL, profile.omnitron.url)] if profile.omnitron else []
    urls += channel_urls(profile.channel.settings)
    return [
        f"profile {profile.name!r}: {label} {url} is not encrypted (allow_insecure_http = "
        "true): the password, the token and customer data cross the network readable"
        for label, url in urls
        if is_plain_remote_http(url)
    ]


def _refuse_plain_http(label: str, url: str, info: ValidationInfo) -> None:
    if info.data.get("sandbox") or info.data.get("allow_insecure_http"):
        return
    if is_plain_remote_http(url):
        raise ValueError(
            f"{label} {url} is not encrypted and not on this computer; use https://, or "
            "set allow_insecure_http = true in the profile if this network is trusted"
        )


# -- secrets -----------------------------------------------------------------------


def secret_env_var(profile_name: str, kind: str) -> str:
    """The environment variable for a secret, e.g. ``CHANNELDESK_ACME_OMNITRON_PASSWORD``."""
    suffix = {"omnitron": "OMNITRON_PASSWORD", "channel": "CHANNEL_API_KEY"}[kind]
    return f"CHANNELDESK_{re.sub(r'[^A-Z0-9]', '_', profile_name.upper())}_{suffix}"


class Secrets:
    """Passwords and API keys of profiles, from the environment or the OS keyring.

    The environment wins, so CI and headless machines need no keyring. Keyring
    errors (no backend, locked store) count as "not stored".
    """

    def __init__(
        self, env: Mapping[str, str] | None = None, keyring_backend: Any | None = None
    ) -> None:
        """Use ``env`` (default: the process environment) and ``keyring_backend``
        (default: the OS keyring, looked up on first use)."""
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._backend = keyring_backend

    def omnitron_password(self, profile: Profile) -> SecretStr:
        """The Omnitron password of ``profile``."""
        return self._get(profile, "omnitron", "no Omnitron password")

    def channel_api_key(self, profile: Profile) -> SecretStr:
        """The channel API key of ``profile``."""
        return self._get(profile, "channel", "no channel API key")

    def store(self, profile: Profile, kind: str, secret: str) -> None:
        """Keep ``secret`` (``kind`` ``"omnitron"`` or ``"channel"``) in the OS keyring."""
        self._check_kind(kind)
        try:
            self._keyring().set_password(KEYRING_SERVICE, f"{profile.name}:{kind}", secret)
        except keyring.errors.KeyringError as exc:
            raise ProfileError(
                f"profile {profile.name!r}: cannot store the secret in the keyring "
                f"({type(exc).__name__}); set {secret_env_var(profile.name, kind)} instead"
            ) from None

    def forget(self, profile_name: str) -> None:
        """Remove a profile's secrets from the OS keyring (those not there are skipped)."""
        for kind in SECRET_KINDS:
            try:
                self._keyring().delete_password(KEYRING_SERVICE, f"{profile_name}:{kind}")
            except keyring.errors.PasswordDeleteError:
                continue  # never stored: nothing to forget
            except keyring.errors.KeyringError as exc:
                raise ProfileError(
                    f"profile {profile_name!r}: cannot remove its {kind} secret from the "
                    f"keyring ({type(exc).__name__})"
                ) from None

    def _get(self, profile: Profile, kind: str, missing: str) -> SecretStr:
        variable = secret_env_var(profile.name, kind)
        value = self._env.get(variable)
        if value:
            return SecretStr(value)
        try:
            value = self._keyring().get_password(KEYRING_SERVICE, f"{profile.name}:{kind}")
        except keyring.errors.KeyringError:
            value = None
        if value:
            return SecretStr(value)
        raise ProfileError(
            f"profile {profile.name!r}: {missing}; set {variable} or store it in the keyring"
        )

    def _keyring(self) -> Any:
        if self._backend is None:
            self._backend = keyring.get_keyring()
        return self._backend

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in SECRET_KINDS:
            raise ValueError(f"kind must be one of {SECRET_KINDS}, not {kind!r}")


# -- file handling -------------------------------------------------------------------


def _read_document(path: Path) -> dict[str, Any]:
    """The parsed file ({} when absent); :class:`ProfileError` when it is not valid."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        raise ProfileError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)}; "
            "profiles go in [profiles.<name>] tables"
        )
    if not isinstance(document.get("profiles", {}), dict):
        raise ProfileError(f"{path}: 'profiles' must be a table of [profiles.<name>] tables")
    return document


def _read_profiles_table(path: Path) -> dict[str, dict[str, Any]]:
    profiles = _read_document(path).get("profiles", {})
    for name, table in profiles.items():
        if name == SANDBOX:
            raise ProfileError(
                f"{path}: profile {SANDBOX!r}: the name is the built-in profile; rename it"
            )
        if not isinstance(table, dict):
            raise ProfileError(f"{path}: profile {name!r}: must be a [profiles.{name}] table")
        _refuse_secrets(path, name, table)
    return profiles


def _parse_profile(path: Path, name: str, table: dict[str, Any]) -> Profile:
    if "name" in table:
        raise ProfileError(
            f"{path}: profile {name!r}: field 'name': remove it; the table key names the profile"
        )
    try:
        return Profile.model_validate({**table, "name": name})
    except ValidationError as exc:
        # The file's key first (what to edit), then the sentence the form would show.
        problems = "; ".join(
            f"field {'.'.join(str(p) for p in err['loc']) or '(profile)'!r}: "
            f"{field_problem(err['loc'], err['msg'], err['type'])}"
            for err in exc.errors()
        )
        raise ProfileError(f"{path}: profile {name!r}: {problems}") from None


def _secret_keys(table: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of keys in ``table`` (nested) whose name says they hold a secret."""
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if str(key).lower().replace("-", "_").endswith(_SECRET_KEY_SUFFIXES):
            yield dotted
        if isinstance(value, Mapping):
            yield from _secret_keys(value, dotted + ".")


def _refuse_secrets(path: Path, name: str, table: Mapping[str, Any]) -> None:
    found = list(_secret_keys(table))
    if found:
        raise ProfileError(
            f"{path}: profile {name!r}: field {found[0]!r} looks like a secret; secrets are "
            f"never kept in this file: remove it and store it in the keyring or set "
            f"{secret_env_var(name, 'omnitron')} / {secret_env_var(name, 'channel')}"
        )


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
