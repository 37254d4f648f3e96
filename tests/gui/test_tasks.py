"""The background runner: handles, callbacks on the GUI thread, cancel, kept errors."""

from __future__ import annotations

import threading

import pytest
from pytestqt.qtbot import QtBot

from gui.tasks import Task, TaskRunner


def test_result_arrives_on_the_gui_thread(qtbot: QtBot) -> None:
    runner = TaskRunner(max_threads=2)
    seen: list[tuple[int, bool]] = []
    worker: list[bool] = []

    def work() -> int:
        worker.append(threading.current_thread() is threading.main_thread())
        return 42

    task = runner.submit(
        work,
        on_done=lambda value: seen.append(
            (value, threading.current_thread() is threading.main_thread())
        ),
    )
    qtbot.waitUntil(lambda: bool(seen))
    assert seen == [(42, True)]
    assert worker == [False]
    assert task.done()
    assert task.result() == 42
    assert not runner.busy


def test_a_failure_is_kept_on_the_handle_and_described(qtbot: QtBot) -> None:
    runner = TaskRunner()
    messages: list[str] = []

    def boom() -> None:
        raise ValueError("no such   profile")

    task = runner.submit(boom, on_failed=messages.append)
    qtbot.waitUntil(lambda: bool(messages))
    assert messages == ["ValueError: no such profile"]
    error = task.exception()
    assert isinstance(error, ValueError)
    # The traceback stays, without the frames' local variables.
    frames = []
    trace = error.__traceback__
    while trace is not None:
        frames.append(trace.tb_frame)
        trace = trace.tb_next
    assert [frame.f_code.co_name for frame in frames][-1] == "boom"
    assert all(not frame.f_locals for frame in frames)


def test_a_waiting_task_can_be_cancelled(qtbot: QtBot) -> None:
    runner = TaskRunner(max_threads=1)
    gate = threading.Event()
    order: list[str] = []
    first = runner.submit(lambda: gate.wait(10), on_done=lambda _r: order.append("first"))
    second = runner.submit(lambda: "x", on_done=lambda _r: order.append("second"))
    third = runner.submit(lambda: "y", on_done=lambda _r: order.append("third"))
    assert second.cancel()
    gate.set()
    qtbot.waitUntil(lambda: "third" in order)
    assert order == ["first", "third"]
    assert second.cancelled()
    assert first.done()
    assert third.done()


def test_one_thread_delivers_in_submission_order(qtbot: QtBot) -> None:
    runner = TaskRunner(max_threads=1)
    got: list[int] = []
    for value in range(50):
        runner.submit(lambda value=value: value, on_done=got.append)
    qtbot.waitUntil(lambda: len(got) == 50)
    assert got == list(range(50))


def test_a_deleted_runner_gets_no_callbacks(qtbot: QtBot) -> None:
    runner = TaskRunner()
    gate = threading.Event()
    called: list[object] = []
    task: Task = runner.submit(lambda: gate.wait(10), on_done=called.append)
    probe = TaskRunner()
    landed: list[object] = []
    runner.deleteLater()
    qtbot.waitUntil(lambda: not _valid(runner))
    gate.set()
    # A later task of another runner is delivered after the first one's wake-up.
    probe.submit(lambda: task.result(), on_done=landed.append)
    qtbot.waitUntil(lambda: bool(landed))
    assert called == []


def test_channel_messages_reach_the_gui_thread_until_closed(qtbot: QtBot) -> None:
    runner = TaskRunner()
    got: list[object] = []
    channel = runner.channel(got.append)
    runner.submit(lambda: [channel.send(n) for n in range(3)])
    qtbot.waitUntil(lambda: len(got) == 3)
    runner.close_channel(channel)
    done: list[object] = []
    runner.submit(lambda: channel.send("late"), on_done=done.append)
    qtbot.waitUntil(lambda: bool(done))
    assert got == [0, 1, 2]


def test_wait_blocks_until_tasks_returned() -> None:
    runner = TaskRunner()
    gate = threading.Event()
    runner.submit(lambda: gate.wait(10))
    assert not runner.wait(50)
    gate.set()
    assert runner.wait(10_000)


def _valid(obj: object) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)


@pytest.mark.parametrize("threads", [1, 3])
def test_a_closed_runner_refuses_new_work(threads: int) -> None:
    runner = TaskRunner(max_threads=threads)
    runner.close()
    with pytest.raises(RuntimeError):
        runner.submit(lambda: None)
