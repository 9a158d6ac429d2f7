"""rollup.devkeys: a cache entry is set up once, also when processes ask for it at the same time
(parallel test workers share one cache), and is named after the whole circuit shape, the
scenario margin's underlyings included, so keys of another shape are never read back."""

from __future__ import annotations

import threading

import pytest

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


def test_the_cache_name_carries_the_underlyings(tmp_path, monkeypatch):
    built = []

    def build(circuit, slots, depth, l1_slots, assets, underlyings):
        built.append((slots, depth, l1_slots, assets, underlyings))
        raise RuntimeError("not in the cache")

    monkeypatch.setattr(devkeys, "_build", build)
    stem = tmp_path / f"batch-2s1l1-d4-a8-u1-{devkeys.circuits_tag()}"
    for f in (stem.with_suffix(".zkey"), tmp_path / f"{stem.name}_vk.json"):
        f.write_bytes(b"key")
    stem.with_suffix(".n").write_text("123")
    got = dev_keys("batch", slots=2, l1_slots=1, depth=4, cache=tmp_path)
    assert (got.zkey, got.n_constraints, got.setup_seconds) == (stem.with_suffix(".zkey"), 123,
                                                                None)
    assert built == []  # read from the cache: the default is one underlying
    with pytest.raises(RuntimeError, match="not in the cache"):
        dev_keys("batch", slots=2, l1_slots=1, depth=4, underlyings=2, cache=tmp_path)
    assert built == [(2, 4, 1, 8, 2)]
