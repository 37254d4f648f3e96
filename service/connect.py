"""Everything a run needs, built from a :class:`~service.config.Profile`.

:func:`connect` is a context manager that yields a :class:`Connection`: the Omnitron
client, the channel adapter and the profile's local store, plus (for a sandbox
profile) the two simulators served in-process. Leaving the ``with`` block closes them
all, in reverse order.

Locations are passed in explicitly (:class:`Locations`); this module never reads the
environment, so the CLI and the GUI decide where data and configuration live.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from pydantic import SecretStr, ValidationError

from service.channel.adapter import ChannelAdapter
from service.channel.registry import AdapterLoadError, UnknownAdapterError, create_adapter
from service.config import APP_NAME, SANDBOX, Profile, ProfileError, Secrets, config_path
from service.omnitron.client import OmnitronClient
from service.omnitron.settings import OmnitronSettings
from service.sandbox.launcher import Sandbox, SandboxOptions
from service.store import Store
from service.store_errors import private_dir

if TYPE_CHECKING:
    # Imported lazily at run time: the facade pulls in every flow module.
    from service.flows.lease import LeaseBook
    from service.order_service import OrderService


ENV_DATA_DIR = "CHANNELDESK_DATA_DIR"
ENV_CONFIG = "CHANNELDESK_CONFIG"


def default_data_dir() -> Path:
    """The user data directory: stores and sandbox state live under it."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True, slots=True)
class Locations:
    """Where local data (stores, sandbox state) and the profiles file live."""

    data_dir: Path
    config_file: Path

    @classmethod
    def default(cls) -> Locations:
        """The platform's user data directory and ``profiles.toml`` in its config dir."""
        return cls(data_dir=default_data_dir(), config_file=config_path())

    @classmethod
    def resolve(
        cls,
        data_dir: Path | None,
        config_file: Path | None,
        environ: Mapping[str, str],
    ) -> Locations:
        """An explicit option, else its environment variable, else the platform default.

        The command line and the console both start here, so ``CHANNELDESK_DATA_DIR``
        and ``CHANNELDESK_CONFIG`` mean the same to both.
        """
        data_dir = data_dir or _env_path(environ, ENV_DATA_DIR)
        config_file = config_file or _env_path(environ, ENV_CONFIG)
        return cls(
            data_dir=(data_dir or default_data_dir()).expanduser(),
            config_file=(config_file or config_path()).expanduser(),
        )

    def sandbox_dir(self, profile: Profile) -> Path:
        """Simulator state of a sandbox profile; kept so runs see earlier runs' effects."""
        # The built-in profile gets the plain name; other sandbox profiles their own
        # directory, so each profile's store mirrors the simulator state it talked to.
        name = "sandbox" if profile.name == SANDBOX else f"sandbox-{profile.name}"
        return self.data_dir / name


@dataclass
class Connection:
    """The open clients and store of one profile.

    ``leases``: where its runs' leases are kept; ``None`` for the store's own rows. A
    ``workers`` profile's are in the fleet's Redis, shared by all its machines.
    """

    profile: Profile
    omnitron: OmnitronClient
    channel: ChannelAdapter
    store: Store
    sandbox: Sandbox | None = None
    leases: LeaseBook | None = None

    def order_service(self) -> OrderService:
        """An :class:`OrderService` over this connection, with the profile's workers
        and its lease book."""
        from service.order_service import OrderService

        return OrderService(
            self.omnitron,
            self.channel,
            self.store,
            profile=self.profile.name,
            workers=self.profile.workers,
            leases=self.leases,
        )


def open_store(profile: Profile, locations: Locations) -> Store:
    """The local store of ``profile`` (created on first use)."""
    return Store.for_profile(profile.name, data_dir=locations.data_dir)


