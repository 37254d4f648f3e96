"""The circuit breaker and look-before-retry, on the client's own logic.

The server is httpx's MockTransport playing a small Omnitron: each test scripts which
answers fail, so what the client does after a 5xx or a lost answer is exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from service.omnitron import OmnitronClient, OmnitronOutage, OmnitronSettings
from service.omnitron.breaker import BreakerOpen, CircuitBreaker

LOGIN = "/api/v1/auth/login/"
BATCHES = "/api/v1/channel/1/batch_requests/"
CHANNEL = "/api/v1/channels/1/"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeOmnitron:
    """Login, one channel and batch requests; ``fail(request)`` may answer or raise first."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []
        self.seen: list[tuple[str, str]] = []
        self.fail: Callable[[httpx.Request], httpx.Response | None] = lambda _: None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        path = request.url.path
        if path == LOGIN:
            return httpx.Response(200, json={"key": "token"})
        failure = self.fail(request)
        if failure is not None:
            return failure
        return self.handle(request)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer ``request`` as Omnitron would (not recorded, no failures)."""
        path = request.url.path
        if path == CHANNEL:
            return httpx.Response(200, json={"pk": 1, "name": "market", "is_active": True})
        if path == BATCHES and request.method == "POST":
            body = json.loads(request.content)
            batch = {
                "pk": len(self.batches) + 1,
                "channel": 1,
                "local_batch_id": body["local_batch_id"],
                "status": "initialized",
                "objects": None,
            }
            self.batches.append(batch)
            return httpx.Response(201, json=batch)
        if path == BATCHES:
            wanted = request.url.params.get_list("status")
            rows = [b for b in self.batches if not wanted or b["status"] in wanted]
            return httpx.Response(200, json={"count": len(rows), "next": None, "results": rows})
        return httpx.Response(404, json={"detail": "Not found."})

    def count(self, method: str, path: str) -> int:
        return self.seen.count((method, path))


def make_client(server: FakeOmnitron, **overrides: Any) -> OmnitronClient:
    values: dict[str, Any] = {
        "base_url": "http://omnitron.test/",
        "username": "user",
        "password": SecretStr("secret"),
        "channel_id": 1,
        "catalog_id": 1,
        "max_attempts": 2,
        "base_delay": 0.0,
        "max_delay": 0.0,
        "deadline": 60.0,
        "breaker_failures": 4,
        "breaker_window": 0.0,
    }
    settings = OmnitronSettings(**(values | overrides))
    return OmnitronClient(settings, transport=httpx.MockTransport(server), sleep=lambda _: None)


def failing_times(n: int, answer: Callable[[httpx.Request], httpx.Response]) -> Callable[..., Any]:
    """A ``fail`` hook that spoils the first ``n`` requests it sees, then lets all pass."""
    left = [n]

    def fail(request: httpx.Request) -> httpx.Response | None:
        if left[0] <= 0:
            return None
        left[0] -= 1
        return answer(request)

    return fail


def http_503(_: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json={"detail": "Service unavailable."})


def lost_answer(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError(
        "Server disconnected without sending a response.", request=request
    )


# -- the breaker on its own -------------------------------------------------------------


def test_breaker_opens_only_after_enough_failures_over_the_window() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 40.0, clock=clock)
    for _ in range(10):
        breaker.failed("HTTP 503", probe=False)
    assert not breaker.is_open  # many failures, but all in the same instant

    clock.now += 39.0
    breaker.failed("HTTP 503", probe=False)
    assert not breaker.is_open
    clock.now += 1.0
    breaker.failed("HTTP 502", probe=False)

    assert breaker.is_open
    facts = breaker.facts()
    assert (facts.failures, facts.seconds, facts.last_error) == (12, 40.0, "HTTP 502")


def test_a_success_in_between_starts_the_count_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(2, 10.0, clock=clock)
    breaker.failed("HTTP 503", probe=False)
    clock.now += 20.0
    breaker.succeeded(probe=False)
    breaker.failed("HTTP 503", probe=False)

    assert not breaker.is_open
    assert breaker.facts().failures == 1


def test_an_open_breaker_lets_one_probe_through_and_a_good_probe_closes_it() -> None:
    breaker = CircuitBreaker(1, 0.0)
    breaker.failed("ConnectError", probe=False)
    assert breaker.is_open
    first, second = (httpx.Request("GET", "http://omnitron.test/") for _ in range(2))

    assert breaker.admit(first) is True
    with pytest.raises(BreakerOpen):
        breaker.admit(second)  # one probe at a time
    breaker.failed("ConnectError", probe=True)
    with pytest.raises(BreakerOpen):
        breaker.admit(first)  # a request probes once; its retries do not
    assert breaker.admit(second) is True
    breaker.succeeded(probe=True)

    assert not breaker.is_open
    assert breaker.admit(httpx.Request("GET", "http://omnitron.test/")) is False


# -- the client: single failures never end a call, an outage does ----------------------------


def test_a_burst_of_5xx_on_a_read_is_waited_out() -> None:
    server = FakeOmnitron()
    # Six 503s: three rounds of the transport's two tries, far more than one round.
    server.fail = failing_times(6, http_503)
    with make_client(server, breaker_failures=8) as client:
        channel = client.get_channel()

    assert channel.pk == 1
    assert server.count("GET", CHANNEL) == 7


def test_a_sustained_outage_ends_the_call_with_one_sentence() -> None:
    server = FakeOmnitron()
    server.fail = http_503
    with make_client(server) as client:
        with pytest.raises(OmnitronOutage) as caught:
            client.get_channel()
        sent = len(server.seen)
        # Open: the next call is one probe, and fails at once as the same outage.
        with pytest.raises(OmnitronOutage):
            client.get_channel()

    assert len(server.seen) == sent + 1
    outage = caught.value
    assert outage.failures == 4
    assert str(outage) == (
        "Omnitron did not answer for 1 s (4 requests in a row failed); the run stopped; "
        "nothing was lost — run it again when Omnitron is back."
    )
    assert outage.sentence(done=12, total=60, noun="orders") == (
        "Omnitron did not answer for 1 s (4 requests in a row failed); the run stopped "
        "after 12 of 60 orders; nothing was lost — run it again when Omnitron is back."
    )


def test_the_client_answers_again_once_omnitron_is_back() -> None:
    server = FakeOmnitron()
    server.fail = http_503
    with make_client(server) as client:
        with pytest.raises(OmnitronOutage):
            client.get_channel()
        server.fail = lambda _: None

        assert client.get_channel().pk == 1
        assert not client.breaker.is_open


# -- batch creation: found by our own local_batch_id, never created twice -----------------


def test_a_batch_whose_answer_was_lost_is_found_not_created_again() -> None:
    server = FakeOmnitron()
    posts = [0]

    def lose_first_post_answer(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and request.url.path == BATCHES and posts[0] == 0:
            posts[0] += 1
            assert server.handle(request).status_code == 201  # Omnitron handled it ...
            lost_answer(request)  # ... and the answer never came back
        return None

    server.fail = lose_first_post_answer
    with make_client(server) as client:
        batch = client.create_batch_request("a1b2c3")

    assert posts == [1]
    assert server.count("POST", BATCHES) == 1
    assert [b["local_batch_id"] for b in server.batches] == ["a1b2c3"]
    assert (batch.pk, batch.local_batch_id) == (1, "a1b2c3")


def test_a_batch_post_answered_503_is_looked_for_then_sent_again() -> None:
    server = FakeOmnitron()
    server.fail = failing_times(
        1, lambda r: http_503(r) if r.method == "POST" else pytest.fail("read spoiled")
    )
    with make_client(server) as client:
        batch = client.create_batch_request()

    assert server.count("POST", BATCHES) == 2
    assert server.count("GET", BATCHES) == 1  # looked before sending again
    assert len(server.batches) == 1
    assert batch.local_batch_id == server.batches[0]["local_batch_id"]
