"""A misbehaving HTTP proxy for tests: it sits between a client and a simulator.

The simulators' own fault knobs fail requests *before* they are handled. What a real
network also does is lose the *answer* to a request the server did handle, drip a
body one byte at a time, or send far more than anyone asked for. :class:`HostileProxy`
does those things on purpose, per rule, to any request that matches::

    with HostileProxy(upstream=omnitron.base_url) as proxy:
        proxy.add(Rule(method="POST", path=r"/batch_requests/$", action="lose_answer"))
        client = make_client(base_url=proxy.url)

It speaks plain HTTP/1.1 with keep-alive on loopback and forwards everything else
unchanged. Rules are tried in the order they were added; the first one that matches
and still has budget (``times``) applies.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, Self

import httpx

Action = Literal["lose_answer", "drop", "status", "huge", "slow", "rewrite"]

# Headers that describe one hop, not the message: never copied across the proxy.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "upgrade",
        "proxy-connection",
        "te",
        "trailer",
        "host",
    }
)
_HUGE_CHUNK = 64 * 1024


class Rule:
    """What to do to the requests that match ``method`` and the ``path`` regex.

    ``times`` is how many matching requests the rule affects (``None``: all of them);
    ``skip`` lets that many matches through untouched first; ``rate`` applies the
    rule to that share of the remaining matches, drawn from the proxy's seeded
    random generator (so a run of faults can be repeated). ``options`` are the
    action's parameters: ``status``, ``body``, ``headers`` (status), ``size``
    (huge), ``chunk`` and ``interval`` (slow), ``fn`` (rewrite).
    """

    def __init__(
        self,
        *,
        action: Action,
        method: str | None = None,
        path: str = "",
        times: int | None = 1,
        skip: int = 0,
        rate: float = 1.0,
        **options: Any,
    ) -> None:
        self.action = action
        self.rate = rate
        self.method = method.upper() if method else None
        self.path = path
        self.times = times
        self.skip = skip
        self.options = options
        self.hits = 0
        self.bytes_sent = 0
        self._seen = 0

    def __repr__(self) -> str:
        return f"Rule({self.action!r}, {self.method or '*'} {self.path!r}, hits={self.hits})"

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is of the kind this rule is about (budget not considered)."""
        if self.method is not None and self.method != method:
            return False
        return re.search(self.path, path) is not None

    def claim(self, rng: random.Random) -> bool:
        """Count one matching request; ``True`` if the rule applies to it."""
        self._seen += 1
        if self._seen <= self.skip:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        if self.rate < 1.0 and rng.random() >= self.rate:
            return False
        self.hits += 1
        return True


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class HostileProxy:
    """An HTTP proxy on 127.0.0.1 that misbehaves by rule. Use as a context manager."""

    def __init__(self, upstream: str, *, seed: int = 0) -> None:
        self.upstream = upstream.rstrip("/")
        self._rng = random.Random(seed)
        self.requests: list[tuple[str, str]] = []
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        """Start listening on a free loopback port."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._http = httpx.AsyncClient(timeout=120)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        """Stop listening and close every connection."""
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Connections still being served (a slow answer dripping) end with the proxy.
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The proxy's base URL, to use instead of the upstream's."""
        return f"http://127.0.0.1:{self._port}"

    # -- rules -----------------------------------------------------------------------

    def add(self, rule: Rule) -> Rule:
        """Apply ``rule`` from now on; returns it (its ``hits`` count what it did)."""
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Behave from now on: forward everything unchanged."""
        with self._lock:
            self._rules.clear()

    def _rule_for(self, method: str, path: str) -> Rule | None:
        with self._lock:
            self.requests.append((method, path))
            for rule in self._rules:
                if rule.matches(method, path) and rule.claim(self._rng):
                    return rule
        return None

    # -- serving ---------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                keep_open = await self._answer(request, writer)
                if not keep_open:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            writer.transport.abort()
            self._connections.discard(task)

    async def _answer(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; ``False`` when the connection must end."""
        rule = self._rule_for(request.method, request.path)
        action = rule.action if rule is not None else None
        options = rule.options if rule is not None else {}
        if action == "drop":
            return False
        if action == "status":
            status = int(options.get("status", 503))
            body = _body_bytes(options.get("body", {"detail": f"proxy says {status}"}))
            await _write_response(writer, status, options.get("headers", {}).items(), body)
            return True
        if action == "huge":
            assert rule is not None
            await self._write_huge(writer, rule)
            return False
        status, headers, body = await self._forward(request)
        if action == "lose_answer":
            return False
        if action == "rewrite":
            body = _body_bytes(options["fn"](json.loads(body)))
        if action == "slow":
            assert rule is not None
            await self._write_slowly(writer, rule, status, headers, body)
            return True
        await _write_response(writer, status, headers, body)
        return request.header("connection") != "close"

    async def _forward(self, request: _Request) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self._http is not None
        headers = [(k, v) for k, v in request.headers if k.lower() not in _HOP_BY_HOP]
        response = await self._http.request(
            request.method, self.upstream + request.target, headers=headers, content=request.body
        )
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_BY_HOP]
        return response.status_code, kept, response.content

    async def _write_huge(self, writer: asyncio.StreamWriter, rule: Rule) -> None:
        size = int(rule.options.get("size", 100 * 1024 * 1024))
        status = int(rule.options.get("status", 200))
        await _write_head(writer, status, [("Content-Type", "application/json")], size)
        chunk = b"[" + b" " * (_HUGE_CHUNK - 1)
        left = size
        while left > 0:
            piece = chunk[: min(left, _HUGE_CHUNK)]
            # Counted when handed to the socket: the client may have it all before
            # drain() returns here.
            rule.bytes_sent += len(piece)
            writer.write(piece)
            await writer.drain()
            left -= len(piece)
            chunk = b" " * _HUGE_CHUNK

    async def _write_slowly(
        self,
        writer: asyncio.StreamWriter,
        rule: Rule,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        chunk = int(rule.options.get("chunk", 1))
        interval = float(rule.options.get("interval", 1.0))
        await _write_head(writer, status, headers, len(body))
        for start in range(0, len(body), chunk):
            await asyncio.sleep(interval)
            piece = body[start : start + chunk]
            rule.bytes_sent += len(piece)  # before the client can have it (see above)
            writer.write(piece)
            await writer.drain()


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = [
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    ]
    request = _Request(method.upper(), target, headers, b"")
    if (length := request.header("content-length")) is not None:
        request.body = await reader.readexactly(int(length))
    elif (request.header("transfer-encoding") or "").lower() == "chunked":
        request.body = await _read_chunked(reader)
    return request


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


def _body_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


async def _write_head(
    writer: asyncio.StreamWriter,
    status: int,
    headers: Any,
    length: int,
) -> None:
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
    lines = [f"HTTP/1.1 {status} {reason}"]
    names = set()
    for name, value in headers:
        lines.append(f"{name}: {value}")
        names.add(name.lower())
    if "content-type" not in names:
        lines.append("Content-Type: application/json")
    lines.append(f"Content-Length: {length}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    await writer.drain()


async def _write_response(
    writer: asyncio.StreamWriter, status: int, headers: Any, body: bytes
) -> None:
    await _write_head(writer, status, headers, len(body))
    writer.write(body)
    await writer.drain()
