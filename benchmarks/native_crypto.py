"""Throughput of the pure-Python Poseidon and EdDSA-Poseidon, and of circomlibjs in node.

    python -m benchmarks.native_crypto [out.json]

Records: {"op", "backend": "python", "per_second", "reference_per_second", "ratio"} where the
reference is circomlibjs 0.1.7 (poseidon_wasm, eddsa.js) measured in the same run when node and
node_modules are present (else null); ratio = per_second / reference_per_second.
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

from circuits import eddsa_public_key, eddsa_sign, eddsa_verify, poseidon

ROOT = Path(__file__).resolve().parents[1]
NODE_SCRIPT = ROOT / "tests" / "js" / "circomlibjs_ref.mjs"
OPS = ("poseidon2", "poseidon5", "eddsa_sign", "eddsa_verify")


def _per_second(fn: Callable[[], object], min_seconds: float) -> float:
    """Best of three timed runs, each at least min_seconds/3 long (the machine is shared)."""
    fn()  # warm-up: table generation, code generation
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
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
        "poseidon2": lambda: poseidon([1, 2]),
        "poseidon5": lambda: poseidon([1, 2, 3, 4, 5]),
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


def run(json_path: str | Path | None = None, seconds: float = 1.5) -> list[dict]:
    python_ops = _python_ops()
    reference = _node_rates(int(seconds * 1000))
    records = []
    for op in OPS:
        rate = _per_second(python_ops[op], seconds)
        ref = reference[op] if reference else None
        records.append(
            {
                "op": op,
                "backend": "python",
                "per_second": round(rate, 1),
                "reference": "circomlibjs 0.1.7 (node)" if ref else None,
                "reference_per_second": round(ref, 1) if ref else None,
                "ratio": round(rate / ref, 3) if ref else None,
                "python": platform.python_version(),
            }
        )
    if json_path is not None:
        Path(json_path).write_text(json.dumps(records, indent=1) + "\n")
    return records


if __name__ == "__main__":
    for record in run(sys.argv[1] if len(sys.argv) > 1 else None):
        print(json.dumps(record))
