"""Serve an ASGI app with uvicorn on a loopback port from a background thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

# Deliberately dropped connections (see faults.py) end a response early; uvicorn reports
# that as an error, which is noise for a simulator that does it on purpose.
_DROP_MESSAGES = ("ASGI callable returned without completing response.",)


class _IgnoreDeliberateDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in _DROP_MESSAGES


logging.getLogger("uvicorn.error").addFilter(_IgnoreDeliberateDrops())


class ServedApp:
    """An ASGI app served on ``host:port`` until :meth:`stop`.

    The socket is bound in the constructor, so :attr:`port` is known (also for
    ``port=0``, which picks a free one) before the server thread starts.
    """

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A restarted simulator must get its old port back while old connections linger.
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Without it, Nagle's algorithm and delayed ACKs add ~40 ms to every small answer.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The root URL with a trailing slash, e.g. ``http://127.0.0.1:8123/``."""
        return f"http://{self.host}:{self.port}/"

    def start(self, timeout: float = 15.0) -> ServedApp:
        """Start serving in a daemon thread and return once requests are accepted."""
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"uvicorn:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on port {self.port} did not start in {timeout}s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to shut down and wait for its thread."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()
        self._server = None
        self._thread = None

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
