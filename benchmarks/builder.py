"""The batcher's build time per batch: the circuit rebuilt with each batch's values (before)
against the shape's compiled solver kept between batches (after), in the same run.

    python -m benchmarks builder --slots 4,16 --depth 8 --batches 2 --json builder.json

Per slot count: --batches batches of real requests (the first `--l1-slots` slots signed
withdrawals, the others perpetual trades against a resting maker, amounts varied per batch);
each is built both ways, as `rollup.settlement.stage.build_next` does after the replay:
build_batch -> witness in wire order -> .wtns file. Both .wtns files must be byte-identical.
"after" excludes the solver's one-time build per shape (the batcher's first batch), reported
as `solver_setup_s`.

Records: {"bench": "builder", "slots", "l1_slots", "depth", "constraints", "batches",
"before_s", "after_s", "ratio" (before / after), "replay_s", "solve_s", "wtns_s",
"solver_setup_s", "identical", "load_average"} (seconds: mean per batch).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_json


def _log(m: str) -> None:
    print(m, file=sys.stderr, flush=True)


def _venue(slots: int, l1: int, depth: int):
    from rollup.engine import testnet as tn
    from rollup.engine.testnet import DOMAIN, FAR, PERP
    from rollup.transactions import SELL, Order

    seq = tn.venue(n_accounts=4, depth=depth, deposit=10**12, shared_key=True)
    seq.submit(Order(1, PERP, SELL, 10**6, 60_000, 1, FAR).signed(tn.key(1), DOMAIN))
    return seq


def _requests(seq, k: int, slots: int, l1: int) -> list:
    """Batch k's requests: l1 withdrawals, then one taking buy per trading slot."""
    from rollup.engine import testnet as tn
    from rollup.engine.testnet import DOMAIN, FAR, PERP
    from rollup.transactions import BUY, Order, Withdrawal

    key = tn.key(1)  # every account holds key(1) (shared_key): signing stays cheap
    reqs = [Withdrawal(2, 1_000 + 7 * k + j, 0xABC + k, seq.state.account(2).nonce + j,
                       FAR).signed(key, DOMAIN) for j in range(l1)]
    reqs += [Order(3 + (j % 2), PERP, BUY, 1 + (k + j) % 9, 60_000, 1_000 * (k + 1) + j,
                   FAR).signed(key, DOMAIN) for j in range(slots - l1)]
    return reqs


def measure(slots: int, l1: int, depth: int, batches: int, tmp: Path) -> dict:
    from circuits.batch import batch_solver
    from prover.formats.wtns import write_wtns
    from rollup.settlement.batch import build_batch

    seq = _venue(slots, l1, depth)
    t = time.perf_counter()
    solver = batch_solver(slots, depth, l1_slots=l1)
    setup = time.perf_counter() - t
    before, after, replay, solve, wtns = [], [], [], [], []
    identical = True
    for k in range(batches):
        pre = seq.clone()
        reqs = _requests(seq, k, slots, l1)
        for r in reqs:
            seq.submit(r)
        # before: the circuit built with the batch's values, then its witness
        t0 = time.perf_counter()
        b = build_batch(pre, reqs, slots=slots, batch_number=k + 1, l1_slots=l1)
        write_wtns(tmp / "before.wtns", b.circuit().witness())
        before.append(time.perf_counter() - t0)
        # after: the kept solver
        t0 = time.perf_counter()
        b = build_batch(pre, reqs, slots=slots, batch_number=k + 1, l1_slots=l1)
        t1 = time.perf_counter()
        w = solver.witness(solver.solve(b.values))
        t2 = time.perf_counter()
        write_wtns(tmp / "after.wtns", w)
        t3 = time.perf_counter()
        after.append(t3 - t0)
        replay.append(t1 - t0)
        solve.append(t2 - t1)
        wtns.append(t3 - t2)
        identical &= (tmp / "before.wtns").read_bytes() == (tmp / "after.wtns").read_bytes()
        _log(f"{slots} slots, batch {k + 1}: before {before[-1]:.2f} s, after {after[-1]:.3f} s")
    if not identical:
        raise AssertionError("the solver's .wtns differs from the rebuilt circuit's")
    mean = statistics.fmean
    return {"bench": "builder", "slots": slots, "l1_slots": l1, "depth": depth,
            "constraints": solver.n_constraints, "batches": batches,
            "before_s": round(mean(before), 3), "after_s": round(mean(after), 4),
            "ratio": round(mean(before) / mean(after), 1),
            "replay_s": round(mean(replay), 4), "solve_s": round(mean(solve), 4),
            "wtns_s": round(mean(wtns), 4), "solver_setup_s": round(setup, 2),
            "identical": identical, "load_average": round(os.getloadavg()[0], 2)}


def main(slots_list: list[int], l1: int, depth: int, batches: int,
         json_path: str | None) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-builder-") as d:
        for n in slots_list:
            rec = measure(n, min(l1, n), depth, batches, Path(d))
            print(json.dumps(rec), flush=True)
            out.append(rec)
            write_json(out, json_path)
    return out
