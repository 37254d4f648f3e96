"""Reading an answer's body within a size limit and a wall-clock deadline.

An API answer is read whole before anyone looks at it (see
:class:`~service.net.retry.RetryTransport`). Read naively, a server decides how
much memory we spend and how long we wait: a 300 MB answer is 300 MB in memory,
and a body dripped one byte every few seconds never trips httpx's read timeout,
which bounds each chunk, not the answer. :func:`read_body` streams the body and
stops at whichever bound comes first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx

from service.net.failures import AnswerTooSlow, ResponseTooLarge

DEFAULT_MAX_RESPONSE_MB = 20
MEGABYTE = 1 << 20


class _DeadlineStream(httpx.SyncByteStream):
    """The raw body stream, cut off once ``deadline`` (a ``clock`` reading) has passed."""

    def __init__(
        self,
        inner: httpx.SyncByteStream,
        *,
        request: httpx.Request,
        deadline: float,
        seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self._inner = inner
        self._request = request
        self._deadline = deadline
        self._seconds = seconds
        self._clock = clock

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            # Checked per raw chunk: compressed bodies may decode to nothing for a while.
            if self._clock() > self._deadline:
                raise AnswerTooSlow(self._seconds, request=self._request)
            yield chunk

    def close(self) -> None:
        self._inner.close()


def read_body(
    response: httpx.Response,
    request: httpx.Request,
    *,
    max_bytes: int,
    deadline: float,
    seconds: float,
    clock: Callable[[], float],
) -> None:
    """Read ``response``'s body into it, or close it and raise.

    Raises :class:`ResponseTooLarge` as soon as the (decoded) body passes
    ``max_bytes`` — at once when ``Content-Length`` already says so — and
    :class:`AnswerTooSlow` when the body is still arriving at ``deadline`` (a
    ``clock`` reading; ``seconds`` is the budget it stands for, for the message).
    Nothing beyond the limit is kept in memory.
    """
    try:
        declared = int(response.headers.get("Content-Length", ""))
    except ValueError:
        declared = None
    # A HEAD answer declares the length of a body it does not send.
    if request.method != "HEAD" and declared is not None and declared > max_bytes:
        response.close()
        raise ResponseTooLarge(max_bytes, request=request)
    if not isinstance(response.stream, httpx.SyncByteStream):
        raise TypeError("read_body needs a synchronous response stream")
    response.stream = _DeadlineStream(
        response.stream, request=request, deadline=deadline, seconds=seconds, clock=clock
    )
    chunks: list[bytes] = []
    size = 0
    try:
        # Decoded bytes are counted: a small compressed answer can inflate without end.
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(max_bytes, request=request)
            chunks.append(chunk)
    except BaseException:
        response.close()
        raise
    # What Response.read() stores; set here because the body was read with bounds.
    response._content = b"".join(chunks)
