"""MSM and NTT timings on a CUDA device, transfer separated from compute (CUDA events).

Records are those of benchmarks/msm.py and benchmarks/ntt.py plus "device" and
"transfer_seconds" (host -> device copies of the inputs; results are a few points, or the
transform, copied back: "download_seconds" for the NTT). "seconds" is the device compute time;
"total_seconds" the wall time of the whole call, transfers included. Kernels are compiled by a
warm-up call before anything is timed. Results are checked against the CPU backend up to
`check_max_n` points, and the NTT round trip is checked at every size.

    python -m benchmarks.gpu msm --sizes 16,18,20,22,24 --json gpu_msm.json
    python -m benchmarks.gpu ntt --sizes 16,18,20,22,24 --json gpu_ntt.json
    python -m benchmarks msm --backend cuda --sizes 16,20,24 --g2-sizes 16,18
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.common import print_table, write_json
from benchmarks.msm import random_scalars
from prover.backend import get_backend
from prover.curves import G1, G2
from prover.fields import Fr


class _Events:
    """Elapsed device time between two points of the default stream (CUDA events); under the
    simulator, which has no event timing, the host's wall clock instead."""

    def __init__(self) -> None:
        from numba import cuda

        from prover.kernels.cuda.word import SIMULATOR

        self._cuda = None if SIMULATOR else cuda
        if self._cuda is not None:
            self._start = cuda.event(timing=True)
            self._stop = cuda.event(timing=True)

    def __enter__(self):
        if self._cuda is None:
            self._t0 = time.perf_counter()
        else:
            self._start.record()
        return self

    def __exit__(self, *exc) -> None:
        if self._cuda is None:
            self.seconds = time.perf_counter() - self._t0
            return
        self._stop.record()
        self._stop.synchronize()
        self.seconds = self._cuda.event_elapsed_time(self._start, self._stop) / 1e3


def _device_name() -> str:
    return get_backend("cuda").device_name  # raises BackendUnavailable without a device


def run_msm(sizes: dict[str, list[int]], json_path=None, repeats: int = 2,
            window: int | None = None, check_max_n: int = 1 << 16,
            max_distinct: int | None = None, accumulate: str = "affine",
            field: str | None = None) -> list[dict]:
    """`max_distinct`: make at most this many random bases and repeat them up to n (records
    say "distinct_bases"); host-side point generation dominates large runs otherwise.
    `accumulate`: how the device computes bucket sums (kernels/cuda/msm.py ACCUMULATE);
    `field`: the G1 rounds' arithmetic, "ptx" (CUDA C) or "numba" (None: the default)."""
    from prover.kernels.cuda import memory as mem
    from prover.kernels.cuda import msm as kmsm
    from prover.kernels.cuda.ptx import launch as ptx_launch
    from prover.msm import msm

    device = _device_name()
    records = []
    for op, group in (("msm_g1", G1), ("msm_g2", G2)):
        if not sizes.get(op):
            continue
        warm = group.random_points(4, seed=1)
        field_g = field or ptx_launch.default_field(group.degree)
        if group.degree == 2:
            field_g = "numba"  # the CUDA C kernels cover G1
        kmsm.msm_jacobian(group.degree, warm, random_scalars(4, 2), montgomery=False, window=2,
                          accumulate=accumulate, field=field_g)
        for n in sizes[op]:
            n_distinct = min(n, max_distinct or n)
            bases = group.random_points(n_distinct, seed=n)
            if n_distinct < n:
                bases = np.resize(bases, (n, *bases.shape[1:]))
            k = random_scalars(n, seed=n + 1)
            c = window or kmsm.choose_window(n)
            if not 2 <= c <= kmsm.MAX_WINDOW:
                raise ValueError(f"window size must be in 2..{kmsm.MAX_WINDOW}")
            best = None
            for _ in range(repeats):
                t0 = time.perf_counter()
                with _Events() as up:
                    d_bases, d_k = mem.to_device(bases), mem.to_device(k)
                with _Events() as comp:
                    windows = kmsm.window_sums_device(group.degree, d_bases, d_k, c, False,
                                                      accumulate, field_g)
                point = kmsm.combine_windows(windows, c)
                total = time.perf_counter() - t0
                del d_bases, d_k
                if best is None or comp.seconds < best[1]:
                    best = (up.seconds, comp.seconds, total, point)
            rec = {"op": op, "n": n, "distinct_bases": n_distinct, "backend": "cuda",
                   "device": device, "window": c, "accumulate": accumulate, "field": field_g,
                   "seconds": round(best[1], 5), "transfer_seconds": round(best[0], 5),
                   "total_seconds": round(best[2], 5)}
            if n <= check_max_n:
                ours = group.to_ints(group.to_affine(best[3][None]))
                rec["results_match"] = ours == group.to_ints(msm(group, bases, k)[None])
                if not rec["results_match"]:
                    raise RuntimeError(f"{op} n={n}: CUDA result differs from the CPU backend")
            records.append(rec)
            print(json.dumps(rec), flush=True)
    write_json(records, json_path)
    return records


