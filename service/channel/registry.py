"""Channel adapters by name, through the ``channeldesk.adapters`` entry-point group.

A third party ships an adapter by declaring, in its own package metadata::

    [project.entry-points."channeldesk.adapters"]
    mychannel = "mypackage.adapter:MyChannelAdapter"

The class is constructed from a settings mapping: through its ``from_settings``
class method when it has one, else by validating the mapping with its
``settings_model`` and passing the result to the constructor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from service.channel.adapter import ChannelAdapter

GROUP = "channeldesk.adapters"


class UnknownAdapterError(LookupError):
    """No adapter is registered under the requested name."""

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = tuple(sorted(available))
        listed = ", ".join(self.available) or "none are installed"
        super().__init__(f"unknown channel adapter {name!r}; available: {listed}")


class AdapterLoadError(ImportError):
    """An adapter is registered but its entry point cannot be loaded."""


def _entry_points(group: str, provided: Iterable[EntryPoint] | None) -> dict[str, EntryPoint]:
    found = entry_points(group=group) if provided is None else provided
    return {ep.name: ep for ep in found}


def available_adapters(
    *, group: str = GROUP, eps: Iterable[EntryPoint] | None = None
) -> tuple[str, ...]:
    """Names of the registered adapters, sorted."""
    return tuple(sorted(_entry_points(group, eps)))


def adapter_class(
    name: str, *, group: str = GROUP, eps: Iterable[EntryPoint] | None = None
) -> type[Any]:
    """The adapter class registered as ``name``.

    ``eps`` replaces the installed entry points (for tests, or a program that
    registers adapters itself).
    """
    registered = _entry_points(group, eps)
    entry = registered.get(name)
    if entry is None:
        raise UnknownAdapterError(name, registered)
    try:
        return entry.load()
    except (ImportError, AttributeError) as exc:
        raise AdapterLoadError(
            f"channel adapter {name!r} ({entry.value}) cannot be loaded: {exc}"
        ) from exc


def create_adapter(
    name: str,
    settings: Mapping[str, Any],
    *,
    group: str = GROUP,
    eps: Iterable[EntryPoint] | None = None,
) -> ChannelAdapter:
    """Build the adapter registered as ``name`` from a settings mapping."""
    cls = adapter_class(name, group=group, eps=eps)
    factory = getattr(cls, "from_settings", None)
    if callable(factory):
        adapter = factory(settings)
    else:
        model = getattr(cls, "settings_model", None)
        adapter = cls(model.model_validate(dict(settings)) if model else dict(settings))
    if not isinstance(adapter, ChannelAdapter):
        raise TypeError(f"channel adapter {name!r} does not implement ChannelAdapter")
    return adapter
