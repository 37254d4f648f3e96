"""Answers are bounded in size and time, and final failures are not retried.

The server side is httpx's MockTransport with hand-made streams, so shapes a proxy
cannot easily send (a body without Content-Length, a compressed bomb) are covered;
tests/hostile plays the same cases over real sockets.
"""

from __future__ import annotations

import gzip
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from service.channel.adapter import ChannelError
from service.channel.marketplace import MarketplaceAdapter, MarketplaceSettings
from service.config import load_profile
from service.net.exchange import RawExchange
from service.net.failures import (
    AnswerTooSlow,
    CertificateNotVerified,
    ResponseTooLarge,
    final_failure_message,
    format_size,
)
from service.net.retry import RetryPolicy, RetryTransport
from service.omnitron.client import OmnitronClient
from service.omnitron.errors import OmnitronResponseInvalid

MB = 1 << 20


class _Stream(httpx.SyncByteStream):
    """A body of ``chunks`` chunks of ``size`` bytes, counting what was pulled."""

    def __init__(self, chunks: int, size: int = 64 * 1024, fill: bytes = b" ") -> None:
        self.chunks = chunks
        self.size = size
        self.fill = fill
        self.pulled = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += self.size
            yield self.fill * self.size

    def close(self) -> None:
        self.closed = True


