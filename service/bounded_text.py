"""Bounds for text we keep or post (raw exchanges, error reports), applied before either.

A server can answer with hundreds of megabytes, and a channel can send an order
number of any length. Reports keep the head of such text, which is where the
status line, the error and the first fields are, and say how much was cut:
``…[truncated N bytes]``. Sizes are UTF-8 bytes, what Omnitron and SQLite see; the
marker counts towards the limit, so bounding a bounded text changes nothing, and a
cut never splits a character.
"""

from __future__ import annotations

RAW_TEXT_LIMIT = 64 * 1024  # raw request or response text of one report
DESCRIPTION_LIMIT = 4 * 1024  # a report's human-readable description
SUBJECT_LIMIT = 128  # a report's subject (an order number is at most 128), also in its code

_ENCODE_CHUNK = 1 << 20  # characters measured at a time, so a huge text is never copied whole
# Decoded JSON may hold lone surrogates; count them as their 3 bytes instead of failing.
_ERRORS = "surrogatepass"


def truncation_marker(dropped: int) -> str:
    """The text that replaces ``dropped`` bytes cut from the end of a text."""
    return f"…[truncated {dropped} bytes]"


def truncate_text(text: str, limit: int = RAW_TEXT_LIMIT) -> str:
    """``text`` if it fits in ``limit`` UTF-8 bytes, else its head and the marker.

    The result, marker included, is at most ``limit`` bytes (for a ``limit`` of at
    least 40); the head is the longest that fits and ends on a whole character.
    """
    if limit < 0:
        raise ValueError("limit must not be negative")
    # A character is 1 to 4 bytes: short texts fit for sure, longer ones are measured.
    if len(text) * 4 <= limit:
        return text
    if len(text) <= limit and utf8_length(text) <= limit:
        return text
    total = utf8_length(text)
    # The marker for ``total`` is at least as long as the final one: reserve that.
    room = max(0, limit - len(truncation_marker(total).encode("utf-8")))
    kept = text[:room].encode("utf-8", _ERRORS)[:room].decode("utf-8", errors="ignore")
    return kept + truncation_marker(total - utf8_length(kept))


def utf8_length(text: str) -> int:
    """The size of ``text`` in UTF-8 bytes, measured without encoding it all at once."""
    return sum(
        len(text[start : start + _ENCODE_CHUNK].encode("utf-8", _ERRORS))
        for start in range(0, len(text), _ENCODE_CHUNK)
    )
