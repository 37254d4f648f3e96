"""Fixtures for the mirror: an Omnitron simulator, another deployment writing to it over
plain HTTP, and this profile's client and store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from service.mirror.sync import MirrorResult, sync_from_omnitron
from service.omnitron.client import OmnitronClient
from service.omnitron.settings import OmnitronSettings
from service.store import Store
from tests.conftest import RunningOmnitron
from tests.flows.conftest import make_env  # noqa: F401  (the flow environment fixture)
from tests.sandbox.omnitron_api import OmnitronApi


@dataclass
class MirrorEnv:
    """Omnitron, the other deployment's plain HTTP client, and this profile's side."""

    omnitron: RunningOmnitron
    other: OmnitronApi
    client: OmnitronClient
    store: Store

    def sync(self) -> MirrorResult:
        """One sync of this profile's store from Omnitron."""
        return sync_from_omnitron(self.client, self.store)

    def advance_clock(self, seconds: float) -> None:
        """Move the simulator's clock on (dates of what is written next)."""
        answer = self.omnitron.control.post("clock/advance", json={"seconds": seconds})
        answer.raise_for_status()


def client_of(
    omnitron: RunningOmnitron, transport: httpx.BaseTransport | None = None
) -> OmnitronClient:
    """This profile's Omnitron client on the simulator (through ``transport`` if given)."""
    settings = OmnitronSettings(
        base_url=omnitron.base_url,
        username=omnitron.config.username,
        password=SecretStr(omnitron.config.password),
        channel_id=omnitron.config.channel_id,
        catalog_id=omnitron.config.catalog_id,
    )
    return OmnitronClient(settings, transport=transport)


@pytest.fixture
def make_mirror(
    start_omnitron: Callable[..., RunningOmnitron], tmp_path: Path
) -> Iterator[Callable[..., MirrorEnv]]:
    """Factory: ``make_mirror(**simulator_config)``."""
    made: list[MirrorEnv] = []

    def make(**config: Any) -> MirrorEnv:
        omnitron = start_omnitron(**config)
        env = MirrorEnv(
            omnitron,
            OmnitronApi(omnitron.base_url),
            client_of(omnitron),
            Store(tmp_path / f"mirror-{len(made)}.sqlite3"),
        )
        made.append(env)
        return env

    yield make
    for env in made:
        env.other.close()
        env.client.close()
        env.store.close()


@pytest.fixture(params=[True, False], ids=["filters-declared", "filters-ignored"])
def mirror(request: pytest.FixtureRequest, make_mirror: Callable[..., MirrorEnv]) -> MirrorEnv:
    """A mirror on a simulator that declares the inferred filters, and on one that
    ignores them (as a server that does not declare them would)."""
    return make_mirror(inferred_filters=request.param)
