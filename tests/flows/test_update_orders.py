"""update-orders end to end: Omnitron's changed orders reach the marketplace simulator.

Orders get into ``orders/updates/`` the real way: fetch-orders creates them (with
their integration actions), then the Omnitron simulator's clock moves them on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from service.channel.marketplace import MarketplaceAdapter, MarketplaceSettings
from service.flows.context import Progress, RunContext
from service.flows.result import FlowResult, RunOutcome
from service.net.retry import RetryPolicy
from service.omnitron.client import OmnitronClient
from service.omnitron.models import IntegrationStatus, Order
from service.order_service import OrderService
from service.store import ErrorQuery
from tests.flows.conftest import FlowEnv
from tests.flows.test_fetch_orders import Recorder

# No new marketplace orders while a test runs; async batches complete only when the
# marketplace clock is moved (a real second must never decide an outcome).
MARKET = {"arrival_per_hour": 0, "async_batch_seconds": 3600}
PREPARING_AFTER = 31 * 60  # Omnitron moves approved orders to preparing after 30 min
SHIPPED_AFTER = 2 * 3600 + 60  # ...and to shipped, with tracking numbers, after 2 h


def prepared_env(
    make_env: Callable[..., FlowEnv],
    *,
    orders: int = 5,
    advance: int = PREPARING_AFTER,
    update_failure_share: float = 0.0,
    batch_failure_share: float = 0.0,
) -> FlowEnv:
    """Simulators with ``orders`` orders fetched into Omnitron and then changed there."""
    env = make_env(orders=orders, marketplace=MARKET)
    behaviour(
        env,
        update_failure_share=update_failure_share,
        batch_failure_share=batch_failure_share,
    )
    fetched = env.service.fetch_and_create_order()
    assert fetched.outcome is RunOutcome.COMPLETED, fetched.message
    assert fetched.created == orders
    advance_omnitron(env, advance)
    return env


def behaviour(env: FlowEnv, **shares: float) -> None:
    """Set the marketplace's failure shares for status updates."""
    env.marketplace.control.patch("behaviour", json=shares).raise_for_status()


def advance_omnitron(env: FlowEnv, seconds: int) -> None:
    env.omnitron.control.post("clock/advance", json={"seconds": seconds}).raise_for_status()


def advance_marketplace(env: FlowEnv, seconds: int) -> None:
    env.marketplace.control.post("clock/advance", json={"seconds": seconds}).raise_for_status()


def received(env: FlowEnv) -> list[dict[str, Any]]:
    """Every status update the marketplace simulator received, in arrival order."""
    answer = env.marketplace.control.get("status-updates")
    answer.raise_for_status()
    return answer.json()["updates"]


def market_orders(env: FlowEnv) -> list[dict[str, Any]]:
    answer = env.marketplace.control.get("orders")
    answer.raise_for_status()
    return answer.json()["orders"]


def cancel_at_marketplace(env: FlowEnv, order_id: int) -> None:
    """Cancel an order at the marketplace: any later non-cancel update of it is refused."""
    env.marketplace.control.post(f"orders/{order_id}/cancel", json={}).raise_for_status()


def updated_orders(api: OmnitronClient) -> list[Order]:
    """What ``orders/updates/`` lists now."""
    return api.list_updated_orders(limit=1000)


def run_update(env: FlowEnv, ctx: RunContext | None = None, **options: bool) -> FlowResult:
    return env.service.update_orders(ctx=ctx or RunContext(), **options)


def assert_mirror_agrees(env: FlowEnv, api: OmnitronClient, pk: int) -> None:
    """The local mirror holds what Omnitron holds: status, remote id, objects, reasons."""
    omnitron = api.get_batch_request(pk)
    mirror = env.store.get_batch(pk)
    assert mirror is not None
    assert mirror.status == omnitron.status.value
    assert mirror.remote_batch_id == omnitron.remote_batch_id
    assert mirror.content_type == omnitron.content_type == "order"

    def key(obj: dict[str, Any]) -> tuple[str, int]:
        return obj["content_type"], obj["pk"]

    assert sorted(mirror.objects, key=key) == sorted(
        (obj.to_json() for obj in omnitron.objects), key=key
    )


