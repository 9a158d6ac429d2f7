"""Array kernels over point arrays: G1 as (n, k, 4), G2 as (n, k, 2, 4) uint64 arrays.

k = 2 for affine (x, y), 3 for Jacobian (X, Y, Z); `load_x`/`store_x` read one coordinate per
row, (n, 4) or (n, 2, 4). `load_*`/`store_*` dispatch on the array's dimension, so each kernel
below compiles for G1 and for G2.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from prover.kernels.cpu import curve as c
from prover.kernels.cpu.generic import fe_inv, fe_is_zero, fe_mul, fe_one, fe_sqr, fe_zero


def load_aff(a, i):  # pragma: no cover - jitted only
    raise NotImplementedError


def load_jac(a, i):  # pragma: no cover
    raise NotImplementedError


def store_pt(a, i, v):  # pragma: no cover
    raise NotImplementedError


@overload(load_aff, jit_options={"cache": True})
def _ol_load_aff(a, i):
    if isinstance(a, types.Array) and a.ndim == 3:
        return lambda a, i: (
            (a[i, 0, 0], a[i, 0, 1], a[i, 0, 2], a[i, 0, 3]),
            (a[i, 1, 0], a[i, 1, 1], a[i, 1, 2], a[i, 1, 3]),
        )
    if isinstance(a, types.Array) and a.ndim == 4:
        return lambda a, i: (
            (
                (a[i, 0, 0, 0], a[i, 0, 0, 1], a[i, 0, 0, 2], a[i, 0, 0, 3]),
                (a[i, 0, 1, 0], a[i, 0, 1, 1], a[i, 0, 1, 2], a[i, 0, 1, 3]),
            ),
            (
                (a[i, 1, 0, 0], a[i, 1, 0, 1], a[i, 1, 0, 2], a[i, 1, 0, 3]),
                (a[i, 1, 1, 0], a[i, 1, 1, 1], a[i, 1, 1, 2], a[i, 1, 1, 3]),
            ),
        )
    return None


@overload(load_jac, jit_options={"cache": True})
def _ol_load_jac(a, i):
    if isinstance(a, types.Array) and a.ndim == 3:
        return lambda a, i: (
            (a[i, 0, 0], a[i, 0, 1], a[i, 0, 2], a[i, 0, 3]),
            (a[i, 1, 0], a[i, 1, 1], a[i, 1, 2], a[i, 1, 3]),
            (a[i, 2, 0], a[i, 2, 1], a[i, 2, 2], a[i, 2, 3]),
        )
    if isinstance(a, types.Array) and a.ndim == 4:

        def impl(a, i):
            return (
                (
                    (a[i, 0, 0, 0], a[i, 0, 0, 1], a[i, 0, 0, 2], a[i, 0, 0, 3]),
                    (a[i, 0, 1, 0], a[i, 0, 1, 1], a[i, 0, 1, 2], a[i, 0, 1, 3]),
                ),
                (
                    (a[i, 1, 0, 0], a[i, 1, 0, 1], a[i, 1, 0, 2], a[i, 1, 0, 3]),
                    (a[i, 1, 1, 0], a[i, 1, 1, 1], a[i, 1, 1, 2], a[i, 1, 1, 3]),
                ),
                (
                    (a[i, 2, 0, 0], a[i, 2, 0, 1], a[i, 2, 0, 2], a[i, 2, 0, 3]),
                    (a[i, 2, 1, 0], a[i, 2, 1, 1], a[i, 2, 1, 2], a[i, 2, 1, 3]),
                ),
            )

        return impl
    return None


def _store_fq(a, i, j, v):  # pragma: no cover - jitted only
    raise NotImplementedError


@overload(_store_fq, jit_options={"cache": True})
def _ol_store_fq(a, i, j, v):
    if a.ndim == 3:

        def impl3(a, i, j, v):
            a[i, j, 0] = v[0]
            a[i, j, 1] = v[1]
            a[i, j, 2] = v[2]
            a[i, j, 3] = v[3]

        return impl3

    def impl4(a, i, j, v):
        a[i, j, 0, 0] = v[0][0]
        a[i, j, 0, 1] = v[0][1]
        a[i, j, 0, 2] = v[0][2]
        a[i, j, 0, 3] = v[0][3]
        a[i, j, 1, 0] = v[1][0]
        a[i, j, 1, 1] = v[1][1]
        a[i, j, 1, 2] = v[1][2]
        a[i, j, 1, 3] = v[1][3]

    return impl4


@overload(store_pt, jit_options={"cache": True})
def _ol_store_pt(a, i, v):
    # Written out coordinate by coordinate: indexing a tuple with a loop variable would spill it
    # to the stack on every store.
    if not (isinstance(a, types.Array) and a.ndim in (3, 4)):
        return None
    if len(v) == 2:

        def impl2(a, i, v):
            _store_fq(a, i, 0, v[0])
            _store_fq(a, i, 1, v[1])

        return impl2

    def impl3(a, i, v):
        _store_fq(a, i, 0, v[0])
        _store_fq(a, i, 1, v[1])
        _store_fq(a, i, 2, v[2])

    return impl3


def load_x(a, i):  # pragma: no cover - jitted only
    raise NotImplementedError


def store_x(a, i, v):  # pragma: no cover - jitted only
    raise NotImplementedError


@overload(load_x, jit_options={"cache": True})
def _ol_load_x(a, i):
    """One coordinate per row: (n, 4) for Fq (G1), (n, 2, 4) for Fq2 (G2)."""
    if isinstance(a, types.Array) and a.ndim == 2:
        return lambda a, i: (a[i, 0], a[i, 1], a[i, 2], a[i, 3])
    if isinstance(a, types.Array) and a.ndim == 3:
        return lambda a, i: ((a[i, 0, 0], a[i, 0, 1], a[i, 0, 2], a[i, 0, 3]),
                             (a[i, 1, 0], a[i, 1, 1], a[i, 1, 2], a[i, 1, 3]))
    return None


@overload(store_x, jit_options={"cache": True})
def _ol_store_x(a, i, v):
    if isinstance(a, types.Array) and a.ndim == 2:

        def impl2(a, i, v):
            a[i, 0] = v[0]
            a[i, 1] = v[1]
            a[i, 2] = v[2]
            a[i, 3] = v[3]

        return impl2
    if isinstance(a, types.Array) and a.ndim == 3:

        def impl3(a, i, v):
            for c in range(2):
                a[i, c, 0] = v[c][0]
                a[i, c, 1] = v[c][1]
                a[i, c, 2] = v[c][2]
                a[i, c, 3] = v[c][3]

        return impl3
    return None


@njit(cache=True, parallel=True)
def arr_add(P, Q, out):
    for i in prange(out.shape[0]):
        store_pt(out, i, c.jac_add(load_jac(P, i), load_jac(Q, i)))


@njit(cache=True, parallel=True)
def arr_add_mixed(P, Q, out):
    for i in prange(out.shape[0]):
        store_pt(out, i, c.jac_add_mixed(load_jac(P, i), load_aff(Q, i)))


@njit(cache=True, parallel=True)
def arr_double(P, out):
    for i in prange(out.shape[0]):
        store_pt(out, i, c.jac_double(load_jac(P, i)))


@njit(cache=True, parallel=True)
def arr_neg_aff(P, out):
    for i in prange(out.shape[0]):
        store_pt(out, i, c.aff_neg(load_aff(P, i)))


@njit(cache=True, parallel=True)
def arr_aff_to_jac(P, out):
    for i in prange(out.shape[0]):
        store_pt(out, i, c.aff_to_jac(load_aff(P, i)))


@njit(cache=True, parallel=True)
def arr_mul(P, k, out):
    """out[i] = k[i] * P[i] for affine P and plain scalar limbs k (n, 4)."""
    for i in prange(out.shape[0]):
        ki = (k[i, 0], k[i, 1], k[i, 2], k[i, 3])
        store_pt(out, i, c.aff_mul(load_aff(P, i), ki))


@njit(cache=True)
def arr_on_curve(P, b):
    # serial: a parfor cannot take the nested tuple `b` of G2 as an argument (and this is cheap)
    n = P.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    for i in range(n):
        ok[i] = c.aff_on_curve(load_aff(P, i), b)
    return ok


@njit(cache=True, parallel=True)
def arr_mul_is_inf(P, k):
    """[k P[i] == infinity] for one scalar k (uint64[4]): with k = r, the subgroup test."""
    n = P.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    kt = (k[0], k[1], k[2], k[3])
    for i in prange(n):
        ok[i] = c.jac_is_inf(c.aff_mul(load_aff(P, i), kt))
    return ok


@njit(cache=True)
def arr_to_affine(P, out):
    """Batch normalization: all Z inverted with one inversion (Montgomery's trick), then
    (X/Z^2, Y/Z^3); infinity -> (0, 0)."""
    n = P.shape[0]
    if n == 0:
        return
    first = load_jac(P, 0)
    one = fe_one(first[0])
    zero = fe_zero(first[0])
    # prefix[i] = prod of nonzero Z_j for j < i, kept in out[i].x as scratch
    acc = one
    for i in range(n):
        Pi = load_jac(P, i)
        store_pt(out, i, (acc, zero))
        if not fe_is_zero(Pi[2]):
            acc = fe_mul(acc, Pi[2])
    inv = fe_inv(acc)
    for i in range(n - 1, -1, -1):
        Pi = load_jac(P, i)
        if fe_is_zero(Pi[2]):
            store_pt(out, i, (zero, zero))
            continue
        prefix = load_aff(out, i)[0]
        zi = fe_mul(inv, prefix)
        inv = fe_mul(inv, Pi[2])
        zi2 = fe_sqr(zi)
        store_pt(out, i, (fe_mul(Pi[0], zi2), fe_mul(Pi[1], fe_mul(zi2, zi))))


@njit(cache=True)
def arr_chain_sums(Q, out):
    """out[i] = Q[0] + ... + Q[i mod m] summed cumulatively (Jacobian): many distinct points from
    a few random ones at one mixed addition each (test and benchmark inputs)."""
    m = Q.shape[0]
    acc = c.aff_to_jac(load_aff(Q, 0))
    store_pt(out, 0, acc)
    for i in range(1, out.shape[0]):
        acc = c.jac_add_mixed(acc, load_aff(Q, i % m))
        store_pt(out, i, acc)
