"""Throughput of the native Poseidon (pure Python and Numba) and EdDSA-Poseidon, and of circomlibjs.

    python -m benchmarks.native_crypto [out.json]

Records: {"op", "backend", "mode", "per_second", "reference_per_second", "ratio", ...} where the
reference is circomlibjs 0.1.7 (poseidon_wasm, eddsa.js) measured in the same run when node and
node_modules are present (else null); ratio = per_second / reference_per_second.

backend "python": ``poseidon_python`` and the EdDSA functions, one call at a time.
backend "numba" (``circuits.poseidon_fast``), all on one thread, timed with process_time:
  mode "call": ``poseidon([...])`` one call at a time (ints in, int out), with latency_us;
  mode "batch": ``poseidon_many`` on `batch` rows of random Montgomery inputs (hashes/s);
  op "merkle_path32": ``merkle_root_from_path`` of a depth-32 path (ints in, int out), paths/s,
  with latency_us; its reference is circomlibjs's poseidon2 rate / 32 (32 calls per path).
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from circuits import eddsa_public_key, eddsa_sign, eddsa_verify
from circuits.poseidon import poseidon, poseidon_python
from circuits.poseidon_constants import R

ROOT = Path(__file__).resolve().parents[1]
NODE_SCRIPT = ROOT / "tests" / "js" / "circomlibjs_ref.mjs"
OPS = ("poseidon2", "poseidon5", "eddsa_sign", "eddsa_verify")


def _per_second(fn: Callable[[], object], min_seconds: float) -> float:
    """Best of three timed runs, each at least min_seconds/3 of this process's CPU time.

    process_time, not wall time: the machine is shared, and every op here is single-threaded.
    """
    fn()  # warm-up: table generation, code generation
    best = 0.0
    for _ in range(3):
        n, start = 0, time.process_time()
        while True:
            fn()
            n += 1
            elapsed = time.process_time() - start
            if elapsed >= min_seconds / 3:
                break
        best = max(best, n / elapsed)
    return best


def _python_ops() -> dict[str, Callable[[], object]]:
    key = bytes([7]) * 32
    msg = 12345
    pub = eddsa_public_key(key)
    sig = eddsa_sign(key, msg)
    return {
        "poseidon2": lambda: poseidon_python([1, 2]),
        "poseidon5": lambda: poseidon_python([1, 2, 3, 4, 5]),
        "eddsa_sign": lambda: eddsa_sign(key, msg),
        "eddsa_verify": lambda: eddsa_verify(pub, msg, sig),
    }


def _node_rates(ms: int) -> dict[str, float] | None:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "circomlibjs").is_dir():
        return None
    requests = [{"op": "bench", "name": op, "ms": ms} for op in OPS]
    proc = subprocess.run(
        ["node", str(NODE_SCRIPT)],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=True,
    )
    return dict(zip(OPS, json.loads(proc.stdout), strict=True))


def _record(op: str, backend: str, mode: str, rate: float, ref: float | None,
            reference: str = "circomlibjs 0.1.7 (node)", **extra) -> dict:
    return {
        "op": op,
        "backend": backend,
        "mode": mode,
        "per_second": round(rate, 1),
        "reference": reference if ref else None,
        "reference_per_second": round(ref, 1) if ref else None,
        "ratio": round(rate / ref, 3) if ref else None,
        **extra,
        "python": platform.python_version(),
    }


def _batch_per_second(k: int, batch: int) -> float:
    """poseidon_many over `batch` random rows of k Montgomery inputs, one thread, CPU time."""
    from circuits.poseidon_fast import poseidon_many
    from prover.fields import Fr

    rng = np.random.default_rng(k)
    # random 253-bit values: four random limbs with the top one masked below r
    limbs = rng.integers(0, 2**64, size=(batch * k, 4), dtype=np.uint64)
    limbs[:, 3] &= np.uint64((1 << 61) - 1)
    x = Fr.to_montgomery(limbs).reshape(batch, k, 4)
    poseidon_many(x[:2], parallel=False)  # warm-up: load the compiled kernel
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        poseidon_many(x, parallel=False)
        best = min(best, time.process_time() - start)
    return batch / best


def _numba_records(seconds: float, batch: int, reference: dict | None) -> list[dict]:
    from circuits.poseidon_fast import merkle_root_from_path

    ref = reference or {}
    out = []
    for op, inputs in (("poseidon2", [1, 2]), ("poseidon5", [1, 2, 3, 4, 5])):
        rate = _per_second(lambda inputs=inputs: poseidon(inputs), seconds)
        out.append(_record(op, "numba", "call", rate, ref.get(op),
                           latency_us=round(1e6 / rate, 2), threads=1))
        rate = _batch_per_second(len(inputs), batch)
        out.append(_record(op, "numba", "batch", rate, ref.get(op), batch=batch, threads=1))
    rng = np.random.default_rng(32)
    siblings = [int(v) % R for v in rng.integers(0, 2**63, size=32)]
    rate = _per_second(lambda: merkle_root_from_path(12345, siblings, 0x5A5A5A5A), seconds)
    p2 = ref.get("poseidon2")
    out.append(_record("merkle_path32", "numba", "call", rate, p2 / 32 if p2 else None,
                       reference="circomlibjs 0.1.7 (node): poseidon2 rate / 32",
                       latency_us=round(1e6 / rate, 1), threads=1))
    return out


def run(json_path: str | Path | None = None, seconds: float = 1.5,
        batch: int = 100_000) -> list[dict]:
    python_ops = _python_ops()
    reference = _node_rates(int(seconds * 1000))
    records = []
    for op in OPS:
        rate = _per_second(python_ops[op], seconds)
        records.append(_record(op, "python", "call", rate, reference[op] if reference else None))
    records += _numba_records(seconds, batch, reference)
    if json_path is not None:
        Path(json_path).write_text(json.dumps(records, indent=1) + "\n")
    return records


if __name__ == "__main__":
    for record in run(sys.argv[1] if len(sys.argv) > 1 else None):
        print(json.dumps(record))
