"""Retry of parked feed records: only the chosen ones are taken up, and no feed is read."""

from __future__ import annotations

from service.store import ErrorQuery
from tests.flows.conftest import FlowEnv
from tests.flows.test_cancels import cancel_in_market, market_orders
from tests.flows.test_parking import early  # noqa: F401 (fixture)


def test_retry_takes_up_the_chosen_parked_records_and_reads_no_feed(
    early: FlowEnv,  # noqa: F811
) -> None:
    first, second = market_orders(early)[:2]
    cancel_in_market(early, first["id"], [], "CR-01")
    cancel_in_market(early, second["id"], [], "CR-01")
    early.service.fetch_and_create_cancel()
    early.service.fetch_and_create_order(is_success_log=False)
    # Cancelled on the channel after the cancels were fetched: only a run reads it.
    third = market_orders(early)[2]
    cancel_in_market(early, third["id"], [], "CR-01")
    chosen = next(
        r
        for r in early.store.search_error_reports(ErrorQuery(flow="fetch-cancels", is_ok=False))
        if r.subject == first["order_number"]
    )

    result = early.service.retry(report_ids=[chosen.id])

    assert result.flow.value == "fetch-cancels"
    assert (result.outcome, result.updated + result.skipped, result.failed) == (
        "completed",
        1,
        0,
    ), result
    assert early.store.get_error_report(chosen.id).resolved_at is not None
    assert [p.subject for p in early.store.parked("fetch-cancels")] == [second["order_number"]]
    reports = early.store.search_error_reports(ErrorQuery(flow="fetch-cancels"))
    assert third["order_number"] not in {r.subject for r in reports}  # the feed was not read
    assert len([r for r in reports if not r.is_ok]) == 2
    assert early.store.get_cursor("fetch-cancels") is not None
    # The next normal run applies the other parked cancel and reads the new one.
    after = early.service.fetch_and_create_cancel()
    assert after.updated + after.skipped == 2, after
    assert early.store.count_open_problems() == 0
