"""Real flow runs whose leases are in Redis, against the simulators.

The run's row and counts stay in the machine's store; only the leases are in Redis.
A Redis that goes away mid-run neither fails the run nor hides how it ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from service.fleet.broker import redis_client
from service.fleet.redis_leases import RedisLeaseBook
from service.flows.context import FlowEvent, RunContext
from service.flows.names import Flow
from service.flows.result import RunOutcome
from service.order_service import OrderService
from tests.fleet.redis_server import RedisServer

# make_env is a fixture of tests/flows: imported here so this module can request it.
from tests.flows.conftest import FlowEnv, make_env  # noqa: F401
from tests.flows.test_fetch_orders import QUIET, assert_each_once_and_linked
from tests.flows.test_fetch_orders_recovery import At, Crash


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server this test may stop mid-run."""
    server = RedisServer().start()
    yield server
    server.stop()


def on_redis(
    request: pytest.FixtureRequest, server: RedisServer, **env: Any
) -> tuple[FlowEnv, OrderService, RedisLeaseBook]:
    new_env: Callable[..., FlowEnv] = request.getfixturevalue("make_env")
    flows = new_env(**env)
    client = redis_client(server.url)
    request.addfinalizer(client.close)
    book = RedisLeaseBook(client, "acme")
    service = OrderService(flows.client, flows.adapter, flows.store, profile="acme", leases=book)
    return flows, service, book


def test_a_run_holds_its_leases_in_redis_bound_to_its_run(
    request: pytest.FixtureRequest, redis_server: RedisServer
) -> None:
    flows, service, book = on_redis(request, redis_server, orders=6)
    seen: list[dict[str, int | None]] = []

    def look(_: FlowEvent) -> None:
        seen.append({lease.name: lease.run_id for lease in book.holders()})

    result = service.run(Flow.FETCH_ORDERS, ctx=RunContext(on_event=At("order.created", 1, look)))

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert result.created == 6
    assert seen == [{"commit:order": result.run_id, "flow:fetch-orders": result.run_id}]
    assert book.holders() == []
    assert flows.store.leases() == []
    assert flows.store.get_run(result.run_id).created == 6
    assert_each_once_and_linked(
        flows.api(), flows.marketplace.control.get("orders").json()["orders"]
    )


def test_redis_gone_mid_run_the_run_still_completes(
    request: pytest.FixtureRequest, own_redis: RedisServer
) -> None:
    flows, service, _ = on_redis(request, own_redis, orders=8, marketplace=QUIET, workers=1)

    result = service.run(
        Flow.FETCH_ORDERS,
        ctx=RunContext(on_event=At("order.created", 2, lambda _: own_redis.stop())),
    )

    assert result.outcome is RunOutcome.COMPLETED, result.message
    assert result.created == 8
    assert flows.store.get_run(result.run_id).outcome == "completed"


def test_redis_gone_then_the_process_interrupted_the_run_keeps_its_counts(
    request: pytest.FixtureRequest, own_redis: RedisServer
) -> None:
    flows, service, _ = on_redis(request, own_redis, orders=8, marketplace=QUIET, workers=1)

    def stop_then_crash(_: FlowEvent) -> None:
        own_redis.stop()
        raise Crash

    # The interrupt is what comes out, not the unreachable Redis.
    with pytest.raises(Crash):
        service.run(
            Flow.FETCH_ORDERS, ctx=RunContext(on_event=At("order.committed", 3, stop_then_crash))
        )

    (run,) = flows.store.list_runs()
    assert run.outcome == "interrupted"
    assert run.message == "Interrupted by Crash in this process."
    assert run.created >= 2
