"""Paging termination (docs/omnitron-api.md §6.14) against scripted answers.

The server side is httpx's MockTransport, so a misbehaving listing (no ``next`` key,
endless pages) can be played that the simulator, being correct, never produces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from service.omnitron import OmnitronClient, OmnitronPagingError, OmnitronSettings

Page = Callable[[int, int], dict[str, Any] | list[Any]]


def _client(page: Page, **overrides: Any) -> tuple[OmnitronClient, list[int]]:
    pages: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/login/"):
            return httpx.Response(200, json={"key": "k"})
        number = int(request.url.params["page"])
        pages.append(number)
        return httpx.Response(200, json=page(number, int(request.url.params["limit"])))

    settings = OmnitronSettings(
        base_url="http://omnitron.test/",
        username="u",
        password=SecretStr("p"),
        channel_id=1,
        catalog_id=1,
        **overrides,
    )
    return OmnitronClient(settings, transport=httpx.MockTransport(handler)), pages


def _link(page: int) -> str:
    """A DRF ``next`` link to ``page``, as Omnitron writes them."""
    return f"http://omnitron.test/api/v1/things/?limit=10&page={page}"


def _rows(page: int, size: int, count: int) -> list[dict[str, int]]:
    start = (page - 1) * size
    return [{"pk": pk} for pk in range(start, min(start + size, count))]


def test_ends_on_next_null() -> None:
    client, pages = _client(
        lambda p, s: {
            "count": 25,
            "next": _link(p + 1) if p < 3 else None,
            "results": _rows(p, s, 25),
        },
        page_size=10,
    )
    assert len(list(client.iter_pages("things/"))) == 25
    assert pages == [1, 2, 3]


def test_ends_on_a_short_page_when_next_is_missing() -> None:
    client, pages = _client(lambda p, s: {"results": _rows(p, s, 25)}, page_size=10)
    assert [row["pk"] for row in client.iter_pages("things/")] == list(range(25))
    assert pages == [1, 2, 3]


def test_ends_on_a_bare_list_and_on_an_empty_page() -> None:
    client, pages = _client(lambda p, s: [{"pk": 1}, {"pk": 2}])
    assert len(list(client.iter_pages("things/"))) == 2
    assert pages == [1]
    client, pages = _client(lambda p, s: {"next": "more", "results": []})
    assert list(client.iter_pages("things/")) == []
    assert pages == [1]


def test_endless_listing_is_cut_at_the_page_limit() -> None:
    client, pages = _client(
        lambda p, s: {"next": _link(p + 1), "results": [{"pk": p}] * s}, page_size=5, max_pages=4
    )
    with pytest.raises(OmnitronPagingError, match="after 4 pages"):
        list(client.iter_pages("things/"))
    assert pages == [1, 2, 3, 4]


def test_pages_are_streamed_not_collected() -> None:
    client, pages = _client(
        lambda p, s: {"next": _link(p + 1), "results": _rows(p, s, 10_000)}, page_size=10
    )
    stream = client.iter_pages("things/")
    first = [next(stream) for _ in range(15)]
    assert first[-1] == {"pk": 14}
    assert pages == [1, 2]


def test_a_next_link_that_stays_put_stops_at_the_second_page() -> None:
    client, pages = _client(
        lambda p, s: {"count": 10**6, "next": _link(2), "results": _rows(p, s, 10**6)},
        page_size=10,
    )
    with pytest.raises(OmnitronPagingError) as caught:
        list(client.iter_pages("things/"))
    assert str(caught.value) == (
        "Omnitron's listing GET /api/v1/things/ does not advance: page 2 names page 2 as "
        "the next one; stopped after 2 pages."
    )
    assert pages == [1, 2]


def test_a_page_served_again_stops_the_listing_before_its_records_repeat() -> None:
    # The server ignores ``page`` and serves its first page with ever-new next links.
    client, pages = _client(
        lambda p, s: {"next": _link(p + 1), "results": _rows(1, s, 100)}, page_size=10
    )
    seen = []
    with pytest.raises(OmnitronPagingError, match="does not advance: page 2 repeats page 1;"):
        seen.extend(row["pk"] for row in client.iter_pages("things/"))
    assert seen == list(range(10))
    assert pages == [1, 2]


def test_the_same_next_link_twice_stops_the_listing() -> None:
    client, pages = _client(
        lambda p, s: {"next": "http://omnitron.test/more", "results": _rows(p, s, 100)},
        page_size=10,
    )
    with pytest.raises(OmnitronPagingError, match=r"pages 1 and 2 name the same next page \("):
        list(client.iter_pages("things/"))
    assert pages == [1, 2]