class _Clock:
    """A clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _client(
    handler: httpx.MockTransport, *, max_bytes: int = MB, clock: _Clock | None = None
) -> tuple[httpx.Client, list[float]]:
    waits: list[float] = []
    transport = RetryTransport(
        handler,
        RetryPolicy(max_attempts=4, base_delay=0.01, deadline=1000),
        max_response_bytes=max_bytes,
        sleep=waits.append,
        clock=clock or _Clock(0.0),
    )
    return httpx.Client(transport=transport, timeout=30), waits


def test_an_answer_without_length_is_cut_at_the_limit_and_not_retried() -> None:
    streams: list[_Stream] = []

    def handler(request: httpx.Request) -> httpx.Response:
        streams.append(_Stream(chunks=300 * 16))  # 300 MB in 64 KB chunks
        return httpx.Response(200, stream=streams[-1])

    client, waits = _client(httpx.MockTransport(handler), max_bytes=MB)
    with pytest.raises(ResponseTooLarge) as caught:
        client.get("http://market.test/api/v1/orders?page=1")
    assert final_failure_message("the marketplace", caught.value) == (
        "The marketplace's answer to GET /api/v1/orders was larger than 1 MB; stopped reading."
    )
    assert len(streams) == 1
    assert waits == []
    assert streams[0].pulled <= MB + 64 * 1024
    assert streams[0].closed


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    stream = _Stream(chunks=10)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, headers={"Content-Length": str(100 * MB)}, stream=stream)

    client, waits = _client(httpx.MockTransport(handler), max_bytes=20 * MB)
    with pytest.raises(ResponseTooLarge, match="larger than 20 MB"):
        client.get("http://omnitron.test/api/v1/channel/1/")
    assert stream.pulled == 0
    assert stream.closed
    assert waits == []


def test_a_compressed_answer_is_measured_as_it_inflates() -> None:
    bomb = gzip.compress(b"0" * (8 * MB))
    assert len(bomb) < MB

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=bomb)

    client, _ = _client(httpx.MockTransport(handler), max_bytes=MB)
    with pytest.raises(ResponseTooLarge):
        client.get("http://x.test/")


def test_an_answer_within_the_limit_reads_as_before() -> None:
    body = gzip.compress(b'{"ok": true}')

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=body)

    client, _ = _client(httpx.MockTransport(handler), max_bytes=MB)
    assert client.get("http://x.test/").json() == {"ok": True}


def test_a_dripping_body_ends_at_the_read_timeout_and_is_not_retried() -> None:
    streams: list[_Stream] = []

    def handler(request: httpx.Request) -> httpx.Response:
        streams.append(_Stream(chunks=10_000, size=1))
        return httpx.Response(200, stream=streams[-1])

    # Every clock reading is one second later: one byte a second, for ever.
    client, waits = _client(httpx.MockTransport(handler), clock=_Clock(1.0))
    with pytest.raises(AnswerTooSlow) as caught:
        client.get("http://omnitron.test/api/v1/orders/")
    assert final_failure_message("Omnitron", caught.value) == (
        "Omnitron's answer to GET /api/v1/orders/ was still arriving after 30 s; stopped reading."
    )
    assert len(streams) == 1
    assert waits == []
    assert streams[0].pulled < 40


def test_a_certificate_failure_is_final_and_named() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
        cause.reason = "CERTIFICATE_VERIFY_FAILED"
        cause.verify_message = "self-signed certificate"
        raise httpx.ConnectError("handshake failed", request=request) from cause

    client, waits = _client(httpx.MockTransport(handler))
    with pytest.raises(CertificateNotVerified) as caught:
        client.post("https://omnitron.test:8443/api/v1/auth/login/", json={})
    assert final_failure_message("Omnitron", caught.value) == (
        "Omnitron's certificate could not be verified for https://omnitron.test:8443 "
        "(CERTIFICATE_VERIFY_FAILED: self-signed certificate); check the URL or the "
        "server's certificate."
    )
    assert calls == ["POST"]
    assert waits == []


def test_other_connect_errors_are_still_retried() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={})

    client, waits = _client(httpx.MockTransport(handler))
    assert client.get("http://x.test/").status_code == 200
    assert len(calls) == 3
    assert len(waits) == 2


def test_raw_exchange_text_is_cut_to_64_kb_with_a_marker() -> None:
    request = httpx.Request("POST", "http://x.test/", content=b"q" * (5 * MB))
    response = httpx.Response(500, content=b"<" * (15 * MB), request=request)
    exchange = RawExchange.from_httpx(request, response)
    head, _, marker = exchange.response.partition("…[truncated ")
    assert head == "<" * len(head)
    assert len(head) + int(marker.removesuffix(" bytes]")) == 15 * MB
    assert len(exchange.response.encode()) <= 64 * 1024
    assert len(exchange.request.encode()) <= 64 * 1024
    assert exchange.request.endswith(" bytes]")
    built = RawExchange(request="r", response="é" * MB)
    assert len(built.response.encode()) <= 64 * 1024


def test_httpx_log_lines_never_show_a_password_in_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    client, _ = _client(httpx.MockTransport(handler))
    with caplog.at_level(logging.INFO, logger="httpx"):
        client.get("http://ops:hunter2@x.test/api/?api_key=K1&page=2")
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert lines, "httpx logged no request line"
    assert all("hunter2" not in line and "K1" not in line for line in lines)
    assert "http://ops:***@x.test/api/?api_key=***&page=2" in lines[0]


def test_sizes_read_as_people_write_them() -> None:
    assert format_size(20 * MB) == "20 MB"
    assert format_size(1536) == "1.5 KB"
    assert format_size(300) == "300 bytes"


def test_a_profile_sets_the_limit_for_omnitron_and_for_the_channel(tmp_path: Path) -> None:
    config = tmp_path / "profiles.toml"
    config.write_text(
        "[profiles.small.omnitron]\n"
        'url = "https://omnitron.test/"\n'
        'username = "ops"\n'
        "channel_id = 1\n"
        "catalog_id = 1\n"
        "max_response_mb = 1\n"
        "[profiles.small.channel.settings]\n"
        'base_url = "https://market.test/"\n'
        "max_response_mb = 2\n"
    )
    profile = load_profile("small", path=config)
    assert profile.omnitron is not None

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/login/"):
            return httpx.Response(200, json={"key": "k"})
        return httpx.Response(200, content=b" " * (int(1.5 * MB)))

    settings = profile.omnitron.settings(SecretStr("p"))
    with (
        OmnitronClient(settings, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(OmnitronResponseInvalid, match="larger than 1 MB"),
    ):
        client.get_channel()
    channel = MarketplaceSettings.model_validate({**profile.channel.settings, "api_key": "k"})
    big = httpx.MockTransport(lambda request: httpx.Response(200, content=b" " * (3 * MB)))
    with (
        MarketplaceAdapter(channel, transport=big) as adapter,
        pytest.raises(ChannelError, match="larger than 2 MB"),
    ):
        list(adapter.fetch_new_orders(None))
