"""Numba kernels of the Groth16 prover: sparse A.w / B.w over zkey section 4, H, and A*B - C.

Elements are Fr in Montgomery form as (n, 4) uint64 rows, except the witness, which stays in
canonical form: a section-4 value holds c*R^2, so mont(c*R^2, w) = c*w*R is already the Montgomery
form of c*w and the witness never needs converting.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from prover.kernels.cpu import curve as kc
from prover.kernels.cpu.field import load as _load
from prover.kernels.cpu.field import store as _store
from prover.kernels.cpu.fr import fr_add, fr_mul, fr_sub
from prover.kernels.cpu.ntt import transform_serial
from prover.kernels.cpu.points import load_aff, load_jac, store_pt


@njit(cache=True, parallel=True)
def eval_ab(rec, witness, starts, out_a, out_b):
    """out_a[i] += value * w[signal] for records of matrix 0 (A), out_b likewise for 1 (B).

    `rec` is zkey section 4 as it lies in the file, (n, 11) uint32 per record: matrix,
    constraint, signal, then the value's four 64-bit limbs as eight 32-bit halves.
    Records are split into chunks at `starts`; chunk t covers records starts[t]..starts[t+1]-1.
    The caller cuts chunks only between different constraints (records sorted by constraint),
    so no two chunks write the same row and the chunks run in parallel without locks.
    """
    for t in prange(starts.shape[0] - 1):
        _eval_chunk(rec, witness, starts[t], starts[t + 1], out_a, out_b)


@njit(cache=True, nogil=True)
def eval_ab_chunks(rec, witness, starts, t0, t1, out_a, out_b):
    """`eval_ab` for chunks t0 .. t1-1 on the calling thread (a pool task)."""
    for t in range(t0, t1):
        _eval_chunk(rec, witness, starts[t], starts[t + 1], out_a, out_b)


@njit(cache=True)
def _eval_chunk(rec, witness, lo, hi, out_a, out_b):
    for k in range(lo, hi):
        value = (_u64(rec, k, 3), _u64(rec, k, 5), _u64(rec, k, 7), _u64(rec, k, 9))
        v = fr_mul(value, _load(witness, np.int64(rec[k, 2])))
        row = np.int64(rec[k, 1])
        if rec[k, 0] == 0:
            _store(out_a, row, fr_add(_load(out_a, row), v))
        else:
            _store(out_b, row, fr_add(_load(out_b, row), v))


@njit(cache=True, nogil=True)
def mul_rows(a, b, out, lo, hi):
    """out[i] = a[i] * b[i] for lo <= i < hi (C.w = A.w * B.w, a pool task per range)."""
    for i in range(lo, hi):
        _store(out, i, fr_mul(_load(a, i), _load(b, i)))


@njit(cache=True, inline="always")
def _u64(rec, k, j):
    return np.uint64(rec[k, j]) | (np.uint64(rec[k, j + 1]) << np.uint64(32))


@njit(cache=True, nogil=True)
def mul_sub(a, b, c):
    """a <- a*b - c elementwise (the QAP numerator A*B - C on the odd points), one thread."""
    for i in range(a.shape[0]):
        _store(a, i, fr_sub(fr_mul(_load(a, i), _load(b, i)), _load(c, i)))


@njit(cache=True, nogil=True)
def odd_points(x, tw_inv, tw, inv_n, g):
    """x <- the values on the coset g*H of the polynomial whose values on H are x, on one
    thread (a pool task; the three polynomials of H run side by side): inverse NTT, coefficient
    j times g^j / n, NTT. tw_inv, tw: twiddle tables w^-j, w^j; inv_n, g Montgomery tuples."""
    transform_serial(x, tw_inv)
    acc = inv_n
    for j in range(x.shape[0]):
        _store(x, j, fr_mul(_load(x, j), acc))
        acc = fr_mul(acc, g)
    transform_serial(x, tw)


@njit(cache=True)
def combine(msm_a, msm_b1, msm_b2, msm_c, msm_h, alpha1, beta1, beta2, delta1, delta2,
            r, s, rs, out_a, out_b, out_c):
    """The proof points from the MSMs (Jacobian, shape (1, 3, ...)) and the key's points
    (affine, (1, 2, ...)); r, s, rs = r*s mod r as plain limb tuples. One jitted function,
    so a fresh process loads one cached object instead of a dozen array kernels.

      pi_a = A + alpha1 + r delta1
      pi_b = B2 + beta2 + s delta2
      pi_c = C + H + s pi_a + r (B1 + beta1 + s delta1) - r s delta1
    """
    d1 = load_aff(delta1, 0)
    pa = kc.jac_add(kc.jac_add_mixed(load_jac(msm_a, 0), load_aff(alpha1, 0)), kc.aff_mul(d1, r))
    pa_aff = kc.jac_to_aff(pa)
    pb = kc.jac_add(kc.jac_add_mixed(load_jac(msm_b2, 0), load_aff(beta2, 0)),
                    kc.aff_mul(load_aff(delta2, 0), s))
    b1 = kc.jac_add(kc.jac_add_mixed(load_jac(msm_b1, 0), load_aff(beta1, 0)), kc.aff_mul(d1, s))
    pc = kc.jac_add(load_jac(msm_c, 0), load_jac(msm_h, 0))
    pc = kc.jac_add(pc, kc.aff_mul(pa_aff, s))
    pc = kc.jac_add(pc, kc.jac_mul(b1, r))
    pc = kc.jac_add(pc, kc.aff_mul(kc.aff_neg(d1), rs))
    store_pt(out_a, 0, pa_aff)
    store_pt(out_b, 0, kc.jac_to_aff(pb))
    store_pt(out_c, 0, kc.jac_to_aff(pc))


# --- setup: sparse QAP evaluation at tau and fixed-base scalar multiplication -----------------

@njit(cache=True)
def scatter_mul_add(rows, cols, coeffs, basis, out):
    """out[col] += coeff * basis[row] over the entries of one R1CS matrix (all Montgomery):
    the polynomials U_i(tau) = sum_j A[j][i] L_j(tau), per wire i. Serial: wires repeat."""
    for k in range(rows.shape[0]):
        c = cols[k]
        _store(out, c, fr_add(_load(out, c), fr_mul(_load(coeffs, k), _load(basis, rows[k]))))


WINDOW_BITS = 8
N_WINDOWS = 32  # 256-bit scalars in 8-bit windows


@njit(cache=True)
def fixed_base_table(base_jac, out_jac):
    """out[w * 256 + d] = d * 2^(8w) * G for the one point G = base_jac[0] (Jacobian)."""
    b = load_jac(base_jac, 0)
    for w in range(N_WINDOWS):
        acc = kc.jac_infinity(b[0])
        store_pt(out_jac, w * 256, acc)
        for d in range(1, 256):
            acc = kc.jac_add(acc, b)
            store_pt(out_jac, w * 256 + d, acc)
        for _ in range(WINDOW_BITS):
            b = kc.jac_double(b)


@njit(cache=True, parallel=True)
def fixed_base_mul(table, scalars, out):
    """out[i] = k_i * G from the affine table of `fixed_base_table`: 32 mixed additions per
    scalar (plain limbs, (n, 4)) instead of 254 doublings and ~127 additions."""
    for i in prange(out.shape[0]):
        # (built per row: a parfor body cannot capture a tuple from outside the loop)
        acc = kc.jac_infinity(load_aff(table, 1)[0])
        for limb in range(4):
            word = scalars[i, limb]
            for byte in range(8):
                d = np.int64((word >> np.uint64(8 * byte)) & np.uint64(255))
                if d != 0:
                    acc = kc.jac_add_mixed(acc, load_aff(table, (limb * 8 + byte) * 256 + d))
        store_pt(out, i, acc)


@njit(cache=True)
def _mul_from_top(P, k):
    """k * P (affine P, plain limbs k) by double-and-add from k's top set bit: R1CS coefficients
    are mostly small (after the caller folds c > r/2 into -(r - c)), so this is a few steps."""
    acc = kc.jac_infinity(P[0])
    started = False
    for limb in range(3, -1, -1):
        w = k[limb]
        for j in range(63, -1, -1):
            if started:
                acc = kc.jac_double(acc)
            if (w >> np.uint64(j)) & np.uint64(1):
                acc = kc.jac_add_mixed(acc, P)
                started = True
    return acc


@njit(cache=True, parallel=True)
def sparse_points(rows, cols, coeffs, negate, bases, starts, out):
    """out[col] += (+-coeff) * bases[row] per R1CS entry (Jacobian accumulators, affine bases):
    per wire, sum_j M[j][wire] [L_j]. Entries sorted by col and cut at `starts` between columns,
    so parallel chunks never share an accumulator. `negate` marks entries stored as r - c."""
    for t in prange(starts.shape[0] - 1):
        for e in range(starts[t], starts[t + 1]):
            p = load_aff(bases, rows[e])
            if negate[e]:
                p = kc.aff_neg(p)
            k = (coeffs[e, 0], coeffs[e, 1], coeffs[e, 2], coeffs[e, 3])
            c = cols[e]
            store_pt(out, c, kc.jac_add(load_jac(out, c), _mul_from_top(p, k)))
