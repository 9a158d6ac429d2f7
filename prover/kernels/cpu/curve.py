"""Short Weierstrass curves y^2 = x^3 + b (a = 0) in Jacobian coordinates, for G1 and G2.

Formulas are written once over `fe_*` (generic.py) and compile for Fq (G1) or Fq2 (G2).
Jacobian (X, Y, Z) stands for (X/Z^2, Y/Z^3); Z = 0 is the point at infinity. Affine points are
(x, y) with (0, 0) as infinity (the zkey convention; (0, 0) is on neither curve since b != 0).
Formula names refer to the Explicit-Formulas Database (hyperelliptic.org/EFD,
g1p/shortw/jacobian-0).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from prover.kernels.cpu.generic import (
    fe_add,
    fe_dbl,
    fe_eq,
    fe_inv,
    fe_is_zero,
    fe_mul,
    fe_neg,
    fe_one,
    fe_sqr,
    fe_sub,
    fe_zero,
)

U1 = np.uint64(1)


@njit(cache=True)
def jac_infinity(like):
    """The point at infinity with coordinates of the same field as `like`."""
    return (fe_one(like), fe_one(like), fe_zero(like))


@njit(cache=True)
def jac_is_inf(P):
    return fe_is_zero(P[2])


@njit(cache=True)
def aff_is_inf(P):
    return fe_is_zero(P[0]) and fe_is_zero(P[1])


@njit(cache=True)
def aff_to_jac(P):
    if aff_is_inf(P):
        return jac_infinity(P[0])
    return (P[0], P[1], fe_one(P[0]))


@njit(cache=True)
def jac_double(P):
    """dbl-2009-l: 2M + 5S.  A=X^2 B=Y^2 C=B^2 D=2((X+B)^2-A-C) E=3A F=E^2
    X3=F-2D  Y3=E(D-X3)-8C  Z3=2YZ."""
    X, Y, Z = P
    A = fe_sqr(X)
    B = fe_sqr(Y)
    C = fe_sqr(B)
    D = fe_dbl(fe_sub(fe_sub(fe_sqr(fe_add(X, B)), A), C))
    E = fe_add(fe_dbl(A), A)
    F = fe_sqr(E)
    X3 = fe_sub(F, fe_dbl(D))
    C8 = fe_dbl(fe_dbl(fe_dbl(C)))
    Y3 = fe_sub(fe_mul(E, fe_sub(D, X3)), C8)
    Z3 = fe_dbl(fe_mul(Y, Z))
    return (X3, Y3, Z3)  # Y = 0 cannot happen on these prime-order groups; Z3 = 0 if P = inf


@njit(cache=True)
def jac_add_mixed(P, Q):
    """P (Jacobian) + Q (affine), madd-2007-bl: 7M + 4S.
    Z1Z1=Z1^2 U2=X2 Z1Z1 S2=Y2 Z1 Z1Z1 H=U2-X1 HH=H^2 I=4HH J=HI r=2(S2-Y1) V=X1 I
    X3=r^2-J-2V  Y3=r(V-X3)-2 Y1 J  Z3=(Z1+H)^2-Z1Z1-HH."""
    if aff_is_inf(Q):
        return P
    if jac_is_inf(P):
        return (Q[0], Q[1], fe_one(Q[0]))
    X1, Y1, Z1 = P
    Z1Z1 = fe_sqr(Z1)
    U2 = fe_mul(Q[0], Z1Z1)
    S2 = fe_mul(fe_mul(Q[1], Z1), Z1Z1)
    H = fe_sub(U2, X1)
    r = fe_dbl(fe_sub(S2, Y1))
    if fe_is_zero(H):
        if fe_is_zero(r):
            return jac_double(P)
        return jac_infinity(X1)
    HH = fe_sqr(H)
    I = fe_dbl(fe_dbl(HH))
    J = fe_mul(H, I)
    V = fe_mul(X1, I)
    X3 = fe_sub(fe_sub(fe_sqr(r), J), fe_dbl(V))
    Y3 = fe_sub(fe_mul(r, fe_sub(V, X3)), fe_dbl(fe_mul(Y1, J)))
    Z3 = fe_sub(fe_sub(fe_sqr(fe_add(Z1, H)), Z1Z1), HH)
    return (X3, Y3, Z3)


@njit(cache=True)
def jac_add(P, Q):
    """add-2007-bl: 11M + 5S.
    U1=X1 Z2Z2 U2=X2 Z1Z1 S1=Y1 Z2 Z2Z2 S2=Y2 Z1 Z1Z1 H=U2-U1 I=(2H)^2 J=HI r=2(S2-S1) V=U1 I
    X3=r^2-J-2V  Y3=r(V-X3)-2 S1 J  Z3=((Z1+Z2)^2-Z1Z1-Z2Z2)H."""
    if jac_is_inf(P):
        return Q
    if jac_is_inf(Q):
        return P
    X1, Y1, Z1 = P
    X2, Y2, Z2 = Q
    Z1Z1 = fe_sqr(Z1)
    Z2Z2 = fe_sqr(Z2)
    U1 = fe_mul(X1, Z2Z2)
    U2 = fe_mul(X2, Z1Z1)
    S1 = fe_mul(fe_mul(Y1, Z2), Z2Z2)
    S2 = fe_mul(fe_mul(Y2, Z1), Z1Z1)
    H = fe_sub(U2, U1)
    r = fe_dbl(fe_sub(S2, S1))
    if fe_is_zero(H):
        if fe_is_zero(r):
            return jac_double(P)
        return jac_infinity(X1)
    I = fe_sqr(fe_dbl(H))
    J = fe_mul(H, I)
    V = fe_mul(U1, I)
    X3 = fe_sub(fe_sub(fe_sqr(r), J), fe_dbl(V))
    Y3 = fe_sub(fe_mul(r, fe_sub(V, X3)), fe_dbl(fe_mul(S1, J)))
    Z3 = fe_mul(fe_sub(fe_sub(fe_sqr(fe_add(Z1, Z2)), Z1Z1), Z2Z2), H)
    return (X3, Y3, Z3)


@njit(cache=True)
def jac_neg(P):
    return (P[0], fe_neg(P[1]), P[2])


@njit(cache=True)
def aff_neg(P):
    if aff_is_inf(P):
        return P
    return (P[0], fe_neg(P[1]))


@njit(cache=True)
def jac_to_aff(P):
    """(X/Z^2, Y/Z^3), one inversion; infinity -> (0, 0)."""
    if jac_is_inf(P):
        z = fe_zero(P[0])
        return (z, z)
    zi = fe_inv(P[2])
    zi2 = fe_sqr(zi)
    return (fe_mul(P[0], zi2), fe_mul(P[1], fe_mul(zi2, zi)))


@njit(cache=True)
def jac_eq(P, Q):
    """Projective equality: X1 Z2^2 = X2 Z1^2 and Y1 Z2^3 = Y2 Z1^3."""
    pi, qi = jac_is_inf(P), jac_is_inf(Q)
    if pi or qi:
        return pi and qi
    Z1Z1 = fe_sqr(P[2])
    Z2Z2 = fe_sqr(Q[2])
    if not fe_eq(fe_mul(P[0], Z2Z2), fe_mul(Q[0], Z1Z1)):
        return False
    return fe_eq(fe_mul(fe_mul(P[1], Z2Z2), Q[2]), fe_mul(fe_mul(Q[1], Z1Z1), P[2]))


@njit(cache=True)
def aff_on_curve(P, b):
    """y^2 = x^3 + b; infinity (0, 0) counts as on the curve."""
    if aff_is_inf(P):
        return True
    x, y = P
    return fe_eq(fe_sqr(y), fe_add(fe_mul(fe_sqr(x), x), b))


@njit(cache=True)
def jac_mul(P, k):
    """k * P for a Jacobian P and a plain 256-bit scalar k as 4 limbs (MSB-first double-and-add)."""
    R = jac_infinity(P[0])
    for i in range(3, -1, -1):
        w = k[i]
        for j in range(63, -1, -1):
            R = jac_double(R)
            if (w >> np.uint64(j)) & U1:
                R = jac_add(R, P)
    return R


@njit(cache=True)
def aff_mul(P, k):
    """k * P for an affine P (mixed additions), Jacobian result."""
    R = jac_infinity(P[0])
    for i in range(3, -1, -1):
        w = k[i]
        for j in range(63, -1, -1):
            R = jac_double(R)
            if (w >> np.uint64(j)) & U1:
                R = jac_add_mixed(R, P)
    return R
