"""rollup.devkeys: a cache entry is set up once, also when processes ask for it at the same time
(parallel test workers share one cache)."""

from __future__ import annotations

import threading

import rollup.devkeys as devkeys
from circuits.dsl import ConstraintSystem
from rollup.devkeys import dev_keys


def _cube(*_shape):
    cs = ConstraintSystem(compute_witness=False)
    x = cs.private_input("x")
    cs.public_output("y", x * x * x + x + 5)
    return cs


def test_concurrent_callers_set_up_once(tmp_path, monkeypatch):
    # a two-constraint circuit for the exit circuit's name: the cache, not the circuit, is tested
    monkeypatch.setattr(devkeys, "_build", _cube)
    # flock conflicts between two open() calls even within one process, so threads stand in
    # for the worker processes
    setups: list[str] = []
    got: list = []

    def ask() -> None:
        got.append(dev_keys("exit", depth=1, cache=tmp_path, on_setup=setups.append))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(setups) == 1 and len(got) == 2
    made, read = sorted(got, key=lambda k: k.setup_seconds is None)
    assert made.setup_seconds is not None and read.setup_seconds is None
    assert (made.zkey, made.vk_path, made.n_constraints) == (read.zkey, read.vk_path,
                                                             read.n_constraints)
    assert not list(tmp_path.glob("*.part"))
    assert dev_keys("exit", depth=1, cache=tmp_path).setup_seconds is None  # from the cache
