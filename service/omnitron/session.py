"""The HTTP plumbing under :class:`~service.omnitron.client.OmnitronClient`.

One :class:`httpx.Client` (keep-alive, sized pool, thread-safe) over a
:class:`~service.net.retry.RetryTransport`, with :class:`~service.omnitron.auth.TokenAuth`.
Every call — also every page of a listing — goes through :meth:`OmnitronSession.call`,
which maps failures to the typed exceptions of :mod:`service.omnitron.errors`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from service.net.body import MEGABYTE
from service.net.exchange import RawExchange
from service.net.failures import ResponseTooLarge, final_failure_message
from service.net.paging import PageGuard
from service.net.redact import redact_data
from service.net.retry import (
    ATTEMPTS_EXTENSION,
    IDEMPOTENT_METHODS,
    NOT_SENT_ERRORS,
    RETRY_ALWAYS,
    RETRY_EXTENSION,
    RetryTransport,
)
from service.omnitron.auth import TokenAuth
from service.omnitron.breaker import BreakerOpen, BreakerTransport, CircuitBreaker, OutageFacts
from service.omnitron.errors import (
    BATCH_LOCK_CODE,
    BATCH_TRANSITION_CODE,
    AddressDuplicate,
    BatchTransitionRefused,
    OmnitronAuthError,
    OmnitronBadRequest,
    OmnitronConflict,
    OmnitronError,
    OmnitronNotFound,
    OmnitronOutage,
    OmnitronPagingError,
    OmnitronResponseInvalid,
    OmnitronUnavailable,
    address_hash_from,
)
from service.omnitron.query import encode_query
from service.omnitron.settings import OmnitronSettings

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_BODY_IN_MESSAGE = 300  # characters of an error body quoted in an exception message


class OmnitronSession:
    """Sends requests to Omnitron's API and turns answers into data or typed errors."""

    def __init__(
        self,
        settings: OmnitronSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Open the connection pool (nothing is sent until the first call).

        ``transport`` replaces the innermost transport (the one that opens sockets);
        retries, auth and error handling stay in place around it.
        """
        self.settings = settings
        self.policy = settings.retry_policy()
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_window)
        self._sleep = sleep
        self._auth = TokenAuth(
            settings.api_url + "auth/login/", settings.username, settings.password
        )
        retrying = RetryTransport(
            transport,
            self.policy,
            pool_size=settings.pool_size,
            max_response_bytes=settings.max_response_mb * MEGABYTE,
            sleep=sleep,
        )
        # Inside the retries, so the breaker sees every single try.
        retrying.inner = BreakerTransport(retrying.inner, self.breaker)
        self._http = httpx.Client(
            base_url=settings.api_url,
            transport=retrying,
            auth=self._auth,
            timeout=settings.timeout,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        s = self.settings
        return f"{type(self).__name__}(base_url={s.base_url!r}, channel_id={s.channel_id})"

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool. The client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def logins(self) -> int:
        """How many times this client has logged in (first login included)."""
        return self._auth.logins

    # -- paths -------------------------------------------------------------------------

    def channel_path(self, path: str) -> str:
        """``channel/{channel_id}/{path}`` — the channel-scoped resources."""
        return f"channel/{self.settings.channel_id}/{path}"

    # -- calls -------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_always: bool = False,
    ) -> Any:
        """Send one request and return its decoded JSON body (``{}`` when empty).

        ``retry_always`` marks a write as safe to repeat (see
        :class:`~service.net.retry.RetryTransport`). Raises a subclass of
        :class:`OmnitronError` for anything but a 2xx answer.

        A request that is safe to repeat (a read, a ``retry_always`` write, or a write
        that surely did not reach Omnitron) is tried again with backoff until it
        succeeds, the ``deadline`` for this call passes (:class:`OmnitronUnavailable`),
        or the circuit breaker opens (:class:`OmnitronOutage`). A write whose outcome
        is unknown is raised to the caller, who looks before repeating it
        (:meth:`write_checked`).
        """
        repeatable = retry_always or method.upper() in IDEMPOTENT_METHODS
        started = time.monotonic()
        rounds = 0
        while True:
            try:
                return self._call_once(method, path, params, json, retry_always)
            except OmnitronOutage:
                raise
            except OmnitronUnavailable as exc:
                if exc.maybe_processed and not repeatable:
                    raise
                rounds += 1
                self._pause_before_retry(exc, rounds, started, f"{method} {path}")

    def _call_once(
        self, method: str, path: str, params: Mapping[str, Any] | None, json: Any, always: bool
    ) -> Any:
        """One :meth:`call` through the retry transport (it may try several times)."""
        extensions = {RETRY_EXTENSION: RETRY_ALWAYS} if always else None
        body = None if json is None else to_jsonable_python(json)
        try:
            response = self._http.request(
                method, path, params=encode_query(params), json=body, extensions=extensions
            )
        except httpx.TransportError as exc:
            raise self._unavailable(method, path, exc) from None
        except httpx.InvalidURL as exc:
            raise OmnitronError(f"Invalid Omnitron URL for {method} {path}: {exc}") from None
        except BreakerOpen as exc:
            raise _outage(exc.facts) from None
        if response.is_success:
            return self._decode(response)
        raise self._error_for(response)

    def call_model(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        """:meth:`call`, parsing the answer into ``model``."""
        data = self.call(method, path, **kwargs)
        return self.parse(model, data, f"{method} {path}")

    def parse(self, model: type[M], data: Any, what: str) -> M:
        """Validate ``data`` as ``model``; a mismatch is :class:`OmnitronResponseInvalid`."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise OmnitronResponseInvalid(
                f"Omnitron's answer to {what} is not a valid {model.__name__}: "
                f"{exc.error_count()} problem(s), first: {_first_error(exc)}",
                body=redact_data(data),
            ) from None

    # -- listings ----------------------------------------------------------------------

    def iter_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int | None = None,
        max_pages: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Stream the results of a DRF-paginated listing, page by page.

        Every page is a normal :meth:`call` (auth, retries, error mapping). Paging
        ends on ``"next": null``, on a bare JSON array, on an empty page, on a short
        page when ``next`` is absent, or when ``count`` results have been seen. A
        listing that does not advance (a page or a ``next`` seen before, a ``next``
        that points back) or is longer than ``max_pages`` pages raises
        :class:`OmnitronPagingError` rather than loop.
        """
        size = page_size or self.settings.page_size
        limit = max_pages or self.settings.max_pages
        guard = PageGuard()
        seen = 0
        for page in range(1, limit + 1):
            data = self.call("GET", path, params={**(params or {}), "page": page, "limit": size})
            if isinstance(data, list):
                yield from data
                return
            if not isinstance(data, dict) or not isinstance(data.get("results"), list):
                # A plain object is one item (§1); anything else is not a listing.
                if isinstance(data, dict) and data:
                    yield data
                return
            results: list[dict[str, Any]] = data["results"]
            if not _last_page(data, results, size, seen + len(results)):
                next_ref = data.get("next")
                stuck = guard.check(page, results, next_ref, _page_number(next_ref))
                if stuck:
                    raise OmnitronPagingError(
                        f"Omnitron's listing GET {self._api_path(path)} does not advance: "
                        f"{stuck}; stopped after {page} pages."
                    )
            yield from results
            seen += len(results)
            if _last_page(data, results, size, seen):
                return
        raise OmnitronPagingError(
            f"GET {path} still had more results after {limit} pages of {size}; "
            "stopped instead of paging on (raise max_pages if the listing is that long)."
        )

    def _api_path(self, path: str) -> str:
        """The path as it goes on the wire (``/api/v1/…``), for messages."""
        return httpx.URL(self.settings.api_url).join(path).path

    def iter_models(
        self, model: type[M], path: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Iterator[M]:
        """:meth:`iter_pages`, each result parsed into ``model``."""
        for item in self.iter_pages(path, params, **kwargs):
            yield self.parse(model, item, f"GET {path}")

    def first_page(
        self, model: type[M], path: str, params: Mapping[str, Any] | None = None, *, limit: int
    ) -> list[M]:
        """The first page only (at most ``limit`` results), parsed into ``model``."""
        data = self.call("GET", path, params={**(params or {}), "limit": limit})
        items = data.get("results", []) if isinstance(data, dict) else data
        if isinstance(data, dict) and "results" not in data:
            items = [data] if data else []
        return [self.parse(model, item, f"GET {path}") for item in items]

    # -- writes that must not be repeated blindly ----------------------------------------

    def write_checked(self, send: Callable[[], T], landed: Callable[[], T | None], what: str) -> T:
        """Run a non-idempotent write; when its outcome is unknown, look before retrying.

        If ``send`` fails in a way that may have reached Omnitron (a 5xx, a timeout
        after sending, a lost answer), ``landed`` is asked whether the write took
        effect; its result is returned if so, otherwise the write is sent again after a
        backoff — until the ``deadline`` for this write passes or the circuit breaker
        opens (:class:`OmnitronOutage`). Failures that surely did not land were already
        retried by :meth:`call` and are raised as they are.
        """
        started = time.monotonic()
        rounds = 0
        while True:
            try:
                return send()
            except OmnitronOutage:
                raise
            except OmnitronUnavailable as exc:
                if not exc.maybe_processed:
                    raise
                found = landed()
                if found is not None:
                    log.info("%s: outcome was unknown, it had landed; using it", what)
                    return found
                rounds += 1
                self._pause_before_retry(exc, rounds, started, f"{what} (it did not land)")

    def _pause_before_retry(
        self, exc: OmnitronUnavailable, rounds: int, started: float, what: str
    ) -> None:
        """Wait before trying a failed call again, or raise when it must not be.

        An open breaker ends the call as an outage; a call that keeps failing while
        other requests succeed gives up after the policy's ``deadline``.
        """
        if self.breaker.is_open:
            raise _outage(self.breaker.facts()) from exc
        wait = self.policy.backoff(rounds)
        elapsed = time.monotonic() - started
        if elapsed + wait >= self.policy.deadline:
            raise OmnitronUnavailable(
                f"{exc.message} Still failing after {elapsed:.0f} s of retries "
                f"(deadline {self.policy.deadline:g} s); this call gave up.",
                maybe_processed=exc.maybe_processed,
                exchange=exc.exchange,
                status_code=exc.status_code,
                body=exc.body,
            ) from exc
        log.info("%s failed (%s); trying again in %.2fs", what, exc, wait)
        self._sleep(wait)

    # -- error mapping -----------------------------------------------------------------

    def _decode(self, response: httpx.Response) -> Any:
        if not response.content.strip():
            return {}
        try:
            return response.json()
        except ValueError:
            raise OmnitronResponseInvalid(
                f"Omnitron answered {response.request.method} {_path(response.request)} "
                f"with HTTP {response.status_code} and a body that is not JSON.",
                exchange=RawExchange.from_httpx(response.request, response),
            ) from None

    def _unavailable(self, method: str, path: str, exc: httpx.TransportError) -> OmnitronError:
        """The typed error for a request that got no usable answer.

        The request in ``exc`` is the one that failed — the login, when a call had to
        log in first — so the message names its method and path, not the call's.
        Failures that another try would not mend (an unverifiable certificate, an
        answer too large or too slow) are not :class:`OmnitronUnavailable`, so
        nothing retries them.
        """
        request = _request_of(exc)
        final = final_failure_message("Omnitron", exc)
        if final is not None:
            exchange = RawExchange.from_httpx(exc.request, note=final)
            if isinstance(exc, ResponseTooLarge):
                # Like an unreadable answer: this record fails, the run goes on.
                return OmnitronResponseInvalid(final, exchange=exchange)
            return OmnitronError(final, exchange=exchange)
        attempts = request.extensions.get(ATTEMPTS_EXTENSION, 1) if request else 1
        kind = type(exc).__name__
        exchange = RawExchange.from_httpx(request, note=kind) if request is not None else None
        where = f"{request.method} {_path(request)}" if request is not None else f"{method} {path}"
        return OmnitronUnavailable(
            f"Omnitron did not answer {where}: {kind} after {attempts} "
            f"attempt(s) within the {self.policy.deadline:g}s deadline.",
            maybe_processed=not isinstance(exc, NOT_SENT_ERRORS),
            exchange=exchange,
        )

    def _error_for(self, response: httpx.Response) -> OmnitronError:
        request = response.request
        exchange = RawExchange.from_httpx(request, response)
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        body = redact_data(body)
        what = f"{request.method} {_path(request)}"
        detail = exchange.response[:_BODY_IN_MESSAGE]
        common: dict[str, Any] = {"exchange": exchange, "status_code": status, "body": body}
        if status == 401:
            return OmnitronAuthError(
                f"{what}: Omnitron refused our token even after logging in again (HTTP 401).",
                **common,
            )
        if status == 404:
            return OmnitronNotFound(f"{what}: not found (HTTP 404).", **common)
        if status == 400:
            digest = address_hash_from(body)
            if digest is not None:
                return AddressDuplicate(
                    f"{what}: the address already exists (hash {digest}).",
                    hash_data=digest,
                    **common,
                )
            return OmnitronBadRequest(f"{what}: Omnitron rejected the data: {detail}", **common)
        if status in (406, 409):
            code = _batch_code(body, exchange.response)
            if code is not None:
                reason = (
                    "another batch of this content type is being committed"
                    if code == BATCH_LOCK_CODE
                    else "this status change is not allowed from the batch's current status"
                )
                return BatchTransitionRefused(f"{what}: {reason} ({code}).", code=code, **common)
            return OmnitronConflict(f"{what}: refused (HTTP {status}): {detail}", **common)
        # Transient: the caller retries (call, write_checked) and says when it gave up.
        if status == 429:
            return OmnitronUnavailable(f"{what}: Omnitron is throttling us (HTTP 429).", **common)
        if status >= 500:
            return OmnitronUnavailable(
                f"{what}: Omnitron failed with HTTP {status}.", maybe_processed=True, **common
            )
        return OmnitronError(f"{what}: unexpected HTTP {status}: {detail}", **common)


def _outage(facts: OutageFacts) -> OmnitronOutage:
    return OmnitronOutage(
        failures=facts.failures, seconds=facts.seconds, last_error=facts.last_error
    )


def _page_number(next_ref: Any) -> int | None:
    """The ``page`` a DRF ``next`` link asks for, when it is a link with one."""
    if not isinstance(next_ref, str) or not next_ref:
        return None
    try:
        value = httpx.URL(next_ref).params.get("page")
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    return int(value) if value is not None and value.isdigit() else None


def _last_page(data: dict[str, Any], results: list[Any], size: int, seen: int) -> bool:
    if not results:
        return True
    if "next" in data:
        if not data["next"]:
            return True
    elif len(results) < size:
        # Without a ``next`` key a short page is the only sign of the end.
        return True
    count = data.get("count")
    return isinstance(count, int) and seen >= count


def _batch_code(body: Any, text: str) -> str | None:
    """The batch-transition error code in a 406 body, wherever it sits."""
    for code in (BATCH_LOCK_CODE, BATCH_TRANSITION_CODE):
        if code in text:
            return code
    if isinstance(body, dict):
        value = body.get("code") or body.get("error_code")
        if isinstance(value, str) and value.startswith("batch_request_status_"):
            return value
    return None


def _request_of(exc: httpx.TransportError) -> httpx.Request | None:
    try:
        return exc.request
    except RuntimeError:  # httpx raises this when no request was attached
        return None


def _path(request: httpx.Request) -> str:
    return request.url.path


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first.get("loc", ()))
    return f"{loc}: {first.get('msg', '')}"
