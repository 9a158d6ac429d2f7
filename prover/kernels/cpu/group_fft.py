"""Radix-2 FFT over G1/G2 points in Jacobian coordinates, and constant-times-point in bulk.

A stage joins blocks of `half` points: (P_i, P_j) -> (P_i + t P_j, P_i - t P_j), j = i + half,
t = table[pos << shift] for the butterfly's position pos in its block (pos = 0: t = 1).
Twiddles come GLV-decomposed: t = k1 + k2 lambda (mod r), |k1|, |k2| < 2^127, and
phi(x, y) = (beta x, y) is lambda P on the group (the caller pairs beta with lambda), so
t P = k1 P + k2 phi(P): two width-5 NAFs share ~127 doublings over one table of P, 3P, .., 15P
(phi of an entry costs one Fq multiplication). A parallel task makes the tables of its chunk of
products, brings them all to affine with one inversion, then adds with mixed additions.
Rows of a scalar table: |k1| (2 limbs), |k2| (2 limbs); signs: (k1 < 0, k2 < 0).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from prover.kernels.cpu import curve as c
from prover.kernels.cpu import fq as kq
from prover.kernels.cpu.generic import (
    _is_fq,
    fe_inv,
    fe_is_zero,
    fe_mul,
    fe_neg,
    fe_one,
    fe_sqr,
    fe_zero,
)
from prover.kernels.cpu.points import load_aff, load_jac, store_pt

W = 5  # NAF width: digits odd, |d| < 2^(W-1)
TABLE = 1 << (W - 2)  # odd multiples 1, 3, .., 2^(W-1) - 1
NAF_LEN = 132  # a 128-bit scalar has a NAF of at most 129 digits
U0, U1, U63 = np.uint64(0), np.uint64(1), np.uint64(63)
_MASK = np.uint64((1 << W) - 1)


def fe_mul_fq(a, s):  # pragma: no cover - jitted only
    raise NotImplementedError


@overload(fe_mul_fq, jit_options={"cache": True})
def _ol_fe_mul_fq(a, s):
    if _is_fq(a):
        return lambda a, s: kq.fq_mul(a, s)
    if isinstance(a, types.BaseTuple) and len(a) == 2:
        return lambda a, s: kq.fq2_mul_fq(a, s)
    return None


@njit(cache=True)
def naf(lo, hi, out):
    """Width-W NAF of the 128-bit integer lo + 2^64 hi into out, least significant digit first;
    returns the number of digits."""
    n = 0
    while lo != U0 or hi != U0:
        d = 0
        if lo & U1:
            d = np.int64(lo & _MASK)
            if d >= 1 << (W - 1):
                d -= 1 << W
            if d > 0:  # k -= d: clears the low bits, no borrow
                lo -= np.uint64(d)
            else:  # k += -d: may carry into hi
                s = lo + np.uint64(-d)
                if s < lo:
                    hi += U1
                lo = s
        out[n] = d
        n += 1
        lo = (lo >> U1) | (hi << U63)
        hi >>= U1
    return n


@njit(cache=True)
def _odd_multiples(P, tab, base):
    """tab[base + i] = (2i + 1) P (Jacobian)."""
    store_pt(tab, base, P)
    P2 = c.jac_double(P)
    acc = P
    for i in range(1, TABLE):
        acc = c.jac_add(acc, P2)
        store_pt(tab, base + i, acc)


@njit(cache=True)
def _normalize(P, out, lo, hi):
    """out[i] = P[i] in affine for lo <= i < hi, one inversion (Montgomery's trick); infinity
    -> (0, 0). out[i].x holds the product of the earlier nonzero Z on the way."""
    first = load_jac(P, lo)
    one = fe_one(first[0])
    zero = fe_zero(first[0])
    acc = one
    for i in range(lo, hi):
        Pi = load_jac(P, i)
        store_pt(out, i, (acc, zero))
        if not fe_is_zero(Pi[2]):
            acc = fe_mul(acc, Pi[2])
    inv = fe_inv(acc)
    for i in range(hi - 1, lo - 1, -1):
        Pi = load_jac(P, i)
        if fe_is_zero(Pi[2]):
            store_pt(out, i, (zero, zero))
            continue
        zi = fe_mul(inv, load_aff(out, i)[0])
        inv = fe_mul(inv, Pi[2])
        zi2 = fe_sqr(zi)
        store_pt(out, i, (fe_mul(Pi[0], zi2), fe_mul(Pi[1], fe_mul(zi2, zi))))


@njit(cache=True)
def _glv_from_table(taff, base, k, neg, beta, naf1, naf2, like):
    """t P from the affine table taff[base .. base + TABLE) of P's odd multiples, t given as in
    glv_mul; mixed additions (the table is affine)."""
    n1 = naf(k[0], k[1], naf1)
    n2 = naf(k[2], k[3], naf2)
    acc = c.jac_infinity(like)
    for i in range(max(n1, n2) - 1, -1, -1):
        if not c.jac_is_inf(acc):
            acc = c.jac_double(acc)
        if i < n1:
            d = naf1[i]
            if d != 0:
                T = load_aff(taff, base + (abs(d) >> 1))
                if (d < 0) != neg[0]:
                    T = (T[0], fe_neg(T[1]))
                acc = c.jac_add_mixed(acc, T)
        if i < n2:
            d = naf2[i]
            if d != 0:
                T = load_aff(taff, base + (abs(d) >> 1))
                T = (fe_mul_fq(T[0], beta), T[1])
                if (d < 0) != neg[1]:
                    T = (T[0], fe_neg(T[1]))
                acc = c.jac_add_mixed(acc, T)
    return acc


@njit(cache=True)
def _mul_rows(a, rows, scal, neg, m, beta, tabs, taff, naf1, naf2, res):
    """res[e] = t_e a[rows[e]] for e < m, t_e = (scal[e], neg[e]): the m tables normalized
    with one inversion."""
    for e in range(m):
        P = load_jac(a, rows[e])
        if c.jac_is_inf(P):
            for q in range(TABLE):  # an infinity table: Z = 0 rows
                store_pt(tabs, e * TABLE + q, c.jac_infinity(P[0]))
        else:
            _odd_multiples(P, tabs, e * TABLE)
    _normalize(tabs, taff, 0, m * TABLE)
    for e in range(m):
        P = load_jac(a, rows[e])
        if c.jac_is_inf(P):
            store_pt(res, e, P)
            continue
        kk = (scal[e, 0], scal[e, 1], scal[e, 2], scal[e, 3])
        store_pt(res, e, _glv_from_table(taff, e * TABLE, kk, (neg[e, 0] != 0, neg[e, 1] != 0),
                                         beta, naf1, naf2, P[0]))


@njit(cache=True)
def _scratch(a, m):
    """Per-task scratch for m products: Jacobian and affine tables, NAFs, results, indices."""
    tabs = np.empty((m * TABLE,) + a.shape[1:], dtype=np.uint64)
    taff = np.empty((m * TABLE, 2) + a.shape[2:], dtype=np.uint64)
    res = np.empty((m,) + a.shape[1:], dtype=np.uint64)
    return (tabs, taff, np.empty(NAF_LEN, dtype=np.int8), np.empty(NAF_LEN, dtype=np.int8), res,
            np.empty(m, dtype=np.int64), np.empty((m, 4), dtype=np.uint64),
            np.empty((m, 2), dtype=np.uint8))


@njit(cache=True, parallel=True)
def fft_stage(a, log_half, tw, tw_neg, shift, beta, chunk):
    """One decimation-in-time stage over the whole array a (n, 3, ...), in place."""
    nb = a.shape[0] >> 1
    half = 1 << log_half
    n_chunks = (nb + chunk - 1) // chunk
    for ci in prange(n_chunks):
        tabs, taff, naf1, naf2, res, rows, scal, neg = _scratch(a, chunk)
        lo, hi = ci * chunk, min(nb, (ci + 1) * chunk)
        m = 0
        for t in range(lo, hi):  # the odd halves with a twiddle other than 1
            pos = t & (half - 1)
            if pos != 0:
                r = pos << shift
                rows[m] = ((t >> log_half) << (log_half + 1)) + pos + half
                for q in range(4):
                    scal[m, q] = tw[r, q]
                neg[m, 0] = tw_neg[r, 0]
                neg[m, 1] = tw_neg[r, 1]
                m += 1
        if m:
            _mul_rows(a, rows, scal, neg, m, beta, tabs, taff, naf1, naf2, res)
        e = 0
        for t in range(lo, hi):
            pos = t & (half - 1)
            i = ((t >> log_half) << (log_half + 1)) + pos
            j = i + half
            if pos != 0:
                b = load_jac(res, e)
                e += 1
            else:
                b = load_jac(a, j)
            u = load_jac(a, i)
            store_pt(a, i, c.jac_add(u, b))
            store_pt(a, j, c.jac_add(u, c.jac_neg(b)))


@njit(cache=True, parallel=True)
def mul_each(a, k, neg, beta, chunk):
    """a[i] <- t_i a[i], t_i GLV-decomposed per row (k: (n, 4), neg: (n, 2); one row: all)."""
    n = a.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for ci in prange(n_chunks):
        tabs, taff, naf1, naf2, res, rows, scal, ng = _scratch(a, chunk)
        lo, hi = ci * chunk, min(n, (ci + 1) * chunk)
        for e in range(hi - lo):
            rows[e] = lo + e
            src = 0 if k.shape[0] == 1 else lo + e
            for q in range(4):
                scal[e, q] = k[src, q]
            ng[e, 0] = neg[src, 0]
            ng[e, 1] = neg[src, 1]
        _mul_rows(a, rows, scal, ng, hi - lo, beta, tabs, taff, naf1, naf2, res)
        for e in range(hi - lo):
            store_pt(a, lo + e, load_jac(res, e))


@njit(cache=True)
def _reverse_bits(i, bits):
    r = 0
    for _ in range(bits):
        r = (r << 1) | (i & 1)
        i >>= 1
    return r


@njit(cache=True, parallel=True)
def bit_reverse_copy(src, dst, log_n):
    """dst[i] = src[reverse of i's log_n bits] (Jacobian rows)."""
    n = dst.shape[0]
    for i in prange(n):
        store_pt(dst, i, load_jac(src, _reverse_bits(i, log_n)))


@njit(cache=True, parallel=True)
def to_affine(P, out, chunk):
    """Jacobian -> affine, one inversion per chunk of rows, chunks in parallel; infinity ->
    (0, 0)."""
    n = P.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for ci in prange(n_chunks):
        _normalize(P, out, ci * chunk, min(n, (ci + 1) * chunk))