def run_ntt(log_sizes: list[int], json_path=None, repeats: int = 3) -> list[dict]:
    from prover.kernels.cuda import memory as mem
    from prover.kernels.cuda import ntt as kntt
    from prover.ntt import root_of_unity

    device = _device_name()
    backend = get_backend("cuda")
    backend.ntt(Fr.from_ints(range(8)))  # compile / warm
    records = []
    for log_n in log_sizes:
        n = 1 << log_n
        a = Fr.to_montgomery(random_scalars(n, seed=log_n))
        n_inv = Fr.from_int(pow(n, -1, Fr.modulus))
        tw_f, tw_i = kntt.device_twiddles(log_n, False), kntt.device_twiddles(log_n, True)
        best_f = best_i = best_up = best_down = float("inf")
        for _ in range(repeats):
            with _Events() as up:
                d = mem.to_device(a)
            with _Events() as fwd:
                kntt.ntt_in_place(d, tw_f)
            with _Events() as inv:
                kntt.ntt_in_place(d, tw_i)
                kntt.scale(d, n_inv)
            with _Events() as down:
                back = mem.to_host(d)
            best_up, best_down = min(best_up, up.seconds), min(best_down, down.seconds)
            best_f, best_i = min(best_f, fwd.seconds), min(best_i, inv.seconds)
            if not np.array_equal(back, a):
                raise RuntimeError(f"CUDA NTT 2^{log_n}: inverse(forward(x)) != x")
        coset = backend.coset_intt(backend.coset_ntt(a[:8].copy(), root_of_unity(4)),
                                   root_of_unity(4))
        if not np.array_equal(coset, a[:8]):
            raise RuntimeError("CUDA coset NTT round trip failed")
        rec = {"op": "ntt", "n": n, "backend": "cuda", "device": device,
               "seconds": round(best_f, 5), "inverse_seconds": round(best_i, 5),
               "transfer_seconds": round(best_up, 5), "download_seconds": round(best_down, 5)}
        records.append(rec)
        print(json.dumps(rec), flush=True)
    write_json(records, json_path)
    return records


def main_msm(sizes, json_path=None, repeats=2, window=None):
    records = run_msm(sizes, json_path, repeats, window)
    print_table("MSM on CUDA (seconds)", records,
                [("op", "op"), ("n", "n"), ("window", "c"), ("seconds", "compute s"),
                 ("transfer_seconds", "transfer s"), ("total_seconds", "total s")])
    return records


def main_ntt(log_sizes, json_path=None):
    records = run_ntt(log_sizes, json_path)
    print_table("NTT over Fr on CUDA (seconds)", records,
                [("n", "n"), ("seconds", "forward s"), ("inverse_seconds", "inverse s"),
                 ("transfer_seconds", "upload s"), ("download_seconds", "download s")])
    return records


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["msm", "ntt"])
    ap.add_argument("--sizes", default="16,18,20,22,24", help="log2 sizes, comma separated")
    ap.add_argument("--g2-sizes", default="", help="log2 G2 MSM sizes (msm only)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--window", type=int, default=None)
    ap.add_argument("--json", dest="json_path", default=None)
    args = ap.parse_args()
    logs = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.what == "ntt":
        main_ntt(logs, args.json_path)
    else:
        g2 = [1 << int(s) for s in args.g2_sizes.split(",") if s.strip()]
        main_msm({"msm_g1": [1 << k for k in logs], "msm_g2": g2}, args.json_path,
                 args.repeats, args.window)


if __name__ == "__main__":
    _main()
