"""The marketplace adapter bounds what a server makes it do, against scripted answers.

The server side is httpx's MockTransport, so answers the simulator (being correct)
never gives can be played: a ``next_page`` that goes back, pages for ever, a refusal
whose reason is a megabyte long.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from service.channel.adapter import ChannelError
from service.channel.marketplace import MarketplaceAdapter, MarketplaceSettings

Page = Callable[[int, int], dict[str, Any]]


def _adapter(page: Page, **settings: Any) -> tuple[MarketplaceAdapter, list[int]]:
    pages: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        pages.append(number)
        return httpx.Response(200, json=page(number, int(request.url.params["size"])))

    adapter = MarketplaceAdapter(
        MarketplaceSettings(base_url="http://market.test/", api_key=SecretStr("k"), **settings),
        transport=httpx.MockTransport(handler),
    )
    return adapter, pages


def _orders(page: int, size: int) -> list[dict[str, Any]]:
    start = (page - 1) * size
    return [{"id": n, "order_number": f"N{n}"} for n in range(start, start + size)]


def test_the_default_page_cap_is_a_thousand_pages() -> None:
    assert MarketplaceSettings(base_url="http://m.test/", api_key=SecretStr("k")).max_pages == 1000


def test_a_listing_past_the_page_cap_ends_with_a_clear_error() -> None:
    adapter, pages = _adapter(
        lambda p, s: {"page": p, "next_page": p + 1, "items": _orders(p, s)},
        page_size=2,
        max_pages=3,
    )
    seen: list[str] = []
    with pytest.raises(ChannelError) as caught:
        seen.extend(fetched.remote_id for fetched in adapter.fetch_new_orders(None))
    assert str(caught.value) == (
        "The marketplace's listing GET /api/v1/orders still had more after 3 pages of 2; "
        "stopped here, and the next run goes on from here (raise max_pages to read more "
        "in one run)."
    )
    assert seen == ["0", "1", "2", "3", "4", "5"]
    assert pages == [1, 2, 3]


def test_a_next_page_that_goes_back_stops_the_listing() -> None:
    adapter, pages = _adapter(
        lambda p, s: {"page": p, "next_page": 1 if p == 3 else p + 1, "items": _orders(p, s)},
        page_size=2,
    )
    with pytest.raises(ChannelError, match="does not advance: page 3 names page 1 as the next"):
        list(adapter.fetch_new_orders(None))
    assert pages == [1, 2, 3]


def test_an_honest_listing_still_ends_on_its_last_page() -> None:
    adapter, pages = _adapter(
        lambda p, s: {"page": p, "next_page": p + 1 if p < 3 else None, "items": _orders(p, s)},
        page_size=2,
    )
    assert len(list(adapter.fetch_new_orders(None))) == 6
    assert pages == [1, 2, 3]


def test_a_refusal_with_a_huge_reason_is_still_one_short_line() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"detail": "x" * (1 << 20)})

    adapter = MarketplaceAdapter(
        MarketplaceSettings(base_url="http://market.test/", api_key=SecretStr("k")),
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(ChannelError) as caught:
        list(adapter.fetch_new_orders(None))
    message = str(caught.value)
    assert message.startswith("GET orders answered HTTP 400: xxx")
    assert message.endswith("x…")
    assert len(message) < 400
    assert caught.value.raw is not None
    assert len(caught.value.raw.response.encode()) <= 64 * 1024


def test_a_base_url_with_a_password_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not hold a user name or password"):
        MarketplaceSettings(base_url="https://ops:hunter2@market.test/", api_key=SecretStr("k"))
