"""``main.py mirror``: bring what other deployments wrote to Omnitron into a profile's store.

The batch requests and error reports another deployment (Akinon's channel app, or
ChannelDesk workers elsewhere) wrote for the profile's channel are kept in the local
store with origin ``remote`` (:func:`service.mirror.sync.sync_from_omnitron`), so
``main.py batches`` / ``errors`` and the console show them beside the profile's own.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from service.config import SANDBOX, Secrets, load_profile
from service.connect import Locations, connect
from service.mirror.sync import MirrorResult, sync_from_omnitron


def add_mirror(commands: Any, common: argparse.ArgumentParser, handler: Callable[..., int]) -> None:
    """``main.py mirror --profile NAME [--json]``."""
    mirror = commands.add_parser(
        "mirror",
        parents=[common],
        help="sync the batch requests and error reports other deployments wrote to Omnitron",
        description="Read the channel's batch requests and error reports written since the "
        "last sync (by Akinon's channel app or ChannelDesk workers elsewhere) into the "
        "profile's store, marked remote. The first sync takes the newest 1,000 of each; "
        "rows this store's runs wrote are recognised and left alone.",
    )
    mirror.add_argument(
        "--profile",
        default=SANDBOX,
        metavar="NAME",
        help=f"profile to sync (default: {SANDBOX}, the built-in simulators)",
    )
    mirror.add_argument("--json", action="store_true", help="print the counts as JSON")
    mirror.set_defaults(handler=handler)


def mirror_profile(name: str, locations: Locations, environ: Mapping[str, str]) -> MirrorResult:
    """Sync profile ``name``'s store from its Omnitron once.

    Raises :class:`~service.config.ProfileError` for an unusable profile and
    :class:`~service.omnitron.errors.OmnitronError` when Omnitron cannot be read.
    """
    profile = load_profile(name, path=locations.config_file)
    with connect(profile, locations, secrets=Secrets(env=environ)) as connection:
        return sync_from_omnitron(connection.omnitron, connection.store)
