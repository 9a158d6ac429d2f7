"""Fq (BN254 base field) and Fq2 = Fq[u]/(u^2 + 1) scalar kernels, modulus folded in.

The product is adx.py's MULX/ADCX/ADOX assembly where adx.ENABLED, field.mont_mul otherwise.

Fq elements are UniTuple(uint64, 4) in Montgomery form; Fq2 elements are pairs (c0, c1) of them,
meaning c0 + c1*u.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from prover.constants import Q
from prover.kernels.cpu import adx
from prover.kernels.cpu import field as f
from prover.kernels.cpu.params import MontParams, int_to_limbs

FQ = MontParams.of(Q)
_P = FQ.p
_PINV = FQ.pinv
FQ_ONE = FQ.one
FQ_ZERO = int_to_limbs(0)
_PM2 = FQ.pm2
# (q + 1) / 4: q = 3 mod 4, so a square root of a square a is a^((q+1)/4).
_SQRT_EXP = int_to_limbs((Q + 1) // 4)


if adx.ENABLED:
    _ASM_MUL = adx.mont_mul_asm(Q)

    @njit(cache=True)
    def fq_mul(a, b):
        # as tuples: callers also pass limb arrays
        return _ASM_MUL((a[0], a[1], a[2], a[3]), (b[0], b[1], b[2], b[3]))

else:

    @njit(cache=True)
    def fq_mul(a, b):
        return f.mont_mul(a, b, _P, _PINV)


@njit(cache=True)
def fq_sqr(a):
    return fq_mul(a, a)


@njit(cache=True)
def fq_add(a, b):
    return f.add_mod(a, b, _P)


@njit(cache=True)
def fq_sub(a, b):
    return f.sub_mod(a, b, _P)


@njit(cache=True)
def fq_dbl(a):
    return f.add_mod(a, a, _P)


@njit(cache=True)
def fq_neg(a):
    return f.neg_mod(a, _P)


@njit(cache=True)
def fq_pow(a, e):
    """a^e with e a 256-bit exponent as limbs (plain integer), left to right."""
    r = FQ_ONE
    for i in range(3, -1, -1):
        w = e[i]
        for j in range(63, -1, -1):
            r = fq_sqr(r)
            if (w >> np.uint64(j)) & f.U1:
                r = fq_mul(r, a)
    return r


@njit(cache=True)
def fq_inv(a):
    """a^(q-2); 0 maps to 0."""
    return fq_pow(a, _PM2)


@njit(cache=True)
def fq_sqrt(a):
    """(root, ok): a square root of a if a is a square, ok False otherwise."""
    r = fq_pow(a, _SQRT_EXP)
    return r, f.eq(fq_sqr(r), a)


# ---- Fq2 -------------------------------------------------------------------------------------


@njit(cache=True)
def fq2_add(a, b):
    return (fq_add(a[0], b[0]), fq_add(a[1], b[1]))


@njit(cache=True)
def fq2_sub(a, b):
    return (fq_sub(a[0], b[0]), fq_sub(a[1], b[1]))


@njit(cache=True)
def fq2_dbl(a):
    return (fq_dbl(a[0]), fq_dbl(a[1]))


@njit(cache=True)
def fq2_neg(a):
    return (fq_neg(a[0]), fq_neg(a[1]))


@njit(cache=True)
def fq2_mul(a, b):
    """Karatsuba with u^2 = -1: c0 = a0b0 - a1b1, c1 = (a0+a1)(b0+b1) - a0b0 - a1b1."""
    v0 = fq_mul(a[0], b[0])
    v1 = fq_mul(a[1], b[1])
    s = fq_mul(fq_add(a[0], a[1]), fq_add(b[0], b[1]))
    return (fq_sub(v0, v1), fq_sub(fq_sub(s, v0), v1))


@njit(cache=True)
def fq2_sqr(a):
    """Complex squaring: c0 = (a0+a1)(a0-a1), c1 = 2 a0 a1."""
    return (fq_mul(fq_add(a[0], a[1]), fq_sub(a[0], a[1])), fq_dbl(fq_mul(a[0], a[1])))


@njit(cache=True)
def fq2_mul_fq(a, s):
    return (fq_mul(a[0], s), fq_mul(a[1], s))


@njit(cache=True)
def fq2_inv(a):
    """(a0 - a1 u) / (a0^2 + a1^2); 0 maps to 0."""
    t = fq_inv(fq_add(fq_sqr(a[0]), fq_sqr(a[1])))
    return (fq_mul(a[0], t), fq_neg(fq_mul(a[1], t)))


@njit(cache=True)
def fq2_is_zero(a):
    return f.is_zero(a[0]) and f.is_zero(a[1])


@njit(cache=True)
def fq2_eq(a, b):
    return f.eq(a[0], b[0]) and f.eq(a[1], b[1])


@njit(cache=True)
def fq2_conj(a):
    """Frobenius a^q = conjugate, since u^q = -u."""
    return (a[0], fq_neg(a[1]))


@njit(cache=True)
def fq2_pow(a, e):
    r = (FQ_ONE, FQ_ZERO)
    for i in range(3, -1, -1):
        w = e[i]
        for j in range(63, -1, -1):
            r = fq2_sqr(r)
            if (w >> np.uint64(j)) & f.U1:
                r = fq2_mul(r, a)
    return r


_FQ2_SQRT_E1 = int_to_limbs((Q - 3) // 4)
_FQ2_SQRT_E2 = int_to_limbs((Q - 1) // 2)


@njit(cache=True)
def fq2_sqrt(a):
    """(root, ok) for q = 3 mod 4 (Adj & Rodriguez-Henriquez, 'Square root computation over even
    extension fields', Alg. 9): a1 = a^((q-3)/4), alpha = a1^2 a, x0 = a1 a;
    alpha = -1 -> root = u x0; else root = (1 + alpha)^((q-1)/2) x0."""
    if fq2_is_zero(a):
        return a, True
    a1 = fq2_pow(a, _FQ2_SQRT_E1)
    alpha = fq2_mul(fq2_sqr(a1), a)
    x0 = fq2_mul(a1, a)
    minus_one = (fq_neg(FQ_ONE), FQ_ZERO)
    if fq2_eq(alpha, minus_one):
        root = (fq_neg(x0[1]), x0[0])  # u * (x0_0 + x0_1 u) = -x0_1 + x0_0 u
    else:
        b = fq2_pow(fq2_add(alpha, (FQ_ONE, FQ_ZERO)), _FQ2_SQRT_E2)
        root = fq2_mul(b, x0)
    return root, fq2_eq(fq2_sqr(root), a)


# ---- Fq2 array kernels over (n, 2, 4) arrays -------------------------------------------------


@njit(cache=True, inline="always")
def load2(x, i):
    return (
        (x[i, 0, 0], x[i, 0, 1], x[i, 0, 2], x[i, 0, 3]),
        (x[i, 1, 0], x[i, 1, 1], x[i, 1, 2], x[i, 1, 3]),
    )


@njit(cache=True, inline="always")
def store2(x, i, v):
    for c in range(2):
        for k in range(4):
            x[i, c, k] = v[c][k]


@njit(cache=True, parallel=True)
def arr2_mul(a, b, out):
    for i in prange(out.shape[0]):
        store2(out, i, fq2_mul(load2(a, i), load2(b, i)))


@njit(cache=True, parallel=True)
def arr2_sqr(a, out):
    for i in prange(out.shape[0]):
        store2(out, i, fq2_sqr(load2(a, i)))


@njit(cache=True, parallel=True)
def arr2_add(a, b, out):
    for i in prange(out.shape[0]):
        store2(out, i, fq2_add(load2(a, i), load2(b, i)))


@njit(cache=True, parallel=True)
def arr2_sub(a, b, out):
    for i in prange(out.shape[0]):
        store2(out, i, fq2_sub(load2(a, i), load2(b, i)))


@njit(cache=True, parallel=True)
def arr2_neg(a, out):
    for i in prange(out.shape[0]):
        store2(out, i, fq2_neg(load2(a, i)))


@njit(cache=True, parallel=True)
def arr2_inv(a, out):
    for i in prange(out.shape[0]):
        store2(out, i, fq2_inv(load2(a, i)))


@njit(cache=True)
def arr2_sqrt(a, out):
    n = out.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    for i in range(n):
        r, good = fq2_sqrt(load2(a, i))
        store2(out, i, r)
        ok[i] = good
    return ok


@njit(cache=True)
def arr_sqrt(a, out):
    n = out.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    for i in range(n):
        r, good = fq_sqrt(f.load(a, i))
        f.store(out, i, r)
        ok[i] = good
    return ok
