"""Bucket sums of the device MSM by batch-affine pairwise rounds (step 3 of `msm`, the default).

For a run of windows, their buckets' points (sorted, signs applied) are gathered into one
affine array, each bucket a segment. A round adds each segment's points in pairs,
(P_2j, P_2j+1) -> slot j, and moves an odd last point to slot floor(c/2), until each segment
holds one point: a bucket of c points takes ceil(log2 c) rounds, and every pair of every bucket
is one unit of work, so a long bucket is spread over many threads. A thread adds `batch`
consecutive pairs with one field inversion (Montgomery's trick over the denominators
x_Q - x_P, or 2 y_P for a doubling). Affine (0, 0) is infinity; P + (-P) gives it, and it adds
as the identity. The host reads the bucket offsets once and one count per round.
"""

from __future__ import annotations

import numpy as np
from numba import cuda, types

from prover.kernels.cuda import memory as mem
from prover.kernels.cuda.compile import ARR_G1, ARR_G2, ARR_U32, kernel
from prover.kernels.cuda.curve import G1_CURVE, G2_CURVE
from prover.kernels.cuda.fq import FQ2_OPS, FQ_OPS
from prover.kernels.cuda.ptx import launch as ptx_launch
from prover.kernels.cuda.word import device

I64 = types.int64
SIGN = np.uint32(1 << 31)
INDEX = np.uint32((1 << 31) - 1)
DEFAULT_BATCH = 32  # pairs per inversion: one Fq inversion is ~380 products


@kernel("msm_affine_counts", types.void(ARR_U32, I64, ARR_U32))
def counts_kernel(offsets, b0, cnt):
    """cnt[b] = points of bucket b0 + b."""
    b = cuda.grid(1)
    if b < cnt.shape[0]:
        cnt[b] = offsets[b0 + b + 1] - offsets[b0 + b]


