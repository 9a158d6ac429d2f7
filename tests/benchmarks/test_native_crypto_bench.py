"""Smoke test of benchmarks/native_crypto.py (record shape; node reference stubbed out)."""

from __future__ import annotations

import json

from benchmarks import native_crypto


def test_run_writes_records(tmp_path, monkeypatch):
    monkeypatch.setattr(native_crypto, "_node_rates", lambda ms: None)
    out = tmp_path / "bench.json"
    records = native_crypto.run(out, seconds=0.03, batch=50)
    ops = [(r["op"], r["backend"], r["mode"]) for r in records]
    assert ops[:4] == [(op, "python", "call") for op in native_crypto.OPS]
    assert ops[4:] == [
        ("poseidon2", "numba", "call"),
        ("poseidon2", "numba", "batch"),
        ("poseidon5", "numba", "call"),
        ("poseidon5", "numba", "batch"),
        ("merkle_path32", "numba", "call"),
    ]
    for r in records:
        assert r["per_second"] > 0
        assert r["reference_per_second"] is None and r["ratio"] is None
    assert json.loads(out.read_text()) == records
