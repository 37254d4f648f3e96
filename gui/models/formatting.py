"""Text shown in the tables and detail panes: times, ages, durations, raw payloads."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from service.time_text import format_span

_METHOD = re.compile(r"^[A-Z]{3,7}$")


def format_time(value: datetime | None) -> str:
    """A stored UTC time in the local time zone, to the second; ``""`` for none."""
    if value is None:
        return ""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_age(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``value`` was."""
    if value is None:
        return ""
    return format_span((now or datetime.now(UTC)) - value)


def format_duration(seconds: float | None) -> str:
    """A run's duration: ``850 ms``, ``12.3 s``, ``4 min 2 s``."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return format_span(timedelta(seconds=seconds))


def pretty_payload(text: str) -> str:
    """JSON indented when ``text`` parses as a JSON object or array, else ``text`` as is."""
    stripped = text.strip()
    # Only containers: a bare number or string "parses" but gains nothing from indenting.
    if not stripped or stripped[0] not in "[{":
        return text
    try:
        return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def pretty_request(text: str) -> str:
    """A raw request in the ``METHOD - URL - BODY`` form with its body pretty-printed.

    Text in any other form is pretty-printed as a whole payload.
    """
    parts = text.split(" - ", 2)
    if len(parts) == 3 and _METHOD.match(parts[0]):
        method, url, body = parts
        return f"{method} {url}\n\n{pretty_payload(body)}"
    if len(parts) == 2 and _METHOD.match(parts[0]):
        return f"{parts[0]} {parts[1]}"
    return pretty_payload(text)
