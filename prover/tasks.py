"""A small task graph run by a few threads that call kernels releasing the GIL (`nogil=True`).

Tasks run when all the tasks they come `after` have finished, lowest `order` first among those
ready; the calling thread works too. The first exception stops the graph (running tasks finish)
and is raised in the caller. Numba's `prange` splits a loop evenly between its threads once;
here a thread that finishes early (or that the OS favours on a shared machine) takes the next
task, so several kernels of unequal cost keep every core busy until the end.
"""

from __future__ import annotations

import heapq
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


def default_threads() -> int:
    """Threads for a graph: NUMBA_NUM_THREADS when set (as for Numba's own pool), else the
    cores this process may run on."""
    env = os.environ.get("NUMBA_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(eq=False)
class Task:
    fn: Callable[[], object]
    label: str
    order: int
    waiting: int = 0
    then: list[Task] = field(default_factory=list)


class TaskGraph:
    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self.seconds: dict[str, float] = {}  # label -> thread seconds spent in its tasks

    def add(self, fn: Callable[[], object], label: str, after: Iterable[Task] = (),
            order: int | None = None) -> Task:
        """A task running fn() once the tasks in `after` are done; `order` (default: the
        order of `add` calls) ranks it among the tasks ready at the same time."""
        t = Task(fn, label, len(self.tasks) if order is None else order)
        for dep in after:
            dep.then.append(t)
            t.waiting += 1
        self.tasks.append(t)
        return t

    def run(self, threads: int) -> None:
        ready = [(t.order, i, t) for i, t in enumerate(self.tasks) if t.waiting == 0]
        heapq.heapify(ready)
        left = len(self.tasks)
        cv = threading.Condition()
        errors: list[BaseException] = []

        def worker() -> None:
            nonlocal left
            while True:
                with cv:
                    while not ready and left and not errors:
                        cv.wait()
                    if errors or not left:
                        return
                    _, _, task = heapq.heappop(ready)
                t0 = time.perf_counter()
                try:
                    task.fn()
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                    with cv:
                        errors.append(exc)
                        cv.notify_all()
                    return
                dt = time.perf_counter() - t0
                with cv:
                    self.seconds[task.label] = self.seconds.get(task.label, 0.0) + dt
                    left -= 1
                    for nxt in task.then:
                        nxt.waiting -= 1
                        if nxt.waiting == 0:
                            heapq.heappush(ready, (nxt.order, id(nxt), nxt))
                    task.fn = _done  # drop the closure (and the arrays it holds) now
                    cv.notify_all()

        helpers = [threading.Thread(target=worker, daemon=True)
                   for _ in range(max(1, threads) - 1)]
        for h in helpers:
            h.start()
        worker()
        for h in helpers:
            h.join()
        if errors:
            raise errors[0]


def _done() -> None:
    return None
