"""Remove secrets from what we show people: headers, URLs and JSON (or form) bodies.

Used wherever a raw request is formatted for an error report, a log line or an
exception message. Redaction keeps the shape (the key stays, its value becomes
``***``) so a reader still sees *that* a credential was sent. httpx logs every
request's URL itself; :func:`install_log_redaction` masks those too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

MASK = "***"

# Compared case-insensitively, also with "-" read as "_" (``X-Api-Key`` → ``x_api_key``).
SECRET_HEADERS = frozenset(
    {"authorization", "proxy_authorization", "cookie", "set_cookie", "x_api_key", "api_key"}
)
SECRET_PARAMS = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "password", "secret", "signature"}
)
SECRET_FIELDS = frozenset(
    {
        "password",
        "key",
        "token",
        "api_key",
        "apikey",
        "authorization",
        "access_token",
        "refresh_token",
        "secret",
    }
)


def _norm(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return a copy of ``headers`` with credentials (Authorization, API keys...) masked."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name: (MASK if _norm(name) in SECRET_HEADERS else value) for name, value in items}


def redact_url(url: str | Any) -> str:
    """Return ``url`` as text with secret query parameters and userinfo masked.

    ``user:password@`` keeps the user (``user:***@``); a lone ``name@`` is masked
    whole, since a token is often sent that way.
    """
    parts = urlsplit(str(url))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if _norm(k) in SECRET_PARAMS else v) for k, v in pairs], safe=",*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_data(data: Any) -> Any:
    """Return a deep copy of decoded JSON with the values of secret keys masked."""
    if isinstance(data, Mapping):
        return {
            k: (MASK if isinstance(k, str) and _norm(k) in SECRET_FIELDS else redact_data(v))
            for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [redact_data(v) for v in data]
    return data


def redact_body(body: bytes | str | None) -> str:
    """Return a request or response body as text with secrets masked.

    JSON bodies are decoded, masked key by key and re-encoded compactly;
    ``application/x-www-form-urlencoded`` bodies are masked like query strings.
    Anything else is returned as text unchanged (it has no structure to mask by).
    """
    if body is None:
        return ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if not text.strip():
        return text
    try:
        decoded = json.loads(text)
    except ValueError:
        if "=" in text and " " not in text.strip():
            pairs = parse_qsl(text, keep_blank_values=True)
            if pairs:
                return urlencode(
                    [(k, MASK if _norm(k) in SECRET_FIELDS else v) for k, v in pairs], safe="*"
                )
        return text
    return json.dumps(redact_data(decoded), ensure_ascii=False)


class UrlRedactingFilter(logging.Filter):
    """Masks credentials in the URLs a log record carries as arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite URL arguments in place; never drops the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(arg) if _looks_like_url(arg) else arg for arg in record.args
            )
        return True


def _looks_like_url(value: object) -> bool:
    return isinstance(value, httpx.URL) or (isinstance(value, str) and "://" in value)


# httpx logs "HTTP Request: METHOD URL ..." at INFO with the URL as given, userinfo
# and query included; -vv shows those lines.
_HTTPX_LOGGER = "httpx"


def install_log_redaction() -> None:
    """Mask credentials in the URLs httpx logs (idempotent; called by every client)."""
    logger = logging.getLogger(_HTTPX_LOGGER)
    if not any(isinstance(existing, UrlRedactingFilter) for existing in logger.filters):
        logger.addFilter(UrlRedactingFilter())
