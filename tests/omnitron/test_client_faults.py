"""The client under injected faults: 5xx, latency, 429, revoked tokens, deadlines."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr

from service.omnitron import (
    OmnitronAuthError,
    OmnitronClient,
    OmnitronError,
    OmnitronNotFound,
    OmnitronUnavailable,
)
from service.omnitron.models import Customer, CustomerCreate
from tests.conftest import RunningOmnitron
from tests.omnitron.conftest import ClientFactory, settings_for

LOGIN_ROUTE = "POST /api/v1/auth/login/"
PASSWORD = "s3cret-Pässword!"


def test_paged_listing_under_5xx_and_latency_yields_every_object_once(
    omnitron: RunningOmnitron, client: OmnitronClient
) -> None:
    emails = [f"customer{i:03d}@example.com" for i in range(500)]
    # Created from 8 threads through one client: also shows the client is thread-safe
    # (the threads share one login and one pool).
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(
            pool.map(
                lambda email: client.create_customer(
                    CustomerCreate(email=email, first_name="Ali", last_name="Kaya")
                ),
                emails,
            )
        )
    assert len({customer.pk for customer in created}) == 500
    assert omnitron.control.get("stats").json()["by_route"][LOGIN_ROUTE] == 1
    omnitron.control.post("stats/reset").raise_for_status()
    omnitron.control.patch("faults", json={"error_rate": 0.2, "latency_ms": 50}).raise_for_status()

    path = client.channel_path("customers/")
    seen = Counter(
        customer.email
        for customer in client.iter_models(Customer, path, {"channel": 1}, page_size=50)
    )

    assert len(seen) == 500
    assert set(seen) == set(emails)
    assert set(seen.values()) == {1}
    stats = omnitron.control.get("stats").json()
    assert stats["faults"].get("5xx", 0) > 0  # the faults really happened


def test_429_with_retry_after_is_waited_out(
    omnitron: RunningOmnitron, client: OmnitronClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service.net")
    client.get_channel()  # logged in
    omnitron.control.post("stats/reset").raise_for_status()
    omnitron.control.patch("faults", json={"burst_429": 1, "retry_after_s": 1}).raise_for_status()

    channel = client.get_channel()

    assert channel.pk == 1
    stats = omnitron.control.get("stats").json()
    assert stats["faults"] == {"429": 1}
    assert stats["by_route"]["GET /api/v1/channels/{id}/"] == 2
    assert "retrying GET" in caplog.text
    assert "HTTP 429" in caplog.text


def test_revoked_token_causes_exactly_one_relogin(
    start_omnitron: Callable[..., RunningOmnitron],
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    omnitron = start_omnitron(password=PASSWORD)
    client = make_client(omnitron)
    client.get_channel()
    omnitron.control.post("stats/reset").raise_for_status()
    omnitron.control.post("tokens/revoke").raise_for_status()

    assert client.get_channel().pk == 1
    assert client.list_cargo_companies()

    by_route = omnitron.control.get("stats").json()["by_route"]
    assert by_route[LOGIN_ROUTE] == 1
    assert by_route["GET /api/v1/channels/{id}/"] == 2  # the 401, then the replay
    assert client.logins == 2
    assert "Token " not in caplog.text
    assert PASSWORD not in caplog.text


def test_wrong_password_is_an_auth_error_without_credentials(
    start_omnitron: Callable[..., RunningOmnitron], make_client: ClientFactory
) -> None:
    running = start_omnitron(password=PASSWORD)
    client = make_client(running, password=SecretStr(PASSWORD + "-wrong"))
    with pytest.raises(OmnitronAuthError) as caught:
        client.get_channel()
    _assert_no_secrets(caught.value, PASSWORD + "-wrong")
    assert "refused the login" in str(caught.value)
    assert caught.value.exchange is not None
    assert caught.value.exchange.status_code in (400, 401)
    assert "***" in caught.value.exchange.request  # the password field is masked


def test_errors_and_raw_exchanges_never_carry_credentials(
    start_omnitron: Callable[..., RunningOmnitron], make_client: ClientFactory
) -> None:
    running = start_omnitron(password=PASSWORD)
    client = make_client(running)
    with pytest.raises(OmnitronNotFound) as caught:
        client.get_batch_request(987654)
    _assert_no_secrets(caught.value, PASSWORD)
    assert caught.value.exchange is not None
    assert caught.value.exchange.request.startswith("GET - http://127.0.0.1:")
    assert PASSWORD not in repr(client.settings)
    assert PASSWORD not in repr(client)


def _assert_no_secrets(error: OmnitronError, password: str) -> None:
    texts = [str(error), repr(error), repr(error.body)]
    if error.exchange is not None:
        texts.append(error.exchange.model_dump_json())
    for text in texts:
        assert password not in text
        assert "Token " not in text  # no Authorization header value


def test_deadline_exhausted_raises_unavailable_with_a_clear_message(
    omnitron: RunningOmnitron, make_client: ClientFactory
) -> None:
    client = make_client(omnitron, deadline=1.0, max_attempts=100, base_delay=0.05)
    client.get_channel()  # log in while Omnitron still works
    omnitron.control.patch("faults", json={"error_rate": 1.0}).raise_for_status()
    started = time.monotonic()
    with pytest.raises(OmnitronUnavailable) as caught:
        client.get_channel()
    assert time.monotonic() - started < 10  # gave up instead of retrying for ever
    message = str(caught.value)
    assert "GET /api/v1/channels/1/" in message
    assert "deadline" in message
    assert caught.value.status_code in (500, 502, 503)


def test_unreachable_omnitron_is_unavailable(omnitron: RunningOmnitron) -> None:
    settings = settings_for(omnitron, base_url="http://127.0.0.1:9/", deadline=0.5)
    with OmnitronClient(settings) as client, pytest.raises(OmnitronUnavailable) as caught:
        client.get_channel()
    assert "ConnectError" in str(caught.value)
    assert not caught.value.maybe_processed
