"""The outbox is a queue: each report is delivered once, on its own, whatever the network does.

The reporter, a real Omnitron client and a real store file talk to the Omnitron
simulator through the hostile proxy; what Omnitron holds is read over its API.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

from service.bounded_text import RAW_TEXT_LIMIT, utf8_length
from service.flows.context import FlowEvent, RunContext
from service.flows.names import Flow
from service.flows.reporting import ErrorReporter
from service.omnitron.client import OmnitronClient
from service.omnitron.settings import OmnitronSettings
from service.store import NewErrorReport, Store
from tests.conftest import RunningOmnitron
from tests.hostile.proxy import HostileProxy, Rule
from tests.sandbox.omnitron_api import OmnitronApi

REPORTS = r"/error_reports/$"


@dataclass
class Outbox:
    """A profile's store and an Omnitron client that reaches the simulator via the proxy."""

    omnitron: RunningOmnitron
    proxy: HostileProxy
    client: OmnitronClient
    store: Store
    api: OmnitronApi
    events: list[FlowEvent] = field(default_factory=list)

    def reporter(self) -> ErrorReporter:
        """The reporter of a new run; the run before it is over (its reports are the outbox)."""
        for run in self.store.list_runs(limit=1):
            if run.is_running:
                self.store.finish_run(
                    run.id,
                    outcome="completed",
                    created=0,
                    updated=0,
                    skipped=0,
                    failed=0,
                    error_count=0,
                    message="",
                    duration_s=0.0,
                )
        run_id = self.store.start_run(Flow.FETCH_ORDERS.value, {}, "test")
        ctx = RunContext(on_event=self.events.append)
        return ErrorReporter(
            self.client,
            self.store,
            ctx,
            flow=Flow.FETCH_ORDERS,
            run_id=run_id,
            is_success_log=False,
        )

    def held(self) -> Counter[str]:
        """How many times Omnitron holds each error code."""
        rows = self.api.all_pages(self.api.ch("error_reports/"), {"limit": 1000})
        return Counter(row["error_code"] for row in rows)

    def codes(self) -> list[str]:
        """The codes of every report in the local store, oldest first."""
        rows = self.store._rows("SELECT code FROM error_reports ORDER BY id")
        return [row["code"] for row in rows]

    def kinds(self) -> list[str]:
        """The kinds of the events seen so far."""
        return [event.kind for event in self.events]


@pytest.fixture
def outbox(
    omnitron: RunningOmnitron,
    hostile_proxy: Callable[[str], HostileProxy],
    tmp_path: Path,
) -> Iterator[Outbox]:
    proxy = hostile_proxy(omnitron.base_url)
    cfg = omnitron.config
    client = OmnitronClient(
        OmnitronSettings(
            base_url=proxy.url,
            username=cfg.username,
            password=SecretStr(cfg.password),
            channel_id=cfg.channel_id,
            catalog_id=cfg.catalog_id,
            max_attempts=3,
            base_delay=0.01,
            max_delay=0.05,
            deadline=3,
        )
    )
    api = OmnitronApi(omnitron.base_url, cfg.username, cfg.password, cfg.channel_id)
    store = Store(tmp_path / "profile.sqlite3")
    yield Outbox(omnitron, proxy, client, store, api)
    store.close()
    api.close()
    client.close()


def _fail(reporter: ErrorReporter, n: int, **extra: object) -> int:
    return reporter.failure(
        command="CreateOrder", description=f"order {n} failed", subject=f"N{n}", **extra
    )


def test_a_lost_answer_is_looked_up_not_posted_again(outbox: Outbox) -> None:
    lose = outbox.proxy.add(Rule(method="POST", path=REPORTS, action="lose_answer", times=1))
    reporter = outbox.reporter()

    for n in range(3):
        _fail(reporter, n)

    assert lose.hits == 1
    assert outbox.held() == Counter(outbox.codes())
    assert set(outbox.held().values()) == {1}
    assert outbox.store.outbox_counts().waiting == 0


