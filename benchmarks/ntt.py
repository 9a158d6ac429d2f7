"""NTT timings over Fr (forward transform, in place, all cores)."""

from __future__ import annotations

import json
import time

import numpy as np

from benchmarks.common import print_table, threads, write_json
from benchmarks.msm import random_scalars
from prover.fields import Fr
from prover.ntt import intt, ntt


def run(log_sizes: list[int], json_path=None, repeats: int = 3) -> list[dict]:
    records = []
    ntt(Fr.from_ints([1, 2, 3, 4]))  # compile / warm
    for log_n in log_sizes:
        n = 1 << log_n
        a = Fr.to_montgomery(random_scalars(n, seed=log_n))
        ref = a.copy()
        best_f = best_i = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            ntt(a)
            best_f = min(best_f, time.perf_counter() - t0)
            t0 = time.perf_counter()
            intt(a)
            best_i = min(best_i, time.perf_counter() - t0)
        if not np.array_equal(a, ref):
            raise RuntimeError(f"NTT 2^{log_n}: inverse(forward(x)) != x")
        rec = {
            "op": "ntt",
            "n": n,
            "backend": "cpu",
            "threads": threads(),
            "seconds": round(best_f, 4),
            "inverse_seconds": round(best_i, 4),
        }
        records.append(rec)
        print(json.dumps(rec), flush=True)
    write_json(records, json_path)
    return records


def main(log_sizes, json_path=None):
    records = run(log_sizes, json_path)
    print_table(
        "NTT over Fr (wall seconds)",
        records,
        [
            ("n", "n"),
            ("threads", "threads"),
            ("seconds", "forward s"),
            ("inverse_seconds", "inverse s"),
        ],
    )
    return records
