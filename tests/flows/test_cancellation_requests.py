"""Cancellation requests end to end: the customer's request into Omnitron, the decision back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from service.flows.context import FlowEvent, RunContext
from service.store import ErrorQuery
from tests.flows.conftest import FlowEnv
from tests.sandbox.omnitron_api import OmnitronApi

POST_REQUEST = "POST /api/v1/channel/{id}/cancellation_requests/"
# The sandbox channel's reason_mapping: CR-0n is Omnitron reason n.
REASON_IDS = {f"CR-0{n}": n for n in range(1, 10)}


def market(env: FlowEnv, method: str, path: str, **kwargs: Any) -> Any:
    """Call the marketplace API as the merchant would."""
    response = httpx.request(
        method,
        env.marketplace.base_url + "api/v1/" + path,
        headers={"X-Api-Key": env.marketplace.config.api_key},
        timeout=10,
        **kwargs,
    )
    response.raise_for_status()
    return response.json()


def order_ids(env: FlowEnv) -> list[int]:
    return [int(o["id"]) for o in market(env, "GET", "orders", params={"size": 200})["items"]]


def ask_to_cancel(env: FlowEnv, order_id: int) -> dict[str, Any]:
    """A customer's cancel request for the first open line of ``order_id``."""
    response = env.marketplace.control.post(
        "cancellation-requests/generate", json={"count": 1, "type": "cancel", "order_id": order_id}
    )
    assert response.status_code == 200, response.text
    (request,) = response.json()["requests"]
    return dict(request)


def market_request(env: FlowEnv, remote_id: int | str) -> dict[str, Any]:
    rows = market(env, "GET", "cancellation-requests", params={"size": 200})["items"]
    return next(row for row in rows if str(row["id"]) == str(remote_id))


def omnitron_request(api: OmnitronApi, remote_id: int | str) -> dict[str, Any]:
    # Not a filter Omnitron is known to declare (the simulator ignores it): compared here.
    rows = api.all_pages(api.ch("cancellation_requests/"))
    (row,) = [r for r in rows if r["remote_id"] == str(remote_id)]
    return row


def line_item_pks(api: OmnitronApi, line_id: int | str) -> list[int]:
    actions = api.all_pages(
        api.ch("integration_actions/"),
        {"content_type_name": "orderitem", "remote_id__exact": str(line_id)},
    )
    return sorted(int(a["object_id"]) for a in actions)


def posts(env: FlowEnv) -> int:
    stats = env.omnitron.control.get("stats").json()
    return int(stats["by_route"].get(POST_REQUEST, 0))


def batch_status(api: OmnitronApi, pk: int) -> str:
    return str(api.get(api.ch(f"batch_requests/{pk}/"))["status"])


def test_requests_are_created_once_with_reason_and_remote_id(
    synced: FlowEnv, api: OmnitronApi
) -> None:
    first_id, second_id = order_ids(synced)[:2]
    asked = [ask_to_cancel(synced, first_id), ask_to_cancel(synced, second_id)]
    synced.omnitron.control.post("stats/reset")

    first = synced.service.fetch_and_create_cancellation_requests()

    assert (first.outcome, first.created, first.skipped, first.failed) == (
        "completed",
        2,
        0,
        0,
    ), first
    for request in asked:
        row = omnitron_request(api, request["id"])
        assert row["order_item"] == line_item_pks(api, request["line_id"])[0]
        assert row["reason"] == REASON_IDS[request["reason_code"]]
        assert row["cancellation_type"] == "cancel"
        assert row["status"] == "waiting_approval"
        action = api.one(
            api.ch("integration_actions/"),
            {"content_type_name": "cancellationrequest", "object_id": row["pk"]},
        )
        assert (action["remote_id"], action["status"]) == (str(request["id"]), "success")
    (batch,) = first.batches
    # Both commits' objects survive to done (§6.12).
    assert (batch.status, batch.content_type, batch.objects) == ("done", "cancellationrequest", 2)
    assert batch_status(api, batch.pk) == "done"
    assert posts(synced) == 2

    second = synced.service.fetch_and_create_cancellation_requests()

    assert (second.created, second.skipped, second.failed) == (0, 1, 0), second
    assert posts(synced) == 2  # the re-fetched request is not POSTed again
    (batch,) = second.batches
    assert batch_status(api, batch.pk) == "done"


