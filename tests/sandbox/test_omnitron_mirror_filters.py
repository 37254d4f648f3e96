"""Omnitron simulator: the listings the mirror reads — paging, ``sort`` by id and by
modification date, and the inferred date and ``is_ok`` filters, which a simulator told
to ignore them (``inferred_filters=False``) ignores as django-filter would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import RunningOmnitron
from tests.sandbox.omnitron_api import OmnitronApi, new_batch, set_batch


@pytest.fixture
def make_api(start_omnitron: Callable[..., RunningOmnitron]) -> Callable[..., OmnitronApi]:
    made: list[OmnitronApi] = []

    def make(**config: Any) -> OmnitronApi:
        running = start_omnitron(**config)
        made.append(OmnitronApi(running.base_url))
        return made[-1]

    yield make  # type: ignore[misc]
    for api in made:
        api.close()


def _batches(api: OmnitronApi) -> list[dict[str, Any]]:
    """Three batches; the first is changed last, so dates and ids disagree in order."""
    batches = [new_batch(api) for _ in range(3)]
    set_batch(api, batches[0], "fail")
    return [api.get(api.ch(f"batch_requests/{b['pk']}/")) for b in batches]


def _pks(rows: list[dict[str, Any]]) -> list[int]:
    return [row["pk"] for row in rows]


def test_batch_requests_page_and_sort_by_id_and_modification_date(
    make_api: Callable[..., OmnitronApi],
) -> None:
    api = make_api()
    first, second, third = _batches(api)
    path = api.ch("batch_requests/")
    assert _pks(api.results(path, {"sort": "-id", "limit": 2})) == [third["pk"], second["pk"]]
    assert _pks(api.results(path, {"sort": "-id", "limit": 2, "page": 2})) == [first["pk"]]
    assert _pks(api.results(path, {"sort": "-modified_date"})) == [
        first["pk"],
        third["pk"],
        second["pk"],
    ]
    assert _pks(api.results(path, {"sort": "modified_date"}))[-1] == first["pk"]


def test_batch_requests_filter_by_modification_and_creation_date(
    make_api: Callable[..., OmnitronApi],
) -> None:
    api = make_api()
    first, second, third = _batches(api)
    path = api.ch("batch_requests/")
    since = third["modified_date"]
    assert sorted(_pks(api.results(path, {"modified_date__gte": since}))) == [
        first["pk"],
        third["pk"],
    ]
    assert _pks(api.results(path, {"modified_date__gt": since})) == [first["pk"]]
    assert _pks(api.results(path, {"created_date__lt": second["created_date"]})) == [first["pk"]]
    assert _pks(api.results(path, {"status": "fail", "modified_date__lte": since})) == []


def test_error_reports_carry_dates_and_filter_by_is_ok_and_date(
    make_api: Callable[..., OmnitronApi],
) -> None:
    api = make_api()
    path = api.ch("error_reports/")
    failed = api.post(path, {"error_code": "a-Channel-GetOrders_1", "error_desc": "x"})
    passed = api.post(path, {"error_code": "b-Channel-GetOrders_2", "is_ok": True})
    assert failed["created_date"] == failed["modified_date"]
    assert _pks(api.results(path, {"is_ok": "False"})) == [failed["pk"]]
    assert _pks(api.results(path, {"is_ok": "true"})) == [passed["pk"]]
    assert _pks(api.results(path, {"modified_date__gt": failed["modified_date"]})) == [passed["pk"]]
    assert _pks(api.results(path, {"sort": "-modified_date"})) == [passed["pk"], failed["pk"]]
    # error_code stays undeclared (docs/omnitron-api.md §9): the whole listing.
    assert len(api.results(path, {"error_code": "a-Channel-GetOrders_1"})) == 2


def test_a_simulator_told_to_ignore_inferred_filters_answers_every_row_in_id_order(
    make_api: Callable[..., OmnitronApi],
) -> None:
    api = make_api(inferred_filters=False)
    first, second, third = _batches(api)
    path = api.ch("batch_requests/")
    everything = [first["pk"], second["pk"], third["pk"]]
    assert _pks(api.results(path, {"modified_date__gt": third["modified_date"]})) == everything
    assert _pks(api.results(path, {"sort": "-modified_date"})) == everything
    assert _pks(api.results(path, {"sort": "-id"})) == everything[::-1]
    reports = api.ch("error_reports/")
    api.post(reports, {"error_code": "a", "error_desc": "x"})
    api.post(reports, {"error_code": "b", "is_ok": True})
    assert len(api.results(reports, {"is_ok": "False"})) == 2
