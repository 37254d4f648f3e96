"""The mirror's listings rely on ``sort=-id`` and paging only; a server ignoring ``sort``
or the inferred date filter is read in a way that still finds every row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from service.flows.context import CancelToken
from service.mirror.sync import sync_from_omnitron
from service.omnitron.client import omnitron_time
from service.omnitron.filtered import OmnitronFilterIgnored
from tests.mirror.conftest import MirrorEnv, client_of
from tests.omnitron.test_client_filters import IgnoringFilters
from tests.sandbox.omnitron_api import new_batch


def _reports(env: MirrorEnv, count: int) -> list[dict[str, Any]]:
    path = env.other.ch("error_reports/")
    return [env.other.post(path, {"error_code": f"x-Channel-GetOrders_{n}"}) for n in range(count)]


@pytest.mark.parametrize("ignored", [(), ("sort",)], ids=["sorted", "sort-ignored"])
def test_rows_above_a_watermark_are_all_found_sorted_or_not(
    make_mirror: Any, ignored: tuple[str, ...]
) -> None:
    env: MirrorEnv = make_mirror()
    reports = _reports(env, 250)  # three pages of 100
    client = env.client
    if ignored:
        client = client_of(env.omnitron, transport=IgnoringFilters(*ignored))
    watermark = reports[40]["pk"]

    found = [r.pk for r in client.error_reports_above(watermark)]

    assert sorted(found) == [r["pk"] for r in reports if r["pk"] > watermark]
    if not ignored:
        assert found == sorted(found, reverse=True)  # newest first, read to the watermark
    assert [r.pk for r in client.error_reports_above(reports[-1]["pk"])] == []
    # A first sync takes the newest rows only while the listing is newest first.
    newest = [r.pk for r in client.error_reports_above(0, newest=10)]
    if ignored:
        assert len(newest) == len(reports)
    else:
        assert newest == [r["pk"] for r in reports[-10:]][::-1]
    if client is not env.client:
        client.close()


def test_a_listing_that_ignores_the_date_filter_says_so_at_the_first_older_row(
    make_mirror: Any,
) -> None:
    env: MirrorEnv = make_mirror(inferred_filters=False)
    new_batch(env.other)  # modified an hour before the date asked for
    env.advance_clock(3600)
    recent = new_batch(env.other)
    since = omnitron_time(recent["modified_date"])
    assert since is not None

    with pytest.raises(OmnitronFilterIgnored, match="modified_date__gte"):
        list(env.client.batch_requests_modified_since(since - timedelta(minutes=1)))

    declared: MirrorEnv = make_mirror()
    new_batch(declared.other)
    declared.advance_clock(3600)
    fresh = new_batch(declared.other)
    moment = omnitron_time(fresh["modified_date"])
    assert moment is not None
    rows = list(declared.client.batch_requests_modified_since(moment - timedelta(minutes=1)))
    assert [b.pk for b in rows] == [fresh["pk"]]


def test_a_cancelled_sync_keeps_what_it_stored_and_its_watermarks(make_mirror: Any) -> None:
    env: MirrorEnv = make_mirror()
    _reports(env, 5)
    new_batch(env.other)
    cancel = CancelToken()
    cancel.cancel()

    stopped = sync_from_omnitron(env.client, env.store, cancel=cancel)

    assert stopped.cancelled
    assert stopped.summary.endswith("(cancelled; the next sync goes on).")
    assert env.store.get_cursor("mirror:batch_requests") is None
    finished = env.sync()
    assert (finished.batches_new, finished.reports_new) == (1, 5)
    assert not finished.cancelled


class WritesWhilePaging(httpx.BaseTransport):
    """The network as it is: another deployment writes between two pages of a listing."""

    def __init__(self, write: Callable[[], None]) -> None:
        self._inner = httpx.HTTPTransport()
        self._write = write
        self.pages = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if request.method == "GET" and request.url.path.endswith("/error_reports/"):
            self.pages += 1
            if self.pages == 1:
                self._write()
        return response

    def close(self) -> None:
        self._inner.close()


def test_rows_written_while_paging_do_not_make_the_listing_look_unsorted(
    make_mirror: Any,
) -> None:
    env: MirrorEnv = make_mirror()
    reports = _reports(env, 450)
    watermark = reports[299]["pk"]
    transport = WritesWhilePaging(lambda: _reports(env, 2))
    client = client_of(env.omnitron, transport=transport)

    found = [r.pk for r in client.error_reports_above(watermark)]
    client.close()

    assert found == [r["pk"] for r in reports if r["pk"] > watermark][::-1]
    assert transport.pages == 2  # stopped at the watermark: not read to the end
