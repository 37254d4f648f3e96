"""Profiles from TOML, and secrets from the environment or a keyring."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import keyring.errors
import pytest
from pydantic import SecretStr

from service.config import (
    ChannelProfile,
    OmnitronProfile,
    Profile,
    ProfileError,
    Secrets,
    config_path,
    delete_profile,
    insecure_http_warnings,
    load_profile,
    load_profiles,
    save_profile,
)

ACME = """
[profiles.acme]
workers = 8
is_success_log = false

[profiles.acme.omnitron]
url = "https://acme.omnitron.example.com"
username = "integration"
channel_id = 7
catalog_id = 2

[profiles.acme.channel]
adapter = "marketplace"

[profiles.acme.channel.settings]
base_url = "https://api.marketplace.example.com/"
seller_id = "104233"
"""


class FakeKeyring:
    """A stand-in for the OS keyring: a dict, or a backend that is not available."""

    def __init__(self, available: bool = True) -> None:
        self.available = available
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        if not self.available:
            raise keyring.errors.NoKeyringError("no backend")
        return self.items.get((service, user))

    def set_password(self, service: str, user: str, password: str) -> None:
        if not self.available:
            raise keyring.errors.NoKeyringError("no backend")
        self.items[(service, user)] = password


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(ACME, encoding="utf-8")
    return path


def _acme(**kw: object) -> Profile:
    return Profile(
        name="acme",
        omnitron=OmnitronProfile(
            url="https://acme.example.com/", username="u", channel_id=1, catalog_id=1
        ),
        **kw,
    )


def test_sandbox_needs_no_file(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.toml"
    sandbox = load_profile(path=missing)
    assert sandbox.name == "sandbox"
    assert sandbox.sandbox
    assert sandbox.omnitron is None
    assert sandbox.workers == 12
    assert list(load_profiles(missing)) == ["sandbox"]


def test_default_path_is_in_the_user_config_dir() -> None:
    path = config_path()
    assert path.name == "profiles.toml"
    assert path.parent.name == "ChannelDesk"


def test_real_profile_from_toml(config_file: Path) -> None:
    profiles = load_profiles(config_file)
    assert set(profiles) == {"sandbox", "acme"}
    acme = load_profile("acme", path=config_file)
    assert acme == profiles["acme"]
    assert not acme.sandbox
    assert acme.omnitron is not None
    assert acme.omnitron.url == "https://acme.omnitron.example.com/"  # slash added
    assert (acme.omnitron.username, acme.omnitron.channel_id, acme.omnitron.catalog_id) == (
        "integration",
        7,
        2,
    )
    assert acme.channel.adapter == "marketplace"
    assert acme.channel.settings == {
        "base_url": "https://api.marketplace.example.com/",
        "seller_id": "104233",
    }
    assert (acme.workers, acme.is_success_log) == (8, False)

    settings = acme.omnitron.settings(SecretStr("pw"))
    assert settings.api_url == "https://acme.omnitron.example.com/api/v1/"
    assert settings.password.get_secret_value() == "pw"


def test_env_secret_wins_over_keyring(config_file: Path) -> None:
    acme = load_profile("acme", path=config_file)
    backend = FakeKeyring()
    backend.items[("ChannelDesk", "acme:omnitron")] = "from-keyring"
    env = {"CHANNELDESK_ACME_OMNITRON_PASSWORD": "from-env"}
    password = Secrets(env=env, keyring_backend=backend).omnitron_password(acme)
    assert password.get_secret_value() == "from-env"
    assert "from-env" not in repr(password)


def test_keyring_secret_and_store(config_file: Path) -> None:
    acme = load_profile("acme", path=config_file)
    backend = FakeKeyring()
    secrets = Secrets(env={}, keyring_backend=backend)
    secrets.store(acme, "channel", "key-123")
    secrets.store(acme, "omnitron", "pw-456")
    assert backend.items[("ChannelDesk", "acme:channel")] == "key-123"
    assert secrets.channel_api_key(acme).get_secret_value() == "key-123"
    assert secrets.omnitron_password(acme).get_secret_value() == "pw-456"
    with pytest.raises(ValueError, match="kind"):
        secrets.store(acme, "ftp", "x")


def test_env_name_of_an_unusual_profile_name() -> None:
    profile = _acme().model_copy(update={"name": "acme-tr.2"})
    env = {"CHANNELDESK_ACME_TR_2_CHANNEL_API_KEY": "k"}
    assert Secrets(env=env, keyring_backend=FakeKeyring()).channel_api_key(profile)


def test_missing_secret_message(config_file: Path) -> None:
    acme = load_profile("acme", path=config_file)
    secrets = Secrets(env={}, keyring_backend=FakeKeyring())
    with pytest.raises(ProfileError) as error:
        secrets.omnitron_password(acme)
    assert str(error.value) == (
        "profile 'acme': no Omnitron password; set CHANNELDESK_ACME_OMNITRON_PASSWORD "
        "or store it in the keyring"
    )
    with pytest.raises(ProfileError, match="CHANNELDESK_ACME_CHANNEL_API_KEY"):
        secrets.channel_api_key(acme)


def test_unavailable_keyring_counts_as_not_found(config_file: Path) -> None:
    acme = load_profile("acme", path=config_file)
    secrets = Secrets(env={}, keyring_backend=FakeKeyring(available=False))
    with pytest.raises(ProfileError, match="no Omnitron password"):
        secrets.omnitron_password(acme)
    with pytest.raises(ProfileError, match="CHANNELDESK_ACME_CHANNEL_API_KEY instead"):
        secrets.store(acme, "channel", "k")
    env = {"CHANNELDESK_ACME_OMNITRON_PASSWORD": "pw"}
    fallback = Secrets(env=env, keyring_backend=FakeKeyring(available=False))
    assert fallback.omnitron_password(acme).get_secret_value() == "pw"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('password = "hunter2"', "omnitron.password"),
        ('api_key = "k"', "omnitron.api_key"),
        ('access_token = "t"', "omnitron.access_token"),
    ],
)
def test_secret_in_toml_is_refused(tmp_path: Path, extra: str, field: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(ACME.replace('username = "integration"', f"username = 'i'\n{extra}"))
    with pytest.raises(ProfileError) as error:
        load_profiles(path)
    message = str(error.value)
    assert str(path) in message
    assert "'acme'" in message
    assert repr(field) in message
    assert "keyring" in message
    assert "hunter2" not in message


def test_secret_in_channel_settings_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(ACME + 'api_key = "abc"\n')
    with pytest.raises(
        ProfileError, match=re.escape("'channel.settings.api_key' looks like a secret")
    ):
        load_profile("acme", path=path)
    with pytest.raises(ProfileError, match="looks like a secret"):
        save_profile(
            _acme(channel=ChannelProfile(settings={"token": "t"})), path=tmp_path / "new.toml"
        )


def test_unknown_profile_message(config_file: Path) -> None:
    with pytest.raises(ProfileError) as error:
        load_profile("globex", path=config_file)
    message = str(error.value)
    assert str(config_file) in message
    assert "no profile 'globex'" in message
    assert "acme, sandbox" in message


def test_invalid_toml_message_names_file(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text("[profiles.acme\nworkers = 4\n")
    with pytest.raises(ProfileError, match="not valid TOML") as error:
        load_profiles(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("before", "after", "field"),
    [
        ("channel_id = 7", 'channel_id = "seven"', "omnitron.channel_id"),
        ("channel_id = 7", "chanel_id = 7", "omnitron.chanel_id"),
        ("workers = 8", "workers = 99", "workers"),
        ('url = "https://acme.omnitron.example.com"', 'url = "acme.example.com"', "omnitron.url"),
    ],
)
def test_invalid_field_message(tmp_path: Path, before: str, after: str, field: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(ACME.replace(before, after))
    with pytest.raises(ProfileError) as error:
        load_profile("acme", path=path)
    message = str(error.value)
    assert message.startswith(f"{path}: profile 'acme': field ")
    assert f"field {field!r}" in message


def test_real_profile_needs_omnitron(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text("[profiles.demo]\nworkers = 2\n")
    with pytest.raises(ProfileError, match="Omnitron settings are required unless sandbox"):
        load_profile("demo", path=path)
    path.write_text("[profiles.demo]\nsandbox = true\nworkers = 2\n")
    assert load_profile("demo", path=path).workers == 2


def test_builtin_name_and_unknown_top_level_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text("[profiles.sandbox]\nworkers = 2\n")
    with pytest.raises(ProfileError, match="built-in"):
        load_profiles(path)
    path.write_text("[profile.acme]\nworkers = 2\n")
    with pytest.raises(ProfileError, match="unknown top-level key"):
        load_profiles(path)


def test_save_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "profiles.toml"
    acme = _acme(
        workers=6,
        channel=ChannelProfile(settings={"base_url": "https://m.example/", "page_size": 50}),
    )
    save_profile(acme, path=path)
    save_profile(_acme().model_copy(update={"name": "globex"}), path=path)
    assert load_profile("acme", path=path) == acme
    assert set(load_profiles(path)) == {"sandbox", "acme", "globex"}
    document = tomllib.loads(path.read_text())
    assert set(document["profiles"]["acme"]) == {
        "sandbox",
        "omnitron",
        "channel",
        "workers",
        "is_success_log",
    }

    # Saving again replaces the profile; deleting removes only it.
    save_profile(acme.model_copy(update={"workers": 1}), path=path)
    assert load_profile("acme", path=path).workers == 1
    delete_profile("globex", path=path)
    assert set(load_profiles(path)) == {"sandbox", "acme"}
    with pytest.raises(ProfileError, match="no profile 'globex'"):
        delete_profile("globex", path=path)
    with pytest.raises(ProfileError, match="built-in"):
        delete_profile("sandbox", path=path)
    with pytest.raises(ProfileError, match="built-in"):
        save_profile(load_profile("sandbox", path=path), path=path)
    assert list(path.parent.glob("*.tmp")) == []


# -- unencrypted and credential-carrying URLs ----------------------------------------


def _profile_file(tmp_path: Path, omnitron_url: str, base_url: str, extra: str = "") -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(
        f"""
