"""A run done for a Celery task is recorded under the task's id."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.flows.context import RunContext
from service.flows.names import Flow
from service.flows.result import RunOutcome
from service.store import Store

# make_env is a fixture of tests/flows: imported here so this module can request it.
from tests.flows.conftest import FlowEnv, make_env  # noqa: F401


def test_a_run_records_its_task_id_and_a_run_without_one_none(
    request: pytest.FixtureRequest,
) -> None:
    new_env: Callable[..., FlowEnv] = request.getfixturevalue("make_env")
    env = new_env()
    done = env.service.run(Flow.FETCH_ORDERS, ctx=RunContext(task_id="task-1"))
    plain = env.service.run(Flow.FETCH_ORDERS, ctx=RunContext())

    assert done.outcome is RunOutcome.COMPLETED, done.message
    assert done.created == 20
    assert env.store.get_run(done.run_id).task_id == "task-1"
    assert env.store.get_run(plain.run_id).task_id is None


def test_a_task_run_again_moves_its_id_to_the_new_run() -> None:
    with Store(":memory:") as store:
        first = store.start_run("fetch-orders", {}, task_id="task-7")
        other = store.start_run("update-orders", {}, task_id="task-8")
        again = store.start_run("fetch-orders", {}, task_id="task-7")

        assert store.get_run(again).task_id == "task-7"
        assert store.get_run(first).task_id is None
        assert store.get_run(other).task_id == "task-8"
