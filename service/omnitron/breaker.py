"""A circuit breaker on the Omnitron client: only a sustained outage ends a run.

Every HTTP request sent to Omnitron — each retry and each login included — is one
attempt the breaker sees. An answer other than 5xx or 429 whose body arrived whole is
a success and resets the count; a 5xx, a 429, a timeout or a broken connection is a
failure. The breaker opens when ``failures`` attempts in a row failed *and* the first
of them is at least ``window`` seconds old, so one bad answer, or a short burst of
them, never opens it, however fast the retries come.

While it is open, requests fail at once with :class:`BreakerOpen`, except one probe at
a time: a probe that succeeds closes the breaker, so another thread or the next run
goes on as soon as Omnitron answers again. A request probes only once; its own retries
fail at once, so a run that hit an outage ends promptly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

# Set on a request that was let through as a probe: its retries are not probes.
PROBED_EXTENSION = "breaker_probed"


@dataclass(frozen=True)
class OutageFacts:
    """What the breaker saw: ``failures`` attempts in a row over ``seconds``."""

    failures: int
    seconds: float
    last_error: str


class BreakerOpen(Exception):
    """A request was not sent because the breaker is open (Omnitron is down)."""

    def __init__(self, facts: OutageFacts) -> None:
        super().__init__(
            f"not sent: {facts.failures} requests in a row failed over {facts.seconds:.0f}s"
        )
        self.facts = facts


class CircuitBreaker:
    """Counts failed attempts in a row; thread-safe, shared by all threads of a client."""

    def __init__(
        self, failures: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Open after ``failures`` failed attempts in a row spanning ``window`` seconds."""
        if failures < 1 or window < 0:
            raise ValueError("failures must be at least 1 and window not negative")
        self.failures = failures
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._streak = 0
        self._first_failure = 0.0
        self._last_error = ""
        self._open = False
        self._probing = False

    @property
    def is_open(self) -> bool:
        """Whether requests are being refused (a probe may still be on its way)."""
        with self._lock:
            return self._open

    def facts(self) -> OutageFacts:
        """The current run of failures (all zero when the last attempt succeeded)."""
        with self._lock:
            return self._facts()

    def admit(self, request: httpx.Request) -> bool:
        """Let ``request`` through (``True`` if it goes as the probe) or raise BreakerOpen."""
        with self._lock:
            if not self._open:
                return False
            if self._probing or request.extensions.get(PROBED_EXTENSION):
                raise BreakerOpen(self._facts())
            self._probing = True
            request.extensions[PROBED_EXTENSION] = True
            return True

    def succeeded(self, probe: bool) -> None:
        """An attempt got a whole answer: the streak ends and an open breaker closes."""
        with self._lock:
            if probe:
                self._probing = False
            if self._open:
                log.info("Omnitron answers again after %s failed requests", self._streak)
            self._open = False
            self._streak = 0
            self._last_error = ""

    def failed(self, reason: str, probe: bool) -> None:
        """An attempt failed (``reason`` e.g. ``HTTP 503``); may open the breaker."""
        with self._lock:
            if probe:
                self._probing = False
            now = self._clock()
            if self._streak == 0:
                self._first_failure = now
            self._streak += 1
            self._last_error = reason
            if (
                not self._open
                and self._streak >= self.failures
                and now - self._first_failure >= self.window
            ):
                self._open = True
                log.warning(
                    "Omnitron failed %d requests in a row over %.0fs (last: %s); "
                    "the circuit breaker is open",
                    self._streak,
                    now - self._first_failure,
                    reason,
                )

    def released(self, probe: bool) -> None:
        """An attempt ended without a verdict (its body was not read to the end)."""
        if probe:
            with self._lock:
                self._probing = False

    def _facts(self) -> OutageFacts:
        seconds = self._clock() - self._first_failure if self._streak else 0.0
        return OutageFacts(self._streak, seconds, self._last_error)


class BreakerTransport(httpx.BaseTransport):
    """Reports every attempt through ``inner`` to a :class:`CircuitBreaker`.

    Sits inside the retry transport, so each try counts. A 2xx–4xx answer counts as a
    success only once its body was read to the end: a connection that breaks half-way
    through an answer is a failure.
    """

    def __init__(self, inner: httpx.BaseTransport, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` unless the breaker is open, and report how it went."""
        probe = self.breaker.admit(request)
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError as exc:
            self.breaker.failed(type(exc).__name__, probe)
            raise
        except BaseException:
            self.breaker.released(probe)
            raise
        status = response.status_code
        if status == 429 or status >= 500:
            self.breaker.failed(f"HTTP {status}", probe)
            return response
        if isinstance(response.stream, httpx.ByteStream):
            # The body is in memory already: nothing can break half-way any more.
            self.breaker.succeeded(probe)
            return response
        response.stream = _WatchedStream(response.stream, self.breaker, probe)
        return response

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()


class _WatchedStream(httpx.SyncByteStream):
    """A response body that tells the breaker whether it arrived whole."""

    def __init__(self, inner: httpx.SyncByteStream, breaker: CircuitBreaker, probe: bool):
        self._inner = inner
        self._breaker = breaker
        self._probe = probe
        self._settled = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except httpx.TransportError as exc:
            reason = type(exc).__name__
            self._settle(lambda: self._breaker.failed(reason, self._probe))
            raise
        self._settle(lambda: self._breaker.succeeded(self._probe))

    def close(self) -> None:
        # Closed before the end (a reader that stopped early): no verdict either way.
        self._settle(lambda: self._breaker.released(self._probe))
        self._inner.close()

    def _settle(self, report: Callable[[], None]) -> None:
        if not self._settled:
            self._settled = True
            report()
