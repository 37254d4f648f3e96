"""Transport failures whose cause is known and final, and how to tell them in one line.

Retrying does not help when the server's certificate cannot be verified, when an
answer is larger than we agreed to read, or when a server drips its answer slower
than the request's timeout allows: the next try would end the same way, only later.
:class:`~service.net.retry.RetryTransport` raises these exceptions instead of
retrying, and :func:`final_failure_message` words them for the operator, the same
way for every client (``who`` names the server: ``"Omnitron"``, ``"the marketplace"``).

They subclass the httpx exceptions they refine, so code that catches
``httpx.TransportError`` keeps working and the failing request stays attached.
"""

from __future__ import annotations

import ssl

import httpx


class CertificateNotVerified(httpx.ConnectError):
    """The server's TLS certificate failed verification (self-signed, expired, wrong host).

    ``reason`` is OpenSSL's code and explanation, e.g.
    ``CERTIFICATE_VERIFY_FAILED: self-signed certificate``.
    """

    def __init__(self, reason: str, *, request: httpx.Request) -> None:
        super().__init__(f"certificate not verified: {reason}", request=request)
        self.reason = reason


class ResponseTooLarge(httpx.TransportError):
    """The answer's body is longer than ``limit`` bytes; reading stopped there."""

    def __init__(self, limit: int, *, request: httpx.Request) -> None:
        super().__init__(f"answer larger than {format_size(limit)}", request=request)
        self.limit = limit


class AnswerTooSlow(httpx.ReadTimeout):
    """The whole answer did not arrive within ``seconds`` of the try's start.

    httpx's read timeout bounds the wait for each chunk; a server that sends one byte
    now and then never trips it. This bounds the answer as a whole.
    """

    def __init__(self, seconds: float, *, request: httpx.Request) -> None:
        super().__init__(f"answer still arriving after {round(seconds, 1):g} s", request=request)
        self.seconds = seconds


# Raised by the transport as they are: never retried.
FINAL_ERRORS = (CertificateNotVerified, ResponseTooLarge, AnswerTooSlow)


def certificate_failure(exc: BaseException) -> str | None:
    """The verification failure behind ``exc`` (``CODE: explanation``), if it is one.

    httpx wraps httpcore's error, which wraps the :class:`ssl.SSLCertVerificationError`;
    the chain is walked rather than assumed.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            code = current.reason or "CERTIFICATE_VERIFY_FAILED"
            detail = current.verify_message or str(current)
            return f"{code}: {detail}"
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def final_failure_message(who: str, exc: BaseException) -> str | None:
    """One line for a failure of :data:`FINAL_ERRORS`; ``None`` for any other failure.

    ``who`` names the server whose answer it was (``"Omnitron"``, ``"the marketplace"``).
    """
    if not isinstance(exc, FINAL_ERRORS):
        return None
    request = exc.request
    if isinstance(exc, CertificateNotVerified):
        text = (
            f"{who}'s certificate could not be verified for {_origin(request.url)} "
            f"({exc.reason}); check the URL or the server's certificate."
        )
    elif isinstance(exc, ResponseTooLarge):
        text = (
            f"{who}'s answer to {request.method} {request.url.path} was larger than "
            f"{format_size(exc.limit)}; stopped reading."
        )
    else:
        text = (
            f"{who}'s answer to {request.method} {request.url.path} was still arriving "
            f"after {round(exc.seconds, 1):g} s; stopped reading."
        )
    return text[0].upper() + text[1:]


def _origin(url: httpx.URL) -> str:
    """``scheme://host[:port]``: where the server is, without credentials or path."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{host}{port}"


def format_size(size: int) -> str:
    """A byte count for people: ``20 MB``, ``512 KB``, ``300 bytes`` (binary units)."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"
