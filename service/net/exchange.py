"""A redacted, size-bounded record of one HTTP exchange, as error reports store it."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict, field_validator

from service.bounded_text import truncate_text
from service.net.redact import redact_body, redact_url


def _request_body(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:
        # A streamed upload cannot be replayed into a report; say so instead.
        return b"<streamed body>"


def _response_text(response: httpx.Response) -> str:
    try:
        return response.text
    except httpx.ResponseNotRead:
        return "<response body not read>"


class RawExchange(BaseModel):
    """The raw request and response of one call, with every credential masked.

    ``request`` follows the reference's format ``METHOD - URL - BODY``; ``response``
    is the response text; ``status_code`` is ``None`` when no response arrived
    (connection refused, timeout, dropped connection). Both texts are cut to 64 KB
    (``…[truncated N bytes]``), however the record is made: a server's 15 MB error
    page must not become 15 MB in every report that quotes it.
    """

    model_config = ConfigDict(frozen=True)

    request: str
    response: str = ""
    status_code: int | None = None

    @field_validator("request", "response")
    @classmethod
    def _bounded(cls, text: str) -> str:
        return truncate_text(text)

    @classmethod
    def from_httpx(
        cls, request: httpx.Request, response: httpx.Response | None = None, *, note: str = ""
    ) -> RawExchange:
        """Build the record from an httpx request and, when one arrived, its response.

        ``note`` stands in for the response text when there is no response
        (for example the transport error that ended the call). Redaction comes
        before truncation: a cut JSON body no longer parses, so it could not be masked.
        """
        body = redact_body(_request_body(request))
        line = f"{request.method} - {redact_url(request.url)} - {body}"
        if response is None:
            return cls(request=line, response=note, status_code=None)
        return cls(
            request=line,
            response=redact_body(_response_text(response)),
            status_code=response.status_code,
        )
