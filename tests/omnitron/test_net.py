"""Unit tests of the HTTP reliability layer: backoff bounds, Retry-After, redaction."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from service.net.exchange import RawExchange
from service.net.redact import MASK, redact_body, redact_headers, redact_url
from service.net.retry import RetryPolicy, RetryTransport, parse_retry_after


def test_backoff_stays_within_full_jitter_bounds() -> None:
    policy = RetryPolicy(max_attempts=8, base_delay=0.5, max_delay=4.0, rng=random.Random(7))
    for attempt in range(1, 12):
        cap = min(4.0, 0.5 * 2 ** (attempt - 1))
        assert policy.cap(attempt) == cap
        for _ in range(200):
            assert 0 <= policy.backoff(attempt) <= cap


def test_backoff_without_jitter_is_the_exponential_cap() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=0.25, max_delay=2.0, jitter=False)
    assert list(policy.delays()) == [0.25, 0.5, 1.0, 2.0, 2.0]


def test_delays_are_one_fewer_than_attempts_and_huge_attempts_do_not_overflow() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert len(list(policy.delays())) == 2
    assert policy.cap(10_000) == policy.max_delay


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="deadline"):
        RetryPolicy(deadline=0)


def test_retry_after_in_seconds_and_as_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(30.0)
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0


def _transport(
    answers: list[int | type[Exception]], **policy: float
) -> tuple[RetryTransport, list[str], list[float]]:
    """A RetryTransport over httpx's MockTransport replaying ``answers`` in order."""
    seen: list[str] = []
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, int):
            headers = {"Retry-After": "2"} if answer == 429 else {}
            return httpx.Response(answer, json={"n": len(seen)}, headers=headers)
        raise answer("boom", request=request)

    retry = RetryPolicy(
        max_attempts=int(policy.get("max_attempts", 4)),
        base_delay=0.01,
        max_delay=0.05,
        deadline=policy.get("deadline", 30.0),
    )
    return RetryTransport(httpx.MockTransport(handler), retry, sleep=waits.append), seen, waits


def test_get_is_retried_on_5xx_and_dropped_connections() -> None:
    transport, seen, waits = _transport([503, httpx.RemoteProtocolError, httpx.ReadTimeout, 200])
    with httpx.Client(transport=transport) as client:
        assert client.get("http://x/").json() == {"n": 4}
    assert len(seen) == 4
    assert len(waits) == 3


def test_post_is_not_retried_after_it_may_have_reached_the_server() -> None:
    transport, seen, _ = _transport([503, 200])
    with httpx.Client(transport=transport) as client:
        assert client.post("http://x/", json={}).status_code == 503
    assert len(seen) == 1


def test_post_read_timeout_is_raised_not_retried() -> None:
    transport, seen, _ = _transport([httpx.ReadTimeout, 200])
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ReadTimeout):
        client.post("http://x/", json={})
    assert len(seen) == 1


def test_post_is_retried_when_it_never_left_and_on_429() -> None:
    transport, seen, waits = _transport([httpx.ConnectError, 429, 201])
    with httpx.Client(transport=transport) as client:
        assert client.post("http://x/", json={}).status_code == 201
    assert len(seen) == 3
    assert waits[1] == 2.0  # Retry-After honoured


def test_retry_always_extension_allows_repeating_a_post() -> None:
    transport, seen, _ = _transport([502, httpx.ReadError, 200])
    with httpx.Client(transport=transport) as client:
        response = client.post("http://x/", json={}, extensions={"retry": "always"})
    assert response.status_code == 200
    assert len(seen) == 3


def test_gives_up_after_max_attempts_and_returns_the_last_answer() -> None:
    transport, seen, _ = _transport([500], max_attempts=3)
    with httpx.Client(transport=transport) as client:
        assert client.get("http://x/").status_code == 500
    assert len(seen) == 3


def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    transport, seen, waits = _transport([429, 200], deadline=1.0)
    with httpx.Client(transport=transport) as client:
        assert client.get("http://x/").status_code == 429
    assert len(seen) == 1
    assert waits == []


def test_redact_headers_urls_and_bodies() -> None:
    headers = redact_headers({"Authorization": "Token abc", "X-Api-Key": "k1", "Accept": "x"})
    assert headers == {"Authorization": MASK, "X-Api-Key": MASK, "Accept": "x"}
    url = redact_url("https://u:pw@h/api/?api_key=K&page=2&token=T&Key=Z")
    assert "pw" not in url
    assert "K&" not in url
    assert "=T" not in url
    assert "=Z" not in url
    assert "page=2" in url
    assert "u:***@h" in url
    body = redact_body(
        json.dumps({"username": "me", "password": "s3cret", "nested": [{"Token": "t"}]})
    )
    assert "s3cret" not in body
    assert '"t"' not in body
    assert '"me"' in body
    assert redact_body(b"password=s3cret&user=me") == "password=***&user=me"
    assert redact_body("plain text") == "plain text"
    assert redact_body(None) == ""


def test_raw_exchange_is_redacted_and_in_reference_format() -> None:
    request = httpx.Request(
        "POST",
        "http://h/api/v1/auth/login/?key=abc",
        json={"username": "u", "password": "hunter2"},
        headers={"Authorization": "Token zzz"},
    )
    response = httpx.Response(200, json={"key": "tok-123"}, request=request)
    exchange = RawExchange.from_httpx(request, response)
    assert exchange.request.startswith("POST - http://h/api/v1/auth/login/?key=*** - ")
    dumped = exchange.model_dump_json()
    for secret in ("hunter2", "tok-123", "abc", "zzz"):
        assert secret not in dumped
    assert exchange.status_code == 200
    lost = RawExchange.from_httpx(request, note="ReadTimeout")
    assert lost.status_code is None
    assert lost.response == "ReadTimeout"
