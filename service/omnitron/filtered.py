"""Filtered listings, checked row by row (docs/omnitron-api.md §9, warning 1).

Omnitron's list filters are django-filter filter sets: a query parameter a set does
not declare is ignored, and the answer is the unfiltered listing with HTTP 200. So no
lookup adopts a row without comparing the filtered key itself:

- on a filter Omnitron is relied on to declare, a row the filter excludes means the
  server ignored it: :func:`checked` raises :class:`OmnitronFilterIgnored` — loud,
  and nothing is adopted;
- on a filter nothing shows Omnitron declares, the lookup still asks with it (cheap
  where it is declared) and, when the answer shows it was ignored, looks among the
  newest rows of the listing instead (:func:`newest_match`, at most
  :data:`NEWEST_ROWS` rows): what it seeks there was written a moment ago.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from math import ceil
from typing import TYPE_CHECKING, TypeVar

from service.omnitron.errors import OmnitronResponseInvalid
from service.omnitron.models.base import OmnitronModel

if TYPE_CHECKING:
    from service.omnitron.session import OmnitronSession

log = logging.getLogger(__name__)

M = TypeVar("M", bound=OmnitronModel)

NEWEST_ROWS = 500  # rows a look-up past an ignored filter reads, newest first
SCAN_PAGE = 100  # rows per page of such a walk

_warned: set[str] = set()  # look-ups already logged as walking past an ignored filter


class OmnitronFilterIgnored(OmnitronResponseInvalid):
    """A filtered listing answered a row its filter excludes: Omnitron ignored the filter."""


def _pk(row: OmnitronModel) -> object:
    return getattr(row, "pk", None)


def checked(rows: Iterable[M], matches: Callable[[M], bool], what: str) -> Iterator[M]:
    """``rows``, each compared with what was asked; the first that differs raises.

    ``what`` names the look-up and its filters for the message.
    """
    for row in rows:
        if not matches(row):
            raise OmnitronFilterIgnored(
                f"{what}: Omnitron answered {type(row).__name__} {_pk(row)}, which the filter "
                "excludes — it does not declare that filter. Nothing was taken from the answer."
            )
        yield row


def ignored(rows: Iterable[M], matches: Callable[[M], bool]) -> bool:
    """Whether an answer holds a row its filter excludes (the filter was ignored)."""
    return any(not matches(row) for row in rows)


def newest_match(
    session: OmnitronSession,
    model: type[M],
    path: str,
    matches: Callable[[M], bool],
    *,
    what: str,
    rows: int = NEWEST_ROWS,
) -> M | None:
    """The first row of the listing at ``path`` that ``matches``, newest first.

    Reads at most ``rows`` rows (``sort=-id``, pages of :data:`SCAN_PAGE`). ``None``
    when none matches and the listing ended, or its newest ``rows`` rows were read.
    When the listing is longer and not in descending id order, the server ignores
    ``sort`` as well and its newest rows cannot be told: :class:`OmnitronFilterIgnored`.
    """
    if what not in _warned:  # once per look-up and process: a flow may do it per item
        _warned.add(what)
        log.warning(
            "%s: Omnitron ignores the filter; reading its newest %d rows instead", what, rows
        )
    pages = ceil(rows / SCAN_PAGE)
    listing = session.iter_models(
        model, path, {"sort": "-id"}, page_size=SCAN_PAGE, max_pages=pages + 1
    )
    seen = 0
    newest_first = True
    previous: object = None
    for row in islice(listing, rows):
        seen += 1
        pk = _pk(row)
        if not isinstance(pk, int) or (isinstance(previous, int) and pk >= previous):
            newest_first = False
        if matches(row):
            return row
        previous = pk
    if seen < rows or newest_first:
        return None
    raise OmnitronFilterIgnored(
        f"{what}: Omnitron ignores the filter and does not list newest first (sort=-id) "
        f"either, so whether the object is among its {seen}+ rows cannot be told."
    )
