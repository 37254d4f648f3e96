"""Work the channel sent before its order reached Omnitron is parked, never dropped.

Line updates, cancels and cancellation requests are fetched before fetch-orders has
brought their orders: each is parked with one report, retried by later runs of its
flow without a second report, and applied by the first run after the order arrived.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.flows.context import FlowEvent, RunContext
from service.store import ErrorQuery
from service.store_records import iso
from tests.flows.conftest import FlowEnv
from tests.flows.test_cancellation_requests import ask_to_cancel, line_item_pks, omnitron_request
from tests.flows.test_cancels import cancel_in_market, market_orders
from tests.flows.test_item_updates import line_items, update_line
from tests.sandbox.omnitron_api import OmnitronApi
from tests.test_cli import _env, cli

CANCELLED = {"50", "100"}


@pytest.fixture
def early(make_env: Callable[..., FlowEnv]) -> FlowEnv:
    """Eight good marketplace orders, none in Omnitron yet; no new ones arrive."""
    return make_env(orders=8, marketplace={"arrival_per_hour": 0})


@pytest.fixture
def api(early: FlowEnv) -> Any:
    cfg = early.omnitron.config
    client = OmnitronApi(early.omnitron.base_url, cfg.username, cfg.password, cfg.channel_id)
    yield client
    client.close()


def failures(env: FlowEnv, flow: str) -> list[Any]:
    return env.store.search_error_reports(ErrorQuery(flow=flow, is_ok=False))


def omnitron_failures(api: OmnitronApi) -> list[str]:
    # ``is_ok`` is not a filter Omnitron is known to declare: compared here.
    return [r["error_desc"] for r in api.all_pages(api.ch("error_reports/")) if not r["is_ok"]]


def test_line_updates_before_their_orders_are_applied_after_fetch_orders(
    early: FlowEnv, api: OmnitronApi
) -> None:
    lines = [line for order in market_orders(early) for line in order["lines"]]
    for n, line in enumerate(lines):
        update_line(
            early,
            line["id"],
            status="Invoiced",
            invoice_number=f"CDM2026{line['id']:09d}",
            invoice_date="2026-11-28T09:15:00Z",
        )
        if n % 2 == 0:  # a second update of the same line: its later state wins
            update_line(early, line["id"], status="Shipped", tracking_number=f"51{line['id']}")
    records = len(lines) + (len(lines) + 1) // 2

    first = early.service.fetch_and_update_order_items()

    assert (first.outcome, first.updated, first.failed) == ("completed", 0, records), first
    parked = early.store.parked("fetch-item-updates")
    assert sorted(p.remote_id for p in parked) == sorted(str(line["id"]) for line in lines)
    reports = failures(early, "fetch-item-updates")
    assert len(reports) == len(lines)  # one per line, however many updates it had
    assert {p.error_report_id for p in parked} == {r.id for r in reports}
    assert all("the order is not in Omnitron" in r.description for r in reports)

    # Still no orders: retried, still parked, the same reports touched, nothing new.
    second = early.service.fetch_and_update_order_items()

    assert (second.updated, second.failed, second.error_count) == (0, 0, 0), second
    assert [(r.id, r.attempts) for r in failures(early, "fetch-item-updates")] == [
        (r.id, r.attempts + 1) for r in reports
    ]
    assert early.store.count_parked("fetch-item-updates") == len(lines)

    created = early.service.fetch_and_create_order(is_success_log=False)
    assert created.created == 8, created

    third = early.service.fetch_and_update_order_items()

    assert (third.outcome, third.failed) == ("completed", 0), third
    assert third.updated == len(lines), third
    assert early.store.parked("fetch-item-updates") == []
    # Every unit of every line carries what the marketplace says the line is now.
    for line in [line for order in market_orders(early) for line in order["lines"]]:
        items = line_items(api, line["id"])
        assert len(items) == line["quantity"]
        for item in items:
            assert item["invoice_number"] == line["invoice_number"] != ""
            assert (item["tracking_number"] or "") == line["tracking_number"]
    assert len(failures(early, "fetch-item-updates")) == len(lines)
    assert len(omnitron_failures(api)) == len(lines)  # delivered once each


def test_cancels_before_their_orders_are_settled_after_fetch_orders(
    early: FlowEnv, api: OmnitronApi
) -> None:
    first_order, second_order = market_orders(early)[:2]
    cancel_in_market(early, first_order["id"], [first_order["lines"][0]["id"]], "CR-02")
    cancel_in_market(early, second_order["id"], [], "CR-01")

    first = early.service.fetch_and_create_cancel()

    assert (first.outcome, first.updated, first.failed) == ("completed", 0, 2), first
    assert len(early.store.parked("fetch-cancels")) == 2
    reports = failures(early, "fetch-cancels")
    assert sorted(r.subject for r in reports) == sorted(
        [first_order["order_number"], second_order["order_number"]]
    )

    early.service.fetch_and_create_order(is_success_log=False)
    second = early.service.fetch_and_create_cancel()

    # Both parked cancels were taken up again (applied, or found already applied).
    assert (second.outcome, second.failed) == ("completed", 0), second
    assert second.updated + second.skipped == 2, second
    assert early.store.parked("fetch-cancels") == []
    assert [r.id for r in failures(early, "fetch-cancels")] == [r.id for r in reports]
    for order in (first_order, second_order):
        for line in next(o for o in market_orders(early) if o["id"] == order["id"])["lines"]:
            if line["status"] == "Cancelled":
                assert {i["status"] for i in line_items(api, line["id"])} <= CANCELLED


def test_cancellation_requests_before_their_orders_are_created_once_after_fetch_orders(
    early: FlowEnv, api: OmnitronApi
) -> None:
    orders = market_orders(early)[:3]
    asked = [ask_to_cancel(early, order["id"]) for order in orders]

    first = early.service.fetch_and_create_cancellation_requests()

    assert (first.outcome, first.created, first.failed) == ("completed", 0, 3), first
    assert sorted(p.remote_id for p in early.store.parked("fetch-cancellation-requests")) == sorted(
        str(request["id"]) for request in asked
    )
    assert api.results(api.ch("cancellation_requests/"), {}) == []

    early.service.fetch_and_create_order(is_success_log=False)
    second = early.service.fetch_and_create_cancellation_requests()

    assert (second.outcome, second.created, second.failed) == ("completed", 3, 0), second
    assert early.store.parked("fetch-cancellation-requests") == []
    for request in asked:
        row = omnitron_request(api, request["id"])  # exactly one, or this raises
        assert row["order_item"] == line_item_pks(api, request["line_id"])[0]

    third = early.service.fetch_and_create_cancellation_requests()

    assert (third.created, third.failed) == (0, 0), third
    assert len(api.results(api.ch("cancellation_requests/"), {})) == 3
    assert len(failures(early, "fetch-cancellation-requests")) == 3


def test_a_stop_during_retries_keeps_the_rest_parked(early: FlowEnv) -> None:
    lines = [line for order in market_orders(early) for line in order["lines"]][:3]
    for line in lines:
        update_line(early, line["id"], status="Invoiced", invoice_number=f"INV{line['id']}")
    early.service.fetch_and_update_order_items()
    assert early.store.count_parked("fetch-item-updates") == 3
    early.service.fetch_and_create_order(is_success_log=False)

    ctx = RunContext()

    def stop_after_first(event: FlowEvent) -> None:
        if event.kind == "line_update.unparked":
            ctx.cancel.cancel()

    ctx.on_event = stop_after_first
    stopped = early.service.fetch_and_update_order_items(ctx=ctx)

    assert (stopped.outcome, stopped.updated) == ("cancelled", 1), stopped
    assert early.store.count_parked("fetch-item-updates") == 2

    rest = early.service.fetch_and_update_order_items()

    assert (rest.outcome, rest.updated, rest.failed) == ("completed", 2, 0), rest
    assert early.store.count_parked("fetch-item-updates") == 0


def test_cli_lists_parked_records_with_their_age(early: FlowEnv, tmp_path: Path) -> None:
    orders = market_orders(early)
    cancel_in_market(early, orders[0]["id"], [], "CR-01")
    line = orders[1]["lines"][0]
    update_line(early, line["id"], status="Invoiced", invoice_number="CDM2026000000001")
    early.service.fetch_and_create_cancel()
    early.service.fetch_and_update_order_items()
    # The profile's store as the command line finds it: <data dir>/profiles/sandbox.sqlite3.
    data = tmp_path / "data"
    (data / "profiles").mkdir(parents=True)
    with sqlite3.connect(data / "profiles" / "sandbox.sqlite3") as copy:
        early.store._db.conn.backup(copy)
        # Parked two days, three hours and a half ago: the listing shows "2 d 3 h".
        since = datetime.now(UTC) - timedelta(days=2, hours=3, minutes=30)
        copy.execute("UPDATE parked SET first_seen_at = ?", [iso(since)])
    env = _env(data)

    listed = cli("parked", "--json", env=env)

    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted((r["flow"], r["subject"]) for r in rows) == [
        ("fetch-cancels", orders[0]["order_number"]),
        ("fetch-item-updates", str(line["id"])),
    ]
    assert all(r["age_s"] >= (2 * 24 + 3.5) * 3600 and r["attempts"] == 1 for r in rows)
    assert all("not in Omnitron" in r["reason"] for r in rows)

    table = cli("parked", "--flow", "fetch-item-updates", env=env)

    assert table.returncode == 0, table.stderr
    header, *body = table.stdout.splitlines()
    assert header.split() == [
        "FLOW", "SUBJECT", "KEY", "AGE", "ATTEMPTS", "LAST", "TRIED", "REASON"
    ]  # fmt: skip
    (row,) = body
    assert row.split()[:7] == [
        "fetch-item-updates", str(line["id"]), str(line["id"]), "2", "d", "3", "h"
    ]  # fmt: skip
    assert "the order is not in Omnitron" in row
