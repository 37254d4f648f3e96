"""Noticing a paged listing that does not advance.

A page limit alone stops an endless listing only after thousands of pages. A broken
or hostile server gives itself away much sooner: it sends a page it sent before,
names the same next page twice, or names as next a page that is not further on.
:class:`PageGuard` watches for those three signs, for any client that pages.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from service.net.redact import redact_url


class PageGuard:
    """Remembers what the pages of one listing looked like, to spot a loop.

    Call :meth:`check` once per page, in order. It keeps a 16-byte digest per page
    and each ``next`` reference seen, so memory stays small on long listings.
    """

    def __init__(self) -> None:
        self._pages: dict[bytes, int] = {}
        self._nexts: dict[str, int] = {}

    def check(self, page: int, results: list[Any], next_ref: Any, next_page: int | None) -> str:
        """Why the listing does not advance after ``page``, or ``""`` when it does.

        ``results`` are the page's records, ``next_ref`` the server's own reference to
        the next page (a URL or a number; ``None`` when it gave none) and
        ``next_page`` the page number it names, when one can be read from it.
        """
        if results:
            digest = _digest(results)
            earlier = self._pages.get(digest)
            if earlier is not None:
                return f"page {page} repeats page {earlier}"
            self._pages[digest] = page
        if next_page is not None and next_page <= page:
            return f"page {page} names page {next_page} as the next one"
        if next_ref is not None:
            key = json.dumps(next_ref, sort_keys=True, default=str)
            earlier = self._nexts.get(key)
            if earlier is not None:
                return f"pages {earlier} and {page} name the same next page ({_short(next_ref)})"
            self._nexts[key] = page
        return ""


def _digest(results: list[Any]) -> bytes:
    text = json.dumps(results, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _short(value: Any, limit: int = 120) -> str:
    text = redact_url(value) if isinstance(value, str) and "://" in value else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
