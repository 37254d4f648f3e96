"""Token login for Omnitron as an :class:`httpx.Auth`.

``POST auth/login/`` with ``{"username", "password"}`` answers ``{"key": ...}``;
every later request carries ``Authorization: Token <key>``. A 401 means the token
went stale (expired, revoked, server restarted): log in once more and replay the
request once; a second 401 is the caller's problem.
"""

from __future__ import annotations

import threading
from collections.abc import Generator

import httpx
from pydantic import SecretStr

from service.net.exchange import RawExchange
from service.net.retry import BASE_TIMEOUT_EXTENSION, RETRY_ALWAYS, RETRY_EXTENSION
from service.omnitron.errors import OmnitronAuthError, OmnitronError, OmnitronUnavailable


class TokenAuth(httpx.Auth):
    """Logs in on first use, adds the token, re-logs in once on a 401.

    Thread-safe: one token is shared by all threads of a client; when several
    threads see the same stale token at once, only one of them logs in.
    """

    requires_response_body = True

    def __init__(self, login_url: str, username: str, password: SecretStr) -> None:
        self._login_url = login_url
        self._username = username
        self._password = password
        self._lock = threading.Lock()
        self._token: str | None = None
        self.logins = 0

    def __repr__(self) -> str:
        return f"TokenAuth(login_url={self._login_url!r}, username={self._username!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send ``request`` with a token; on a 401 refresh the token and replay once."""
        with self._lock:
            token = self._token
        if token is None:
            token = yield from self._login(request, stale=None)
        request.headers["Authorization"] = f"Token {token}"
        response = yield request
        if response.status_code != 401:
            return
        token = yield from self._login(request, stale=token)
        request.headers["Authorization"] = f"Token {token}"
        yield request

    def invalidate(self) -> None:
        """Forget the token; the next request logs in again."""
        with self._lock:
            self._token = None

    def _login(
        self, original: httpx.Request, stale: str | None
    ) -> Generator[httpx.Request, httpx.Response, str]:
        # The lock is held across the login round trip so concurrent threads that
        # all saw the stale token wait for one login instead of each doing their own.
        with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            login = httpx.Request(
                "POST",
                self._login_url,
                json={"username": self._username, "password": self._password.get_secret_value()},
                extensions={
                    # Logging in twice is harmless, so a login may always be retried.
                    RETRY_EXTENSION: RETRY_ALWAYS,
                    # Requests made here bypass the client's defaults: same timeouts.
                    "timeout": original.extensions.get(BASE_TIMEOUT_EXTENSION)
                    or original.extensions.get("timeout", {}),
                },
            )
            response = yield login
            self.logins += 1
            self._token = _token_from(login, response, self._username)
            return self._token


def _token_from(request: httpx.Request, response: httpx.Response, username: str) -> str:
    exchange = RawExchange.from_httpx(request, response)
    status = response.status_code
    if status in (400, 401, 403):
        raise OmnitronAuthError(
            f"Omnitron refused the login of user {username!r} (HTTP {status}); "
            "check the username and password of this profile.",
            exchange=exchange,
        )
    if status == 429 or status >= 500:
        raise OmnitronUnavailable(
            f"Omnitron could not log in user {username!r} right now (HTTP {status}).",
            exchange=exchange,
        )
    try:
        key = response.json()["key"]
    except (ValueError, KeyError, TypeError):
        key = None
    if status >= 300 or not isinstance(key, str) or not key:
        raise OmnitronError(
            f"Omnitron's login answer (HTTP {status}) carries no token.", exchange=exchange
        )
    return key
