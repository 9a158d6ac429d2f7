"""Montgomery arithmetic over a 4 x 64-bit prime field as CUDA device functions.

Same representation and results as `kernels/cpu/field.py`: an element is a tuple of 4 uint64
little-endian limbs holding a * 2^256 mod p, reduced to [0, p). The modulus comes in as `p`
(limb tuple) and `pinv` (-p^-1 mod 2^64); the per-field modules pass module constants, which the
compiler folds into immediates.
"""

from __future__ import annotations

import numpy as np

from prover.kernels.cuda.word import U0, U1, adc, device, mac, sbb


@device
def limbs_add(a, b):
    """(a + b mod 2^256, carry)."""
    s0, c = adc(a[0], b[0], U0)
    s1, c = adc(a[1], b[1], c)
    s2, c = adc(a[2], b[2], c)
    s3, c = adc(a[3], b[3], c)
    return (s0, s1, s2, s3), c


@device
def limbs_sub(a, b):
    """(a - b mod 2^256, borrow)."""
    d0, br = sbb(a[0], b[0], U0)
    d1, br = sbb(a[1], b[1], br)
    d2, br = sbb(a[2], b[2], br)
    d3, br = sbb(a[3], b[3], br)
    return (d0, d1, d2, d3), br


@device
def select(mask, a, b):
    """mask = all ones -> a, mask = 0 -> b, without a branch (threads of a warp stay together)."""
    n = ~mask
    return (
        (a[0] & mask) | (b[0] & n),
        (a[1] & mask) | (b[1] & n),
        (a[2] & mask) | (b[2] & n),
        (a[3] & mask) | (b[3] & n),
    )


@device
def reduce_once(t, p):
    """t - p if t >= p else t, for t < 2p."""
    d, br = limbs_sub(t, p)
    return select(U0 - br, t, d)


@device
def is_zero(a):
    return (a[0] | a[1] | a[2] | a[3]) == U0


@device
def eq(a, b):
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == U0


@device
def add_mod(a, b, p):
    # p < 2^254, so a + b < 2^255 never carries out of the top limb.
    s, _ = limbs_add(a, b)
    return reduce_once(s, p)


@device
def sub_mod(a, b, p):
    d, br = limbs_sub(a, b)
    m = U0 - br  # all ones when a < b: add p back
    s, _ = limbs_add(d, (p[0] & m, p[1] & m, p[2] & m, p[3] & m))
    return s


@device
def neg_mod(a, p):
    d, _ = limbs_sub(p, a)
    m = U0 - np.uint64(is_zero(a))  # -0 = 0, not p
    n = ~m
    return (d[0] & n, d[1] & n, d[2] & n, d[3] & n)


@device
def cios_row(t, ai, b, p, pinv):
    """One CIOS row: t <- (t + ai*b + m*p) / 2^64 with m = (t0 + ai*b0) * pinv mod 2^64.

    The 'no-carry' variant (p's top limb < (2^64 - 1)/2 - 1, true for both BN254 moduli): the
    running value fits in 4 words, so the row needs no fifth word.
    """
    t0, A = mac(ai, b[0], t[0], U0)
    m = t0 * pinv
    _, C = mac(m, p[0], t0, U0)
    t1, A = mac(ai, b[1], t[1], A)
    t0, C = mac(m, p[1], t1, C)
    t2, A = mac(ai, b[2], t[2], A)
    t1, C = mac(m, p[2], t2, C)
    t3, A = mac(ai, b[3], t[3], A)
    t2, C = mac(m, p[3], t3, C)
    return (t0, t1, t2, C + A)


@device
def mont_mul(a, b, p, pinv):
    """a * b * 2^-256 mod p, inputs and output in [0, p)."""
    t = (U0, U0, U0, U0)
    t = cios_row(t, a[0], b, p, pinv)
    t = cios_row(t, a[1], b, p, pinv)
    t = cios_row(t, a[2], b, p, pinv)
    t = cios_row(t, a[3], b, p, pinv)
    return reduce_once(t, p)


@device
def mont_pow(a, e, p, pinv, one):
    """a^e, e a plain 256-bit exponent as limbs, square-and-multiply from the top bit."""
    r = one
    for i in range(3, -1, -1):
        w = e[i]
        for j in range(63, -1, -1):
            r = mont_mul(r, r, p, pinv)
            if (w >> np.uint64(j)) & U1:
                r = mont_mul(r, a, p, pinv)
    return r


@device
def load4(x, i):
    """Row i of an (n, 4) uint64 array as a limb tuple."""
    return (x[i, 0], x[i, 1], x[i, 2], x[i, 3])


@device
def store4(x, i, v):
    x[i, 0] = v[0]
    x[i, 1] = v[1]
    x[i, 2] = v[2]
    x[i, 3] = v[3]
