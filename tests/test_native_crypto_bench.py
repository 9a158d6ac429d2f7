"""Smoke test of benchmarks/native_crypto.py (record shape; node reference stubbed out)."""

from __future__ import annotations

import json

from benchmarks import native_crypto


def test_run_writes_records(tmp_path, monkeypatch):
    monkeypatch.setattr(native_crypto, "_node_rates", lambda ms: None)
    out = tmp_path / "bench.json"
    records = native_crypto.run(out, seconds=0.03)
    assert [r["op"] for r in records] == ["poseidon2", "poseidon5", "eddsa_sign", "eddsa_verify"]
    for r in records:
        assert r["backend"] == "python" and r["per_second"] > 0
        assert r["reference_per_second"] is None and r["ratio"] is None
    assert json.loads(out.read_text()) == records
