"""The Redis the fleet tests use is a real server: it answers, and stops with its test."""

from __future__ import annotations

import pytest
import redis

from tests.fleet.redis_server import RedisServer


def test_a_real_redis_answers_and_is_gone_after_stop(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("channeldesk:probe", "1")
    assert client.get("channeldesk:probe") == b"1"
    # kombu's restore of a dead worker's messages uses ZRANGE ... BYSCORE REV (Redis 6.2).
    client.zadd("z", {"a": 1, "b": 2})
    assert client.zrange("z", 3, 0, byscore=True, desc=True) == [b"b", b"a"]
    client.close()

    port = redis_server.port
    redis_server.stop()
    gone = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    with pytest.raises(redis.ConnectionError):
        gone.ping()
    gone.close()
