"""Pippenger multi-scalar multiplication, sum_i k_i P_i, for G1 and G2 (same code, generic fe_*).

One window of c bits per `window_task` call (nogil: prover/msm.py runs the windows of several
MSMs on a pool of threads):
1. Up to prover.msm.GLV_MAX_N bases, GLV split (`glv_split`): phi(x, y) = (beta x, y) = LAMBDA P,
   k = k0 + k1 LAMBDA, |k_d| < 2^128: 2n points (P, phi(P)) with 128-bit scalars, half the
   windows and bucket sums of 254-bit ones.
2. Signed digits d_w in [-2^(c-1)+1, 2^(c-1)] (a carry moves up): 2^(c-1) buckets per window.
3. Bucket accumulation in affine coordinates, up to B additions into distinct buckets sharing
   one inversion (Montgomery's trick, ~6 products instead of 11 for mixed Jacobian):
       lambda = (y2 - y1) / (x2 - x1)  (3 x1^2 / 2 y1 doubling),  x3 = lambda^2 - x1 - x2,
       y3 = lambda (x1 - x3) - y1;
   a point whose bucket is in flight waits for the next batch, past a bound goes to a Jacobian
   overflow accumulator (adversarial inputs stay O(n)).
4. Window sum sum_b (b+1) B_b by a running sum from the top; 5. Horner: acc = 2^c acc + S_w.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from prover.glv import GLV_A, GLV_B, GLV_MUL
from prover.kernels.cpu import curve as c
from prover.kernels.cpu import fr as kr
from prover.kernels.cpu.arith import mac
from prover.kernels.cpu.field import limbs_sub, mont_mul
from prover.kernels.cpu.generic import (
    fe_add,
    fe_dbl,
    fe_eq,
    fe_inv,
    fe_is_zero,
    fe_mul,
    fe_mul_fq,
    fe_neg,
    fe_one,
    fe_sqr,
    fe_sub,
)
from prover.kernels.cpu.params import int_to_limbs
from prover.kernels.cpu.points import load_aff, load_jac, load_x, store_pt, store_x

U0, U1 = np.uint64(0), np.uint64(1)
_PLAIN_ONE = int_to_limbs(1)
_MUL1, _MUL2 = int_to_limbs(GLV_MUL[0]), int_to_limbs(GLV_MUL[1])
_A1, _A2 = int_to_limbs(GLV_A[0]), int_to_limbs(GLV_A[1])
_B1, _B2 = int_to_limbs(GLV_B[0]), int_to_limbs(GLV_B[1])


@njit(cache=True, parallel=True)
def signed_digits(k, c_bits, n_windows):
    """(n_windows, n) int32 signed base-2^c digits of the plain scalars k (n, 4) uint64.

    Needs c * n_windows >= bitlen(k) + 1 so the last carry lands inside the top window.
    """
    n = k.shape[0]
    out = np.empty((n_windows, n), dtype=np.int32)
    for i in prange(n):
        _recode(k[i, 0], k[i, 1], k[i, 2], k[i, 3], 1, c_bits, out, i)
    return out


@njit(cache=True)
def _recode(k0, k1, k2, k3, sign, c_bits, out, i):
    """out[:, i] = sign * (signed base-2^c digits of the 256-bit k0 + k1 2^64 + ...)."""
    limbs = (k0, k1, k2, k3)
    mask = (U1 << np.uint64(c_bits)) - U1
    half = 1 << (c_bits - 1)
    full = 1 << c_bits
    carry = 0
    for w in range(out.shape[0]):
        s = w * c_bits
        limb = s // 64
        sh = s % 64
        v = U0
        if limb < 4:
            v = limbs[limb] >> np.uint64(sh)
            if sh + c_bits > 64 and limb + 1 < 4:
                v |= limbs[limb + 1] << np.uint64(64 - sh)
        d = np.int64(v & mask) + carry
        if d > half:
            d -= full
            carry = 1
        else:
            carry = 0
        out[w, i] = sign * d


@njit(cache=True)
def _mul_hi(k, g):
    """floor(k g / 2^256) for 256-bit k and g < 2^192, as two limbs (the caller's bound)."""
    t0, cy = mac(k[0], g[0], U0, U0)
    t1, cy = mac(k[1], g[0], U0, cy)
    t2, cy = mac(k[2], g[0], U0, cy)
    t3, cy = mac(k[3], g[0], U0, cy)
    t4 = cy
    t1, cy = mac(k[0], g[1], t1, U0)
    t2, cy = mac(k[1], g[1], t2, cy)
    t3, cy = mac(k[2], g[1], t3, cy)
    t4, cy = mac(k[3], g[1], t4, cy)
    t5 = cy
    t2, cy = mac(k[0], g[2], t2, U0)
    t3, cy = mac(k[1], g[2], t3, cy)
    t4, cy = mac(k[2], g[2], t4, cy)
    t5, cy = mac(k[3], g[2], t5, cy)
    return t4, t5


@njit(cache=True)
def _mul_2x2(a0, a1, b):
    """(a0 + a1 2^64) (b0 + b1 2^64) for 128-bit operands, as four limbs."""
    t0, cy = mac(a0, b[0], U0, U0)
    t1, t2 = mac(a1, b[0], U0, cy)
    t1, cy = mac(a0, b[1], t1, U0)
    t2, t3 = mac(a1, b[1], t2, cy)
    return (t0, t1, t2, t3)


@njit(cache=True)
def _sign_abs(x):
    """(magnitude, -1 or 1) of a 256-bit two's-complement value."""
    if x[3] >> np.uint64(63):
        m, _ = limbs_sub((U0, U0, U0, U0), x)
        return m, -1
    return x, 1


@njit(cache=True)
def glv_split(k):
    """((|k0|, sign0), (|k1|, sign1)) with k0 + k1 LAMBDA = k mod r (plain limbs, k < r) and
    |k_d| < 2^128: Babai rounding by the multipliers of prover.glv.GLV_MUL, mod 2^256."""
    c1 = _mul_hi(k, _MUL1)
    c2 = _mul_hi(k, _MUL2)
    # k0 = k - c1 a1 - c2 a2,  k1 = c1 |b1| - c2 b2
    k0, _ = limbs_sub(k, _mul_2x2(c1[0], c1[1], _A1))
    k0, _ = limbs_sub(k0, _mul_2x2(c2[0], c2[1], _A2))
    k1, _ = limbs_sub(_mul_2x2(c1[0], c1[1], _B1), _mul_2x2(c2[0], c2[1], _B2))
    return _sign_abs(k0), _sign_abs(k1)


@njit(cache=True, nogil=True)
def scalar_digits(k, montgomery, glv, c_bits, d0, d1):
    """Signed digits (n_windows, n) int32 of each scalar k[i] < r, plain limbs or Montgomery
    form (`montgomery`). glv: d0[:, i], d1[:, i] = those of k0 and k1 (signs applied), with
    c_bits * n_windows >= 129; else d0[:, i] = those of k, c_bits * n_windows >= 255 (d1 is
    not written)."""
    for i in range(k.shape[0]):
        x = (k[i, 0], k[i, 1], k[i, 2], k[i, 3])
        if montgomery:
            x = mont_mul(x, _PLAIN_ONE, kr._P, kr._PINV)
        if glv:
            (m0, s0), (m1, s1) = glv_split(x)
            _recode(m0[0], m0[1], U0, U0, s0, c_bits, d0, i)
            _recode(m1[0], m1[1], U0, U0, s1, c_bits, d1, i)
        else:
            _recode(x[0], x[1], x[2], x[3], 1, c_bits, d0, i)


@njit(cache=True, nogil=True)
def phi_points(P, beta, out):
    """out[i] = beta x_i, the x of phi(P[i]) = (beta x, y) (its y is P[i]'s): one coordinate per
    row, half the memory of the points; infinity (0, 0) maps to x = 0, itself again."""
    for i in range(P.shape[0]):
        store_x(out, i, fe_mul_fq(load_aff(P, i)[0], beta))


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
def _signed_point(b0, b1, d0, d1, w, first, j):
    """(bucket index, +-P) for point j of the two sets (the points b0 with digits d0, then
    phi(b0) = (b1, y of b0) with d1; point i of a set has digit d[w, first + i]), or bucket -1
    when the digit is 0 or P is infinity."""
    n0 = b0.shape[0]
    if j < n0:
        d = d0[w, first + j]
        P = load_aff(b0, j)
    else:
        i = j - n0
        d = d1[w, first + i]
        P = (load_x(b1, i), load_aff(b0, i)[1])
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
def _retry_deferred(b0, b1, d0, d1, w, first, dq, dn, buckets, full, inbatch, bidx, bpts, cnt):
    """Offer the deferred points again (after a flush); keep the ones that collide again.
    Returns (cnt, new dn)."""
    nd = 0
    for j in range(dn):
        jj = dq[j]
        b, P = _signed_point(b0, b1, d0, d1, w, first, jj)
        cnt, collided = _offer(b, P, buckets, full, inbatch, bidx, bpts, cnt)
        if collided:
            dq[nd] = jj
            nd += 1
    return cnt, nd


def workspace_rows(c_bits: int, batch: int) -> tuple[int, int, int, int]:
    """Rows of the workspace of one `window_sum` call: (affine points: the 2^(c-1) buckets,
    the pending batch and its scratch, one zero point; Jacobian points: the buckets' overflow
    accumulators; flag bytes, three per bucket; int64 indices: the batch's buckets and the
    deferred points)."""
    nb = 1 << (c_bits - 1)
    return nb + 2 * batch + 1, nb, 3 * nb, batch + max(batch // 2, 1)


@njit(cache=True)
def window_sum(b0, b1, d0, d1, w, first, n1, c_bits, batch, aff, jac, flags, idx):
    """sum_j digit_j * P_j over window w of the points b0 (digits d0[w, first:]) and of
    phi(b0[i]) = (b1[i], y of b0[i]) for i < n1 (digits d1[w, first:]), as a Jacobian point
    (b1: x-coordinates, `phi_points`; n1 = 0 leaves phi out). aff, jac, flags, idx: the
    workspace (`workspace_rows`), passed in so that the kernel allocates nothing (it also runs
    compiled ahead of time, without Numba's runtime).

    A point whose bucket already has an addition in the current batch is deferred to the next
    batch (up to batch/2 of them); beyond that, or when the last batches get too small to pay
    for an inversion, it goes to the bucket's Jacobian overflow accumulator, so adversarial
    inputs (every point in one bucket) cost O(n) mixed additions, never O(n^2).
    """
    n = b0.shape[0] + n1
    nb = 1 << (c_bits - 1)
    buckets = aff[:nb]
    bpts = aff[nb : nb + batch]
    scratch = aff[nb + batch : nb + 2 * batch]
    zero_pt = aff[nb + 2 * batch : nb + 2 * batch + 1]
    zero_pt[:] = 0
    overflow = jac
    flags[:] = 0
    full = flags[:nb]
    has_over = flags[nb : 2 * nb]
    inbatch = flags[2 * nb : 3 * nb]
    bidx = idx[:batch]
    max_deferred = batch // 2  # < batch: a retry round can never overfill the batch
    dq = idx[batch:]
    dn = 0
    cnt = 0
    for j in range(n):
        b, P = _signed_point(b0, b1, d0, d1, w, first, j)
        if b < 0:
            continue
        cnt, collided = _offer(b, P, buckets, full, inbatch, bidx, bpts, cnt)
        if collided:
            if dn < max_deferred:
                dq[dn] = j
                dn += 1
            else:
                _to_overflow(b, P, overflow, has_over)
        if cnt == batch:
            _flush(buckets, full, inbatch, bidx, bpts, scratch, cnt)
            cnt, dn = _retry_deferred(b0, b1, d0, d1, w, first, dq, dn, buckets, full,
                                      inbatch, bidx, bpts, 0)
    # drain: each round lets at least one deferred point per bucket in
    while True:
        _flush(buckets, full, inbatch, bidx, bpts, scratch, cnt)
        if dn == 0:
            break
        cnt, dn = _retry_deferred(b0, b1, d0, d1, w, first, dq, dn, buckets, full, inbatch,
                                  bidx, bpts, 0)
        if cnt < 16 and dn > 0:  # too few to share an inversion: finish in Jacobian
            for j in range(dn):
                b, P = _signed_point(b0, b1, d0, d1, w, first, dq[j])
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


@njit(cache=True, nogil=True)
def window_task(b0, b1, d0, d1, w, first, n1, c_bits, batch, out, aff, jac, flags, idx):
    """out[w] = window_sum(...): one window of one MSM, without the GIL (a pool task)."""
    store_pt(out, w, window_sum(b0, b1, d0, d1, w, first, n1, c_bits, batch, aff, jac, flags,
                                idx))


@njit(cache=True, nogil=True)
def combine_windows(windows, c_bits, out):
    """out[0] = sum_w 2^(c w) S_w, from the top window down (Horner)."""
    nw = windows.shape[0]
    acc = load_jac(windows, nw - 1)
    for w in range(nw - 2, -1, -1):
        for _ in range(c_bits):
            acc = c.jac_double(acc)
        acc = c.jac_add(acc, load_jac(windows, w))
    store_pt(out, 0, acc)
