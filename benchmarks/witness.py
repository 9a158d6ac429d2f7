"""`wtns calculate` and `groth16 fullprove`, ours against the snarkjs CLI on the same files.

    python -m benchmarks witness --constraints 2^10,2^12 --vs snarkjs --json witness.json

The circuits are benchmarks/prove.py's Poseidon chains (compiled with circom2 --O2, cached;
keys from our development setup unless --setup says otherwise: both provers use the same zkey).
Per size, best of --repeat whole processes each (start-up included, as a user runs them):

  * wtns calculate: ours (`python -m prover.cli wtns calculate`, wasmtime's code cache warm, and
    once with the cache off: the first run on a new .wasm) and snarkjs; the .wtns files must be
    byte-identical;
  * fullprove: ours and snarkjs; our proof is checked with `snarkjs groth16 verify`.

Records: {"op": "wtns_calculate" | "fullprove", "constraints", "witness_size", "seconds",
"peak_rss_mib", "reference": "snarkjs", "reference_seconds", "reference_peak_rss_mib",
"ratio"} (ratio = reference_seconds / seconds: > 1 means we are faster); wtns_calculate adds
"seconds_no_cache" and "in_process_seconds" (a calculation on an instantiated generator).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from benchmarks.prove import CIRCOM, ROOT, SNARKJS, _run, build_circuit, timed_child


def _ours() -> list:
    # `python -m` from the checkout: the code of this tree, whatever the venv's install points at
    return [sys.executable, "-m", "prover.cli"]


def _best(cmd: list, repeat: int, env: dict | None = None) -> tuple[float, float]:
    """(best wall seconds, peak RSS MiB) of `repeat` runs of cmd from the repository root."""
    runs = [timed_child(cmd, cwd=ROOT, env=env) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def measure(info: dict, repeat: int, log=print) -> list[dict]:
    from prover.formats.wtns import read_wtns_header
    from prover.witness_wasm import WitnessCalculator, load_inputs

    d = Path(info["dir"])
    wasm, inp = d / "chain_js" / "chain.wasm", d / "input.json"
    ours_wtns, theirs_wtns = d / "ours.wtns", d / "theirs.wtns"
    n_wit = read_wtns_header(info["wtns"])[2]

    cold, _ = _best([*_ours(), "wtns", "calculate", wasm, inp, ours_wtns], 1,
                    {"ZKPROVE_WASM_CACHE": "0"})
    _run([*_ours(), "wtns", "calculate", wasm, inp, ours_wtns], cwd=ROOT)  # fills the cache
    sec, rss = _best([*_ours(), "wtns", "calculate", wasm, inp, ours_wtns], repeat)
    ref, ref_rss = _best([SNARKJS, "wtns", "calculate", wasm, inp, theirs_wtns], repeat)
    if ours_wtns.read_bytes() != theirs_wtns.read_bytes():
        raise RuntimeError(f"{d}: our .wtns differs from snarkjs's")
    wc = WitnessCalculator(wasm)
    doc = load_inputs(inp)
    wc.calculate(doc)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        wc.calculate(doc)
        best = min(best, time.perf_counter() - t0)
    base = {"constraints": info["constraints"], "witness_size": n_wit, "reference": "snarkjs"}
    recs = [{"op": "wtns_calculate", **base, "seconds": round(sec, 4),
             "seconds_no_cache": round(cold, 4), "in_process_seconds": round(best, 4),
             "peak_rss_mib": round(rss, 1), "reference_seconds": round(ref, 4),
             "reference_peak_rss_mib": round(ref_rss, 1), "ratio": round(ref / sec, 3)}]
    log(f"{info['constraints']} constraints, wtns calculate: ours {sec:.3f} s (first run "
        f"{cold:.3f} s, in-process {best:.3f} s), snarkjs {ref:.3f} s, ratio {ref / sec:.2f}")

    proof, public = d / "fp_proof.json", d / "fp_public.json"
    sproof, spublic = d / "fp_sproof.json", d / "fp_spublic.json"
    sec, rss = _best([*_ours(), "groth16", "fullprove", inp, wasm, info["zkey"], proof, public],
                     repeat)
    ref, ref_rss = _best([SNARKJS, "groth16", "fullprove", inp, wasm, info["zkey"], sproof,
                          spublic], repeat)
    _run([SNARKJS, "groth16", "verify", info["vk"], public, proof], cwd=d)  # raises if invalid
    if public.read_bytes() != spublic.read_bytes():
        raise RuntimeError(f"{d}: public.json differs from snarkjs's")
    recs.append({"op": "fullprove", **base, "seconds": round(sec, 4),
                 "peak_rss_mib": round(rss, 1), "reference_seconds": round(ref, 4),
                 "reference_peak_rss_mib": round(ref_rss, 1), "ratio": round(ref / sec, 3)})
    log(f"{info['constraints']} constraints, fullprove: ours {sec:.3f} s ({rss:.0f} MiB), "
        f"snarkjs {ref:.3f} s ({ref_rss:.0f} MiB), ratio {ref / sec:.2f}")
    return recs


def run(sizes: list[int], json_path: str | None = None, repeat: int = 3, log=print,
        setup: str = "dev") -> list[dict]:
    if not (SNARKJS.exists() and CIRCOM.exists() and shutil.which("node")):
        raise RuntimeError("the benchmark needs node and the pinned node tools (npm ci)")
    records: list[dict] = []
    for n in sizes:
        records += measure(build_circuit(n, setup, log), repeat, log)
        if json_path:
            Path(json_path).write_text(json.dumps(records, indent=2) + "\n")
    return records


def print_records(records: list[dict]) -> None:
    from benchmarks.common import print_table

    print_table("wtns calculate and fullprove (best wall time, whole process)", records, [
        ("op", "op"), ("constraints", "constraints"), ("witness_size", "wires"),
        ("seconds", "ours s"), ("seconds_no_cache", "ours 1st run s"),
        ("peak_rss_mib", "ours MiB"), ("reference_seconds", "snarkjs s"),
        ("reference_peak_rss_mib", "snarkjs MiB"), ("ratio", "snarkjs/ours")])
