"""Smoke test of benchmarks/margin.py: record shape at small sizes (the twin checked against
the reference inside the run)."""

from __future__ import annotations

import json

from benchmarks import margin


def test_quick_run_writes_records(tmp_path):
    out = tmp_path / "margin.json"
    records = margin.run(quick=True, json_path=out)
    ops = [r["op"] for r in records]
    assert ops == ["greeks", "scenario_requirement", "oracle_revaluation",
                   "account_greeks_after_oracle_update"] + ["circuit_side_estimate"] * 8
    greeks, req, reval, acc = records[:4]
    assert greeks["positions"] == 10_000 and greeks["per_second"] > 0
    assert greeks["py_vollib_vectorized"]
    assert req["accounts"] == 2_000 and req["scenarios"] == 26 and req["seconds"] >= 0
    assert reval["series"] == 10
    assert acc["accounts"] == 2_000 and acc["accounts_per_second"] > 0
    assert acc["per_account_cache_miss_us"] > 0
    est = {(r["underlyings"], r["window_bits"]): r["constraints_per_side"] for r in records[4:]}
    assert est[(1, 60)] < est[(1, 64)] < est[(1, 128)] < est[(2, 128)]
    assert json.loads(out.read_text()) == records
