"""FleetClient against a real Redis with no worker listening: what a console sees.

A run sent is ``queued`` at once, listed, and its task waits on the profile's queue;
cancelled before any worker took it, it is ``refused`` and following it says why.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis

from service.config import OmnitronProfile, Profile
from service.fleet.client import CANCELLED_BEFORE_START, FleetClient, RemoteRefused
from service.fleet.progress import save_state
from service.fleet.protocol import RUN_FLOW_TASK, cancel_key, queue_name
from service.flows.context import RunContext
from service.flows.names import Flow
from service.flows.result import FlowResult, RunOutcome
from service.flows.run import FlowOptions
from tests.fleet.redis_server import RedisServer


def workers_profile(name: str, url: str) -> Profile:
    """A workers profile on ``url`` (its Omnitron is never asked here)."""
    return Profile(
        name=name,
        runner="workers",
        broker_url=url,
        omnitron=OmnitronProfile(
            url="https://omnitron.example/", username="u", channel_id=1, catalog_id=1
        ),
    )


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[FleetClient]:
    fleet = FleetClient(workers_profile("alpha", redis_server.url), environ={})
    yield fleet
    fleet.close()


def queued_tasks(url: str, profile: str) -> list[dict[str, Any]]:
    """The messages waiting on ``profile``'s queue, as kombu's Redis transport keeps them."""
    plain = redis.Redis.from_url(url, decode_responses=True)
    try:
        return [json.loads(raw) for raw in plain.lrange(queue_name(profile), 0, -1)]
    finally:
        plain.close()


def task_args(message: dict[str, Any]) -> list[Any]:
    """The positional arguments a queued Celery message carries."""
    assert message["properties"]["body_encoding"] == "base64"
    return json.loads(base64.b64decode(message["body"]))[0]


def wait_subscribed(client: FleetClient) -> None:
    """Until a listener is subscribed to the profile's events (Redis counts it)."""
    deadline = time.monotonic() + 60
    while client._redis.pubsub_numsub("cd:events:alpha")[0][1] < 1:
        assert time.monotonic() < deadline, "nobody subscribed to cd:events:alpha"
        time.sleep(0.05)


def test_a_run_sent_is_queued_listed_and_waits_on_the_profiles_queue(
    client: FleetClient, redis_server: RedisServer
) -> None:
    first = client.send(Flow.FETCH_ORDERS, FlowOptions(workers=3))
    second = client.send(Flow.UPDATE_ORDERS, FlowOptions(is_sync=False))

    assert client.state(first.task_id) == first
    assert first.state == "queued"
    assert [run.task_id for run in client.recent()] == [second.task_id, first.task_id]
    messages = queued_tasks(redis_server.url, "alpha")
    assert [m["headers"]["id"] for m in messages] == [second.task_id, first.task_id]
    assert {m["headers"]["task"] for m in messages} == {RUN_FLOW_TASK}
    args = [task_args(message) for message in messages]
    assert args[1][:2] == ["alpha", "fetch-orders"]
    assert args[1][2]["workers"] == 3
    assert args[0][2]["is_sync"] is False


def test_cancelled_before_a_worker_took_it_the_run_is_refused(client: FleetClient) -> None:
    sent = client.send(Flow.FETCH_ORDERS, FlowOptions())

    client.cancel(sent.task_id)

    run = client.state(sent.task_id)
    assert run is not None
    assert (run.state, run.message) == ("refused", CANCELLED_BEFORE_START)
    assert client._redis.exists(cancel_key(sent.task_id)) == 1
    with pytest.raises(RemoteRefused, match=CANCELLED_BEFORE_START):
        client.follow(sent.task_id, RunContext())


def test_following_a_queued_run_and_cancelling_it_ends_refused(client: FleetClient) -> None:
    sent = client.send(Flow.FETCH_ORDERS, FlowOptions())
    events: list[str] = []
    ctx = RunContext(on_event=lambda event: events.append(event.kind))
    failure: list[BaseException] = []

    def follow() -> None:
        try:
            client.follow(sent.task_id, ctx)
        except RemoteRefused as exc:
            failure.append(exc)

    follower = threading.Thread(target=follow)
    follower.start()
    ctx.cancel.cancel()
    follower.join(timeout=60)

    assert not follower.is_alive()
    assert [str(exc) for exc in failure] == [CANCELLED_BEFORE_START]


def test_following_an_unknown_run_is_refused_with_a_sentence(client: FleetClient) -> None:
    with pytest.raises(RemoteRefused, match="never sent there"):
        client.follow("no-such-task", RunContext())


def test_events_relay_every_change_of_the_profiles_runs(client: FleetClient) -> None:
    stop = threading.Event()
    seen: list[tuple[str, str]] = []

    def listen() -> None:
        for event in client.events(stop):
            seen.append((event.state.task_id, event.state.state))
            if len(seen) == 2:
                stop.set()

    listener = threading.Thread(target=listen)
    listener.start()
    wait_subscribed(client)

    sent = client.send(Flow.CHECK_BATCHES, FlowOptions())
    client.cancel(sent.task_id)
    listener.join(timeout=60)

    assert seen == [(sent.task_id, "queued"), (sent.task_id, "refused")]


def test_a_broker_nobody_answers_on_refuses_the_send_in_one_sentence() -> None:
    fleet = FleetClient(workers_profile("gone", "redis://127.0.0.1:1/0"), environ={})
    try:
        with pytest.raises(RemoteRefused, match=r"cannot reach the broker of profile 'gone'"):
            fleet.send(Flow.FETCH_ORDERS, FlowOptions())
    finally:
        fleet.close()


def test_a_worker_whose_clock_is_behind_the_consoles_is_still_followed_to_the_end(
    client: FleetClient,
) -> None:
    sent = client.send(Flow.FETCH_ORDERS, FlowOptions())
    progress: list[tuple[int, int | None]] = []
    ctx = RunContext(on_progress=lambda p: progress.append((p.done, p.total)))
    followed: list[FlowResult] = []
    follower = threading.Thread(target=lambda: followed.append(client.follow(sent.task_id, ctx)))
    follower.start()
    # What a worker writes (service/fleet/progress.py), stamped by a clock an hour late.
    late = sent.queued_at - timedelta(hours=1)
    running = sent.model_copy(
        update={"state": "running", "updated_at": late, "host": "w1", "pid": 7, "done": 2}
    )
    save_state(client._redis, running)
    deadline = time.monotonic() + 60
    while not progress:
        assert time.monotonic() < deadline, "the running state was never relayed"
        time.sleep(0.05)
    result = FlowResult(flow=Flow.FETCH_ORDERS, run_id=4, outcome=RunOutcome.COMPLETED, created=2)
    save_state(
        client._redis,
        running.model_copy(update={"state": "finished", "result": result, "updated_at": late}),
    )
    follower.join(timeout=60)

    assert followed == [result]
    assert progress == [(2, None)]
