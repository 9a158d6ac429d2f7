"""`python -m benchmarks gas --per-trade`: full batches of real trades submitted on py-evm."""

from __future__ import annotations

from benchmarks import gas
from rollup.chain.layout import public_data_bytes


def test_gas_per_trade_submits_full_batches_of_trades():
    records: list[dict] = []
    gas.run_per_trade([2, 8], "embedded", records, log=lambda m: None, l1_slots=1, depth=5)
    small, big = records
    for r, n in ((small, 2), (big, 8)):
        # every slot a trade; the public data is the shape's (the contract took the batch)
        assert (r["slots"], r["trades"], r["l1_slots"]) == (n, n, 1)
        assert r["public_data_bytes"] == public_data_bytes(n, 1)
        assert r["gas_used"] == 21_000 + r["calldata_gas"] + r["execution_gas"]
        assert r["gas_per_trade"] == round(r["gas_used"] / n)
    # the fixed cost (pairing, bookkeeping) is shared: each trade costs less in a bigger batch
    assert big["gas_per_trade"] < small["gas_per_trade"] / 3
    assert big["gas_used"] - small["gas_used"] < 6 * 1_100  # ~15 gas per 52-byte record