def test_a_post_cut_off_by_a_dying_process_is_found_by_the_next_run(outbox: Outbox) -> None:
    # The POST reached Omnitron, then the answer and every look-up failed: the run
    # gives up on the report as a process killed mid-POST would (sending_at set).
    lose = outbox.proxy.add(Rule(method="POST", path=REPORTS, action="lose_answer", times=1))
    down = outbox.proxy.add(
        Rule(method="GET", path=REPORTS, action="status", status=503, times=None)
    )
    first = outbox.reporter()
    ids = [_fail(first, n) for n in range(3)]

    assert lose.hits == 1
    assert down.hits >= 1
    cut_off = outbox.store.get_error_report(ids[0])
    assert cut_off.sending_at is not None
    assert not cut_off.delivered
    assert outbox.held() == Counter({cut_off.code: 1})  # it did land
    assert "report.undelivered" in outbox.kinds()

    outbox.proxy.clear()
    posts_before = outbox.proxy.requests.count(("POST", _reports_path(outbox)))
    delivered = outbox.reporter().deliver_outbox()

    assert delivered == 3
    assert outbox.held() == Counter(outbox.codes())
    assert set(outbox.held().values()) == {1}
    # The cut-off report was looked up and adopted; only the two others were posted.
    posts = outbox.proxy.requests.count(("POST", _reports_path(outbox))) - posts_before
    assert posts == 2


def test_a_server_without_the_lookup_gets_the_report_again_rather_than_never(
    outbox: Outbox,
) -> None:
    lose = outbox.proxy.add(Rule(method="POST", path=REPORTS, action="lose_answer", times=1))
    outbox.proxy.add(Rule(method="GET", path=REPORTS, action="status", status=400, times=None))
    reporter = outbox.reporter()
    first, second = _fail(reporter, 1), _fail(reporter, 2)

    assert lose.hits == 1
    # Omnitron could not say whether the first POST landed: posted again, never lost.
    for report_id in (first, second):
        report = outbox.store.get_error_report(report_id)
        assert report.delivered
        assert not report.dead
    code = outbox.store.get_error_report(first).code
    assert outbox.held()[code] == 2
    assert outbox.kinds().count("report.lookup_refused") == 1


def test_a_refused_report_is_dead_and_the_queue_goes_on(outbox: Outbox) -> None:
    outbox.proxy.add(Rule(method="POST", path=REPORTS, action="status", status=503, times=None))
    reporter = outbox.reporter()
    ids = [_fail(reporter, n) for n in range(4)]  # Omnitron down: all four wait
    assert outbox.store.outbox_counts().waiting == 4

    outbox.proxy.clear()
    refuse = outbox.proxy.add(
        Rule(
            method="POST",
            path=REPORTS,
            action="status",
            status=413,
            body={"detail": "Request entity too large"},
            skip=1,
            times=1,
        )
    )
    delivered = outbox.reporter().deliver_outbox()

    assert refuse.hits == 1
    assert delivered == 3
    dead = outbox.store.get_error_report(ids[1])
    assert dead.dead
    assert "413" in dead.delivery_error
    assert "Request entity too large" in dead.delivery_error
    assert "\n" not in dead.delivery_error
    assert outbox.held() == Counter({code: 1 for code in outbox.codes() if code != dead.code})
    counts = outbox.store.outbox_counts()
    assert (counts.waiting, counts.refused) == (0, 1)
    refused_events = [e for e in outbox.events if e.kind == "report.refused"]
    assert len(refused_events) == 1
    assert refused_events[0].level == logging.WARNING
    waiting = [e.message for e in outbox.events if e.kind == "report.waiting"]
    assert waiting[-1] == (
        "0 error report(s) wait in the outbox for Omnitron; 1 refused by Omnitron "
        "(python main.py errors --outbox lists them)."
    )

    # A dead report is not tried again.
    outbox.reporter().deliver_outbox()
    assert refuse.hits == 1
    assert outbox.store.get_error_report(ids[1]).dead


def test_5xx_for_a_while_reports_wait_then_arrive_exactly_once(outbox: Outbox) -> None:
    down = outbox.proxy.add(
        Rule(method="POST", path=REPORTS, action="status", status=503, times=None)
    )
    first = outbox.reporter()
    _fail(first, 0)
    tries = down.hits
    for n in range(1, 5):
        _fail(first, n)

    # One report met the outage (and its retries); the rest of the run did not try.
    assert tries >= 1
    assert down.hits == tries
    assert outbox.held() == Counter()
    assert outbox.store.outbox_counts().waiting == 5

    # Still down at the next run's start: the delivery stops, the run would go on.
    assert outbox.reporter().deliver_outbox() == 0
    assert outbox.store.outbox_counts().waiting == 5

    outbox.proxy.clear()
    third = outbox.reporter()
    assert third.deliver_outbox() == 5
    _fail(third, 99)
    assert outbox.held() == Counter(outbox.codes())
    assert set(outbox.held().values()) == {1}
    assert outbox.store.outbox_counts().waiting == 0


