"""Where a workers profile's Redis is: the environment wins over the profiles file."""

from __future__ import annotations

import pytest

from service.config import OmnitronProfile, Profile, ProfileError
from service.fleet.broker import broker_env_var, broker_url, redacted, redis_client
from tests.fleet.redis_server import RedisServer

OMNITRON = OmnitronProfile(url="https://omnitron.example", username="u", channel_id=1, catalog_id=1)


def workers_profile(name: str = "acme.eu", url: str = "redis://redis.example:6379/4") -> Profile:
    return Profile(name=name, omnitron=OMNITRON, runner="workers", broker_url=url)


def test_the_environment_wins_over_the_file() -> None:
    profile = workers_profile()
    assert broker_env_var("acme.eu") == "CHANNELDESK_ACME_EU_BROKER_URL"
    secret = "redis://:s3cret@redis.example:6379/4"

    assert broker_url(profile, {}) == "redis://redis.example:6379/4"
    assert broker_url(profile, {"CHANNELDESK_ACME_EU_BROKER_URL": f" {secret} "}) == secret
    # Set but empty: the file's.
    assert broker_url(profile, {"CHANNELDESK_ACME_EU_BROKER_URL": ""}) == profile.broker_url


def test_no_url_or_a_wrong_one_is_one_profile_error() -> None:
    local = Profile(name="acme", omnitron=OMNITRON)
    with pytest.raises(ProfileError) as missing:
        broker_url(local, {})
    assert str(missing.value) == (
        "profile 'acme' has no broker URL: set broker_url in the profiles file or "
        "CHANNELDESK_ACME_BROKER_URL"
    )
    with pytest.raises(ProfileError, match=r"^CHANNELDESK_ACME_EU_BROKER_URL must be a redis"):
        broker_url(workers_profile(), {"CHANNELDESK_ACME_EU_BROKER_URL": "http://x"})


def test_redacted_urls_hold_no_password() -> None:
    assert redacted("redis://user:pw@h:6379/4") == "redis://h:6379/4"
    assert redacted("rediss://:pw@h/0") == "rediss://h/0"
    assert redacted("redis://h:1/0") == "redis://h:1/0"


def test_the_client_talks_to_a_real_redis_in_text(redis_server: RedisServer) -> None:
    client = redis_client(redis_server.url)
    try:
        client.set("cd:test", "é")
        assert client.get("cd:test") == "é"
    finally:
        client.close()
