"""Short Weierstrass curves y^2 = x^3 + b (a = 0) in Jacobian coordinates, as device functions.

The formulas are those of `kernels/cpu/curve.py` (Explicit-Formulas Database,
g1p/shortw/jacobian-0), written once over a field-operations bundle and instantiated for
G1 (over Fq) and G2 (over Fq2). Jacobian (X, Y, Z) stands for (X/Z^2, Y/Z^3), Z = 0 is infinity;
affine (x, y) = (0, 0) is infinity (the zkey convention).

Points live in arrays of shape (n, 2, *coord) (affine) or (n, 3, *coord) (Jacobian), coord = (4,)
for G1 and (2, 4) for G2, the layout of `prover.curves`.
"""

from __future__ import annotations

from types import SimpleNamespace

from prover.kernels.cuda.fq import FQ2_OPS, FQ_OPS
from prover.kernels.cuda.word import device


def make_curve(F: SimpleNamespace) -> SimpleNamespace:
    """Device functions for the curve whose coordinates live in the field bundle F."""
    mul, sqr, add, sub, dbl, neg = F.mul, F.sqr, F.add, F.sub, F.dbl, F.neg
    is_zero, one, zero, load, store = F.is_zero, F.one, F.zero, F.load, F.store

    @device
    def jac_infinity():
        return (one(), one(), zero())

    @device
    def jac_is_inf(P):
        return is_zero(P[2])

    @device
    def aff_is_inf(P):
        return is_zero(P[0]) and is_zero(P[1])

    @device
    def jac_double(P):
        """dbl-2009-l: 2M + 5S.  A=X^2 B=Y^2 C=B^2 D=2((X+B)^2-A-C) E=3A F=E^2
        X3=F-2D  Y3=E(D-X3)-8C  Z3=2YZ (Z3 = 0 when P is infinity)."""
        X, Y, Z = P
        A = sqr(X)
        B = sqr(Y)
        C = sqr(B)
        D = dbl(sub(sub(sqr(add(X, B)), A), C))
        E = add(dbl(A), A)
        X3 = sub(sqr(E), dbl(D))
        C8 = dbl(dbl(dbl(C)))
        Y3 = sub(mul(E, sub(D, X3)), C8)
        Z3 = dbl(mul(Y, Z))
        return (X3, Y3, Z3)

    @device
    def jac_add_mixed(P, Q):
        """P (Jacobian) + Q (affine), madd-2007-bl: 7M + 4S.
        Z1Z1=Z1^2 U2=X2 Z1Z1 S2=Y2 Z1 Z1Z1 H=U2-X1 HH=H^2 I=4HH J=HI r=2(S2-Y1) V=X1 I
        X3=r^2-J-2V  Y3=r(V-X3)-2 Y1 J  Z3=(Z1+H)^2-Z1Z1-HH."""
        if aff_is_inf(Q):
            return P
        if jac_is_inf(P):
            return (Q[0], Q[1], one())
        X1, Y1, Z1 = P
        Z1Z1 = sqr(Z1)
        U2 = mul(Q[0], Z1Z1)
        S2 = mul(mul(Q[1], Z1), Z1Z1)
        H = sub(U2, X1)
        r = dbl(sub(S2, Y1))
        if is_zero(H):
            if is_zero(r):
                return jac_double(P)
            return jac_infinity()
        HH = sqr(H)
        I = dbl(dbl(HH))
        J = mul(H, I)
        V = mul(X1, I)
        X3 = sub(sub(sqr(r), J), dbl(V))
        Y3 = sub(mul(r, sub(V, X3)), dbl(mul(Y1, J)))
        Z3 = sub(sub(sqr(add(Z1, H)), Z1Z1), HH)
        return (X3, Y3, Z3)

    @device
    def jac_add(P, Q):
        """add-2007-bl: 11M + 5S.
        U1=X1 Z2Z2 U2=X2 Z1Z1 S1=Y1 Z2 Z2Z2 S2=Y2 Z1 Z1Z1 H=U2-U1 I=(2H)^2 J=HI r=2(S2-S1)
        V=U1 I  X3=r^2-J-2V  Y3=r(V-X3)-2 S1 J  Z3=((Z1+Z2)^2-Z1Z1-Z2Z2)H."""
        if jac_is_inf(P):
            return Q
        if jac_is_inf(Q):
            return P
        X1, Y1, Z1 = P
        X2, Y2, Z2 = Q
        Z1Z1 = sqr(Z1)
        Z2Z2 = sqr(Z2)
        U1 = mul(X1, Z2Z2)
        U2 = mul(X2, Z1Z1)
        S1 = mul(mul(Y1, Z2), Z2Z2)
        S2 = mul(mul(Y2, Z1), Z1Z1)
        H = sub(U2, U1)
        r = dbl(sub(S2, S1))
        if is_zero(H):
            if is_zero(r):
                return jac_double(P)
            return jac_infinity()
        I = sqr(dbl(H))
        J = mul(H, I)
        V = mul(U1, I)
        X3 = sub(sub(sqr(r), J), dbl(V))
        Y3 = sub(mul(r, sub(V, X3)), dbl(mul(S1, J)))
        Z3 = mul(sub(sub(sqr(add(Z1, Z2)), Z1Z1), Z2Z2), H)
        return (X3, Y3, Z3)

    @device
    def load_aff(a, i):
        return (load(a, i, 0), load(a, i, 1))

    @device
    def load_aff_signed(a, i, negate):
        """Point i, negated when `negate` (-(x, y) = (x, -y); infinity stays (0, 0))."""
        x = load(a, i, 0)
        y = load(a, i, 1)
        if negate:
            y = neg(y)
        return (x, y)

    @device
    def load_jac(a, i):
        return (load(a, i, 0), load(a, i, 1), load(a, i, 2))

    @device
    def store_jac(a, i, P):
        store(a, i, 0, P[0])
        store(a, i, 1, P[1])
        store(a, i, 2, P[2])

    return SimpleNamespace(
        jac_infinity=jac_infinity, jac_is_inf=jac_is_inf, aff_is_inf=aff_is_inf,
        jac_double=jac_double, jac_add_mixed=jac_add_mixed, jac_add=jac_add,
        load_aff=load_aff, load_aff_signed=load_aff_signed,
        load_jac=load_jac, store_jac=store_jac,
    )


G1_CURVE = make_curve(FQ_OPS)
G2_CURVE = make_curve(FQ2_OPS)
