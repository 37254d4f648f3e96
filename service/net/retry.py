"""Retries with exponential backoff, full jitter and an overall deadline.

:class:`RetryTransport` wraps another httpx transport, so every request sent through
a client built on it — every page of a listing, every login, every replay after a
401 — gets the same handling. It retries what is safe to retry:

- timeouts, connection errors and connections dropped mid-answer, for idempotent
  methods (GET, HEAD, OPTIONS, PUT, DELETE);
- for POST and PATCH only failures where the request provably never reached the
  server (connection refused, connect timeout, no pooled connection free) and 429
  (throttling happens before the request is handled);
- 5xx answers, again only for idempotent methods;
- anything at all when the request says so with ``extensions={"retry": "always"}``
  (logins, searches sent as POST).

Never retried, whatever the method (see :mod:`service.net.failures`): a certificate
that fails verification, an answer larger than ``max_response_bytes``, and an answer
still arriving when the try's read timeout, counted from the try's start, is spent.

Everything else is handed back to the caller, who knows better — e.g. whether an
order that may or may not have been created should be looked up first.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from service.net.body import DEFAULT_MAX_RESPONSE_MB, MEGABYTE, read_body
from service.net.failures import FINAL_ERRORS, CertificateNotVerified, certificate_failure
from service.net.redact import install_log_redaction, redact_url

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_EXTENSION = "retry"
RETRY_ALWAYS = "always"
# Set on the request by the transport: attempts made, so callers can say how hard we tried.
ATTEMPTS_EXTENSION = "retry_attempts"
BASE_TIMEOUT_EXTENSION = "retry_base_timeout"

# Failures after which the server cannot have seen the request.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    ``max_attempts`` counts the first try. The wait before retry *n* (1-based) is
    drawn uniformly from ``[0, min(max_delay, base_delay * 2**(n-1))]`` ("full
    jitter"), or is exactly that cap when ``jitter`` is off. No wait ever ends after
    ``deadline`` seconds from the first try.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 10.0
    deadline: float = 60.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.deadline <= 0:
            raise ValueError("delays must not be negative and the deadline must be positive")

    def cap(self, attempt: int) -> float:
        """The largest wait before retry number ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        # min() first keeps 2**attempt from overflowing a float for silly attempt counts.
        return min(self.max_delay, self.base_delay * 2 ** min(attempt - 1, 62))

    def backoff(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (1-based), jittered if enabled."""
        cap = self.cap(attempt)
        return self.rng.uniform(0, cap) if self.jitter else cap

    def delays(self) -> Iterator[float]:
        """The waits between the ``max_attempts`` tries (one fewer than attempts)."""
        for attempt in range(1, self.max_attempts):
            yield self.backoff(attempt)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _default_transport(pool_size: int) -> httpx.HTTPTransport:
    limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
    return httpx.HTTPTransport(limits=limits)


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that retries another one under a :class:`RetryPolicy`.

    Response bodies are read inside the transport: a connection that drops half-way
    through an answer is then a retryable error here, not a surprise for the caller.
    (Fine for API calls; do not use this transport for large downloads.) The read is
    bounded by ``max_response_bytes`` and by the try's read timeout as a whole.

    ``sleep`` and ``clock`` can be replaced in tests.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        *,
        pool_size: int = 10,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_MB * MEGABYTE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be positive")
        self.inner = inner if inner is not None else _default_transport(pool_size)
        self.policy = policy or RetryPolicy()
        self.max_response_bytes = max_response_bytes
        self._sleep = sleep
        self._clock = clock
        install_log_redaction()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy and the method allow."""
        policy = self.policy
        always = request.extensions.get(RETRY_EXTENSION) == RETRY_ALWAYS
        idempotent = always or request.method.upper() in IDEMPOTENT_METHODS
        deadline = self._clock() + policy.deadline
        # Remember the caller's timeouts once: a replay (after a 401) must not start
        # from the shortened ones an earlier pass fitted into its deadline.
        base_timeout = request.extensions.setdefault(
            BASE_TIMEOUT_EXTENSION, dict(request.extensions.get("timeout") or {})
        )
        attempt = 0
        while True:
            attempt += 1
            request.extensions[ATTEMPTS_EXTENSION] = attempt
            started = self._clock()
            self._fit_timeout(request, base_timeout, deadline)
            try:
                response = self.inner.handle_request(request)
                budget = self._answer_budget(request, started, deadline)
                read_body(
                    response,
                    request,
                    max_bytes=self.max_response_bytes,
                    deadline=started + budget,
                    seconds=budget,
                    clock=self._clock,
                )
            except FINAL_ERRORS:
                raise
            except _RETRYABLE_ERRORS as exc:
                refused = certificate_failure(exc)
                if refused is not None:
                    raise CertificateNotVerified(refused, request=request) from exc
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if not (idempotent or isinstance(exc, NOT_SENT_ERRORS)):
                    raise
                wait = self._wait(attempt, deadline, None)
                if wait is None:
                    raise
                self._log_retry(request, attempt, reason, wait)
                self._sleep(wait)
                continue

            status = response.status_code
            if status == 429 or (status >= 500 and idempotent):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                wait = self._wait(attempt, deadline, retry_after if status == 429 else None)
                if wait is None:
                    return response
                # The retried answer is thrown away; give its connection back first.
                response.close()
                self._log_retry(request, attempt, f"HTTP {status}", wait)
                self._sleep(wait)
                continue
            return response

    def _wait(self, attempt: int, deadline: float, retry_after: float | None) -> float | None:
        """How long to wait before the next try, or ``None`` to give up now."""
        if attempt >= self.policy.max_attempts:
            return None
        wait = retry_after if retry_after is not None else self.policy.backoff(attempt)
        remaining = deadline - self._clock()
        # A try squeezed into the last sliver of the deadline would only time out and
        # hide the real failure: give up now unless a useful window is left after waiting.
        if remaining - wait < min(1.0, 0.1 * self.policy.deadline):
            return None
        return wait

    def _answer_budget(self, request: httpx.Request, started: float, deadline: float) -> float:
        """Seconds a try has for its whole answer: its read timeout, within the deadline."""
        read = (request.extensions.get("timeout") or {}).get("read")
        left = max(0.0, deadline - started)
        return left if read is None else min(read, left)

    def _fit_timeout(
        self, request: httpx.Request, base: dict[str, float | None], deadline: float
    ) -> None:
        """Keep each try's timeouts within what is left of the overall deadline."""
        if not base:
            return
        remaining = max(0.001, deadline - self._clock())
        request.extensions["timeout"] = {
            name: (remaining if value is None else min(value, remaining))
            for name, value in base.items()
        }

    def _log_retry(self, request: httpx.Request, attempt: int, reason: str, wait: float) -> None:
        log.info(
            "retrying %s %s after %s (attempt %d of %d, waiting %.2fs)",
            request.method,
            redact_url(request.url),
            reason,
            attempt,
            self.policy.max_attempts,
            wait,
        )

    def close(self) -> None:
        """Close the wrapped transport and its connection pool."""
        self.inner.close()
