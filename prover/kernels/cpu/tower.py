"""Fq6 = Fq2[v]/(v^3 - xi), xi = 9 + u, and Fq12 = Fq6[w]/(w^2 - v): the pairing's target field.

Elements are nested tuples: Fq6 = (c0, c1, c2) of Fq2, Fq12 = (c0, c1) of Fq6 (c0 + c1 w).
This is the usual BN254 tower (EIP-197's twist y^2 = x^3 + 3/xi is the D-type twist over it).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from prover.kernels.cpu.fq import (
    FQ_ONE,
    FQ_ZERO,
    fq2_add,
    fq2_eq,
    fq2_inv,
    fq2_mul,
    fq2_neg,
    fq2_sqr,
    fq2_sub,
    fq_add,
    fq_dbl,
    fq_sub,
)

FQ2_ZERO = (FQ_ZERO, FQ_ZERO)
FQ2_ONE = (FQ_ONE, FQ_ZERO)


@njit(cache=True)
def fq2_mul_xi(a):
    """(9 + u)(a0 + a1 u) = (9 a0 - a1) + (a0 + 9 a1) u."""
    a0, a1 = a
    n0 = fq_add(fq_dbl(fq_dbl(fq_dbl(a0))), a0)
    n1 = fq_add(fq_dbl(fq_dbl(fq_dbl(a1))), a1)
    return (fq_sub(n0, a1), fq_add(a0, n1))


# ---- Fq6 --------------------------------------------------------------------------------------


@njit(cache=True)
def fq6_add(a, b):
    return (fq2_add(a[0], b[0]), fq2_add(a[1], b[1]), fq2_add(a[2], b[2]))


@njit(cache=True)
def fq6_sub(a, b):
    return (fq2_sub(a[0], b[0]), fq2_sub(a[1], b[1]), fq2_sub(a[2], b[2]))


@njit(cache=True)
def fq6_neg(a):
    return (fq2_neg(a[0]), fq2_neg(a[1]), fq2_neg(a[2]))


@njit(cache=True)
def fq6_mul(a, b):
    """Karatsuba over v^3 = xi: v_i = a_i b_i,
    c0 = v0 + xi((a1+a2)(b1+b2) - v1 - v2), c1 = (a0+a1)(b0+b1) - v0 - v1 + xi v2,
    c2 = (a0+a2)(b0+b2) - v0 - v2 + v1."""
    v0 = fq2_mul(a[0], b[0])
    v1 = fq2_mul(a[1], b[1])
    v2 = fq2_mul(a[2], b[2])
    t = fq2_sub(fq2_sub(fq2_mul(fq2_add(a[1], a[2]), fq2_add(b[1], b[2])), v1), v2)
    c0 = fq2_add(v0, fq2_mul_xi(t))
    t = fq2_sub(fq2_sub(fq2_mul(fq2_add(a[0], a[1]), fq2_add(b[0], b[1])), v0), v1)
    c1 = fq2_add(t, fq2_mul_xi(v2))
    t = fq2_sub(fq2_sub(fq2_mul(fq2_add(a[0], a[2]), fq2_add(b[0], b[2])), v0), v2)
    c2 = fq2_add(t, v1)
    return (c0, c1, c2)


@njit(cache=True)
def fq6_mul_v(a):
    """a * v = (xi a2, a0, a1)."""
    return (fq2_mul_xi(a[2]), a[0], a[1])


@njit(cache=True)
def fq6_inv(a):
    """A = a0^2 - xi a1 a2, B = xi a2^2 - a0 a1, C = a1^2 - a0 a2,
    F = a0 A + xi (a2 B + a1 C); a^-1 = (A, B, C) / F."""
    a0, a1, a2 = a
    A = fq2_sub(fq2_sqr(a0), fq2_mul_xi(fq2_mul(a1, a2)))
    B = fq2_sub(fq2_mul_xi(fq2_sqr(a2)), fq2_mul(a0, a1))
    C = fq2_sub(fq2_sqr(a1), fq2_mul(a0, a2))
    F = fq2_add(fq2_mul(a0, A), fq2_mul_xi(fq2_add(fq2_mul(a2, B), fq2_mul(a1, C))))
    Fi = fq2_inv(F)
    return (fq2_mul(A, Fi), fq2_mul(B, Fi), fq2_mul(C, Fi))


# ---- Fq12 -------------------------------------------------------------------------------------


@njit(cache=True)
def fq12_one():
    z6 = (FQ2_ZERO, FQ2_ZERO, FQ2_ZERO)
    return ((FQ2_ONE, FQ2_ZERO, FQ2_ZERO), z6)


@njit(cache=True)
def fq12_mul(a, b):
    """(a0 + a1 w)(b0 + b1 w) = a0 b0 + a1 b1 v + ((a0+a1)(b0+b1) - a0 b0 - a1 b1) w."""
    t0 = fq6_mul(a[0], b[0])
    t1 = fq6_mul(a[1], b[1])
    c1 = fq6_sub(fq6_sub(fq6_mul(fq6_add(a[0], a[1]), fq6_add(b[0], b[1])), t0), t1)
    return (fq6_add(t0, fq6_mul_v(t1)), c1)


@njit(cache=True)
def fq12_sqr(a):
    """Complex squaring: c0 = (a0 + a1)(a0 + v a1) - t - v t, c1 = 2t with t = a0 a1."""
    t = fq6_mul(a[0], a[1])
    s = fq6_mul(fq6_add(a[0], a[1]), fq6_add(a[0], fq6_mul_v(a[1])))
    return (fq6_sub(fq6_sub(s, t), fq6_mul_v(t)), fq6_add(t, t))


@njit(cache=True)
def fq12_conj(a):
    """a^(q^6): w^(q^6) = -w."""
    return (a[0], fq6_neg(a[1]))


@njit(cache=True)
def fq12_inv(a):
    """(a0 - a1 w) / (a0^2 - v a1^2)."""
    t = fq6_sub(fq6_mul(a[0], a[0]), fq6_mul_v(fq6_mul(a[1], a[1])))
    ti = fq6_inv(t)
    return (fq6_mul(a[0], ti), fq6_neg(fq6_mul(a[1], ti)))


@njit(cache=True)
def fq12_pow(a, words, nbits):
    """a^e, e given as little-endian uint64 words with nbits significant bits."""
    r = fq12_one()
    for i in range(nbits - 1, -1, -1):
        r = fq12_sqr(r)
        if (words[i // 64] >> np.uint64(i % 64)) & np.uint64(1):
            r = fq12_mul(r, a)
    return r


@njit(cache=True)
def fq6_eq(a, b):
    return fq2_eq(a[0], b[0]) and fq2_eq(a[1], b[1]) and fq2_eq(a[2], b[2])


@njit(cache=True)
def fq12_is_one(a):
    one = fq12_one()
    return fq6_eq(a[0], one[0]) and fq6_eq(a[1], one[1])
