"""A certificate that cannot be verified is said as such, in one line, and tried once.

The server is a real TLS listener on 127.0.0.1 with a self-signed certificate made
for the test; it counts the connections clients open to it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from service.channel.adapter import ChannelError
from service.channel.marketplace import MarketplaceAdapter, MarketplaceSettings
from service.omnitron.client import OmnitronClient
from service.omnitron.errors import OmnitronError, OmnitronUnavailable
from service.omnitron.settings import OmnitronSettings
from service.paths import PROJECT_ROOT
from tests.conftest import RunningMarketplace
from tests.hostile.tls_server import SelfSignedTlsServer

REFUSED = (
    "{who}'s certificate could not be verified for https://127.0.0.1:{port} "
    "(CERTIFICATE_VERIFY_FAILED: self-signed certificate); check the URL or the "
    "server's certificate."
)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[SelfSignedTlsServer]:
    """A self-signed TLS server on a free loopback port."""
    with SelfSignedTlsServer(tmp_path) as server:
        yield server


def _omnitron_settings(url: str, **overrides: object) -> OmnitronSettings:
    return OmnitronSettings(
        base_url=url,
        username="sandbox",
        password=SecretStr("sandbox"),
        channel_id=1,
        catalog_id=1,
        **overrides,
    )


def test_the_server_is_real_tls_that_a_non_verifying_client_reaches(
    tls_server: SelfSignedTlsServer,
) -> None:
    answer = httpx.get(tls_server.url, verify=False)
    assert answer.status_code == 404
    with pytest.raises(httpx.ConnectError):
        httpx.get(tls_server.url)


def test_omnitron_login_over_a_self_signed_certificate_fails_once_in_one_line(
    tls_server: SelfSignedTlsServer,
) -> None:
    with (
        OmnitronClient(_omnitron_settings(tls_server.url)) as client,
        pytest.raises(OmnitronError) as caught,
    ):
        client.get_channel()
    assert not isinstance(caught.value, OmnitronUnavailable)
    assert str(caught.value) == REFUSED.format(who="Omnitron", port=tls_server.port)
    assert tls_server.connections == 1


def test_the_marketplace_over_a_self_signed_certificate_fails_once_in_one_line(
    tls_server: SelfSignedTlsServer,
) -> None:
    settings = MarketplaceSettings(base_url=tls_server.url, api_key=SecretStr("k"))
    with MarketplaceAdapter(settings) as adapter, pytest.raises(ChannelError) as caught:
        list(adapter.fetch_new_orders(None))
    assert str(caught.value) == REFUSED.format(who="The marketplace", port=tls_server.port)
    assert tls_server.connections == 1


def test_a_failed_login_names_the_login_request_and_its_method() -> None:
    # A port nobody listens on: the login itself cannot be sent.
    closed = _closed_port()
    settings = _omnitron_settings(
        f"http://127.0.0.1:{closed}/", max_attempts=2, base_delay=0.01, deadline=1.0
    )
    with OmnitronClient(settings) as client, pytest.raises(OmnitronUnavailable) as caught:
        client.get_channel()
    assert str(caught.value).startswith(
        "Omnitron did not answer POST /api/v1/auth/login/: ConnectError after "
    )


def test_a_run_from_the_command_line_says_it_in_one_line(
    tls_server: SelfSignedTlsServer, marketplace: RunningMarketplace, tmp_path: Path
) -> None:
    config = tmp_path / "profiles.toml"
    config.write_text(
        "[profiles.tls.omnitron]\n"
        f'url = "{tls_server.url}"\n'
        'username = "sandbox"\n'
        "channel_id = 1\n"
        "catalog_id = 1\n"
        "[profiles.tls.channel.settings]\n"
        f'base_url = "{marketplace.base_url}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNELDESK_")}
    env.update(
        CHANNELDESK_DATA_DIR=str(tmp_path / "data"),
        CHANNELDESK_CONFIG=str(config),
        CHANNELDESK_TLS_OMNITRON_PASSWORD="sandbox",
        CHANNELDESK_TLS_CHANNEL_API_KEY=marketplace.config.api_key,
    )
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "run", "fetch-orders", "--profile", "tls"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 1, done.stderr
    refused = REFUSED.format(who="Omnitron", port=tls_server.port)
    assert done.stderr.strip().splitlines() == [f"error: fetch-orders failed: {refused}"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
