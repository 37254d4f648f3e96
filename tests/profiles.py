"""Profiles on simulators a test serves: their table in the profiles file, their secrets.

A test that starts ``main.py`` processes (or opens a profile by name) writes the
profiles with :func:`write_profiles` and hands the processes :func:`sim_secrets` in
their environment, as a real deployment would (no keyring).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from service.config import secret_env_var
from service.sandbox.marketplace import MarketplaceSimConfig
from service.sandbox.omnitron import OmnitronSimConfig


def sim_profile(
    omnitron_url: str,
    marketplace_url: str,
    *,
    omnitron: OmnitronSimConfig | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """The table of a profile on these simulators; ``settings`` are its own keys
    (``runner="workers"``, ``workers=4``, ``schedules={...}``)."""
    config = omnitron or OmnitronSimConfig()
    return {
        **settings,
        "omnitron": {
            "url": omnitron_url,
            "username": config.username,
            "channel_id": config.channel_id,
            "catalog_id": config.catalog_id,
        },
        "channel": {"settings": {"base_url": marketplace_url}},
    }


def sim_secrets(
    name: str,
    *,
    omnitron: OmnitronSimConfig | None = None,
    marketplace: MarketplaceSimConfig | None = None,
) -> dict[str, str]:
    """The environment variables that give profile ``name`` the simulators' secrets."""
    return {
        secret_env_var(name, "omnitron"): (omnitron or OmnitronSimConfig()).password,
        secret_env_var(name, "channel"): (marketplace or MarketplaceSimConfig()).api_key,
    }


def write_profiles(path: Path, profiles: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write ``profiles`` (name → table) as the profiles file at ``path``."""
    path.write_text(tomli_w.dumps({"profiles": dict(profiles)}), encoding="utf-8")
    return path
