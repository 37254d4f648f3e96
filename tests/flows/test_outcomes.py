"""Each outcome from a real run on the simulators, as the result and the store say it.

completed, completed with failures, failed (Omnitron down), cancelled after N of M,
nothing new (no batch request opened), and parked orders that still wait counted as
waiting, not as new failures. Also the run's log, read back from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from service.flows.context import Progress, RunContext
from service.flows.outcome import describe_outcome
from service.flows.result import FlowResult, RunOutcome
from service.store import ErrorQuery, Store
from tests.flows.conftest import FlowEnv
from tests.flows.test_fetch_orders import QUIET, run_fetch


def omnitron_batches(env: FlowEnv) -> int:
    """How many batch requests Omnitron holds for the channel (asked over its API)."""
    return len(list(env.api().list_batch_requests()))


def assert_record_agrees(env: FlowEnv, result: FlowResult) -> None:
    """The stored run reads the same outcome as the live result (after a restart too)."""
    record = env.store.get_run(result.run_id)
    assert describe_outcome(record).tone == result.outcome_tone
    assert record.waiting == result.waiting
    if result.outcome is not RunOutcome.CANCELLED:  # the total lives in the message
        assert describe_outcome(record).label == result.outcome_label


def test_completed(make_env: Callable[..., FlowEnv]) -> None:
    env = make_env(orders=5, marketplace=QUIET)

    result = run_fetch(env)

    assert (result.outcome, result.created, result.failed) == ("completed", 5, 0)
    assert (result.outcome_key, result.outcome_label, result.outcome_tone) == (
        "completed",
        "completed",
        "ok",
    )
    assert omnitron_batches(env) == 1
    assert_record_agrees(env, result)


def test_completed_with_failures_is_amber_with_the_count(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=20, broken_share=0.3, marketplace=QUIET)

    result = run_fetch(env)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert result.failed > 0
    assert result.outcome_key == "completed_with_failures"
    noun = "failure" if result.failed == 1 else "failures"
    assert result.outcome_label == f"completed with {result.failed} {noun}"
    assert result.outcome_tone == "warn"
    # Stored as completed with its count: derived, so older stores read right too.
    assert env.store.get_run(result.run_id).outcome == "completed"
    assert_record_agrees(env, result)


def test_failed_when_omnitron_is_down_is_red_with_its_sentence(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(
        orders=5,
        marketplace=QUIET,
        client={"max_attempts": 2, "deadline": 2, "base_delay": 0.05},
    )
    env.omnitron.control.patch("faults", json={"error_rate": 1.0}).raise_for_status()

    result = run_fetch(env)

    env.omnitron.control.patch("faults", json={"error_rate": 0.0}).raise_for_status()
    assert result.outcome is RunOutcome.FAILED
    assert (result.outcome_key, result.outcome_label, result.outcome_tone) == (
        "failed",
        "failed",
        "bad",
    )
    assert result.message, "a failed run says why"
    # The run never got to need a batch: none was created for it.
    assert result.batches == ()
    assert omnitron_batches(env) == 0
    assert_record_agrees(env, result)


def test_nothing_new_opens_no_batch(make_env: Callable[..., FlowEnv]) -> None:
    env = make_env(orders=4, marketplace=QUIET)
    first = run_fetch(env)
    assert first.created == 4
    batches = omnitron_batches(env)

    second = run_fetch(env)

    assert second.outcome is RunOutcome.COMPLETED, second.message
    assert (second.created, second.failed, second.waiting) == (0, 0, 0)
    assert (second.outcome_label, second.outcome_tone) == ("nothing new", "ok")
    assert second.batches == ()
    assert omnitron_batches(env) == batches
    assert env.store.get_run(second.run_id).pending_batch_id is None
    assert_record_agrees(env, second)


def test_parked_orders_that_still_wait_are_not_new_failures(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=20, broken_share=0.3, marketplace=QUIET)
    first = run_fetch(env)
    parked = env.store.count_parked("fetch-orders")
    assert parked > 0, "the sandbox's unknown cities, cargo companies and SKUs park"
    failures = env.store.count_error_reports(ErrorQuery(is_ok=False))
    batches = omnitron_batches(env)

    second = run_fetch(env)

    assert second.outcome is RunOutcome.COMPLETED, second.message
    assert (second.created, second.failed, second.waiting) == (0, 0, parked)
    assert second.outcome_label == f"still waiting ({parked})"
    assert second.outcome_key == "completed"
    # No new report and no batch: the parked orders' reports were only touched.
    assert env.store.count_error_reports(ErrorQuery(is_ok=False)) == failures
    assert omnitron_batches(env) == batches
    assert first.failed >= parked
    assert_record_agrees(env, second)


def test_cancelled_after_n_of_m(make_env: Callable[..., FlowEnv]) -> None:
    env = make_env(orders=20, broken_share=0.3, marketplace=QUIET, workers=1)
    run_fetch(env)
    parked = env.store.count_parked("fetch-orders")
    assert parked >= 2, "needs at least two parked orders to stop between them"
    ctx = RunContext()

    def stop_after_the_first(progress: Progress) -> None:
        if progress.total is not None and progress.done >= 1:
            ctx.cancel.cancel()

    ctx.on_progress = stop_after_the_first

    result = run_fetch(env, ctx)

    assert result.outcome is RunOutcome.CANCELLED
    assert result.total == parked
    done = result.created + result.skipped + result.failed + result.waiting
    assert 1 <= done < parked
    assert result.outcome_label == f"cancelled after {done} of {parked}"
    assert result.outcome_tone == "neutral"
    assert result.message == f"Cancelled by the operator after {done} of {parked} orders."
    record = env.store.get_run(result.run_id)
    assert describe_outcome(record).label == f"cancelled after {done}"
    assert record.message == result.message


def test_the_run_log_is_kept_in_the_store(make_env: Callable[..., FlowEnv]) -> None:
    # Two windows of orders, so the batch is committed twice.
    env = make_env(orders=30, marketplace=QUIET, workers=1)
    seen: list[str] = []
    result = run_fetch(env, RunContext(on_event=lambda event: seen.append(event.kind)))

    # Read back through a second store on the same file, as after a restart.
    with Store(env.store.path) as reopened:
        log = reopened.run_log(result.run_id)
        info = reopened.run_log(result.run_id, min_level=logging.INFO)

    assert [entry.kind for entry in log] == seen
    assert log[-1].kind == "run.finished"
    assert result.outcome_label in log[-1].message
    assert {entry.run_id for entry in log} == {result.run_id}
    assert all(entry.level >= logging.INFO for entry in info)
    assert len(info) < len(log)  # a repeated commit is detail
