"""Fixtures for the Omnitron simulator's conformance tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import RunningOmnitron
from tests.sandbox.omnitron_api import OmnitronApi


@pytest.fixture
def api(omnitron: RunningOmnitron) -> Iterator[OmnitronApi]:
    """A client logged in to the default simulator as ``sandbox``."""
    client = OmnitronApi(
        omnitron.base_url,
        omnitron.config.username,
        omnitron.config.password,
        omnitron.config.channel_id,
    )
    yield client
    client.close()