def test_decisions_reach_the_channel(synced: FlowEnv, api: OmnitronApi) -> None:
    ids = order_ids(synced)
    approve, reject, clash = (ask_to_cancel(synced, order_id) for order_id in ids[:3])
    assert synced.service.fetch_and_create_cancellation_requests().created == 3
    # Someone decided this one at the marketplace already, the other way.
    market(synced, "PATCH", f"cancellation-requests/{clash['id']}", json={"status": "approved"})
    for request, status in ((approve, "approved"), (reject, "rejected"), (clash, "rejected")):
        pk = omnitron_request(api, request["id"])["pk"]
        api.patch(api.ch(f"cancellation_requests/{pk}/"), {"status": status})

    result = synced.service.update_cancellation_requests()

    assert (result.outcome, result.updated, result.failed) == ("completed", 2, 1), result
    assert market_request(synced, approve["id"])["status"] == "approved"
    rejected = market_request(synced, reject["id"])
    assert (rejected["status"], rejected["decision_reason_code"]) == (
        "rejected",
        reject["reason_code"],
    )
    assert market_request(synced, clash["id"])["status"] == "approved"  # refused: 409
    (batch,) = result.batches
    assert (batch.status, batch.objects, batch.failed_objects) == ("done", 3, 1)
    remote = api.get(api.ch(f"batch_requests/{batch.pk}/"))
    assert remote["status"] == "done"
    failed = {o["remote_id"]: o["failed_reason_type"] for o in remote["objects"]}
    assert failed == {str(approve["id"]): None, str(reject["id"]): None, str(clash["id"]): "remote"}
    (report,) = synced.store.search_error_reports(
        ErrorQuery(flow="update-cancellation-requests", is_ok=False)
    )
    assert "refused" in report.description
    assert str(clash["id"]) in report.description

    # Sent decisions are synced; the refused one comes back to be tried again.
    again = synced.service.update_cancellation_requests()
    assert (again.updated, again.failed) == (0, 1), again
    (report_again,) = synced.store.search_error_reports(
        ErrorQuery(flow="update-cancellation-requests", is_ok=False)
    )
    assert (report_again.id, report_again.attempts) == (report.id, 2)

    # The approval cancelled the line at the marketplace; fetch-cancels brings it over.
    cancels = synced.service.fetch_and_create_cancel()
    assert cancels.updated >= 1, cancels
    pks = line_item_pks(api, approve["line_id"])
    assert all(api.get(api.ch(f"order_items/{pk}/"))["status"] == "100" for pk in pks)


def test_a_stopped_run_leaves_unsent_decisions_for_the_next(
    synced: FlowEnv, api: OmnitronApi
) -> None:
    asked = [ask_to_cancel(synced, order_id) for order_id in order_ids(synced)[:2]]
    assert synced.service.fetch_and_create_cancellation_requests().created == 2
    for request in asked:
        pk = omnitron_request(api, request["id"])["pk"]
        api.patch(api.ch(f"cancellation_requests/{pk}/"), {"status": "approved"})
    ctx = RunContext()

    def stop_after_first(event: FlowEvent) -> None:
        if event.kind == "cancellation_request.decided":
            ctx.cancel.cancel()

    ctx.on_event = stop_after_first

    stopped = synced.service.update_cancellation_requests(ctx=ctx)

    assert (stopped.outcome, stopped.updated) == ("cancelled", 1), stopped
    (batch,) = stopped.batches
    assert (batch.status, batch.objects, batch.failed_objects) == ("done", 2, 1)
    assert batch_status(api, batch.pk) == "done"
    statuses = sorted(market_request(synced, r["id"])["status"] for r in asked)
    assert statuses == ["approved", "pending"]

    rest = synced.service.update_cancellation_requests()

    assert (rest.outcome, rest.updated, rest.failed) == ("completed", 1, 0), rest
    assert all(market_request(synced, r["id"])["status"] == "approved" for r in asked)


class Crash(BaseException):
    """Stands in for the process being killed."""


LOOKUP = "GET /api/v1/channel/{id}/cancellation_requests/"


def lookups(env: FlowEnv) -> int:
    """Look-ups of cancellation requests by remote id (orphan checks)."""
    stats = env.omnitron.control.get("stats").json()
    return int(stats["by_route"].get(LOOKUP, 0))


def declared(api: OmnitronApi, remote_id: int | str) -> list[int]:
    """Object ids of the integration actions declaring this channel request."""
    actions = api.all_pages(
        api.ch("integration_actions/"),
        {"content_type_name": "cancellationrequest", "remote_id__exact": str(remote_id)},
    )
    return [int(action["object_id"]) for action in actions]


