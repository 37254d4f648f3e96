"""Causes end to end: broken marketplace orders → reports with cause, value, subject;
problems group them; a fix (an alias) and a retry create the orders and resolve them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from service.flows.names import Flow
from service.flows.orders.lookups import OrderLookups
from service.flows.retry import NothingToRetry
from service.store import ErrorQuery, NewErrorReport, StoredErrorReport
from service.store_records import Alias
from tests.flows.conftest import FlowEnv

EXPECTED_CAUSE = {
    "unknown_city": ("unknown_city", "Istambul"),
    "unknown_cargo": ("unknown_cargo", "horoz"),
    "unmapped_sku": ("unmapped_sku", None),  # the SKU varies per order
    "missing_email": ("missing_email", ""),
    "malformed_amount": ("bad_amount", None),
    "duplicate_number": ("duplicate_number", None),  # the order's own number
}


@pytest.fixture
def broken(make_env: Callable[..., FlowEnv]) -> tuple[FlowEnv, list[dict[str, object]]]:
    """36 marketplace orders, a third broken (each broken kind twice), fetched once."""
    env = make_env(orders=36, broken_share=1 / 3)
    briefs = env.marketplace.control.get("orders", params={"broken": True}).json()
    env.service.fetch_and_create_order(is_success_log=False)
    return env, briefs["orders"]


def _latest_failure(env: FlowEnv, subject: str) -> StoredErrorReport:
    reports = env.store.search_error_reports(ErrorQuery(is_ok=False, text=None, limit=10_000))
    mine = [r for r in reports if r.subject == subject]
    assert mine, f"no failure report for {subject}"
    return max(mine, key=lambda r: r.id)


def test_each_broken_order_has_its_cause_value_and_subject(
    broken: tuple[FlowEnv, list[dict[str, object]]],
) -> None:
    env, briefs = broken
    assert {b["broken"] for b in briefs} == set(EXPECTED_CAUSE)
    for brief in briefs:
        report = _latest_failure(env, str(brief["number"]))
        cause, value = EXPECTED_CAUSE[str(brief["broken"])]
        assert report.cause == cause, (brief, report.description)
        assert report.subject == brief["number"]
        if value is not None:
            assert report.cause_value == value, report.description
        if cause == "unmapped_sku":
            assert report.cause_value
            assert report.cause_value in report.description
        if cause == "duplicate_number":
            assert report.cause_value == brief["number"]
        if cause == "bad_amount":
            assert report.cause_value
            assert report.cause_value in report.description


def test_raw_request_and_response_are_on_their_sides(
    broken: tuple[FlowEnv, list[dict[str, object]]],
) -> None:
    env, briefs = broken
    kinds = {str(b["broken"]): str(b["number"]) for b in briefs}
    # No call failed: the channel's order we were given is the request; no answer.
    for kind in ("unknown_city", "unknown_cargo", "unmapped_sku", "duplicate_number"):
        report = _latest_failure(env, kinds[kind])
        assert json.loads(report.raw_request)["number"] == kinds[kind], kind
        assert report.raw_response == "", kind
    # The channel's record could not be read: the listing call and the record it answered.
    for kind in ("missing_email", "malformed_amount"):
        report = _latest_failure(env, kinds[kind])
        assert report.raw_request.startswith("GET - "), kind
        assert json.loads(report.raw_response)["order_number"] == kinds[kind], kind


def test_problems_group_the_failures_and_retry_fixes_them(
    broken: tuple[FlowEnv, list[dict[str, object]]],
) -> None:
    env, briefs = broken
    city_orders = sorted(str(b["number"]) for b in briefs if b["broken"] == "unknown_city")
    cargo_orders = sorted(str(b["number"]) for b in briefs if b["broken"] == "unknown_cargo")
    problems = {(p.cause, p.cause_value): p for p in env.store.open_problems()}
    assert sorted(problems[("unknown_city", "Istambul")].subjects) == city_orders
    assert problems[("unknown_city", "Istambul")].count == len(city_orders) == 2
    assert sorted(problems[("unknown_cargo", "horoz")].subjects) == cargo_orders
    assert all(p.flow == Flow.FETCH_ORDERS.value for p in problems.values())

    # Retried before the fix: the orders fail again with the same cause, nothing resolves.
    again = env.service.retry(cause="unknown_city")
    assert again.created == 0
    assert ("unknown_city", "Istambul") in {
        (p.cause, p.cause_value) for p in env.store.open_problems()
    }

    # The fix: map the channel's spellings (what the mapping assistant saves).
    api = env.api()
    lookups = OrderLookups(api, None)
    country = lookups.country("tr")
    assert country is not None
    istanbul = api.find_city(country.pk, "İstanbul")
    assert istanbul is not None
    cargo = api.list_cargo_companies()[0]
    env.store.set_alias(
        Alias(kind="city", channel_value="Istambul", omnitron_pk=istanbul.pk, label="İstanbul")
    )
    env.store.set_alias(
        Alias(kind="cargo", channel_value="horoz", omnitron_pk=cargo.pk, label=cargo.name)
    )

    city_run = env.service.retry(cause="unknown_city", cause_value="Istambul")
    assert city_run.outcome == "completed"
    assert city_run.created == len(city_orders)
    cargo_ids = [r.id for r in env.store.problem_reports("unknown_cargo", "horoz")]
    cargo_run = env.service.retry(report_ids=cargo_ids)
    assert cargo_run.created == len(cargo_orders)

    for number in city_orders + cargo_orders:
        order = api.find_order_by_number(number)
        assert order is not None, number
        assert env.store.parked_keys(Flow.FETCH_ORDERS.value).isdisjoint({order.remote_id})
    open_now = {(p.cause, p.cause_value) for p in env.store.open_problems()}
    assert ("unknown_city", "Istambul") not in open_now
    assert ("unknown_cargo", "horoz") not in open_now
    resolved = env.store.search_error_reports(ErrorQuery(resolved=True, limit=1000))
    assert {r.subject for r in resolved} >= set(city_orders + cargo_orders)
    # Each retry was a recorded fetch-orders run with a batch request of its own.
    runs = env.store.list_runs(flow=Flow.FETCH_ORDERS.value)
    assert len(runs) == 4
    assert len({b.pk for b in city_run.batches} | {b.pk for b in cargo_run.batches}) == 2

    with pytest.raises(NothingToRetry):
        env.service.retry(cause="unknown_city")


def test_retry_refuses_reports_of_several_flows(
    broken: tuple[FlowEnv, list[dict[str, object]]],
) -> None:
    env, _ = broken
    other = env.store.add_error_report(
        NewErrorReport(
            code="x", flow="fetch-cancels", subject="1", cause="network", description="x"
        )
    )
    order_report = env.store.open_problems(flow="fetch-orders")[0]
    first = env.store.problem_reports(order_report.cause, order_report.cause_value)[0]
    with pytest.raises(ValueError, match="several flows"):
        env.service.retry(report_ids=[first.id, other])