def timeline(env: FlowEnv, pk: int) -> list[str]:
    return [event.status for event in env.store.batch_events(pk)]


def order_action(api: OmnitronClient, pk: int) -> Any:
    (action,) = api.find_integration_actions("order", object_id=pk)
    return action


def test_sync_update_sends_each_order_once_and_settles_the_batch(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = prepared_env(make_env, orders=5)
    api = env.api()
    changed = updated_orders(api)
    assert len(changed) == 5
    assert {o.status for o in changed} == {"450"}
    refused = market_orders(env)[0]
    cancel_at_marketplace(env, refused["id"])
    recorder = Recorder()
    progress: list[Progress] = []

    result = run_update(env, RunContext(on_event=recorder, on_progress=progress.append))

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert (result.updated, result.failed, result.skipped) == (4, 1, 0)
    assert progress[-1] == Progress(5, 5, progress[-1].current)

    # The marketplace received each order once, synchronously, as "Picking".
    got = received(env)
    assert Counter(u["order_number"] for u in got) == {o.number: 1 for o in changed}
    assert {u["mode"] for u in got} == {"sync"}
    assert {u["status"] for u in got} == {"Picking"}
    assert [u["result"] for u in got if u["order_number"] == refused["number"]] == ["FAIL"]

    # One batch, done, the refused order failed with the channel's reason.
    (outcome,) = result.batches
    assert outcome.status == "done"
    batch = api.get_batch_request(outcome.pk)
    assert batch.content_type == "order"
    by_pk = {obj.pk: obj for obj in batch.objects}
    assert set(by_pk) == {o.pk for o in changed}
    failed = {pk for pk, obj in by_pk.items() if obj.failed_reason_type is not None}
    refused_pk = next(o.pk for o in changed if o.number == refused["number"])
    assert failed == {refused_pk}
    assert by_pk[refused_pk].failed_reason_type == "channel_app"
    assert all(by_pk[o.pk].remote_id == o.remote_id for o in changed)
    assert_mirror_agrees(env, api, outcome.pk)
    assert timeline(env, outcome.pk) == ["initialized", "commit", "done"]

    # Its report carries the marketplace's message, locally and in Omnitron.
    (report_id,) = result.error_report_ids
    report = env.store.get_error_report(report_id)
    assert report.subject == refused["number"]
    assert report.description.startswith(
        f"order {refused['number']}: marketplace refused the update: "
    )
    assert "is cancelled" in report.description
    assert report.content_type == "order"
    assert report.object_id == str(refused_pk)
    assert report.code.startswith(f"{batch.local_batch_id}-Channel-SendUpdatedOrders_")
    assert report.delivered
    # Successes are logged too (is_success_log defaults to True).
    successes = env.store.search_error_reports(ErrorQuery(batch_pk=outcome.pk, is_ok=True))
    assert len(successes) == 4
    assert recorder.kinds()["order.updated"] == 4
    assert recorder.kinds()["order.update_failed"] == 1

    # Synced orders leave orders/updates/ with their version stored; the refused one
    # (its action "error", its version not advanced) stays there to be sent again.
    assert [o.pk for o in updated_orders(api)] == [refused_pk]
    for order in changed:
        action = order_action(api, order.pk)
        if order.pk == refused_pk:
            assert action.status == IntegrationStatus.ERROR
            assert action.version_date != order.modified_date
        else:
            assert action.status == IntegrationStatus.SUCCESS
            assert action.version_date == order.modified_date

    # The next run sends only that order, which the marketplace refuses again.
    again = run_update(env)
    assert (again.updated, again.failed) == (0, 1)
    assert len(received(env)) == 6
    assert [o.pk for o in updated_orders(api)] == [refused_pk]


def test_items_travel_with_the_update_and_are_recorded(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = prepared_env(make_env, orders=3, advance=SHIPPED_AFTER)
    api = env.api()
    changed = updated_orders(api)
    assert {o.status for o in changed} == {"500"}
    assert all(o.tracking_number for o in changed)

    result = run_update(env, add_order_items=True, is_success_log=False)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert (result.updated, result.failed) == (3, 0)
    assert result.error_report_ids == ()
    assert env.store.count_error_reports(ErrorQuery(is_ok=True, flow="update-orders")) == 0
    items = {o.pk: api.list_order_items(o.pk) for o in changed}
    got = {u["order_number"]: u for u in received(env)}
    for order in changed:
        update = got[order.number]
        assert update["status"] == "Shipped"
        assert update["tracking_number"] == order.tracking_number
        lines = {str(line["line_id"]) for line in update["lines"]}
        assert lines == {item.remote_id for item in items[order.pk]}
    (outcome,) = result.batches
    batch = api.get_batch_request(outcome.pk)
    kinds = Counter(obj.content_type for obj in batch.objects)
    assert kinds == {"order": 3, "orderitem": sum(len(v) for v in items.values())}
    assert all(obj.failed_reason_type is None for obj in batch.objects)
    assert_mirror_agrees(env, api, outcome.pk)
    assert updated_orders(api) == []


def test_nothing_changed_opens_no_batch(make_env: Callable[..., FlowEnv]) -> None:
    env = make_env(orders=0, marketplace=MARKET)

    result = run_update(env)

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert (result.updated, result.failed, result.skipped) == (0, 0, 0)
    assert result.outcome_label == "nothing new"
    assert result.batches == ()
    assert list(env.api().list_batch_requests()) == []
    assert env.store.list_batches() == []
    assert received(env) == []


def test_channel_unreachable_fails_the_run_and_releases_the_orders(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = prepared_env(make_env, orders=3)
    api = env.api()
    before = {o.pk: o.modified_date for o in updated_orders(api)}
    assert len(before) == 3
    env.marketplace.control.patch("faults", json={"error_rate": 1.0}).raise_for_status()
    adapter = MarketplaceAdapter(
        MarketplaceSettings(
            base_url=env.marketplace.base_url,
            api_key=SecretStr(env.marketplace.config.api_key),
        ),
        retry_policy=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01, deadline=2),
    )
    try:
        service = OrderService(env.client, adapter, env.store, profile="test")
        result = service.update_orders()
    finally:
        adapter.close()

    assert result.outcome is RunOutcome.FAILED
    assert "HTTP 5" in result.message
    (outcome,) = result.batches
    assert outcome.status == "fail"
    batch = api.get_batch_request(outcome.pk)
    assert batch.status.value == "fail"
    assert {obj.pk for obj in batch.objects} == set(before)
    assert {obj.failed_reason_type for obj in batch.objects} == {"remote"}
    assert_mirror_agrees(env, api, outcome.pk)
    assert timeline(env, outcome.pk) == ["initialized", "commit", "fail"]
    assert not [b for b in api.list_batch_requests(status=["commit"])]
    # Nothing reached the marketplace; every order is back, unchanged, for the next run.
    assert received(env) == []
    assert {o.pk: o.modified_date for o in updated_orders(api)} == before
    for pk in before:
        assert order_action(api, pk).status == IntegrationStatus.SUCCESS
    (report_id,) = result.error_report_ids
    assert "update-orders failed" in env.store.get_error_report(report_id).description

    # Once the marketplace is back, the next run delivers them.
    env.marketplace.control.patch("faults", json={"error_rate": 0.0}).raise_for_status()
    again = run_update(env)
    assert (again.outcome, again.updated) == (RunOutcome.COMPLETED, 3)
    assert updated_orders(api) == []


def test_cancel_before_sending_leaves_the_orders_untouched(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = prepared_env(make_env, orders=2)
    api = env.api()
    ctx = RunContext()
    ctx.cancel.cancel()
    # The runner's own steps do not stop; the flow stops at its first safe point.
    result = run_update(env, ctx)

    assert result.outcome is RunOutcome.CANCELLED
    # Stopped before committing anything: no batch was created.
    assert result.batches == ()
    assert received(env) == []
    assert len(updated_orders(api)) == 2