@contextmanager
def connect(
    profile: Profile,
    locations: Locations,
    *,
    secrets: Secrets | None = None,
    sandbox_options: SandboxOptions | None = None,
    omnitron_overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[Connection]:
    """Open what a run of ``profile`` needs; close it all when the block ends.

    A sandbox profile starts both simulators on free loopback ports with their state
    in :meth:`Locations.sandbox_dir` (``sandbox_options`` replaces everything but
    that directory). Other profiles read their secrets from ``secrets`` (default: the
    environment, then the OS keyring). ``omnitron_overrides`` are extra
    :class:`OmnitronSettings` fields such as retry limits. A ``workers`` profile also
    gets a client of its Redis for the run leases (broker URL from ``environ``,
    default the process environment, then the profiles file); it connects on first use.

    Raises :class:`ProfileError` for anything wrong with the profile itself: a
    missing secret, an unknown channel adapter, invalid adapter settings; and
    :class:`~service.store_errors.StoreError` when the data directory or the store
    cannot be used. Nothing is sent to Omnitron or the channel here.
    """
    overrides = dict(omnitron_overrides or {})
    # First, so a --data-dir naming a file is reported as such before anything starts.
    private_dir(locations.data_dir)
    with ExitStack() as stack:
        sandbox: Sandbox | None = None
        if profile.sandbox:
            private_dir(locations.sandbox_dir(profile))
            options = sandbox_options or SandboxOptions()
            sandbox = Sandbox(replace(options, data_dir=locations.sandbox_dir(profile)))
            sandbox.start()
            stack.callback(sandbox.stop)
            omnitron_settings = _sandbox_omnitron_settings(sandbox, overrides)
            channel_settings = {
                **profile.channel.settings,
                "base_url": sandbox.channel_url,
                "api_key": sandbox.marketplace.config.api_key,
            }
        else:
            secrets = secrets or Secrets()
            assert profile.omnitron is not None  # the model guarantees it unless sandbox
            password = secrets.omnitron_password(profile)
            try:
                omnitron_settings = profile.omnitron.settings(password, **overrides)
            except ValidationError as exc:
                raise ProfileError(
                    f"profile {profile.name!r}: Omnitron settings: {_one_line(exc)}"
                ) from None
            channel_settings = {
                **profile.channel.settings,
                "api_key": secrets.channel_api_key(profile).get_secret_value(),
            }
        channel = _adapter(profile, channel_settings)
        stack.callback(channel.close)
        omnitron = stack.enter_context(OmnitronClient(omnitron_settings))
        store = stack.enter_context(open_store(profile, locations))
        leases = _fleet_leases(profile, environ, stack) if profile.runner == "workers" else None
        yield Connection(profile, omnitron, channel, store, sandbox, leases)


def _fleet_leases(
    profile: Profile, environ: Mapping[str, str] | None, stack: ExitStack
) -> LeaseBook:
    """The lease book of a ``workers`` profile in its Redis, closed with ``stack``."""
    from service.fleet.broker import broker_url, redis_client

    client = redis_client(broker_url(profile, environ))
    stack.callback(client.close)
    # After redis_client: it says in one line when the workers extra is missing.
    from service.fleet.redis_leases import RedisLeaseBook

    return RedisLeaseBook(client, profile.name)


def _sandbox_omnitron_settings(sandbox: Sandbox, overrides: dict[str, Any]) -> OmnitronSettings:
    config = sandbox.omnitron.config
    return OmnitronSettings(
        base_url=sandbox.omnitron_url,
        username=config.username,
        password=SecretStr(config.password),
        channel_id=config.channel_id,
        catalog_id=config.catalog_id,
        **overrides,
    )


def _adapter(profile: Profile, settings: dict[str, Any]) -> ChannelAdapter:
    name = profile.channel.adapter
    try:
        return create_adapter(name, settings)
    except (UnknownAdapterError, AdapterLoadError) as exc:
        raise ProfileError(f"profile {profile.name!r}: {exc}") from None
    except ValidationError as exc:
        raise ProfileError(
            f"profile {profile.name!r}: channel settings for adapter {name!r}: {_one_line(exc)}"
        ) from None


def _one_line(exc: ValidationError) -> str:
    """A pydantic error as one line; input values are left out (they may be secrets)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or '(settings)'}: {err['msg']}"
        for err in exc.errors()
    )


def _env_path(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name, "").strip()
    return Path(value) if value else None
