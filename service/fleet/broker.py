"""The Redis a ``workers`` profile's fleet shares: where it is, and a client for it.

The profiles file holds a broker URL without credentials (``Profile`` refuses one with
a user or password). A URL with a password comes from the environment variable
:func:`broker_env_var` names, which wins over the file, like the profile's other
secrets (``CHANNELDESK_<NAME>_OMNITRON_PASSWORD``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from service.config import Profile, ProfileError

if TYPE_CHECKING:
    # Imported when a client is made: the ``workers`` extra brings it.
    import redis

# Bounds on a Redis call, so a lease heartbeat or a run's start never hangs on an
# unreachable server; a run says so in one line instead.
CONNECT_TIMEOUT_S = 5.0
SOCKET_TIMEOUT_S = 10.0
_SCHEMES = ("redis://", "rediss://")


def broker_env_var(profile_name: str) -> str:
    """The environment variable of a profile's broker URL, e.g. ``CHANNELDESK_ACME_BROKER_URL``."""
    return f"CHANNELDESK_{re.sub(r'[^A-Z0-9]', '_', profile_name.upper())}_BROKER_URL"


def broker_url(profile: Profile, environ: Mapping[str, str] | None = None) -> str:
    """The Redis URL of ``profile``'s workers: the environment variable, else the file's.

    ``environ`` defaults to the process environment. Raises :class:`ProfileError`
    when neither gives one, or the variable holds something other than a redis URL.
    """
    env = os.environ if environ is None else environ
    name = broker_env_var(profile.name)
    value = env.get(name, "").strip()
    if value:
        if not value.startswith(_SCHEMES):
            raise ProfileError(f"{name} must be a redis:// or rediss:// URL")
        return value
    if profile.broker_url:
        return profile.broker_url
    raise ProfileError(
        f"profile {profile.name!r} has no broker URL: set broker_url in the profiles file or {name}"
    )


def redacted(url: str) -> str:
    """``url`` without its user and password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))


def redis_client(url: str) -> redis.Redis:
    """A client of the Redis at ``url``, answering ``str`` (``decode_responses``).

    It connects on first use. Calls give up after :data:`SOCKET_TIMEOUT_S` (connecting
    after :data:`CONNECT_TIMEOUT_S`) with a ``redis.ConnectionError`` or
    ``redis.TimeoutError``. Raises :class:`ProfileError` when the ``workers`` extra
    (redis) is not installed.
    """
    try:
        import redis
    except ImportError:
        raise ProfileError(
            "running on workers needs the workers extra: pip install 'channeldesk[workers]'"
        ) from None
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
        health_check_interval=30,
    )
