"""The task graph that runs kernels on a pool of threads: order, dependencies, errors."""

import threading
import time

import pytest

from prover.tasks import TaskGraph


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_dependencies_hold_and_every_task_runs_once(threads):
    g = TaskGraph()
    done: list[str] = []
    lock = threading.Lock()

    def step(name, pause=0.0):
        def run():
            time.sleep(pause)
            with lock:
                done.append(name)
        return run

    a = g.add(step("a", 0.02), "x")
    b = g.add(step("b"), "x")
    c = g.add(step("c"), "y", after=[a, b])
    d = g.add(step("d"), "y", after=[c])
    g.add(step("e"), "z", after=[a, d])
    g.run(threads)
    assert sorted(done) == ["a", "b", "c", "d", "e"]
    for before, after in (("a", "c"), ("b", "c"), ("c", "d"), ("d", "e")):
        assert done.index(before) < done.index(after)
    assert set(g.seconds) == {"x", "y", "z"} and g.seconds["x"] >= 0.02


def test_ready_tasks_run_lowest_order_first():
    g = TaskGraph()
    done: list[int] = []
    for i in range(5):
        g.add(lambda i=i: done.append(i), "t", order=10 - i)
    g.run(1)
    assert done == [4, 3, 2, 1, 0]


def test_first_error_stops_the_graph_and_reaches_the_caller():
    g = TaskGraph()
    ran: list[str] = []

    def boom():
        raise ZeroDivisionError("in a task")

    first = g.add(boom, "bad")
    g.add(lambda: ran.append("never"), "after", after=[first])
    with pytest.raises(ZeroDivisionError, match="in a task"):
        g.run(2)
    assert ran == []


def test_empty_graph_and_more_threads_than_tasks():
    TaskGraph().run(3)
    g = TaskGraph()
    out: list[int] = []
    g.add(lambda: out.append(1), "one")
    g.run(8)
    assert out == [1]