[profiles.acme]
{extra}

[profiles.acme.omnitron]
url = "{omnitron_url}"
username = "integration"
channel_id = 7
catalog_id = 2

[profiles.acme.channel.settings]
base_url = "{base_url}"
"""
    )
    return path


@pytest.mark.parametrize(
    ("omnitron_url", "base_url", "field", "label"),
    [
        ("http://acme.omnitron.example.com", "https://mp.example/", "omnitron", "Omnitron URL"),
        ("https://acme.omnitron.example.com", "http://10.0.0.7/", "channel", "Channel base URL"),
    ],
)
def test_plain_http_to_another_host_needs_allow_insecure_http(
    tmp_path: Path, omnitron_url: str, base_url: str, field: str, label: str
) -> None:
    path = _profile_file(tmp_path, omnitron_url, base_url)
    url = omnitron_url + "/" if field == "omnitron" else base_url
    with pytest.raises(ProfileError) as refused:
        load_profile("acme", path=path)
    assert str(refused.value) == (
        f"{path}: profile 'acme': field '{field}': {label} {url} is not encrypted and not on "
        "this computer; use https://, or set allow_insecure_http = true in the profile if "
        "this network is trusted"
    )

    allowed = load_profile(
        "acme", path=_profile_file(tmp_path, omnitron_url, base_url, "allow_insecure_http = true")
    )
    assert allowed.allow_insecure_http
    assert insecure_http_warnings(allowed) == [
        f"profile 'acme': {label} {url} is not encrypted (allow_insecure_http = true): the "
        "password, the token and customer data cross the network readable"
    ]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000", "https://x.io"]
)
def test_loopback_and_https_need_no_permission(tmp_path: Path, url: str) -> None:
    profile = load_profile("acme", path=_profile_file(tmp_path, url, url + "/"))
    assert not profile.allow_insecure_http
    assert insecure_http_warnings(profile) == []


@pytest.mark.parametrize(
    ("omnitron_url", "base_url", "field", "label"),
    [
        (
            "https://integration:s3cret@acme.example",
            "https://mp.example/",
            "omnitron.url",
            "Omnitron URL",
        ),
        (
            "https://acme.example",
            "https://key:abc@mp.example/",
            "channel.settings",
            "Channel base URL",
        ),
    ],
)
def test_credentials_in_a_url_are_refused_naming_the_field(
    tmp_path: Path, omnitron_url: str, base_url: str, field: str, label: str
) -> None:
    path = _profile_file(tmp_path, omnitron_url, base_url, "allow_insecure_http = true")
    with pytest.raises(ProfileError) as refused:
        load_profile("acme", path=path)
    message = str(refused.value)
    assert message == (
        f"{path}: profile 'acme': field '{field}': {label} holds a user name or password; "
        "remove them from the URL (the password and API key go in the keyring)"
    )
    assert "s3cret" not in message
    assert "abc@" not in message


def test_allow_insecure_http_is_written_only_when_granted(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    save_profile(_acme(), path=path)
    save_profile(_acme(allow_insecure_http=True).model_copy(update={"name": "trusted"}), path=path)
    tables = tomllib.loads(path.read_text())["profiles"]
    assert "allow_insecure_http" not in tables["acme"]
    assert tables["trusted"]["allow_insecure_http"] is True
    assert load_profile("trusted", path=path).allow_insecure_http
    assert not load_profile("acme", path=path).allow_insecure_http


def test_profile_problems_name_the_field_as_the_form_labels_it(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(
        '[profiles.acme]\nomnitron = { url = "https://omnitron.acme.example/", '
        'username = "ops", catalog_id = 1 }\n'
    )
    with pytest.raises(ProfileError) as raised:
        load_profiles(path)
    message = str(raised.value)
    assert message.endswith("profile 'acme': field 'omnitron.channel_id': Channel id is required")
    assert "Field required" not in message
