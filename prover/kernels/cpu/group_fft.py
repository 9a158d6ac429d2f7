"""FFT stages over G1/G2 points in Jacobian coordinates, and scalar-times-point in bulk.

Radix-2 stage: (P_i, P_j) -> (P_i + t P_j, P_i - t P_j), j = i + half; radix-4 (fft_stage4):
two stages at once, the C and D products of a block as two sums of two products. Scalars come
decomposed along an endomorphism e with e(P) = m P (prover.glv): t = sum_d k_d m^d (mod r),
t P = sum_d k_d e^d(P), width-5 NAFs of the |k_d| sharing one run of doublings (~127 for G1,
D = 2, e = phi; ~65 for G2, D = 4, e = psi) over tables e^d(P, 3P, .., 15P). A parallel task
builds its points' tables in affine, then runs its jobs (sums of one or two such products) side
by side in affine coordinates, each step's denominators sharing one inversion (Montgomery's
trick); a zero denominator sends that job to the Jacobian formulas. Scalar rows: |k_0| ..
|k_(D-1)|, two limbs each; sign rows: k_d < 0. endo_c: [beta] (1, 4) for G1, [c_x, c_y]
(2, 2, 4) for G2 (psi(x, y) = (conj(x) c_x, conj(y) c_y)), Montgomery.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.extending import overload

from prover.kernels.cpu import curve as c
from prover.kernels.cpu import fq as kq
from prover.kernels.cpu.generic import (
    _is_fq,
    fe_add,
    fe_dbl,
    fe_inv,
    fe_is_zero,
    fe_mul,
    fe_neg,
    fe_one,
    fe_sqr,
    fe_sub,
    fe_zero,
)
from prover.kernels.cpu.points import load_aff, load_jac, store_pt

W = 5  # NAF width: digits odd, |d| < 2^(W-1)
TABLE = 1 << (W - 2)  # odd multiples 1, 3, .., 2^(W-1) - 1
NAF_LEN = 132  # a 128-bit scalar has a NAF of at most 129 digits
MAX_D = 4
U0, U1, U63 = np.uint64(0), np.uint64(1), np.uint64(63)
_MASK = np.uint64((1 << W) - 1)


def endo(P, k):  # pragma: no cover - jitted only
    raise NotImplementedError


@overload(endo, jit_options={"cache": True})
def _ol_endo(P, k):
    """The endomorphism on an affine point, constants k as an array (a parallel loop cannot
    capture nested tuples): phi on G1, k = [beta]; psi on G2, k = [c_x, c_y]."""
    if _is_fq(P[0]):
        return lambda P, k: (kq.fq_mul(P[0], (k[0, 0], k[0, 1], k[0, 2], k[0, 3])), P[1])

    def psi(P, k):
        cx = ((k[0, 0, 0], k[0, 0, 1], k[0, 0, 2], k[0, 0, 3]),
              (k[0, 1, 0], k[0, 1, 1], k[0, 1, 2], k[0, 1, 3]))
        cy = ((k[1, 0, 0], k[1, 0, 1], k[1, 0, 2], k[1, 0, 3]),
              (k[1, 1, 0], k[1, 1, 1], k[1, 1, 2], k[1, 1, 3]))
        return (kq.fq2_mul(kq.fq2_conj(P[0]), cx), kq.fq2_mul(kq.fq2_conj(P[1]), cy))

    return psi


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
def _normalize(P, out, lo, hi, group, span):
    """P[i] in affine for lo <= i < hi, written to out[(i // group) span + i % group] (group =
    span: the same row), one inversion (Montgomery's trick); infinity -> (0, 0). On the way
    out's x holds the product of the earlier nonzero Z."""
    first = load_jac(P, lo)
    one = fe_one(first[0])
    zero = fe_zero(first[0])
    acc = one
    for i in range(lo, hi):
        Pi = load_jac(P, i)
        store_pt(out, (i // group) * span + i % group, (acc, zero))
        if not fe_is_zero(Pi[2]):
            acc = fe_mul(acc, Pi[2])
    inv = fe_inv(acc)
    for i in range(hi - 1, lo - 1, -1):
        Pi = load_jac(P, i)
        o = (i // group) * span + i % group
        if fe_is_zero(Pi[2]):
            store_pt(out, o, (zero, zero))
            continue
        zi = fe_mul(inv, load_aff(out, o)[0])
        inv = fe_mul(inv, Pi[2])
        zi2 = fe_sqr(zi)
        store_pt(out, o, (fe_mul(Pi[0], zi2), fe_mul(Pi[1], fe_mul(zi2, zi))))


@njit(cache=True)
def _mul_from_tables(taff, base, scal, neg, e, nafs, lens, like):
    """sum_d k_d e^d(P) from the affine tables taff[base + d TABLE ..] of e^d(odd multiples)."""
    dims = scal.shape[1] // 2
    top = 0
    for d in range(dims):
        lens[d] = naf(scal[e, 2 * d], scal[e, 2 * d + 1], nafs[d])
        top = max(top, lens[d])
    acc = c.jac_infinity(like)
    for i in range(top - 1, -1, -1):
        if not c.jac_is_inf(acc):
            acc = c.jac_double(acc)
        for d in range(dims):
            if i < lens[d]:
                dig = nafs[d, i]
                if dig != 0:
                    T = load_aff(taff, base + d * TABLE + (abs(dig) >> 1))
                    if (dig < 0) != (neg[e, d] != 0):
                        T = (T[0], fe_neg(T[1]))
                    acc = c.jac_add_mixed(acc, T)
    return acc


@njit(cache=True)
def _op_stream(tslot, tscal, tneg, pstate, j, span, nafs, lens, ops):
    """The operations of job j, sum over its terms u = 2j, 2j + 1 (tslot[u] >= 0) of
    sum_d k_d e^d(P_slot), most significant first, into ops[j]: 0 doubles, 1 + 2 (row of taff)
    + (negated) adds a table entry (the first add sets the accumulator). Terms share the
    doublings (Straus). Returns the number of operations."""
    dims = tscal.shape[1] // 2
    top = 0
    for t in range(2):
        u = 2 * j + t
        for d in range(dims):
            lens[t * dims + d] = 0
            if tslot[u] >= 0 and pstate[tslot[u]] != 3:
                lens[t * dims + d] = naf(tscal[u, 2 * d], tscal[u, 2 * d + 1], nafs[t * dims + d])
                top = max(top, lens[t * dims + d])
    n = 0
    started = False
    for i in range(top - 1, -1, -1):
        if started:
            ops[j, n] = 0
            n += 1
        for t in range(2):
            u = 2 * j + t
            for d in range(dims):
                if i < lens[t * dims + d]:
                    dig = nafs[t * dims + d, i]
                    if dig != 0:
                        sgn = 1 if (dig < 0) != (tneg[u, d] != 0) else 0
                        row = tslot[u] * span + d * TABLE + (abs(dig) >> 1)
                        ops[j, n] = 1 + 2 * row + sgn
                        n += 1
                        started = True
    return n


@njit(cache=True, inline="always")
def _aff_dbl(A, di):
    """2A in affine given di = 1 / (2 y): lam = 3 x^2 di, x3 = lam^2 - 2x, y3 = lam (x - x3) - y."""
    x2 = fe_sqr(A[0])
    lam = fe_mul(fe_add(fe_dbl(x2), x2), di)
    x3 = fe_sub(fe_sqr(lam), fe_dbl(A[0]))
    return (x3, fe_sub(fe_mul(lam, fe_sub(A[0], x3)), A[1]))


@njit(cache=True, inline="always")
def _aff_add(A, bx, by, di):
    """A + B in affine given di = 1 / (x_B - x_A): lam = (y_B - y_A) di, x3 = lam^2 - x_A - x_B."""
    lam = fe_mul(fe_sub(by, A[1]), di)
    x3 = fe_sub(fe_sub(fe_sqr(lam), A[0]), bx)
    return (x3, fe_sub(fe_mul(lam, fe_sub(A[0], x3)), A[1]))


@njit(cache=True)
def _lockstep(taff, m, ops, nops, acc, state, aux):
    """Runs the m operation streams side by side in affine coordinates: each round's
    denominators (2y to double, x_T - x to add) share one inversion (Montgomery's trick), so a
    doubling costs ~5M + 2S and an addition ~5M + S instead of Jacobian's 2M + 5S and 7M + 4S.
    state[e]: 0 no point yet, 1 running, 2 x_T = x met (left to the Jacobian path), 3 idle.
    aux[e] = (prefix product, denominator)."""
    top = 0
    for e in range(m):
        top = max(top, nops[e])
    T0 = load_aff(taff, 0)
    one = fe_one(T0[0])
    zero = fe_zero(T0[0])
    for j in range(top):
        prod = one
        for e in range(m):
            if j >= nops[e] or state[e] >= 2:
                continue
            op = ops[e, j]
            A = load_aff(acc, e)
            if op == 0:
                den = fe_dbl(A[1])
            else:
                T = load_aff(taff, (op - 1) >> 1)
                if state[e] == 0:
                    continue  # set in the second pass
                den = fe_sub(T[0], A[0])
                if fe_is_zero(den):
                    state[e] = 2
                    continue
            store_pt(aux, e, (prod, den))
            prod = fe_mul(prod, den)
        inv = fe_inv(prod) if not fe_is_zero(prod) else zero
        for e in range(m - 1, -1, -1):
            if j >= nops[e] or state[e] >= 2:
                continue
            op = ops[e, j]
            A = load_aff(acc, e)
            if op != 0:
                T = load_aff(taff, (op - 1) >> 1)
                ty = fe_neg(T[1]) if (op - 1) & 1 else T[1]
                if state[e] == 0:
                    store_pt(acc, e, (T[0], ty))
                    state[e] = 1
                    continue
            pre, den = load_aff(aux, e)
            di = fe_mul(inv, pre)
            inv = fe_mul(inv, den)
            if op == 0:
                store_pt(acc, e, _aff_dbl(A, di))
            else:
                store_pt(acc, e, _aff_add(A, T[0], ty, di))


@njit(cache=True)
def _affine_tables(a, rows, m, span, taff, acc, state, aux):
    """taff[e span + q] = (2q + 1) P_e in affine for the rows with state 0 (P_e = a[rows[e]]
    finite): P_e normalized, 2 P_e, then 3 P_e .. (2 TABLE - 1) P_e by additions of 2 P_e, each
    of these TABLE + 1 rounds with one inversion for all rows. A zero denominator (impossible
    in a group of prime order: kept for malformed points) sets state 4."""
    P0 = load_jac(a, rows[0])
    one = fe_one(P0[0])
    prod = one
    for e in range(m):
        if state[e] == 0:
            Z = load_jac(a, rows[e])[2]
            store_pt(aux, e, (prod, Z))
            prod = fe_mul(prod, Z)
    inv = fe_inv(prod)
    for e in range(m - 1, -1, -1):
        if state[e] == 0:
            P = load_jac(a, rows[e])
            pre, Z = load_aff(aux, e)
            zi = fe_mul(inv, pre)
            inv = fe_mul(inv, Z)
            zi2 = fe_sqr(zi)
            store_pt(taff, e * span, (fe_mul(P[0], zi2), fe_mul(P[1], fe_mul(zi2, zi))))
    for q in range(TABLE):  # q = 0: 2P into acc; q > 0: taff[q] = taff[q - 1] + 2P
        prod = one
        for e in range(m):
            if state[e] == 0:
                A = load_aff(taff, e * span + max(q - 1, 0))
                den = fe_dbl(A[1]) if q == 0 else fe_sub(load_aff(acc, e)[0], A[0])
                if fe_is_zero(den):
                    state[e] = 4
                    continue
                store_pt(aux, e, (prod, den))
                prod = fe_mul(prod, den)
        inv = fe_inv(prod)
        for e in range(m - 1, -1, -1):
            if state[e] == 0:
                A = load_aff(taff, e * span + max(q - 1, 0))
                pre, den = load_aff(aux, e)
                di = fe_mul(inv, pre)
                inv = fe_mul(inv, den)
                if q == 0:
                    store_pt(acc, e, _aff_dbl(A, di))
                else:
                    B = load_aff(acc, e)
                    store_pt(taff, e * span + q, _aff_add(A, B[0], B[1], di))


@njit(cache=True)
def _run_jobs(a, rows, npts, tslot, tscal, tneg, nj, endo_c, sc):
    """sc.res[j] = the job j's sum of products (terms 2j, 2j + 1: point slot tslot[u] >= 0,
    i.e. a[rows[slot]], times the decomposed scalar tscal[u], tneg[u]) for j < nj: the tables
    of the npts points built in affine at once (_affine_tables), their images under the
    endomorphism, then the jobs side by side (_lockstep). A job whose affine run met a zero
    denominator is redone with the Jacobian formulas."""
    (tabs, taff, nafs, lens, res, ops, nops, acc, pstate, jstate, aux) = sc
    dims = tscal.shape[1] // 2
    span = dims * TABLE
    for e in range(npts):
        pstate[e] = 3 if c.jac_is_inf(load_jac(a, rows[e])) else 0
    _affine_tables(a, rows, npts, span, taff, acc, pstate, aux)
    for e in range(npts):
        if pstate[e] == 4:  # the Jacobian formulas for this point's table
            _odd_multiples(load_jac(a, rows[e]), tabs, e * TABLE)
            _normalize(tabs, taff, e * TABLE, (e + 1) * TABLE, TABLE, span)
        if pstate[e] != 3:
            for d in range(1, dims):
                for q in range(TABLE):
                    T = load_aff(taff, e * span + (d - 1) * TABLE + q)
                    store_pt(taff, e * span + d * TABLE + q, endo(T, endo_c))
    for j in range(nj):
        nops[j] = _op_stream(tslot, tscal, tneg, pstate, j, span, nafs, lens, ops)
        jstate[j] = 0
    _lockstep(taff, nj, ops, nops, acc, jstate, aux)
    like = load_jac(a, rows[0])[0]
    for j in range(nj):
        if jstate[j] == 1:
            A = load_aff(acc, j)
            store_pt(res, j, (A[0], A[1], fe_one(A[0])))
        elif jstate[j] == 2:  # a zero denominator on the way: the Jacobian formulas
            S = c.jac_infinity(like)
            for t in range(2):
                u = 2 * j + t
                if tslot[u] >= 0 and pstate[tslot[u]] != 3:
                    S = c.jac_add(S, _mul_from_tables(taff, tslot[u] * span, tscal, tneg, u,
                                                      nafs, lens, like))
            store_pt(res, j, S)
        else:  # only points at infinity, or zero scalars
            store_pt(res, j, c.jac_infinity(like))


@njit(cache=True)
def _scratch(a, npts, njobs, dims):
    """Per-task scratch for npts points and njobs jobs: Jacobian and affine tables, NAFs and
    their lengths, results, operation streams and their lengths, accumulators, states, the
    prefix products; then rows, term slots, scalars, signs."""
    tabs = np.empty((npts * TABLE,) + a.shape[1:], dtype=np.uint64)
    taff = np.empty((npts * TABLE * dims, 2) + a.shape[2:], dtype=np.uint64)
    res = np.empty((njobs,) + a.shape[1:], dtype=np.uint64)
    nafs = np.empty((2 * MAX_D, NAF_LEN), dtype=np.int8)
    mx = max(npts, njobs)
    acc = np.empty((mx, 2) + a.shape[2:], dtype=np.uint64)
    aux = np.empty((mx, 2) + a.shape[2:], dtype=np.uint64)
    ops = np.empty((njobs, NAF_LEN + 2 * dims * (NAF_LEN // W + 2)), dtype=np.int32)
    sc = (tabs, taff, nafs, np.empty(2 * MAX_D, dtype=np.int64), res,
          ops, np.empty(njobs, dtype=np.int64), acc, np.empty(npts, dtype=np.uint8),
          np.empty(njobs, dtype=np.uint8), aux)
    tslot = np.full(2 * njobs, -1, dtype=np.int64)
    return (sc, np.empty(npts, dtype=np.int64), tslot,
            np.zeros((2 * njobs, 2 * dims), dtype=np.uint64),
            np.zeros((2 * njobs, dims), dtype=np.uint8))


@njit(cache=True)
def _set_term(tscal, tneg, u, tw, tw_neg, r):
    """Term u's scalar: W^r for the table tw of W^j, j < N/2 (W^(j + N/2) = -W^j), r < N."""
    hn = tw.shape[0]
    flip = np.uint8(1) if r >= hn else np.uint8(0)
    row = r - hn if r >= hn else r
    for x in range(tscal.shape[1]):
        tscal[u, x] = tw[row, x]
    for d in range(tneg.shape[1]):
        tneg[u, d] = tw_neg[row, d] ^ flip


@njit(cache=True, parallel=True)
def fft_stage(a, log_half, tw, tw_neg, shift, endo_c, chunk):
    """One decimation-in-time stage over the whole array a (n, 3, ...), in place."""
    nb = a.shape[0] >> 1
    half = 1 << log_half
    dims = tw_neg.shape[1]
    n_chunks = (nb + chunk - 1) // chunk
    for ci in prange(n_chunks):
        sc, rows, tslot, tscal, tneg = _scratch(a, chunk, chunk, dims)
        res = sc[4]
        lo, hi = ci * chunk, min(nb, (ci + 1) * chunk)
        m = 0
        for t in range(lo, hi):  # the odd halves with a twiddle other than 1
            pos = t & (half - 1)
            if pos != 0:
                rows[m] = ((t >> log_half) << (log_half + 1)) + pos + half
                tslot[2 * m] = m
                _set_term(tscal, tneg, 2 * m, tw, tw_neg, pos << shift)
                m += 1
        if m:
            _run_jobs(a, rows, m, tslot, tscal, tneg, m, endo_c, sc)
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
def fft_stage4(a, log_m, tw, tw_neg, log_top, endo_c, chunk):
    """Two decimation-in-time stages at once (halves m = 2^log_m, then 2m), in place. With
    W = w_4m^-1, J = W^m (J^2 = -1) and A, B, C, D at i, i + m, i + 2m, i + 3m of a block:
        X_i, X_(i+2m) = A + W^2i B +- S        S = W^i C + W^3i D
        X_(i+m), X_(i+3m) = A - W^2i B +- U    U = J W^i C - J W^3i D
    S and U are sums of two products sharing one run of doublings: 1 product and 2 such sums
    for the 3 products of C and D that two radix-2 stages take. tw: W_N^j, j < N/2, N =
    2^log_top."""
    m = 1 << log_m
    nb = a.shape[0] >> 2
    dims = tw_neg.shape[1]
    shift = log_top - log_m - 2  # W = W_N^(2^shift)
    n_top = 1 << log_top
    n_chunks = (nb + chunk - 1) // chunk
    for ci in prange(n_chunks):
        sc, rows, tslot, tscal, tneg = _scratch(a, 3 * chunk, 3 * chunk, dims)
        res = sc[4]
        lo, hi = ci * chunk, min(nb, (ci + 1) * chunk)
        npts = 0
        nj = 0
        for t in range(lo, hi):
            i = t & (m - 1)
            base = ((t >> log_m) << (log_m + 2)) + i
            if i != 0:  # W^2i B
                rows[npts] = base + m
                tslot[2 * nj] = npts
                _set_term(tscal, tneg, 2 * nj, tw, tw_neg, ((2 * i) << shift) % n_top)
                npts += 1
                nj += 1
            rows[npts] = base + 2 * m
            rows[npts + 1] = base + 3 * m
            for q in range(2):  # S, then U
                tslot[2 * nj] = npts
                tslot[2 * nj + 1] = npts + 1
                _set_term(tscal, tneg, 2 * nj, tw, tw_neg, ((i + q * m) << shift) % n_top)
                _set_term(tscal, tneg, 2 * nj + 1, tw, tw_neg,
                          ((3 * i + 3 * q * m) << shift) % n_top)
                nj += 1
            npts += 2
        _run_jobs(a, rows, npts, tslot, tscal, tneg, nj, endo_c, sc)
        j = 0
        for t in range(lo, hi):
            i = t & (m - 1)
            base = ((t >> log_m) << (log_m + 2)) + i
            if i != 0:
                B = load_jac(res, j)
                j += 1
            else:
                B = load_jac(a, base + m)
            S = load_jac(res, j)
            U = load_jac(res, j + 1)
            j += 2
            A = load_jac(a, base)
            A1 = c.jac_add(A, B)
            A2 = c.jac_add(A, c.jac_neg(B))
            store_pt(a, base, c.jac_add(A1, S))
            store_pt(a, base + 2 * m, c.jac_add(A1, c.jac_neg(S)))
            store_pt(a, base + m, c.jac_add(A2, U))
            store_pt(a, base + 3 * m, c.jac_add(A2, c.jac_neg(U)))


@njit(cache=True, parallel=True)
def mul_each(a, k, neg, endo_c, chunk):
    """a[i] <- t_i a[i], t_i decomposed per row (k: (n, 2D), neg: (n, D); one row: all rows)."""
    n = a.shape[0]
    dims = neg.shape[1]
    n_chunks = (n + chunk - 1) // chunk
    for ci in prange(n_chunks):
        sc, rows, tslot, tscal, tneg = _scratch(a, chunk, chunk, dims)
        res = sc[4]
        lo, hi = ci * chunk, min(n, (ci + 1) * chunk)
        for e in range(hi - lo):
            rows[e] = lo + e
            tslot[2 * e] = e
            src = 0 if k.shape[0] == 1 else lo + e
            tscal[2 * e] = k[src]
            tneg[2 * e] = neg[src]
        _run_jobs(a, rows, hi - lo, tslot, tscal, tneg, hi - lo, endo_c, sc)
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
        _normalize(P, out, ci * chunk, min(n, (ci + 1) * chunk), 1, 1)
