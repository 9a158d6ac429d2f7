"""Pippenger multi-scalar multiplication, sum_i k_i P_i, for G1 and G2 (same code, generic fe_*).

Recipe (per window of c bits, windows in parallel over threads):
1. Signed digits: k = sum_w d_w 2^(cw) with d_w in [-2^(c-1)+1, 2^(c-1)] (a carry moves to the
   next window), so each window needs only 2^(c-1) buckets; a negative digit adds -P = (x, -y).
2. Bucket accumulation in affine coordinates with batched inversion ("batch-affine"): up to B
   additions into distinct buckets share one field inversion (Montgomery's trick), so an addition
   costs about 6 multiplications instead of 11 for a mixed Jacobian addition:
       lambda = (y2 - y1) / (x2 - x1)      (3 x1^2 / 2 y1 when doubling)
       x3 = lambda^2 - x1 - x2,  y3 = lambda (x1 - x3) - y1
   A point whose bucket already has an addition in flight waits for the next batch; past a
   bound it goes to the bucket's Jacobian overflow accumulator (mixed addition) instead.
3. Window sum: sum_b (b+1) B_b by a running sum from the top bucket (2 additions per bucket).
4. Windows combined from the top: acc = 2^c acc + S_w.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from prover.kernels.cpu import curve as c
from prover.kernels.cpu.generic import (
    fe_add,
    fe_dbl,
    fe_eq,
    fe_inv,
    fe_is_zero,
    fe_mul,
    fe_neg,
    fe_one,
    fe_sqr,
    fe_sub,
)
from prover.kernels.cpu.points import load_aff, load_jac, store_pt


@njit(cache=True, parallel=True)
def signed_digits(k, c_bits, n_windows):
    """(n_windows, n) int32 signed base-2^c digits of the plain scalars k (n, 4) uint64.

    Needs c * n_windows >= bitlen(k) + 1 so the last carry lands inside the top window.
    """
    n = k.shape[0]
    out = np.empty((n_windows, n), dtype=np.int32)
    mask = (np.uint64(1) << np.uint64(c_bits)) - np.uint64(1)
    half = 1 << (c_bits - 1)
    full = 1 << c_bits
    for i in prange(n):
        carry = 0
        for w in range(n_windows):
            s = w * c_bits
            limb = s // 64
            sh = s % 64
            v = np.uint64(0)
            if limb < 4:
                v = k[i, limb] >> np.uint64(sh)
                if sh + c_bits > 64 and limb + 1 < 4:
                    v |= k[i, limb + 1] << np.uint64(64 - sh)
            d = np.int64(v & mask) + carry
            if d > half:
                d -= full
                carry = 1
            else:
                carry = 0
            out[w, i] = d
    return out


@njit(cache=True)
def _flush(buckets, full, inbatch, bidx, bpts, scratch, cnt):
    """Apply `cnt` pending affine additions bucket[bidx[k]] += bpts[k] with one inversion."""
    if cnt == 0:
        return
    one = fe_one(load_aff(bpts, 0)[0])
    acc = one
    for k in range(cnt):
        A = load_aff(buckets, bidx[k])
        P = load_aff(bpts, k)
        if fe_eq(A[0], P[0]):
            if fe_eq(A[1], P[1]):
                den = fe_dbl(A[1])  # doubling (y != 0: no 2-torsion in these groups)
            else:
                den = fe_sub(A[0], A[0])  # A = -P: the sum is infinity, nothing to invert
        else:
            den = fe_sub(P[0], A[0])
        store_pt(scratch, k, (den, acc))  # acc = product of the nonzero dens before k
        if not fe_is_zero(den):
            acc = fe_mul(acc, den)
    inv = fe_inv(acc)
    for k in range(cnt - 1, -1, -1):
        den, prefix = load_aff(scratch, k)
        b = bidx[k]
        inbatch[b] = False
        if fe_is_zero(den):
            full[b] = False
            continue
        dinv = fe_mul(inv, prefix)
        inv = fe_mul(inv, den)
        A = load_aff(buckets, b)
        P = load_aff(bpts, k)
        if fe_eq(A[0], P[0]):
            x2 = fe_sqr(A[0])
            num = fe_add(fe_dbl(x2), x2)
        else:
            num = fe_sub(P[1], A[1])
        lam = fe_mul(num, dinv)
        x3 = fe_sub(fe_sub(fe_sqr(lam), A[0]), P[0])
        y3 = fe_sub(fe_mul(lam, fe_sub(A[0], x3)), A[1])
        store_pt(buckets, b, (x3, y3))


@njit(cache=True)
def _signed_point(bases, digits, i):
    """(bucket index, +-P) for point i, or bucket -1 when the digit is 0 or P is infinity."""
    d = digits[i]
    P = load_aff(bases, i)
    if d == 0 or c.aff_is_inf(P):
        return -1, P
    if d < 0:
        return -d - 1, (P[0], fe_neg(P[1]))
    return d - 1, P


@njit(cache=True)
def _offer(b, P, buckets, full, inbatch, bidx, bpts, cnt):
    """Put +-P into bucket b: directly if empty, else as a pending batch addition.
    Returns (cnt, collided): collided when b already has an addition in this batch."""
    if not full[b]:
        store_pt(buckets, b, P)
        full[b] = True
        return cnt, False
    if inbatch[b]:
        return cnt, True
    inbatch[b] = True
    bidx[cnt] = b
    store_pt(bpts, cnt, P)
    return cnt + 1, False


@njit(cache=True)
def _to_overflow(b, P, overflow, has_over):
    if has_over[b]:
        store_pt(overflow, b, c.jac_add_mixed(load_jac(overflow, b), P))
    else:
        store_pt(overflow, b, c.aff_to_jac(P))
        has_over[b] = True


@njit(cache=True)
def _retry_deferred(bases, digits, dq, dn, buckets, full, inbatch, bidx, bpts, cnt):
    """Offer the deferred points again (after a flush); keep the ones that collide again.
    Returns (cnt, new dn)."""
    nd = 0
    for j in range(dn):
        ii = dq[j]
        b, P = _signed_point(bases, digits, ii)
        cnt, collided = _offer(b, P, buckets, full, inbatch, bidx, bpts, cnt)
        if collided:
            dq[nd] = ii
            nd += 1
    return cnt, nd


@njit(cache=True)
def window_sum(bases, digits, c_bits, batch):
    """sum_i digits[i] * bases[i] for one window, as a Jacobian point.

    A point whose bucket already has an addition in the current batch is deferred to the next
    batch (up to batch/2 of them); beyond that, or when the last batches get too small to pay
    for an inversion, it goes to the bucket's Jacobian overflow accumulator, so adversarial
    inputs (every point in one bucket) cost O(n) mixed additions, never O(n^2).
    """
    n = bases.shape[0]
    nb = 1 << (c_bits - 1)
    tail = bases.shape[2:]
    buckets = np.empty((nb, 2) + tail, dtype=np.uint64)
    overflow = np.empty((nb, 3) + tail, dtype=np.uint64)
    full = np.zeros(nb, dtype=np.bool_)
    has_over = np.zeros(nb, dtype=np.bool_)
    inbatch = np.zeros(nb, dtype=np.bool_)
    bidx = np.empty(batch, dtype=np.int64)
    bpts = np.empty((batch, 2) + tail, dtype=np.uint64)
    scratch = np.empty((batch, 2) + tail, dtype=np.uint64)
    zero_pt = np.zeros((1, 2) + tail, dtype=np.uint64)
    max_deferred = batch // 2  # < batch: a retry round can never overfill the batch
    dq = np.empty(max(max_deferred, 1), dtype=np.int64)
    dn = 0
    cnt = 0
    for i in range(n):
        b, P = _signed_point(bases, digits, i)
        if b < 0:
            continue
        cnt, collided = _offer(b, P, buckets, full, inbatch, bidx, bpts, cnt)
        if collided:
            if dn < max_deferred:
                dq[dn] = i
                dn += 1
            else:
                _to_overflow(b, P, overflow, has_over)
        if cnt == batch:
            _flush(buckets, full, inbatch, bidx, bpts, scratch, cnt)
            cnt, dn = _retry_deferred(bases, digits, dq, dn, buckets, full, inbatch, bidx, bpts, 0)
    # drain: each round lets at least one deferred point per bucket in
    while True:
        _flush(buckets, full, inbatch, bidx, bpts, scratch, cnt)
        if dn == 0:
            break
        cnt, dn = _retry_deferred(bases, digits, dq, dn, buckets, full, inbatch, bidx, bpts, 0)
        if cnt < 16 and dn > 0:  # too few to share an inversion: finish in Jacobian
            for j in range(dn):
                b, P = _signed_point(bases, digits, dq[j])
                _to_overflow(b, P, overflow, has_over)
            dn = 0

    z = load_aff(zero_pt, 0)[0]
    running = c.jac_infinity(z)
    total = c.jac_infinity(z)
    for b in range(nb - 1, -1, -1):
        if full[b]:
            running = c.jac_add_mixed(running, load_aff(buckets, b))
        if has_over[b]:
            running = c.jac_add(running, load_jac(overflow, b))
        total = c.jac_add(total, running)
    return total


@njit(cache=True, parallel=True)
def msm_windows(bases, digits, c_bits, batch, out):
    """out[w] = window sum w (Jacobian), windows in parallel."""
    for w in prange(digits.shape[0]):
        store_pt(out, w, window_sum(bases, digits[w], c_bits, batch))


@njit(cache=True)
def combine_windows(windows, c_bits, out):
    """out[0] = sum_w 2^(c w) S_w, from the top window down (Horner)."""
    nw = windows.shape[0]
    acc = load_jac(windows, nw - 1)
    for w in range(nw - 2, -1, -1):
        for _ in range(c_bits):
            acc = c.jac_double(acc)
        acc = c.jac_add(acc, load_jac(windows, w))
    store_pt(out, 0, acc)
