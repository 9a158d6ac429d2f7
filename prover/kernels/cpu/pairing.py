"""The optimal ate pairing on BN254, e: G1 x G2 -> mu_r in Fq12, as Numba kernels.

Miller loop over s = 6x + 2 with the twist point T in affine coordinates (one Fq2 inversion per
step: simple, and a pairing is still about a millisecond), then the two Frobenius steps:
    f = f_{s,Q}(P) * l_{sQ, pi(Q)}(P) * l_{sQ + pi(Q), -pi^2(Q)}(P).
Line through T with slope lam, untwisted by (x, y) -> (x w^2, y w^3) and evaluated at P:
    l(P) = yP - lam xP w + (lam xT - yT) w^3,   w^3 = v w,
so only three Fq2 slots of the Fq12 element are nonzero. Vertical lines are dropped: they lie in
a proper subfield and vanish under the final exponentiation.
Final exponentiation f^((q^12 - 1)/r) = (f^(q^6 - 1))^((q^2 + 1)(q^4 - q^2 + 1)/r): the first
factor is a conjugate over an inverse, the rest plain square-and-multiply.
"""

from __future__ import annotations

from numba import njit

from prover.kernels.cpu.fq import (
    FQ_ZERO,
    fq2_add,
    fq2_conj,
    fq2_dbl,
    fq2_inv,
    fq2_mul,
    fq2_mul_fq,
    fq2_neg,
    fq2_sqr,
    fq2_sub,
)
from prover.kernels.cpu.tower import (
    FQ2_ZERO,
    fq12_conj,
    fq12_inv,
    fq12_is_one,
    fq12_mul,
    fq12_one,
    fq12_pow,
    fq12_sqr,
)


@njit(cache=True)
def _line(lam, xT, yT, xP, yP):
    """Sparse Fq12 element yP - lam xP w + (lam xT - yT) v w."""
    c0 = ((yP, FQ_ZERO), FQ2_ZERO, FQ2_ZERO)
    c1 = (fq2_neg(fq2_mul_fq(lam, xP)), fq2_sub(fq2_mul(lam, xT), yT), FQ2_ZERO)
    return (c0, c1)


@njit(cache=True)
def _double_step(xT, yT, xP, yP):
    """lam = 3 xT^2 / (2 yT); 2T = (lam^2 - 2 xT, lam (xT - x3) - yT)."""
    x2 = fq2_sqr(xT)
    lam = fq2_mul(fq2_add(fq2_dbl(x2), x2), fq2_inv(fq2_dbl(yT)))
    line = _line(lam, xT, yT, xP, yP)
    x3 = fq2_sub(fq2_sqr(lam), fq2_dbl(xT))
    y3 = fq2_sub(fq2_mul(lam, fq2_sub(xT, x3)), yT)
    return line, x3, y3


@njit(cache=True)
def _add_step(xT, yT, xQ, yQ, xP, yP):
    """lam = (yQ - yT) / (xQ - xT); T + Q = (lam^2 - xT - xQ, lam (xT - x3) - yT)."""
    lam = fq2_mul(fq2_sub(yQ, yT), fq2_inv(fq2_sub(xQ, xT)))
    line = _line(lam, xT, yT, xP, yP)
    x3 = fq2_sub(fq2_sub(fq2_sqr(lam), xT), xQ)
    y3 = fq2_sub(fq2_mul(lam, fq2_sub(xT, x3)), yT)
    return line, x3, y3


@njit(cache=True)
def miller_loop(xP, yP, xQ, yQ, s_words, s_bits, frob):
    """f_{s,Q}(P) times the two Frobenius lines. frob = (g12, g13, g22, g23): the twist's
    Frobenius pi(x, y) = (conj(x) g12, conj(y) g13) and pi^2(x, y) = (x g22, y g23)."""
    f = fq12_one()
    xT, yT = xQ, yQ
    for i in range(s_bits - 2, -1, -1):
        line, xT, yT = _double_step(xT, yT, xP, yP)
        f = fq12_mul(fq12_sqr(f), line)
        if (s_words[i // 64] >> (i % 64)) & 1:
            line, xT, yT = _add_step(xT, yT, xQ, yQ, xP, yP)
            f = fq12_mul(f, line)
    g12, g13, g22, g23 = frob
    x1 = fq2_mul(fq2_conj(xQ), g12)
    y1 = fq2_mul(fq2_conj(yQ), g13)
    x2 = fq2_mul(xQ, g22)
    y2 = fq2_neg(fq2_mul(yQ, g23))  # -pi^2(Q)
    line, xT, yT = _add_step(xT, yT, x1, y1, xP, yP)
    f = fq12_mul(f, line)
    line, xT, yT = _add_step(xT, yT, x2, y2, xP, yP)
    return fq12_mul(f, line)


@njit(cache=True)
def final_exponentiation(f, e2_words, e2_bits, e3_words, e3_bits):
    """f^(q^6 - 1) by conjugate/inverse, then ^(q^2 + 1), then ^((q^4 - q^2 + 1)/r)."""
    g = fq12_mul(fq12_conj(f), fq12_inv(f))
    g = fq12_mul(fq12_pow(g, e2_words, e2_bits), g)
    return fq12_pow(g, e3_words, e3_bits)


@njit(cache=True)
def product_is_one(xs, ys, x2s, y2s, s_words, s_bits, frob, e2_words, e2_bits, e3_words, e3_bits):
    """prod_i e(P_i, Q_i) == 1 over arrays of affine coordinates (no infinity here)."""
    f = fq12_one()
    for i in range(xs.shape[0]):
        xP = (xs[i, 0], xs[i, 1], xs[i, 2], xs[i, 3])
        yP = (ys[i, 0], ys[i, 1], ys[i, 2], ys[i, 3])
        xQ = (
            (x2s[i, 0, 0], x2s[i, 0, 1], x2s[i, 0, 2], x2s[i, 0, 3]),
            (x2s[i, 1, 0], x2s[i, 1, 1], x2s[i, 1, 2], x2s[i, 1, 3]),
        )
        yQ = (
            (y2s[i, 0, 0], y2s[i, 0, 1], y2s[i, 0, 2], y2s[i, 0, 3]),
            (y2s[i, 1, 0], y2s[i, 1, 1], y2s[i, 1, 2], y2s[i, 1, 3]),
        )
        f = fq12_mul(f, miller_loop(xP, yP, xQ, yQ, s_words, s_bits, frob))
    return fq12_is_one(final_exponentiation(f, e2_words, e2_bits, e3_words, e3_bits))
