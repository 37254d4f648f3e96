"""Causes and resolution in the feed flows: records parked because their order is not in
Omnitron are one problem per order, and resolve once the order arrived and they applied."""

from __future__ import annotations

from service.store import ErrorQuery
from tests.flows.conftest import FlowEnv
from tests.flows.test_cancels import cancel_in_market, market_orders
from tests.flows.test_item_updates import update_line
from tests.flows.test_parking import early  # noqa: F401 (fixture)


def test_parked_line_updates_are_a_problem_until_their_order_arrives(
    early: FlowEnv,  # noqa: F811
) -> None:
    order = market_orders(early)[0]
    for line in order["lines"]:
        update_line(early, line["id"], status="Invoiced", invoice_number=f"INV{line['id']}")

    early.service.fetch_and_update_order_items()

    reports = early.store.search_error_reports(ErrorQuery(flow="fetch-item-updates", is_ok=False))
    assert len(reports) == len(order["lines"])
    assert {(r.cause, r.cause_value) for r in reports} == {
        ("order_not_in_omnitron", str(order["id"]))
    }
    (problem,) = early.store.open_problems(flow="fetch-item-updates")
    assert problem.count == len(order["lines"])
    assert sorted(problem.subjects) == sorted(r.subject for r in reports)

    early.service.fetch_and_create_order(is_success_log=False)
    # The orders' own successes resolve nothing of another flow.
    assert early.store.count_open_problems() == 1
    applied = early.service.fetch_and_update_order_items()

    assert applied.updated == len(order["lines"]), applied
    assert early.store.open_problems(flow="fetch-item-updates") == []
    resolved = early.store.search_error_reports(
        ErrorQuery(flow="fetch-item-updates", resolved=True)
    )
    assert {r.id for r in resolved} == {r.id for r in reports}


def test_a_parked_cancel_resolves_when_it_is_applied(early: FlowEnv) -> None:  # noqa: F811
    order = market_orders(early)[0]
    cancel_in_market(early, order["id"], [], "CR-01")

    early.service.fetch_and_create_cancel()

    (report,) = early.store.search_error_reports(ErrorQuery(flow="fetch-cancels", is_ok=False))
    assert report.cause == "order_not_in_omnitron"
    assert report.subject == order["order_number"]
    assert report.resolved_at is None

    early.service.fetch_and_create_order(is_success_log=False)
    early.service.fetch_and_create_cancel()

    assert early.store.get_error_report(report.id).resolved_at is not None
    assert early.store.count_open_problems() == 0