def test_after_a_completed_run_new_requests_are_posted_without_a_lookup(
    synced: FlowEnv, api: OmnitronApi
) -> None:
    first_id, second_id = order_ids(synced)[:2]
    ask_to_cancel(synced, first_id)
    assert synced.service.fetch_and_create_cancellation_requests().created == 1
    asked = ask_to_cancel(synced, second_id)
    synced.omnitron.control.post("stats/reset")

    again = synced.service.fetch_and_create_cancellation_requests()

    assert (again.outcome, again.created) == ("completed", 1), again
    assert (posts(synced), lookups(synced)) == (1, 0)
    assert declared(api, asked["id"]) == [omnitron_request(api, asked["id"])["pk"]]


def test_requests_posted_before_a_crash_are_linked_not_posted_again(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=4, client={"max_attempts": 2, "deadline": 2, "base_delay": 0.05})
    assert env.service.fetch_and_create_order(is_success_log=False).created == 4
    cfg = env.omnitron.config
    api = OmnitronApi(env.omnitron.base_url, cfg.username, cfg.password, cfg.channel_id)
    first_id, *later_ids = order_ids(env)[:4]
    ask_to_cancel(env, first_id)
    # A completed run: from now on only requests posted and not declared are looked up.
    assert env.service.fetch_and_create_cancellation_requests().created == 1
    asked = [ask_to_cancel(env, order_id) for order_id in later_ids]
    # Omnitron answered the third POST, then the run broke off as a killed process
    # would, and Omnitron refuses everything from then on: two requests wait in the
    # commit buffer, the third was not even buffered, and the last flush fails — so
    # the feed's cursor must not move past any of them.
    posted: list[FlowEvent] = []

    def die_after_third_post(event: FlowEvent) -> None:
        if event.kind == "cancellation_request.posted":
            posted.append(event)
            if len(posted) == 3:
                env.omnitron.control.patch("faults", json={"error_rate": 1.0}).raise_for_status()
                raise Crash

    # The flush's refusal replaces the crash, so the run is recorded as failed.
    crashed = env.service.fetch_and_create_cancellation_requests(
        ctx=RunContext(on_event=die_after_third_post)
    )
    assert crashed.outcome == "failed", crashed
    env.omnitron.control.patch("faults", json={"error_rate": 0.0}).raise_for_status()
    assert [declared(api, request["id"]) for request in asked] == [[], [], []]  # orphans
    env.omnitron.control.post("stats/reset")

    rerun = env.service.fetch_and_create_cancellation_requests()

    assert (rerun.outcome, rerun.created) == ("completed", 3), rerun
    assert posts(env) == 0
    for request in asked:
        row = omnitron_request(api, request["id"])  # exactly one, else `one` raises
        assert declared(api, request["id"]) == [row["pk"]]
    api.close()


def test_an_unreachable_channel_ends_the_run_after_one_decision(
    make_env: Callable[..., FlowEnv],
) -> None:
    env = make_env(orders=3, adapter_settings={"max_attempts": 2, "retry_deadline": 2})
    assert env.service.fetch_and_create_order(is_success_log=False).created == 3
    cfg = env.omnitron.config
    api = OmnitronApi(env.omnitron.base_url, cfg.username, cfg.password, cfg.channel_id)
    asked = [ask_to_cancel(env, order_id) for order_id in order_ids(env)]
    assert env.service.fetch_and_create_cancellation_requests().created == 3
    for request in asked:
        pk = omnitron_request(api, request["id"])["pk"]
        api.patch(api.ch(f"cancellation_requests/{pk}/"), {"status": "approved"})
    env.marketplace.control.patch("faults", json={"error_rate": 1.0}).raise_for_status()
    env.marketplace.control.post("stats/reset").raise_for_status()

    result = env.service.update_cancellation_requests()

    assert result.outcome == "failed", result
    tried = env.marketplace.control.get("stats").json()["by_route"]
    patches = sum(n for route, n in tried.items() if route.startswith("PATCH"))
    assert patches == 2  # one decision, its two attempts; the others were not tried
    env.marketplace.control.patch("faults", json={"error_rate": 0.0}).raise_for_status()
    again = env.service.update_cancellation_requests()
    assert (again.outcome, again.updated) == ("completed", 3), again
    api.close()
