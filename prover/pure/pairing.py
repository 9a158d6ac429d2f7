"""prod_i e(P_i, Q_i) == 1 on BN254 with plain ints: the optimal ate pairing of
`prover.kernels.cpu.pairing`, all pairs in one Miller loop (one shared squaring chain).

Miller loop over s = 6x + 2 with each twist point T in affine coordinates, then the Frobenius
lines l_{sQ, pi(Q)} and l_{sQ + pi(Q), -pi^2(Q)}. Line through T with slope lam at P, untwisted:
    l(P) = yP + (-lam xP + (lam xT - yT) v) w.
Final exponentiation: f^((q^6 - 1)(q^2 + 1)) by conjugate, inverse and Frobenius; the hard part
d = (q^4 - q^2 + 1)/r written in base q, d = d0 + d1 q + d2 q^2, as
f^d = f^d0 (f^q)^d1 (f^(q^2))^d2 (one 254-bit squaring chain instead of 762).
"""

from __future__ import annotations

from collections.abc import Iterable

from prover.constants import BN_X, Q, R
from prover.pure.field import (
    FQ12_ONE,
    fq2_add,
    fq2_conj,
    fq2_inv,
    fq2_mul,
    fq2_mul_fq,
    fq2_neg,
    fq2_pow,
    fq2_sqr,
    fq2_sub,
    fq12_conj,
    fq12_frobenius,
    fq12_inv,
    fq12_mul,
    fq12_mul_by_line,
    fq12_multi_pow,
    fq12_sqr,
)

ATE_LOOP = 6 * BN_X + 2
_XI = (9, 1)
# pi(x, y) = (conj(x) xi^((q-1)/3), conj(y) xi^((q-1)/2)); pi^2(x, y) = (x g22, y g23).
_G12 = fq2_pow(_XI, (Q - 1) // 3)
_G13 = fq2_pow(_XI, (Q - 1) // 2)
_G22 = fq2_pow(_XI, (Q * Q - 1) // 3)
_G23 = fq2_pow(_XI, (Q * Q - 1) // 2)
_HARD = (Q**4 - Q**2 + 1) // R
_HARD_DIGITS = (_HARD % Q, _HARD // Q % Q, _HARD // (Q * Q))
assert _HARD_DIGITS[0] + _HARD_DIGITS[1] * Q + _HARD_DIGITS[2] * Q * Q == _HARD


def _double(T, xP: int):
    """lam = 3 xT^2 / (2 yT); 2T = (lam^2 - 2 xT, lam (xT - x3) - yT)."""
    xT, yT = T
    x2 = fq2_sqr(xT)
    lam = fq2_mul(fq2_add(fq2_add(x2, x2), x2), fq2_inv(fq2_add(yT, yT)))
    l1 = fq2_neg(fq2_mul_fq(lam, xP))
    l2 = fq2_sub(fq2_mul(lam, xT), yT)
    x3 = fq2_sub(fq2_sqr(lam), fq2_add(xT, xT))
    return (x3, fq2_sub(fq2_mul(lam, fq2_sub(xT, x3)), yT)), l1, l2


def _add(T, Qp, xP: int):
    """lam = (yQ - yT) / (xQ - xT); T + Q = (lam^2 - xT - xQ, lam (xT - x3) - yT)."""
    xT, yT = T
    xQ, yQ = Qp
    lam = fq2_mul(fq2_sub(yQ, yT), fq2_inv(fq2_sub(xQ, xT)))
    l1 = fq2_neg(fq2_mul_fq(lam, xP))
    l2 = fq2_sub(fq2_mul(lam, xT), yT)
    x3 = fq2_sub(fq2_sub(fq2_sqr(lam), xT), xQ)
    return (x3, fq2_sub(fq2_mul(lam, fq2_sub(xT, x3)), yT)), l1, l2


def miller_loop(pairs: list[tuple]) -> object:
    """prod_i f_{s,Q_i}(P_i) times each pair's two Frobenius lines (affine, finite points)."""
    f = FQ12_ONE
    Ts = [q for _, q in pairs]
    for i in range(ATE_LOOP.bit_length() - 2, -1, -1):
        f = fq12_sqr(f)
        bit = (ATE_LOOP >> i) & 1
        for j, (P, Qp) in enumerate(pairs):
            Ts[j], l1, l2 = _double(Ts[j], P[0])
            f = fq12_mul_by_line(f, P[1], l1, l2)
            if bit:
                Ts[j], l1, l2 = _add(Ts[j], Qp, P[0])
                f = fq12_mul_by_line(f, P[1], l1, l2)
    for j, (P, (xQ, yQ)) in enumerate(pairs):
        q1 = (fq2_mul(fq2_conj(xQ), _G12), fq2_mul(fq2_conj(yQ), _G13))
        q2 = (fq2_mul(xQ, _G22), fq2_neg(fq2_mul(yQ, _G23)))  # -pi^2(Q)
        T, l1, l2 = _add(Ts[j], q1, P[0])
        f = fq12_mul_by_line(f, P[1], l1, l2)
        _, l1, l2 = _add(T, q2, P[0])
        f = fq12_mul_by_line(f, P[1], l1, l2)
    return f


def final_exponentiation(f):
    """f^((q^12 - 1)/r)."""
    g = fq12_mul(fq12_conj(f), fq12_inv(f))  # ^(q^6 - 1)
    g = fq12_mul(fq12_frobenius(g, 2), g)  # ^(q^2 + 1)
    return fq12_multi_pow([g, fq12_frobenius(g, 1), fq12_frobenius(g, 2)], list(_HARD_DIGITS))


def pairing_product_is_one(pairs: Iterable[tuple]) -> bool:
    """prod e(P_i, Q_i) == 1 for Python-int points (G1 (x, y), G2 ((x0, x1), (y0, y1)), None for
    infinity: such pairs contribute 1). Points must already be validated (on the curve, G2 in
    the order-r subgroup)."""
    pairs = [(p, q) for p, q in pairs if p is not None and q is not None]
    if not pairs:
        return True
    return final_exponentiation(miller_loop(pairs)) == FQ12_ONE
