"""Spans of time as people read them, for the CLI and the console alike."""

from __future__ import annotations

from datetime import timedelta


def format_span(span: timedelta) -> str:
    """A span as its two largest units: ``3 d 4 h``, ``2 h 5 min``, ``45 s``."""
    seconds = max(0, int(span.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"
