"""The development keys' cache: an entry is named after the whole circuit shape, the scenario
margin's underlyings included, so keys of another shape are never read back."""

from __future__ import annotations

import pytest

from rollup import devkeys


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
    got = devkeys.dev_keys("batch", slots=2, l1_slots=1, depth=4, cache=tmp_path)
    assert (got.zkey, got.n_constraints, got.setup_seconds) == (stem.with_suffix(".zkey"), 123,
                                                                None)
    assert built == []  # read from the cache: the default is one underlying
    with pytest.raises(RuntimeError, match="not in the cache"):
        devkeys.dev_keys("batch", slots=2, l1_slots=1, depth=4, underlyings=2, cache=tmp_path)
    assert built == [(2, 4, 1, 8, 2)]
