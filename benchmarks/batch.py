"""The batch circuit at operator sizes: constraints, witness, setup and proving time, peak memory.

    python -m benchmarks batch --slots 16,32 --l1-slots 4 --depth 16 [--prove] --json batch.json

Per slot count, each stage in its own child process, as the operator runs them: (1) the circuit
built without values (per-component counts: an L1 slot, a trading slot), its solver compiled
(the batcher's kept solver), the witness of a batch of signed withdrawals (L1 slots) and
perpetual trades against a resting maker solved twice (the first loads the kernels), and with
--prove the .r1cs written; (2) the development setup from the .r1cs (NOT a ceremony; the zkey
is cached in --keys); (3) a proof from the memory-mapped zkey after a warm-up on a tiny circuit,
verified. Each child samples its RSS (total, anonymous, file-backed) per phase every 0.1 s.
Records: slots, l1_slots, depth, constraints, wires, nnz (A, B, C), per-slot counts, seconds
(build, solver_build, builder, witness_first, witness, r1cs, setup, prove and its phases),
zkey_bytes, verified, peak_rss_mb {phase: {rss, anon, file}}, maxrss_mb {child: getrusage},
load_average [start, end].
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


class _Peaks:
    """Peak RSS per phase, sampled from /proc/self/status by a daemon thread every 0.1 s."""

    def __init__(self) -> None:
        import threading

        self.phase = "start"
        self.peaks: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def now() -> dict[str, float]:
        keys = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}
        out = {}
        with open("/proc/self/status") as f:
            for line in f:
                k = line.split(None, 1)[0]
                if k in keys:
                    out[keys[k]] = int(line.split()[1]) / 1024  # kB -> MiB
        return out

    def sample(self) -> None:
        cur = self.now()
        peak = self.peaks.setdefault(self.phase, {k: 0.0 for k in cur})
        for k, v in cur.items():
            peak[k] = max(peak[k], round(v, 1))

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def enter(self, phase: str) -> None:
        self.sample()
        self.phase = phase
        self.sample()

    def stop(self) -> dict[str, dict[str, float]]:
        self.sample()
        self._stop.set()
        self._thread.join()
        return {k: v for k, v in self.peaks.items() if k != "start"}


def _maxrss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _build_and_setup(slots: int, l1: int, depth: int, prove: bool, keys: Path) -> dict:
    """Child 1: circuit, kept solver, witness (.wtns in `keys`), and with `prove` the .r1cs
    (unless the zkey is cached)."""
    from circuits.batch import build_batch_circuit
    from circuits.solver import compile_solver
    from prover.formats.wtns import write_wtns

    peaks = _Peaks()
    peaks.enter("build")
    t = time.perf_counter()
    cs = build_batch_circuit(slots, depth, l1_slots=l1)
    stats = cs.stats()
    counts = cs.component_counts()
    rec = {"op": "batch", "slots": slots, "l1_slots": l1, "depth": depth,
           "constraints": stats["constraints"], "wires": stats["wires"],
           "l1_slot_constraints": counts.get("slot0") if l1 else None,
           "trading_slot_constraints": counts.get(f"slot{slots - 1}") if slots > l1 else None,
           "build_seconds": round(time.perf_counter() - t, 2)}
    peaks.enter("solver")
    t = time.perf_counter()
    solver = compile_solver(cs)
    rec["solver_build_seconds"] = round(time.perf_counter() - t, 2)
    peaks.enter("witness")
    batch, rec["builder_seconds"] = _batch(slots, l1, depth)
    rec["builder_seconds"] = round(rec["builder_seconds"], 2)
    t = time.perf_counter()
    solver.witness(solver.solve(batch.values))  # first: loads the solver's kernels
    rec["witness_first_seconds"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    witness = solver.witness(solver.solve(batch.values))
    rec["witness_seconds"] = round(time.perf_counter() - t, 2)
    if int.from_bytes(witness[1].astype("<u8").tobytes(), "little") != batch.public_input:
        raise AssertionError("the circuit's public input differs from the builder's")
    keys.mkdir(parents=True, exist_ok=True)
    stem = keys / f"bench-batch-{slots}s{l1}l1-d{depth}-{rec['constraints']}"
    write_wtns(stem.with_suffix(".wtns"), witness)
    rec["wtns"], rec["zkey"] = str(stem.with_suffix(".wtns")), str(stem.with_suffix(".zkey"))
    del solver, witness, batch
    if prove and not stem.with_suffix(".zkey").exists():
        peaks.enter("r1cs")
        t = time.perf_counter()
        cs.write_r1cs(stem.with_suffix(".r1cs"))  # streamed: the R1CS never whole in memory
        rec["r1cs_seconds"] = round(time.perf_counter() - t, 2)
        rec["r1cs"] = str(stem.with_suffix(".r1cs"))
    rec["peak_rss_mb"] = peaks.stop()
    rec["maxrss_mb"] = {"build": _maxrss_mb()}
    return rec


def _setup(r1cs_path: str, zkey_path: str) -> dict:
    """Child 2 (as `rollup setup` runs it): the development setup from the .r1cs file, in a
    process that never held the circuit."""
    from prover.formats.r1cs import read_r1cs
    from prover.formats.zkey import write_zkey
    from prover.groth16.setup import dev_setup

    peaks = _Peaks()
    peaks.enter("setup")
    t = time.perf_counter()
    r1cs = read_r1cs(r1cs_path)
    out = {"nnz": [r1cs.A.nnz, r1cs.B.nnz, r1cs.C.nnz]}
    z = dev_setup(r1cs)
    part = Path(zkey_path).with_suffix(".zkey.part")
    write_zkey(z, part)
    part.replace(zkey_path)
    out["setup_seconds"] = round(time.perf_counter() - t, 1)
    out["peak_rss_mb"] = peaks.stop()
    out["maxrss_mb"] = _maxrss_mb()
    return out


def _warm_up() -> None:
    """Load the prover's kernels from Numba's cache on a tiny circuit (x*x = y), its zkey and
    witness read from files as the real ones are (read-only mapped arrays type differently)."""
    import tempfile

    from prover.formats.r1cs import R1CS
    from prover.formats.wtns import write_wtns
    from prover.formats.zkey import read_zkey, write_zkey
    from prover.groth16.prove import prove
    from prover.groth16.setup import dev_setup

    r1 = R1CS.from_constraints([({2: 1}, {2: 1}, {1: 1})], n_wires=3, n_pub_out=1, n_pub_in=0,
                               n_prv_in=1)
    with tempfile.TemporaryDirectory() as d:
        write_zkey(dev_setup(r1), Path(d) / "w.zkey")
        write_wtns(Path(d) / "w.wtns", [1, 9, 3])
        prove(read_zkey(Path(d) / "w.zkey"), Path(d) / "w.wtns")


def _prove(zkey_path: str, wtns_path: str) -> dict:
    """Child 2: prove from the memory-mapped zkey and verify."""
    from prover.formats.zkey import read_zkey
    from prover.groth16.keys import verification_key
    from prover.groth16.prove import prove
    from prover.groth16.verify import verify

    _warm_up()
    peaks = _Peaks()
    peaks.enter("prove")
    t = time.perf_counter()
    res = prove(read_zkey(zkey_path), wtns_path)
    seconds = time.perf_counter() - t
    out = {"prove_seconds": round(seconds, 2),
           "prove_phases": {k: round(v, 2) for k, v in res.timings.items()},
           "peak_rss_mb": peaks.stop()}
    out["verified"] = bool(verify(verification_key(zkey_path), res.public_signals, res.proof))
    out["maxrss_mb"] = _maxrss_mb()
    return out


def _in_child(fn, *args):
    """fn(*args) in a fresh (spawned) process: its memory is its own, measured alone."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def measure(slots: int, l1: int, depth: int, prove: bool, keys: Path) -> dict:
    import os

    load0 = os.getloadavg()[0]
    rec = _in_child(_build_and_setup, slots, l1, depth, prove, keys)
    if prove:
        if not Path(rec["zkey"]).exists():  # the zkey is cached in --keys
            p = _in_child(_setup, rec["r1cs"], rec["zkey"])
            rec["peak_rss_mb"].update(p.pop("peak_rss_mb"))
            rec["maxrss_mb"]["setup"] = p.pop("maxrss_mb")
            rec.update(p)
        rec["zkey_bytes"] = Path(rec["zkey"]).stat().st_size
        p = _in_child(_prove, rec["zkey"], rec["wtns"])
        rec["peak_rss_mb"].update(p.pop("peak_rss_mb"))
        rec["maxrss_mb"]["prove"] = p.pop("maxrss_mb")
        rec.update(p)
    rec["load_average"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    for k in ("wtns", "zkey", "r1cs"):
        rec.pop(k, None)
    return rec


def main(slots_list: list[int], l1: int, depth: int, prove: bool, json_path: str | None,
         keys: Path) -> list[dict]:
    out = []
    for n in slots_list:
        rec = measure(n, min(l1, n), depth, prove, keys)
        print(json.dumps(rec), flush=True)
        out.append(rec)
        if json_path:  # after each shape: a long run keeps what it measured
            Path(json_path).write_text(json.dumps(out, indent=2) + "\n")
    return out
