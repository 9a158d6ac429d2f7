"""Montgomery arithmetic over a 4 x 64-bit prime field, as Numba scalar kernels and array kernels.

An element is a UniTuple(uint64, 4) of little-endian limbs holding a*2^256 mod p (Montgomery
form). Scalar kernels take the modulus as arguments `p` (limb tuple) and `pinv` (-p^-1 mod 2^64);
the per-field wrappers in `fq.py` / `fr.py` pass module constants so that LLVM folds them.
Array kernels take the same arguments at run time and loop over rows of (n, 4) uint64 arrays.

Integers: Numba promotes uint64 op int64 to float64, so every literal here is a uint64 constant.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from prover.kernels.cpu.arith import adc, mac, sbb

U0 = np.uint64(0)
U1 = np.uint64(1)
U64_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True)
def limbs_add(a, b):
    """(a + b, carry) over 256 bits."""
    s0, c = adc(a[0], b[0], U0)
    s1, c = adc(a[1], b[1], c)
    s2, c = adc(a[2], b[2], c)
    s3, c = adc(a[3], b[3], c)
    return (s0, s1, s2, s3), c


@njit(cache=True)
def limbs_sub(a, b):
    """(a - b mod 2^256, borrow)."""
    d0, br = sbb(a[0], b[0], U0)
    d1, br = sbb(a[1], b[1], br)
    d2, br = sbb(a[2], b[2], br)
    d3, br = sbb(a[3], b[3], br)
    return (d0, d1, d2, d3), br


@njit(cache=True)
def select(mask, a, b):
    """mask = all ones -> a, mask = 0 -> b (branch-free: random data mispredicts branches)."""
    n = ~mask
    return (
        (a[0] & mask) | (b[0] & n),
        (a[1] & mask) | (b[1] & n),
        (a[2] & mask) | (b[2] & n),
        (a[3] & mask) | (b[3] & n),
    )


@njit(cache=True)
def reduce_once(t, p):
    """t - p if t >= p else t, for t < 2p."""
    d, br = limbs_sub(t, p)
    return select(U0 - br, t, d)


@njit(cache=True)
def is_zero(a):
    return (a[0] | a[1] | a[2] | a[3]) == U0


@njit(cache=True)
def eq(a, b):
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == U0


@njit(cache=True)
def add_mod(a, b, p):
    # p < 2^254, so a + b < 2^255 never carries out of the top limb.
    s, _ = limbs_add(a, b)
    return reduce_once(s, p)


@njit(cache=True)
def dbl_mod(a, p):
    return add_mod(a, a, p)


@njit(cache=True)
def sub_mod(a, b, p):
    d, br = limbs_sub(a, b)
    m = U0 - br
    s, _ = limbs_add(d, (p[0] & m, p[1] & m, p[2] & m, p[3] & m))
    return s


@njit(cache=True)
def neg_mod(a, p):
    d, _ = limbs_sub(p, a)
    m = U0 - np.uint64(is_zero(a))
    n = ~m
    return (d[0] & n, d[1] & n, d[2] & n, d[3] & n)


@njit(cache=True)
def _cios_row(t, ai, b, p, pinv):
    """One row of CIOS Montgomery multiplication, t <- (t + ai*b + m*p) / 2^64.

    The 'no-carry' variant: valid because p's top limb is below (2^64 - 1)/2 - 1 (true for
    both BN254 moduli), so the running value never needs a fifth word.
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


@njit(cache=True)
def mont_mul(a, b, p, pinv):
    """a * b * 2^-256 mod p (Montgomery product), inputs and output in [0, p)."""
    t = (U0, U0, U0, U0)
    t = _cios_row(t, a[0], b, p, pinv)
    t = _cios_row(t, a[1], b, p, pinv)
    t = _cios_row(t, a[2], b, p, pinv)
    t = _cios_row(t, a[3], b, p, pinv)
    return reduce_once(t, p)


@njit(cache=True)
def mont_pow(a, e, p, pinv, one):
    """a^e with e a 256-bit exponent as limbs (plain integer, not Montgomery), left to right."""
    r = one
    for i in range(3, -1, -1):
        w = e[i]
        for j in range(63, -1, -1):
            r = mont_mul(r, r, p, pinv)
            if (w >> np.uint64(j)) & U1:
                r = mont_mul(r, a, p, pinv)
    return r


# ---------------------------------------------------------------------------------------------
# Array kernels: rows of (n, 4) uint64 arrays, parallel over rows for large n.
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def load(x, i):
    return (x[i, 0], x[i, 1], x[i, 2], x[i, 3])


@njit(cache=True, inline="always")
def store(x, i, v):
    x[i, 0] = v[0]
    x[i, 1] = v[1]
    x[i, 2] = v[2]
    x[i, 3] = v[3]


@njit(cache=True, parallel=True)
def arr_mul(a, b, out, p, pinv):
    for i in prange(out.shape[0]):
        store(out, i, mont_mul(load(a, i), load(b, i), p, pinv))


@njit(cache=True, parallel=True)
def arr_mul_scalar(a, s, out, p, pinv):
    for i in prange(out.shape[0]):
        store(out, i, mont_mul(load(a, i), s, p, pinv))


@njit(cache=True)
def arr_mul_scalar_serial(a, s, out, p, pinv):
    """arr_mul_scalar on one thread: for a few rows, waking the thread pool costs more."""
    for i in range(out.shape[0]):
        store(out, i, mont_mul(load(a, i), s, p, pinv))


@njit(cache=True, parallel=True)
def arr_add(a, b, out, p):
    for i in prange(out.shape[0]):
        store(out, i, add_mod(load(a, i), load(b, i), p))


@njit(cache=True, parallel=True)
def arr_sub(a, b, out, p):
    for i in prange(out.shape[0]):
        store(out, i, sub_mod(load(a, i), load(b, i), p))


@njit(cache=True, parallel=True)
def arr_neg(a, out, p):
    for i in prange(out.shape[0]):
        store(out, i, neg_mod(load(a, i), p))


@njit(cache=True, parallel=True)
def arr_pow(a, e, out, p, pinv, one):
    for i in prange(out.shape[0]):
        store(out, i, mont_pow(load(a, i), e, p, pinv, one))


@njit(cache=True)
def arr_lt_modulus(a, p):
    """True where the row, read as a plain 256-bit integer, is < p."""
    n = a.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    for i in range(n):
        _, br = limbs_sub(load(a, i), p)
        ok[i] = br == U1
    return ok


@njit(cache=True)
def batch_inverse(a, out, p, pinv, one, pm2):
    """Montgomery's trick: n inverses for 3(n-1) products and one exponentiation.

    Zeros are skipped (their 'inverse' is left as 0) so one zero cannot poison the batch.
    prefix[i] = prod_{j<=i, a_j != 0} a_j; inv = prefix[n-1]^-1; walk back.
    """
    n = a.shape[0]
    if n == 0:
        return
    acc = one
    for i in range(n):
        x = load(a, i)
        store(out, i, acc)  # out[i] holds the prefix product before i
        if not is_zero(x):
            acc = mont_mul(acc, x, p, pinv)
    inv = mont_pow(acc, pm2, p, pinv, one)
    for i in range(n - 1, -1, -1):
        x = load(a, i)
        if is_zero(x):
            store(out, i, (U0, U0, U0, U0))
        else:
            store(out, i, mont_mul(inv, load(out, i), p, pinv))
            inv = mont_mul(inv, x, p, pinv)
