"""The batch circuit at operator sizes: constraints, witness time and proving time per batch.

    python -m benchmarks batch --slots 4,8 --l1-slots 2 --depth 16 [--prove] --json batch.json

For each slot count: the circuit is built once (no witness; its per-component counts give the
cost of an L1 slot and of a trading slot), then a full batch is made on a small venue: the L1
slots carry signed withdrawals, every other slot one perpetual trade (each taker order fills
against a resting maker order, so both signatures, both order-tree updates and both margin
checks are exercised). Witness time = batch builder + solving the circuit's wires. With
--prove, the development setup (NOT a ceremony; cached in --keys) and a proof, timed after a
warm-up proof, then verified.

Records: {"op": "batch", "slots", "l1_slots", "depth", "constraints", "l1_slot_constraints",
"trading_slot_constraints", "build_seconds", "builder_seconds", "solve_seconds",
"setup_seconds", "prove_seconds", "verified"}.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def _batch(slots: int, l1: int, depth: int):
    from rollup.engine import testnet as tn
    from rollup.engine.testnet import DOMAIN, PERP
    from rollup.settlement.batch import build_batch
    from rollup.transactions import BUY, SELL, Order, Withdrawal

    far = 10**9
    n_takers = slots - l1
    seq = tn.venue(n_accounts=4, depth=depth, deposit=10**12, shared_key=True)
    key = tn.key(1)  # every account holds key(1) (shared_key): signing stays cheap
    seq.submit(Order(1, PERP, SELL, 10 * max(n_takers, 1), 60_000, 1, far).signed(key, DOMAIN))
    pre = seq.clone()
    reqs = [Withdrawal(2, 1_000 + k, 0xABC, k, far).signed(key, DOMAIN) for k in range(l1)]
    reqs += [Order(3 + (k % 2), PERP, BUY, 10, 60_000, 1 + k, far).signed(key, DOMAIN)
             for k in range(n_takers)]
    for r in reqs:
        seq.submit(r)
    t = time.perf_counter()
    b = build_batch(pre, reqs, slots=slots, batch_number=1, l1_slots=l1)
    return b, time.perf_counter() - t


def measure(slots: int, l1: int, depth: int, prove: bool, keys: Path) -> dict:
    from circuits.batch import build_batch_circuit

    t = time.perf_counter()
    cs = build_batch_circuit(slots, depth, l1_slots=l1)
    t_build = time.perf_counter() - t
    counts = cs.component_counts()
    rec = {"op": "batch", "slots": slots, "l1_slots": l1, "depth": depth,
           "constraints": cs.stats()["constraints"],
           "l1_slot_constraints": counts.get("slot0") if l1 else None,
           "trading_slot_constraints": counts.get(f"slot{slots - 1}") if slots > l1 else None,
           "build_seconds": round(t_build, 2)}
    batch, t_builder = _batch(slots, l1, depth)
    t = time.perf_counter()
    values = cs.solve(batch.values)
    witness = cs.witness(values)
    rec.update(builder_seconds=round(t_builder, 2),
               solve_seconds=round(time.perf_counter() - t, 2))
    if witness[1] != batch.public_input:
        raise AssertionError("the circuit's public input differs from the builder's")
    if prove:
        from prover.formats.zkey import read_zkey, write_zkey
        from prover.groth16.keys import verification_key
        from prover.groth16.prove import prove as groth16_prove
        from prover.groth16.setup import dev_setup
        from prover.groth16.verify import verify

        keys.mkdir(parents=True, exist_ok=True)
        zpath = keys / f"bench-batch-{slots}s{l1}l1-d{depth}-{cs.stats()['constraints']}.zkey"
        t = time.perf_counter()
        if not zpath.exists():
            write_zkey(dev_setup(cs.to_r1cs()), zpath)
        rec["setup_seconds"] = round(time.perf_counter() - t, 1)
        z = read_zkey(zpath)
        groth16_prove(z, witness)  # warm-up: Numba's cached kernels load on first use
        t = time.perf_counter()
        res = groth16_prove(z, witness)
        rec["prove_seconds"] = round(time.perf_counter() - t, 2)
        rec["verified"] = bool(verify(verification_key(z), res.public_signals, res.proof))
    return rec


def main(slots_list: list[int], l1: int, depth: int, prove: bool, json_path: str | None,
         keys: Path) -> list[dict]:
    out = []
    for n in slots_list:
        rec = measure(n, min(l1, n), depth, prove, keys)
        print(json.dumps(rec), flush=True)
        out.append(rec)
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=2) + "\n")
    return out
