"""check-batches end to end: async update-orders batches are followed to their end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from service.flows.context import FlowEvent, Progress, RunContext
from service.flows.result import FlowResult, RunOutcome
from service.omnitron.client import OmnitronClient
from service.omnitron.models import IntegrationStatus
from service.omnitron.models.batch import BatchObject, BatchRequest, BatchStatus
from service.store import ErrorQuery
from tests.flows.conftest import FlowEnv
from tests.flows.test_fetch_orders import Recorder
from tests.flows.test_update_orders import (
    MARKET,
    PREPARING_AFTER,
    advance_marketplace,
    advance_omnitron,
    assert_mirror_agrees,
    behaviour,
    cancel_at_marketplace,
    market_orders,
    order_action,
    prepared_env,
    received,
    run_update,
    timeline,
    updated_orders,
)


def run_check(env: FlowEnv, ctx: RunContext | None = None) -> FlowResult:
    return env.service.get_order_batch_requests(ctx=ctx or RunContext())


def complete_remote_batches(env: FlowEnv) -> None:
    """Move the marketplace clock past the time its async batches take."""
    advance_marketplace(env, int(MARKET["async_batch_seconds"]) + 1)


def stray_batch(api: OmnitronClient, order_pk: int, remote_batch_id: str) -> BatchRequest:
    """A batch waiting on a channel batch (as another console could have left it)."""
    batch = api.create_batch_request()
    order = api.get_order(order_pk)
    api.update_batch_request(
        batch.pk,
        BatchStatus.COMMIT,
        objects=[
            BatchObject(
                pk=order.pk,
                version_date=order.modified_date,
                content_type="order",
                remote_id=order.remote_id,
            )
        ],
        content_type="order",
    )
    return api.update_batch_request(
        batch.pk, BatchStatus.SENT_TO_REMOTE, remote_batch_id=remote_batch_id
    )


def test_async_update_then_check_until_done(make_env: Callable[..., FlowEnv]) -> None:
    env = prepared_env(make_env, orders=5)
    api = env.api()
    changed = updated_orders(api)
    refused = market_orders(env)[1]
    cancel_at_marketplace(env, refused["id"])
    refused_pk = next(o.pk for o in changed if o.number == refused["number"])

    sent = run_update(env, is_sync=False)

    assert sent.outcome is RunOutcome.COMPLETED, sent.message
    (outcome,) = sent.batches
    assert (sent.updated, sent.failed) == (0, 0)
    # Sent, waiting for the channel's verdict: not "nothing new".
    assert sent.waiting == len(changed)
    assert sent.outcome_label == f"still waiting ({sent.waiting})"
    assert outcome.status == "sent_to_remote"
    assert outcome.remote_batch_id
    assert_mirror_agrees(env, api, outcome.pk)
    # Held while in flight: nothing is listed as changed, nothing is sent twice.
    assert updated_orders(api) == []

    # The channel is still working: ongoing, and a second look changes nothing.
    recorder = Recorder()
    first = run_check(env, RunContext(on_event=recorder))
    assert first.outcome is RunOutcome.COMPLETED, first.message
    assert (first.updated, first.failed, first.skipped) == (0, 0, 5)
    assert [b.status for b in first.batches] == ["ongoing"]
    second = run_check(env, RunContext(on_event=recorder))
    assert [b.status for b in second.batches] == ["ongoing"]
    assert recorder.kinds()["batch.ongoing"] == 1
    assert recorder.kinds()["remote_batch.processing"] == 2
    assert_mirror_agrees(env, api, outcome.pk)

    complete_remote_batches(env)
    progress: list[Progress] = []
    last = run_check(env, RunContext(on_progress=progress.append))

    assert last.outcome is RunOutcome.COMPLETED, last.message
    assert (last.updated, last.failed, last.skipped) == (4, 1, 0)
    assert progress[-1] == Progress(1, 1, progress[-1].current)
    (done,) = last.batches
    assert (done.pk, done.status, done.failed_objects) == (outcome.pk, "done", 1)

    # The marketplace received each order once, in the async batch.
    got = received(env)
    assert Counter(u["order_number"] for u in got) == {o.number: 1 for o in changed}
    assert {(u["mode"], u["batch_id"]) for u in got} == {("async", outcome.remote_batch_id)}

    batch = api.get_batch_request(outcome.pk)
    reasons = {obj.pk: obj.failed_reason_type for obj in batch.objects}
    assert reasons == {o.pk: ("channel_app" if o.pk == refused_pk else None) for o in changed}
    assert_mirror_agrees(env, api, outcome.pk)
    assert timeline(env, outcome.pk) == [
        "initialized",
        "commit",
        "sent_to_remote",
        "ongoing",
        "done",
    ]
    (report_id,) = last.error_report_ids
    report = env.store.get_error_report(report_id)
    assert report.description.startswith(
        f"order {refused['number']}: marketplace refused the update: "
    )
    assert "is cancelled" in report.description
    assert report.code.startswith(f"{batch.local_batch_id}-Channel-SendUpdatedOrders_")
    assert report.batch_pk == outcome.pk

    # Synced orders leave orders/updates/; the refused one waits there for a retry.
    assert [o.pk for o in updated_orders(api)] == [refused_pk]
    assert order_action(api, refused_pk).status == IntegrationStatus.ERROR
    # Nothing is left waiting.
    assert run_check(env).batches == ()


def test_remote_batch_failed_as_a_whole_fails_the_batch(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = prepared_env(make_env, orders=3, batch_failure_share=1.0)
    api = env.api()
    before = {o.pk for o in updated_orders(api)}
    sent = run_update(env, is_sync=False)
    (outcome,) = sent.batches
    complete_remote_batches(env)

    result = run_check(env)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert (result.updated, result.failed) == (0, 3)
    batch = api.get_batch_request(outcome.pk)
    assert batch.status is BatchStatus.FAIL
    assert_mirror_agrees(env, api, outcome.pk)
    assert timeline(env, outcome.pk) == ["initialized", "commit", "sent_to_remote", "fail"]
    (report_id,) = result.error_report_ids
    report = env.store.get_error_report(report_id)
    assert "as a whole" in report.description
    assert "send it again" in report.description
    assert report.subject == outcome.remote_batch_id
    # Nothing was applied: every order is back for the next update-orders run.
    assert {o.pk for o in updated_orders(api)} == before
    assert {u["result"] for u in received(env)} == {"BATCH_FAILED"}


def test_unknown_remote_batch_fails_and_the_others_are_still_checked(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = prepared_env(make_env, orders=3)
    api = env.api()
    held, *_ = updated_orders(api)
    stray = stray_batch(api, held.pk, "no-such-batch")
    sent = run_update(env, is_sync=False)
    (outcome,) = sent.batches
    assert outcome.objects == 2  # the third order is held by the stray batch
    complete_remote_batches(env)

    result = run_check(env)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    status = {b.pk: b.status for b in result.batches}
    assert status == {stray.pk: "fail", outcome.pk: "done"}
    assert (result.updated, result.failed) == (2, 1)
    (report_id,) = result.error_report_ids
    report = env.store.get_error_report(report_id)
    assert "does not know batch no-such-batch" in report.description
    assert report.batch_pk == stray.pk
    for pk in status:
        assert_mirror_agrees(env, api, pk)
    assert [o.pk for o in updated_orders(api)] == [held.pk]


def test_cancel_between_batches_leaves_the_rest_waiting(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=2, marketplace=MARKET)
    fetched = env.service.fetch_and_create_order()
    assert fetched.created == 2
    api = env.api()
    fetch_batch = api.get_batch_request(fetched.batches[0].pk)
    pks = [obj.pk for obj in fetch_batch.objects if obj.content_type == "order"]
    first = stray_batch(api, pks[0], "unknown-1")
    second = stray_batch(api, pks[1], "unknown-2")
    ctx = RunContext()

    def stop(_: FlowEvent) -> None:
        ctx.cancel.cancel()

    ctx.on_event = Recorder("remote_batch.failed", 1, stop)

    result = run_check(env, ctx)

    assert result.outcome is RunOutcome.CANCELLED
    assert [(b.pk, b.status) for b in result.batches] == [(first.pk, "fail")]
    assert api.get_batch_request(second.pk).status is BatchStatus.SENT_TO_REMOTE
    assert env.store.count_error_reports(ErrorQuery(flow="check-batches", is_ok=False)) == 1

    again = run_check(env)
    assert [(b.pk, b.status) for b in again.batches] == [(second.pk, "fail")]


def test_order_refused_before_sending_is_settled_with_its_batch(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=3, marketplace=MARKET)
    behaviour(env, update_failure_share=0.0, batch_failure_share=0.0)
    fetched = env.service.fetch_and_create_order()
    api = env.api()
    fetch_batch = api.get_batch_request(fetched.batches[0].pk)
    pks = [obj.pk for obj in fetch_batch.objects if obj.content_type == "order"]
    # Link one order to an id the marketplace cannot have issued.
    relink = api.create_batch_request()
    order = api.get_order(pks[0])
    link = BatchObject(
        pk=order.pk, version_date=order.modified_date, content_type="order", remote_id="X-1"
    )
    api.update_batch_request(relink.pk, BatchStatus.COMMIT, objects=[link], content_type="order")
    api.update_batch_request(relink.pk, BatchStatus.DONE, objects=[link])
    advance_omnitron(env, PREPARING_AFTER)

    sent = run_update(env, is_sync=False)

    assert sent.failed == 1
    (report_id,) = sent.error_report_ids
    assert "not a marketplace order id" in env.store.get_error_report(report_id).description
    (outcome,) = sent.batches
    assert outcome.status == "sent_to_remote"
    complete_remote_batches(env)

    result = run_check(env)

    assert (result.updated, result.failed) == (2, 1)
    assert result.error_report_ids == ()  # reported once, when it was refused
    batch = api.get_batch_request(outcome.pk)
    reasons = {obj.pk: obj.failed_reason_type for obj in batch.objects}
    assert reasons == {pks[0]: "channel_app", pks[1]: None, pks[2]: None}
    assert_mirror_agrees(env, api, outcome.pk)
    assert len(received(env)) == 2


def test_batch_finished_elsewhere_is_mirrored(make_env: Callable[..., FlowEnv]) -> None:
    env = prepared_env(make_env, orders=2)
    api = env.api()
    (outcome,) = run_update(env, is_sync=False).batches
    api.update_batch_request(outcome.pk, BatchStatus.FAIL, objects=[])

    result = run_check(env)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert result.batches == ()
    assert_mirror_agrees(env, api, outcome.pk)
    assert timeline(env, outcome.pk)[-1] == "fail"
