"""Wire formats Omnitron uses: ISO 8601 dates with zone, amounts as 2-decimal strings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from service.text_fold import fold_case

_CENT = Decimal("0.01")


def iso(moment: datetime) -> str:
    """``2026-11-27T10:30:00.123456Z``: always UTC, always microseconds (sortable as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_datetime(value: Any) -> datetime | None:
    """Parse the date formats clients send back (ISO with or without zone, or a space)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    # Naive values are taken as UTC, like Django does with USE_TZ and a UTC TIME_ZONE.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def money(value: Any) -> str | None:
    """An amount as a string with two decimals; ``None`` stays ``None``.

    Raises ``ValueError`` for anything that is not a number.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("A valid number is required.")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError("A valid number is required.") from exc
    if not amount.is_finite():
        raise ValueError("A valid number is required.")
    return str(amount.quantize(_CENT))


def turkish_fold(text: str) -> str:
    """Case-fold with Turkish dotted/dotless i treated as one letter (İ, I, ı, i → i).

    ``str.casefold`` maps ``İ`` to ``i̇`` and leaves ``ı`` alone, so it cannot be used;
    this is the service side's :func:`service.text_fold.fold_case`, shared.
    """
    return fold_case(text)
