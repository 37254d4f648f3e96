"""Run the reference channel app's ``OrderService().fetch_and_create_order()`` once.

Run by path with the reference's own interpreter (``make bench-reference`` builds
``.venv-reference``)::

    .venv-reference/bin/python tests/benchmarks/reference_driver.py \\
        --omnitron-url http://127.0.0.1:PORT/ --marketplace-url http://127.0.0.1:PORT/

``tests.benchmarks.versus_reference`` does that against fresh simulators. It imports
nothing of ChannelDesk. What it gives the reference, at the edges only:

- its settings, as the environment variables it reads; the channel integration is
  ``reference_channel`` (next to this file), which reads the marketplace simulator;
- its Omnitron URL pointed at the simulator after import (the reference builds it as
  ``https://{MAIN_APP_URL}/``);
- an in-memory stand-in for the Redis server it keeps its Omnitron token in
  (:class:`MemoryRedis`): the reference's HTTP requests are the same as with Redis.

``--no-success-log`` passes ``is_success_log=False`` (no success report per order).
Prints one JSON line: ``wall_s`` (the call alone, not the imports), or ``error``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from typing import Any, ClassVar

CHANNEL_ID = "1"
CATALOG_ID = "1"


class MemoryRedis:
    """The part of ``redis.Redis`` the reference uses (``get``, ``set`` with expiry), in memory.

    Values come back as bytes, as Redis returns them; one store per process, as one
    Redis server is shared by every client the reference makes.
    """

    _values: ClassVar[dict[str, tuple[bytes, float | None]]] = {}

    def get(self, name: str) -> bytes | None:
        """The value of ``name``, ``None`` if absent or expired."""
        entry = self._values.get(name)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and time.monotonic() >= expires:
            del self._values[name]
            return None
        return value

    def set(self, name: str, value: Any, ex: float | None = None) -> bool:
        """Store ``value`` (as Redis would: bytes of its text), expiring after ``ex`` seconds."""
        data = value if isinstance(value, bytes) else str(value).encode()
        self._values[name] = (data, None if ex is None else time.monotonic() + ex)
        return True


def configure(omnitron_url: str, marketplace_url: str, api_key: str) -> None:
    """Give the reference its settings, before any of it is imported."""
    os.environ.update(
        {
            "OMNITRON_MODULE": "channel_app.omnitron.integration",
            "CHANNEL_MODULE": "reference_channel",
            "OMNITRON_CHANNEL_ID": CHANNEL_ID,
            "OMNITRON_CATALOG_ID": CATALOG_ID,
            "OMNITRON_USERNAME": "sandbox",
            "OMNITRON_PASSWORD": "sandbox",
            # Replaced below: the reference puts https:// in front of it.
            "MAIN_APP_URL": "omnitron.invalid",
            "CACHE_HOST": "127.0.0.1",
            "CACHE_PORT": "6379",
            "CACHE_DATABASE_INDEX": "0",
            "BENCH_MARKETPLACE_URL": marketplace_url,
            "BENCH_MARKETPLACE_KEY": api_key,
        }
    )
    from channel_app.core import clients

    clients.RedisClient = MemoryRedis  # type: ignore[misc,assignment]
    from channel_app.core import settings

    settings.OMNITRON_URL = omnitron_url


def main(argv: list[str] | None = None) -> int:
    """Configure the reference, run fetch_and_create_order once, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--omnitron-url", required=True)
    parser.add_argument("--marketplace-url", required=True)
    parser.add_argument("--api-key", default="sandbox-key")
    parser.add_argument("--no-success-log", dest="success_log", action="store_false")
    args = parser.parse_args(argv)
    configure(args.omnitron_url, args.marketplace_url, args.api_key)
    from channel_app.app.order.service import OrderService

    started = time.perf_counter()
    try:
        OrderService().fetch_and_create_order(is_success_log=args.success_log)
    except Exception as exc:  # reported, with the time it ran, instead of a bare traceback
        traceback.print_exc()
        wall = time.perf_counter() - started
        print(json.dumps({"wall_s": round(wall, 2), "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps({"wall_s": round(time.perf_counter() - started, 2), "error": None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
