"""Retry: the failed items some error reports are about, again, as a run of their flow.

The items come back from what was kept when they failed: a parked order's record, or
the channel's order the report carries as its raw request (an order that failed before
any call, such as an unknown city); a line update, cancel or cancellation request from
its parked record. They go through the flow's own per-item path, on a batch request of
their own, so whatever goes through resolves its reports. Failures of the flows that
send Omnitron's changes to the channel are not items to bring back: the next run of
the flow sends what is still unsent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import suppress

from pydantic import ValidationError

from service.channel.models import ChannelOrder
from service.flows.fetch_orders import retry_orders
from service.flows.names import Flow
from service.flows.parking import retrying
from service.flows.registry import spec
from service.flows.run import FlowBody, FlowRun
from service.store import ParkedItem, Store, StoredErrorReport

# Reports one retry reads at most (a problem group of a store's worth of orders).
RETRY_LIMIT = 10_000

# Flows whose failed records wait parked; a retry runs the flow's own body on the chosen ones.
PARKED_FLOWS: frozenset[Flow] = frozenset(
    {Flow.FETCH_CANCELS, Flow.FETCH_ITEM_UPDATES, Flow.FETCH_CANCELLATION_REQUESTS}
)


class NothingToRetry(LookupError):
    """No open failure report matches what was asked to retry."""


def select_reports(
    store: Store,
    *,
    report_ids: Sequence[int] = (),
    cause: str | None = None,
    cause_value: str | None = None,
) -> list[StoredErrorReport]:
    """The open failure reports to retry: the given ids and/or one problem's reports.

    ``cause`` without ``cause_value`` takes every value of that cause. Reports of the
    same subject count once (the latest). Raises :class:`ValueError` when they belong
    to several flows, :class:`NothingToRetry` when none is open.
    """
    chosen: dict[tuple[str, str], StoredErrorReport] = {}
    for report_id in report_ids:
        report = store.get_error_report(report_id)
        if report.is_ok or report.resolved_at is not None:
            continue
        _keep(chosen, report)
    if cause is not None:
        for problem in store.open_problems():
            if problem.cause != cause:
                continue
            if cause_value is not None and problem.cause_value != cause_value:
                continue
            for report in store.problem_reports(
                problem.cause, problem.cause_value, flow=problem.flow, limit=RETRY_LIMIT
            ):
                _keep(chosen, report)
    if not chosen:
        raise NothingToRetry("no open failure matches: nothing to retry")
    flows = sorted({flow for flow, _ in chosen})
    if len(flows) > 1:
        raise ValueError(
            f"the reports belong to several flows ({', '.join(flows)}); retry one flow at a time"
        )
    return sorted(chosen.values(), key=lambda report: report.id)


def _keep(chosen: dict[tuple[str, str], StoredErrorReport], report: StoredErrorReport) -> None:
    if report.origin == "remote":
        return  # mirrored from another deployment: no payload here, not ours to retry
    key = (report.flow, report.subject)
    current = chosen.get(key)
    if current is None or current.id < report.id:
        chosen[key] = report


def retry_body(store: Store, reports: Sequence[StoredErrorReport]) -> tuple[Flow, FlowBody]:
    """The flow the reports belong to and the body that retries their items."""
    flow = Flow(reports[0].flow)
    if flow in PARKED_FLOWS:
        return flow, _parked_body(store, flow, reports)
    if flow is not Flow.FETCH_ORDERS:
        raise ValueError(
            f"{flow.value} failures are not items to retry: the next run of {flow.value} "
            f"sends what is still unsent (python main.py run {flow.value})"
        )
    parked = {item.subject: item for item in store.parked(flow.value)}

    def body(run: FlowRun) -> None:
        orders: list[ChannelOrder] = []
        for report in reports:
            order = _order_of(report, parked.get(report.subject))
            if order is None:
                run.ctx.event(
                    "retry.unreadable",
                    report.subject,
                    f"order {report.subject}: the channel's order was not kept with the "
                    "report; it comes again only if the channel lists it again.",
                )
                continue
            orders.append(order)
        retry_orders(run, orders)

    return flow, body


def _parked_body(store: Store, flow: Flow, reports: Sequence[StoredErrorReport]) -> FlowBody:
    """The flow's body limited to the parked records of these reports."""
    ids = {report.id for report in reports}
    subjects = {report.subject for report in reports}
    keys = {
        item.remote_id
        for item in store.parked(flow.value)
        if item.error_report_id in ids or item.subject in subjects
    }
    if not keys:
        raise NothingToRetry(
            f"nothing to retry: the {flow.value} records of these reports are not parked "
            "(they were applied, or failed for good)"
        )
    run_flow = spec(flow).body

    def body(run: FlowRun) -> None:
        with retrying(keys):
            run_flow(run)

    return body


def _order_of(report: StoredErrorReport, parked: ParkedItem | None) -> ChannelOrder | None:
    """The channel's order a report is about: its parked record, else its raw request."""
    candidates: list[object] = [parked.payload] if parked is not None else []
    with suppress(ValueError):  # a raw request that is a call, not the order's JSON
        candidates.append(json.loads(report.raw_request))
    for candidate in candidates:
        try:
            return ChannelOrder.model_validate(candidate)
        except ValidationError:
            continue
    return None