def test_a_stored_report_no_post_can_carry_is_dead_and_the_queue_goes_on(
    outbox: Outbox,
) -> None:
    broken = outbox.store.add_error_report(
        NewErrorReport(code="run0-FetchOrders-broken", omnitron_payload={"error_code": "x"})
    )
    outbox.proxy.add(Rule(method="POST", path=REPORTS, action="status", status=503, times=None))
    reporter = outbox.reporter()
    later = _fail(reporter, 1)
    outbox.proxy.clear()

    assert outbox.reporter().deliver_outbox() == 1

    dead = outbox.store.get_error_report(broken)
    assert dead.dead
    assert dead.delivery_error == "the stored report names no content type"
    assert outbox.store.get_error_report(later).delivered


def test_a_429_burst_is_waited_out(outbox: Outbox) -> None:
    burst = outbox.proxy.add(
        Rule(method="POST", path=REPORTS, action="status", status=429, times=2)
    )
    reporter = outbox.reporter()
    report_id = _fail(reporter, 1)

    assert burst.hits == 2
    assert outbox.store.get_error_report(report_id).delivered
    assert outbox.held() == Counter(outbox.codes())


def test_a_5mb_payload_is_stored_and_posted_truncated(outbox: Outbox) -> None:
    reporter = outbox.reporter()
    huge = "<order>" + "x" * (5 * 1024 * 1024) + "</order>"

    report_id = _fail(reporter, 1, raw_payload=huge)

    # The channel's record we were given is the report's raw request (no call failed).
    stored = outbox.store.get_error_report(report_id)
    cut = 5 * 1024 * 1024 + 15 - utf8_length(stored.raw_request.split("…[")[0])
    assert stored.raw_request.startswith("<order>xxx")
    assert stored.raw_request.endswith(f"…[truncated {cut} bytes]")
    assert utf8_length(stored.raw_request) <= RAW_TEXT_LIMIT
    assert utf8_length(stored.omnitron_payload["raw_request"]) <= RAW_TEXT_LIMIT
    (posted,) = outbox.api.results(outbox.api.ch("error_reports/"), {"error_code": stored.code})
    assert posted["raw_request"] == stored.raw_request


def test_a_long_description_is_bounded(outbox: Outbox) -> None:
    reporter = outbox.reporter()
    report_id = reporter.failure(command="CreateOrder", description="why " * 100_000, subject="N")

    stored = outbox.store.get_error_report(report_id)
    assert stored.description.startswith("why why")
    assert "…[truncated " in stored.description
    assert utf8_length(stored.description) <= 4 * 1024
    (posted,) = outbox.api.results(outbox.api.ch("error_reports/"), {"error_code": stored.code})
    assert posted["error_desc"] == stored.description


def test_reports_are_found_by_exact_code_though_the_simulator_ignores_that_filter(
    outbox: Outbox,
) -> None:
    reporter = outbox.reporter()
    codes = [outbox.store.get_error_report(_fail(reporter, n)).code for n in range(2)]

    # Nothing shows Omnitron declares ``error_code``: the simulator answers every report.
    rows = outbox.api.results(outbox.api.ch("error_reports/"), {"error_code": codes[0]})
    assert sorted(row["error_code"] for row in rows) == sorted(codes)
    for code in codes:
        found = outbox.client.find_error_report(code)
        assert found is not None
        assert found.error_code == code
    assert outbox.client.find_error_report(codes[0][:-3]) is None


def test_a_client_ignores_reports_a_server_sent_for_another_code(outbox: Outbox) -> None:
    reporter = outbox.reporter()
    code = outbox.store.get_error_report(_fail(reporter, 1)).code

    # A server whose every answer holds only other codes' reports.
    def unfiltered(body: dict[str, object]) -> dict[str, object]:
        for row in body["results"]:  # type: ignore[attr-defined]
            row["error_code"] = "someone-else"
        return body

    outbox.proxy.add(Rule(method="GET", path=REPORTS, action="rewrite", fn=unfiltered, times=None))
    assert outbox.client.find_error_report(code) is None


def _reports_path(outbox: Outbox) -> str:
    return f"/api/v1/channel/{outbox.omnitron.config.channel_id}/error_reports/"
