"""The CUDA kernels against the CPU kernels on tiny inputs: checks run as a script, one group
per process, under Numba's CUDA simulator or on a real device.

    NUMBA_ENABLE_CUDASIM=1 python tests/prover/kernels/cuda_checks.py GROUP   # no GPU needed
    python tests/prover/kernels/cuda_checks.py GROUP --device                  # on a GPU

The simulator must be chosen before numba is first imported, so a pytest process (which runs
numba for real) starts this file as a child: tests/prover/kernels/test_cuda_sim.py. On a GPU
machine benchmarks/device_run.sh runs the same groups with --device. The file needs no pytest.
Prints "ok GROUP on DEVICE in S s" when every check of the group passed.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

GROUPS = ("field", "ntt", "msm_g1", "msm_g2", "backend", "ptx")


# ---- the checks -----------------------------------------------------------------------------


def _field_values(p: int) -> list[int]:
    # Edge values, plus values whose Montgomery limbs are all ones / carry through every limb.
    return [0, 1, 2, p - 1, p - 2, (p - 1) // 2, (1 << 255) % p, (1 << 192) - 1, 0xDEADBEEF]


def check_field() -> None:
    import numpy as np
    from numba import cuda

    from prover.constants import Q, R
    from prover.fields import Fq, Fq2, Fr
    from prover.kernels.cuda import fq as kq
    from prover.kernels.cuda import fr as kr
    from prover.kernels.cuda.memory import grid
    from prover.kernels.cuda.word import adc, mac, mulhi, sbb

    # Word helpers, against Python integers, on the edge words.
    M = (1 << 64) - 1
    words = [0, 1, 2, M, M - 1, 1 << 63, (1 << 63) - 1, 0x0123456789ABCDEF]
    for a in words:
        for b in words:
            ua, ub = np.uint64(a), np.uint64(b)
            assert int(mulhi(ua, ub)) == (a * b) >> 64
            lo, hi = mac(ua, ub, np.uint64(M), np.uint64(b))
            assert int(lo) | (int(hi) << 64) == a * b + M + b
            for c in (0, 1):
                s, co = adc(ua, ub, np.uint64(c))
                assert int(s) | (int(co) << 64) == a + b + c
                d, bo = sbb(ua, ub, np.uint64(c))
                assert int(d) == (a - b - c) % (1 << 64) and int(bo) == int(a < b + c)

    def run(kernel, *arrays, out_shape):
        out = np.zeros(out_shape, dtype=np.uint64)
        d_out = cuda.to_device(out)
        kernel[grid(out_shape[0])](*[cuda.to_device(x) for x in arrays], d_out)
        return d_out.copy_to_host()

    for F, p, mul, add, sub in (
        (Fr, R, kr.mul_kernel, kr.add_kernel, kr.sub_kernel),
        (Fq, Q, kq.fq_mul_kernel, kq.fq_add_kernel, kq.fq_sub_kernel),
    ):
        vals = _field_values(p)
        xs = [x for x in vals for _ in vals]
        ys = [y for _ in vals for y in vals]
        a, b = F.from_ints(xs, reduce=True), F.from_ints(ys, reduce=True)
        shape = a.shape
        assert np.array_equal(run(mul, a, b, out_shape=shape), F.mul(a, b)), f"{F} mul"
        assert np.array_equal(run(add, a, b, out_shape=shape), F.add(a, b)), f"{F} add"
        assert np.array_equal(run(sub, a, b, out_shape=shape), F.sub(a, b)), f"{F} sub"
        products = [x * y % p for x, y in zip(xs, ys, strict=True)]
        assert F.to_ints(run(mul, a, b, out_shape=shape)) == products

    v = Fq.from_ints(_field_values(Q), reduce=True)
    assert np.array_equal(run(kq.fq_neg_kernel, v, out_shape=v.shape), Fq.neg(v))
    fr_vals = Fr.from_ints(_field_values(R), reduce=True)
    assert np.array_equal(run(kr.from_montgomery_kernel, fr_vals, out_shape=fr_vals.shape),
                          Fr.from_montgomery(fr_vals))
    a, b, c = fr_vals, fr_vals[::-1].copy(), np.roll(fr_vals, 3, axis=0)
    want = Fr.sub(Fr.mul(a, b), c)
    assert np.array_equal(run(kr.mul_sub_kernel, a, b, c, out_shape=a.shape), want)

    pairs = [(0, 0), (1, 0), (0, 1), (Q - 1, Q - 1), (3, Q - 5), (1 << 200, 12345)]
    x = Fq2.from_ints(pairs, reduce=True)
    y = Fq2.from_ints(pairs[::-1], reduce=True)
    assert np.array_equal(run(kq.fq2_mul_kernel, x, y, out_shape=x.shape), Fq2.mul(x, y))
    nz = x[1:4]  # inversion is ~380 products each: a few nonzero values
    assert np.array_equal(run(kq.fq2_inv_kernel, nz, out_shape=nz.shape), Fq2.inv(nz))


def check_ntt() -> None:
    import numpy as np

    from prover import ntt
    from prover.backend import get_backend
    from prover.constants import R
    from prover.fields import Fr

    gpu = get_backend("cuda")
    assert gpu.name == "cuda"

    def vec(n, seed):
        vals = [0, 1, R - 1] + [(seed * 7919 + i * 104729) ** 5 % R for i in range(n - 3)]
        return Fr.from_ints(vals[:n])

    for log_n in (3, 4, 6):
        n = 1 << log_n
        a = vec(n, log_n)
        want = ntt.ntt(a.copy())
        got = gpu.ntt(a.copy())
        assert np.array_equal(got, want), f"ntt 2^{log_n}"
        assert np.array_equal(gpu.intt(got), a), f"intt(ntt) 2^{log_n}"
    a = vec(16, 1)
    assert np.array_equal(gpu.intt(a.copy()), ntt.intt(a.copy())), "intt 16"
    shift = ntt.root_of_unity(5)  # w_(2n) for n = 16: snarkjs's coset
    assert np.array_equal(gpu.coset_ntt(a.copy(), shift), ntt.coset_ntt(a.copy(), shift))
    assert np.array_equal(gpu.coset_intt(a.copy(), 7), ntt.coset_intt(a.copy(), 7))
    assert np.array_equal(gpu.coset_intt(gpu.coset_ntt(a.copy(), 7), 7), a)
    big = vec(64, 9)  # a shift whose power tables have words >= 2^63
    for shift in (ntt.root_of_unity(7), R - 2):
        assert np.array_equal(gpu.coset_ntt(big.copy(), shift), ntt.coset_ntt(big.copy(), shift))
    one = Fr.from_ints([1])
    assert np.array_equal(gpu.ntt(one.copy()), one)  # n = 1: identity

    # The H step: A*B - C on the odd points of the 2n-domain, against the CPU backend.
    cpu = get_backend("cpu")
    a, b, c = vec(8, 2), vec(8, 3), vec(8, 4)
    shift = ntt.root_of_unity(4)
    want = cpu.h_evaluations(a.copy(), b.copy(), c.copy(), shift)
    assert np.array_equal(gpu.h_evaluations(a.copy(), b.copy(), c.copy(), shift), want)


def _msm_case(group, n: int, seed: int):
    """Points with repeats, infinity, and a negated copy; scalars with 0, 1, r-1 and a digit
    pattern that makes every window carry."""
    from prover.constants import R

    bases = group.random_points(n, seed=seed)
    bases[1] = bases[0]  # repeated base
    bases[2] = 0  # infinity
    bases[3] = group.neg(bases[0][None])[0]  # -P0: cancels against P0 with equal scalars
    ks = [5, 5, 9, R - 1, 0, 1, R - 2, (R - 1) // 2, (1 << 253) + 0x7777, 2**64 - 1]
    ks += [(i * 0x9E3779B97F4A7C15 * seed) ** 3 % R for i in range(n)]
    return bases, ks[:n]


def _affine_ints(group, jac):
    return group.to_ints(group.to_affine(jac[None]))[0]


def check_msm(group, n_large: int | None, windows) -> None:
    from prover.backend import get_backend
    from prover.fields import Fr, ints_to_limbs
    from prover.kernels.cuda import msm as kmsm
    from prover.msm import msm

    gpu = get_backend("cuda")
    one = gpu.msm_g1 if group.degree == 1 else gpu.msm_g2

    def ref(bases, ks):
        return group.to_ints(msm(group, bases, ks)[None])[0]

    bases, ks = _msm_case(group, 4, seed=4)
    want = ref(bases, ks)
    for c in windows:
        jac = kmsm.msm_jacobian(group.degree, bases, ints_to_limbs(ks), montgomery=False,
                                window=c)
        assert _affine_ints(group, jac) == want, f"window {c}"
    # The three scalar forms.
    assert group.to_ints(one(bases, Fr.from_ints(ks), "montgomery")[None])[0] == want
    assert group.to_ints(one(bases, ints_to_limbs(ks), "standard")[None])[0] == want
    # All scalars zero, an empty MSM, and k, -k on one point: infinity.
    assert _affine_ints(group, gpu.msm_jacobian(group, bases, [0] * 4)) is None
    assert _affine_ints(group, gpu.msm_jacobian(group, bases[:0], [])) is None
    assert _affine_ints(group, gpu.msm_jacobian(group, bases[:1].repeat(2, 0),
                                                [12345, -12345])) is None
    if n_large:
        bases, ks = _msm_case(group, n_large, seed=n_large)
        assert group.to_ints(one(bases, ks)[None])[0] == ref(bases, ks), f"n={n_large}"
        # A device limit of 3 points splits the job; the parts are added on the host.
        chunked = get_backend("cuda", max_chunk=3)
        bases, ks = bases[:7], ks[:7]
        assert _affine_ints(group, chunked.msm_jacobian(group, bases, ks)) == ref(bases, ks)


def check_msm_edges(group, windows, field: str | None = None) -> None:
    """Buckets built to hit every case of the batch-affine rounds: P + P (doubling), P + (-P)
    (infinity), infinity + P, a bucket of 9 equal points (odd carries over 4 rounds), zero
    scalars; 3 pairs per inversion so that batches straddle buckets. Both accumulations
    against the CPU MSM."""
    from prover.constants import R
    from prover.fields import ints_to_limbs
    from prover.kernels.cuda import msm as kmsm
    from prover.kernels.cuda import msm_affine
    from prover.msm import msm

    pts = group.random_points(3, seed=7)
    P, Q, S = pts[0], pts[1], pts[2]
    negP, negQ = group.neg(P[None])[0], group.neg(Q[None])[0]
    inf = np.zeros_like(P)
    k, j = 0x1234567 * 0x89ABCDEF12345, (R - 1) // 3
    cases = [
        ([P, P, negP, inf, Q, negQ, S], [k, k, k, k, j, j, 0]),
        ([S] * 9 + [P, negP], [j] * 9 + [5, 5]),
    ]
    saved = msm_affine.DEFAULT_BATCH, msm_affine.PASS_ENTRIES
    msm_affine.DEFAULT_BATCH = 3
    try:
        for bases, ks in cases:
            bases = np.ascontiguousarray(np.stack(bases))
            want = group.to_ints(msm(group, bases, ks)[None])[0]
            for c in windows:
                for acc in kmsm.ACCUMULATE:
                    jac = kmsm.msm_jacobian(group.degree, bases, ints_to_limbs(ks),
                                            montgomery=False, window=c, accumulate=acc,
                                            field=field)
                    assert _affine_ints(group, jac) == want, (acc, c, ks)
        # Windows split over passes (5 windows each, the last one short) as large MSMs are.
        msm_affine.PASS_ENTRIES = 5 * len(bases)
        jac = kmsm.msm_jacobian(group.degree, bases, ints_to_limbs(ks), montgomery=False,
                                window=8, field=field)
        assert _affine_ints(group, jac) == want, "passes"
    finally:
        msm_affine.DEFAULT_BATCH, msm_affine.PASS_ENTRIES = saved


def check_msm_g1() -> None:
    from prover.curves import G1

    check_msm(G1, n_large=32, windows=(2, 5))
    check_msm_edges(G1, windows=(3,))


def check_msm_g2() -> None:
    from prover.curves import G2

    check_msm(G2, n_large=None, windows=(4,))
    check_msm_edges(G2, windows=(8,))  # 32 windows: the simulator's time goes per window


def check_backend() -> None:
    from prover.backend import BackendUnavailable, CpuBackend, CudaBackend, get_backend
    from prover.kernels.cuda.memory import real_device_present
    from prover.kernels.cuda.word import SIMULATOR

    assert isinstance(get_backend("cuda"), CudaBackend)
    assert issubclass(BackendUnavailable, RuntimeError)
    if SIMULATOR:
        # "cuda" runs the simulated kernels; "auto" never picks the simulator.
        assert get_backend("cuda").device_name == "Numba CUDA simulator"
        assert not real_device_present()
        assert isinstance(get_backend("auto"), CpuBackend)
    else:
        # On a GPU machine "auto" picks the device and names it.
        assert real_device_present()
        assert isinstance(get_backend("auto"), CudaBackend)
        assert get_backend("cuda").device_name != "Numba CUDA simulator"

    # The benchmark hooks run end to end (timings are meaningless here; results are checked).
    from benchmarks import gpu

    (rec,) = gpu.run_ntt([3], repeats=1)
    assert rec["device"] == get_backend("cuda").device_name and rec["transfer_seconds"] >= 0
    (rec,) = gpu.run_msm({"msm_g1": [4]}, repeats=1, window=3)
    assert rec["results_match"] and {"seconds", "transfer_seconds", "device"} <= rec.keys()


def check_ptx() -> None:
    """The CUDA C kernels (prover/kernels/cuda/ptx) on the device against the CPU: Fq and Fr
    add/sub/mul, the product chain of the throughput kernel, G1 double/add/mixed add, and the
    G1 MSM with its batch-affine rounds in CUDA C (field="ptx") on the edge cases and 2^12
    random points. Under the simulator they cannot run: says so and passes."""
    from prover.kernels.cuda.ptx import launch

    reason = launch.unavailable_reason()
    if reason is not None:
        from prover.kernels.cuda.word import SIMULATOR

        if not SIMULATOR:
            raise RuntimeError(f"CUDA C kernels unavailable on the device: {reason}")
        print(json.dumps({"op": "ptx_checks", "skipped": reason}), flush=True)
        return
    import cupy as cp

    from prover.constants import Q, R
    from prover.curves import G1
    from prover.fields import Fq, Fr, ints_to_limbs
    from prover.kernels.cuda import msm as kmsm
    from prover.msm import msm

    def run(name, *arrays, out_shape):
        d_out = cp.zeros(out_shape, dtype=np.uint64)
        launch.launch(name, out_shape[0], *[cp.asarray(x) for x in arrays], d_out,
                      out_shape[0])
        return cp.asnumpy(d_out)

    rng = np.random.default_rng(5)
    for F, p, tag in ((Fr, R, "fr"), (Fq, Q, "fq")):
        vals = _field_values(p) + [int(x) % p for x in rng.integers(0, 2**63, 40)]
        vals += [(v << 190) % p for v in vals[-40:]]
        xs = [x for x in vals for _ in vals]
        ys = [y for _ in vals for y in vals]
        a, b = F.from_ints(xs, reduce=True), F.from_ints(ys, reduce=True)
        for op, ref in (("mul", F.mul), ("add", F.add), ("sub", F.sub)):
            got = run(f"{tag}_{op}_k", a, b, out_shape=a.shape)
            assert np.array_equal(got, ref(a, b)), f"{tag} {op}"

    x = Fq.from_ints(_field_values(Q), reduce=True)
    out = cp.zeros(x.shape, dtype=np.uint64)
    launch.launch("fq_mul_chain_k", len(x), cp.asarray(x), out, len(x), 3)
    want = np.empty_like(x)
    for i in range(len(x)):
        u, v = x[i:i + 1], x[(i + 1) % len(x):][:1]
        for _ in range(3):
            u = Fq.mul(u, v)
            v = Fq.mul(v, u)
        want[i] = Fq.add(u, v)[0]
    assert np.array_equal(cp.asnumpy(out), want), "fq_mul_chain_k"

    pts = G1.random_points(6, seed=3)
    pts[1] = pts[0]  # P + P through the addition formulas
    pts[2] = 0  # infinity
    pts[3] = G1.neg(pts[0][None])[0]  # P + (-P)
    jac = G1.to_jacobian(pts)
    jac2 = G1.to_jacobian(pts[::-1].copy())
    for name, want, args in (
        ("g1_double_k", G1.double(jac), (jac,)),
        ("g1_add_k", G1.add(jac, jac2), (jac, jac2)),
        ("g1_add_mixed_k", G1.add_mixed(jac, pts[::-1].copy()), (jac, pts[::-1].copy())),
    ):
        got = run(name, *args, out_shape=jac.shape)
        assert G1.to_ints(G1.to_affine(got)) == G1.to_ints(G1.to_affine(want)), name

    check_msm_edges(G1, windows=(3, 8), field="ptx")
    bases, ks = _msm_case(G1, 1 << 12, seed=12)
    want = G1.to_ints(msm(G1, bases, ks)[None])[0]
    for field in ("ptx", "numba"):
        got = kmsm.msm_jacobian(1, bases, ints_to_limbs(ks), montgomery=False, field=field)
        assert _affine_ints(G1, got) == want, field


CHECKS = {
    "field": check_field,
    "ntt": check_ntt,
    "msm_g1": check_msm_g1,
    "msm_g2": check_msm_g2,
    "backend": check_backend,
    "ptx": check_ptx,
}

def main(argv: list[str]) -> int:
    if not argv or argv[0] not in CHECKS or argv[1:] not in ([], ["--device"]):
        print(f"usage: cuda_checks.py {{{','.join(CHECKS)}}} [--device]", file=sys.stderr)
        return 2
    simulator = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    if simulator == (argv[1:] == ["--device"]):
        print("run with NUMBA_ENABLE_CUDASIM=1 (the simulator), or with --device on a GPU "
              "machine (and NUMBA_ENABLE_CUDASIM unset)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    CHECKS[argv[0]]()
    from prover.kernels.cuda.memory import device_name

    print(f"ok {argv[0]} on {device_name()} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