@device
def _upper_bound(a, n, x):
    """The number of entries of the nondecreasing a[0:n] that are <= x."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _group_kernels(tag: str, F, C, arr):
    mul, sqr, add, sub, dbl, inv = F.mul, F.sqr, F.add, F.sub, F.dbl, F.inv
    is_zero, eq, one, zero, load, store = F.is_zero, F.eq, F.one, F.zero, F.load, F.store
    aff_is_inf, load_aff_signed = C.aff_is_inf, C.load_aff_signed
    jac_infinity, store_jac = C.jac_infinity, C.store_jac

    @device
    def load_aff(a, i):
        return (load(a, i, 0), load(a, i, 1))

    @device
    def store_aff(a, i, P):
        store(a, i, 0, P[0])
        store(a, i, 1, P[1])

    @device
    def denominator(P, Q):
        """(kind, d): 0 P + Q with d = x_Q - x_P; 1 doubling, d = 2 y_P; 2 the sum is Q (P is
        infinity); 3 the sum is P (Q is infinity); 4 the sum is infinity (Q = -P). d = 1 for
        kinds 2-4, so the batch product never holds a zero."""
        if aff_is_inf(P):
            return 2, one()
        if aff_is_inf(Q):
            return 3, one()
        if eq(P[0], Q[0]):
            if eq(P[1], Q[1]) and not is_zero(P[1]):
                return 1, dbl(P[1])
            return 4, one()
        return 0, sub(Q[0], P[0])

    @device
    def pair_sum(P, Q, kind, d_inv):
        """lambda = (y_Q - y_P) / (x_Q - x_P), or 3 x_P^2 / (2 y_P) for a doubling;
        x_R = lambda^2 - x_P - x_Q, y_R = lambda (x_P - x_R) - y_P."""
        if kind == 2:
            return Q
        if kind == 3:
            return P
        if kind == 4:
            return (zero(), zero())
        if kind == 1:
            x2 = sqr(P[0])
            lam = mul(add(dbl(x2), x2), d_inv)
        else:
            lam = mul(sub(Q[1], P[1]), d_inv)
        x3 = sub(sub(sqr(lam), P[0]), Q[0])
        return (x3, sub(mul(lam, sub(P[0], x3)), P[1]))

    @kernel(f"msm_affine_gather_{tag}", types.void(arr, ARR_U32, I64, I64, arr))
    def gather(bases, sorted_vals, e0, m, xs):
        """xs[k] = +-bases[index] of entry e0 + k (k < m)."""
        k = cuda.grid(1)
        if k < m:
            v = sorted_vals[e0 + k]
            store_aff(xs, k, load_aff_signed(bases, v & INDEX, (v & SIGN) != 0))

    @kernel(f"msm_affine_prepare_{tag}", types.void(ARR_U32, I64, I64, ARR_U32, ARR_U32,
                                                    arr, arr))
    def prepare(offsets, b0, e0, cnt, pairs, xs, ys):
        """Per bucket, before a round: pairs[b] = floor(c/2); an odd last point moves from
        slot c - 1 (xs) to slot floor(c/2) (ys); c becomes ceil(c/2)."""
        b = cuda.grid(1)
        if b < cnt.shape[0]:
            c = cnt[b]
            h = c // np.uint32(2)
            pairs[b] = h
            if c & np.uint32(1):
                s = np.int64(offsets[b0 + b]) - e0
                store_aff(ys, s + h, load_aff(xs, s + c - 1))
            cnt[b] = c - h

    @kernel(f"msm_affine_round_{tag}", types.void(ARR_U32, I64, I64, ARR_U32, I64, I64, arr,
                                                  arr, arr))
    def pair_round(offsets, b0, e0, pair_off, n_buckets, batch, xs, ys, scratch):
        """Thread t adds pairs L in [t*batch, (t+1)*batch): pair L is pair j of bucket b
        (pair_off[b] <= L < pair_off[b+1]); ys[s_b + j] = xs[s_b + 2j] + xs[s_b + 2j + 1].
        scratch[L] holds the product of the denominators before L (Montgomery's trick)."""
        t = cuda.grid(1)
        total = np.int64(pair_off[n_buckets])
        lo = np.int64(t) * batch
        if lo < total:
            hi = lo + batch
            if hi > total:  # (not min(): it failed to type in this kernel under Numba CUDA)
                hi = total
            acc = one()
            for L in range(lo, hi):
                b = _upper_bound(pair_off, n_buckets + 1, L) - 1
                s = np.int64(offsets[b0 + b]) - e0 + 2 * (L - np.int64(pair_off[b]))
                kind, d = denominator(load_aff(xs, s), load_aff(xs, s + 1))
                store(scratch, L, 0, acc)
                acc = mul(acc, d)
            acc_inv = inv(acc)  # 1 / (d_lo ... d_(hi-1))
            for L in range(hi - 1, lo - 1, -1):
                b = _upper_bound(pair_off, n_buckets + 1, L) - 1
                j = L - np.int64(pair_off[b])
                s = np.int64(offsets[b0 + b]) - e0
                P = load_aff(xs, s + 2 * j)
                Q = load_aff(xs, s + 2 * j + 1)
                kind, d = denominator(P, Q)
                d_inv = mul(acc_inv, load(scratch, L, 0))  # 1 / d_L
                acc_inv = mul(acc_inv, d)  # 1 / (d_lo ... d_(L-1))
                store_aff(ys, s + j, pair_sum(P, Q, kind, d_inv))

    @kernel(f"msm_affine_finish_{tag}", types.void(ARR_U32, I64, I64, ARR_U32, arr, arr))
    def finish(offsets, b0, e0, cnt, xs, buckets):
        """buckets[b0 + b] = the segment's one point as Jacobian (Z = 1), or infinity."""
        b = cuda.grid(1)
        if b < cnt.shape[0]:
            if cnt[b] == 0:
                store_jac(buckets, b0 + b, jac_infinity())
            else:
                P = load_aff(xs, np.int64(offsets[b0 + b]) - e0)
                if aff_is_inf(P):
                    store_jac(buckets, b0 + b, jac_infinity())
                else:
                    store_jac(buckets, b0 + b, (P[0], P[1], one()))

    return gather, prepare, pair_round, finish


KERNELS = {
    1: _group_kernels("g1", FQ_OPS, G1_CURVE, ARR_G1),
    2: _group_kernels("g2", FQ2_OPS, G2_CURVE, ARR_G2),
}


def _read(d, i: int) -> int:
    return int(mem.to_host(d[i:i + 1])[0])


PASS_ENTRIES = 1 << 22  # windows are added together up to this many entries per pass


def bucket_sums(degree: int, d_bases, sorted_vals, offsets, n_windows: int, nb: int,
                buckets, batch: int | None = None, field: str = "numba") -> None:
    """buckets[w*nb + b] = sum of bucket b of window w (Jacobian). Consecutive windows share a
    pass while their entries fit PASS_ENTRIES (one window at least), which bounds the affine
    buffers and the launches alike. `batch`: pairs per inversion (DEFAULT_BATCH, read at call
    time so that tests can shrink it). `field`: "ptx" runs the round (where the time goes) as
    the CUDA C kernel of `ptx/source.py` (G1, on a CuPy device), "numba" as the kernel above."""
    batch = batch or DEFAULT_BATCH
    gather, prepare, pair_round, finish = KERNELS[degree]
    coord = d_bases.shape[2:]
    n = d_bases.shape[0]
    per_pass = max(1, PASS_ENTRIES // max(n, 1))
    host_off = mem.to_host(offsets)
    passes = [(w * nb, min(n_windows, w + per_pass) * nb) for w in range(0, n_windows, per_pass)]
    size = max(1, max(int(host_off[b1]) - int(host_off[b0]) for b0, b1 in passes))
    xs = mem.empty((size, 2, *coord), np.uint64)
    ys = mem.empty((size, 2, *coord), np.uint64)
    scratch = mem.empty((max(size // 2, 1), 1, *coord), np.uint64)
    for b0, b1 in passes:
        n_b = b1 - b0
        e0, e1 = int(host_off[b0]), int(host_off[b1])
        cnt = mem.empty(n_b, np.uint32)
        pairs = mem.empty(n_b, np.uint32)
        counts_kernel[mem.grid(n_b)](offsets, b0, cnt)
        if e1 > e0:
            gather[mem.grid(e1 - e0)](d_bases, sorted_vals, e0, e1 - e0, xs)
        while True:
            prepare[mem.grid(n_b)](offsets, b0, e0, cnt, pairs, xs, ys)
            pair_off = mem.exclusive_scan(pairs, n_b)
            total = _read(pair_off, n_b)
            if total == 0:  # each segment holds at most one point, in xs
                break
            threads = (total + batch - 1) // batch
            if field == "ptx":
                ptx_launch.launch("msm_affine_round_g1", threads, offsets, b0, e0, pair_off,
                                  n_b, batch, xs, ys, scratch)
            else:
                pair_round[mem.grid(threads)](offsets, b0, e0, pair_off, n_b, batch, xs, ys,
                                              scratch)
            xs, ys = ys, xs
        finish[mem.grid(n_b)](offsets, b0, e0, cnt, xs, buckets)
