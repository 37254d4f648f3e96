"""Query strings the way Omnitron's filters expect them (docs/omnitron-api.md §1).

- lists repeat the key: ``status=sent_to_remote&status=ongoing``;
- ``__in`` filters are one comma-joined value: ``pk__in=1,2,3``;
- booleans are capitalised: ``is_active=True``;
- ``None`` leaves the parameter out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

QueryParams = list[tuple[str, str]]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def encode_query(params: Mapping[str, Any] | None) -> QueryParams:
    """Turn filter values into ``(key, value)`` pairs ready for httpx."""
    pairs: QueryParams = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
            values = [_scalar(v) for v in value]
            if key.endswith("__in"):
                pairs.append((key, ",".join(values)))
            else:
                pairs.extend((key, v) for v in values)
        else:
            pairs.append((key, _scalar(value)))
    return pairs
