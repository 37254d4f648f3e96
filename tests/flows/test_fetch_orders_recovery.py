"""fetch-orders under crashes, outages, faults and cancel: nothing lost, nothing twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from service.flows.context import FlowEvent, RunContext
from service.flows.result import FlowResult, RunOutcome
from service.omnitron.client import OmnitronClient
from tests.flows.conftest import FlowEnv
from tests.flows.test_fetch_orders import (
    QUIET,
    assert_each_once_and_linked,
    good_orders,
    omnitron_reports,
    run_fetch,
)


class Crash(BaseException):
    """Stands in for the process being killed at a chosen point of the flow."""


class At:
    """An event hook running ``action`` once, at the ``n``-th event of ``kind``."""

    def __init__(self, kind: str, n: int, action: Callable[[FlowEvent], None]) -> None:
        self.kind, self.n, self.action = kind, n, action
        self.seen = 0
        self.kinds: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: FlowEvent) -> None:
        with self._lock:
            self.kinds.append(event.kind)
            if event.kind != self.kind:
                return
            self.seen += 1
            fire = self.seen == self.n
        if fire:
            self.action(event)


def crash(_: FlowEvent) -> None:
    raise Crash


def open_batches(api: OmnitronClient) -> list[Any]:
    """Omnitron's batch requests of this channel that are not final."""
    return [b for b in api.list_batch_requests() if not b.status.is_final]


def test_crash_after_commit_and_between_create_and_commit(
    make_env: Callable[..., FlowEnv],
) -> None:
    # One worker: when the first run dies, at most two orders of the second window
    # (2 × workers in flight) have gone in, so the second run still creates some.
    env = make_env(orders=30, marketplace=QUIET, workers=1)
    api = env.api()

    with pytest.raises(Crash):
        run_fetch(env, RunContext(on_event=At("order.committed", 8, crash)))
    first_batch = env.store.list_batches()[0].pk
    # The next run dies right after Omnitron created an order, before its commit.
    with pytest.raises(Crash):
        run_fetch(env, RunContext(on_event=At("order.created", 3, crash)))

    hook = At("", 0, crash)
    result = run_fetch(env, RunContext(on_event=hook))

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert_each_once_and_linked(api, good_orders(env))
    assert "order.linked" in hook.kinds  # the order created but never committed
    assert api.get_batch_request(first_batch).status.is_final
    assert open_batches(api) == []
    assert all(not b.is_open for b in env.store.list_batches())


def test_crash_before_anything_was_committed_leaves_no_batch_open(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=5, marketplace=QUIET, workers=1)
    api = env.api()

    with pytest.raises(Crash):
        run_fetch(env, RunContext(on_event=At("batch.opened", 1, crash)))
    (orphan,) = open_batches(api)
    assert orphan.status.value == "initialized"

    result = run_fetch(env)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert api.get_batch_request(orphan.pk).status.value == "fail"
    assert open_batches(api) == []
    assert_each_once_and_linked(api, good_orders(env))


def test_omnitron_unreachable_mid_run_then_recovered(make_env: Callable[..., FlowEnv]) -> None:
    env = make_env(
        orders=30,
        marketplace=QUIET,
        client={"max_attempts": 2, "deadline": 2, "base_delay": 0.05},
    )
    api = env.api()

    def outage(_: FlowEvent) -> None:
        env.omnitron.control.patch("faults", json={"error_rate": 1.0}).raise_for_status()

    failed = run_fetch(env, RunContext(on_event=At("order.committed", 10, outage)))

    assert failed.outcome is RunOutcome.FAILED
    assert "Omnitron" in failed.message, failed.message
    waiting = env.store.undelivered_reports()
    assert waiting, "the run's failure report waits in the outbox"

    env.omnitron.control.patch("faults", json={"error_rate": 0.0}).raise_for_status()
    (left_open,) = open_batches(api)  # Omnitron was gone when the run tried to finish it
    assert left_open.pk == failed.batches[0].pk
    result = run_fetch(env)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert_each_once_and_linked(api, good_orders(env))
    assert open_batches(api) == []
    assert env.store.undelivered_reports() == []
    codes = {r["error_code"] for r in omnitron_reports(api, is_ok=None)}
    assert {r.code for r in waiting} <= codes


def test_faulty_simulators_still_create_each_order_once(
    make_env: Callable[..., FlowEnv],
) -> None:
    faults = {"error_rate": 0.1, "latency_ms": 30}
    env = make_env(
        orders=200,
        omnitron={"faults": faults},
        marketplace={**QUIET, "faults": faults},
        client={"base_delay": 0.01, "max_delay": 0.05, "max_attempts": 8},
    )
    results: list[FlowResult] = []
    # A run may still fail when one request loses every retry; the next one finishes.
    while len(results) < 3 and (not results or results[-1].outcome is not RunOutcome.COMPLETED):
        results.append(run_fetch(env))

    assert results[-1].outcome is RunOutcome.COMPLETED, [r.message for r in results]
    env.omnitron.control.patch("faults", json={"error_rate": 0.0, "latency_ms": 0})
    api = env.api()
    good = good_orders(env)
    assert len(good) == 200
    assert_each_once_and_linked(api, good)
    assert sum(r.created for r in results) == 200
    assert open_batches(api) == []


def test_cancel_mid_run_then_rerun_completes(make_env: Callable[..., FlowEnv]) -> None:
    env = make_env(orders=30, marketplace=QUIET)
    api = env.api()
    ctx = RunContext()
    ctx.on_event = At("order.committed", 6, lambda _: ctx.cancel.cancel())

    cancelled = run_fetch(env, ctx)

    assert cancelled.outcome is RunOutcome.CANCELLED
    assert 6 <= cancelled.created < 30
    (batch,) = cancelled.batches
    assert batch.status == "done"
    assert open_batches(api) == []

    result = run_fetch(env)
    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert cancelled.created + result.created == 30
    assert_each_once_and_linked(api, good_orders(env))
