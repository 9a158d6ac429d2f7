"""G1 (y^2 = x^3 + 3 over Fq) and G2 (y^2 = x^3 + 3/xi over Fq2) with plain ints.

Affine points as in `prover.curves`' int form (None = infinity); Jacobian points (X, Y, Z) with
x = X/Z^2, y = Y/Z^3 and Z = 0 at infinity. `validate_g1` / `validate_g2` raise the typed errors
of `prover.curves` (NonCanonicalError, NotOnCurveError, NotInSubgroupError: r Q = O, checked by
double-and-add). `msm` is Pippenger with unsigned c-bit windows; zero scalars are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

from prover.constants import G2_B, Q, R
from prover.errors import NonCanonicalError, NotInSubgroupError, NotOnCurveError
from prover.pure.field import (
    fq2_add,
    fq2_inv,
    fq2_mul,
    fq2_mul_fq,
    fq2_sqr,
    fq2_sub,
    fq_inv,
)

# --- G1: Jacobian formulas for a = 0 (EFD: dbl-2009-l, add-2007-bl) ---------------------------

G1_INF = (1, 1, 0)


def g1_double(P):
    X, Y, Z = P
    if Z == 0 or Y == 0:
        return G1_INF
    A = X * X % Q
    B = Y * Y % Q
    C = B * B % Q
    D = 2 * ((X + B) ** 2 - A - C) % Q
    E = 3 * A
    X3 = (E * E - 2 * D) % Q
    return (X3, (E * (D - X3) - 8 * C) % Q, 2 * Y * Z % Q)


def g1_add(P, P2):
    X1, Y1, Z1 = P
    X2, Y2, Z2 = P2
    if Z1 == 0:
        return P2
    if Z2 == 0:
        return P
    Z1Z1 = Z1 * Z1 % Q
    Z2Z2 = Z2 * Z2 % Q
    U1 = X1 * Z2Z2 % Q
    U2 = X2 * Z1Z1 % Q
    S1 = Y1 * Z2 * Z2Z2 % Q
    S2 = Y2 * Z1 * Z1Z1 % Q
    H = (U2 - U1) % Q
    r = 2 * (S2 - S1) % Q
    if H == 0:
        return g1_double(P) if r == 0 else G1_INF
    I = 4 * H * H % Q  # noqa: E741 - EFD's name
    J = H * I % Q
    V = U1 * I % Q
    X3 = (r * r - J - 2 * V) % Q
    return (X3, (r * (V - X3) - 2 * S1 * J) % Q, ((Z1 + Z2) ** 2 - Z1Z1 - Z2Z2) * H % Q)


def g1_to_affine(P):
    X, Y, Z = P
    if Z == 0:
        return None
    zi = fq_inv(Z)
    zi2 = zi * zi % Q
    return (X * zi2 % Q, Y * zi2 * zi % Q)


def g1_from_affine(p):
    return G1_INF if p is None else (p[0], p[1], 1)


def g1_neg(P):
    return (P[0], -P[1] % Q, P[2])


# --- G2: the same formulas over Fq2 ------------------------------------------------------------

_Z2 = (0, 0)
G2_INF = ((1, 0), (1, 0), _Z2)


def g2_double(P):
    X, Y, Z = P
    if Z == _Z2 or Y == _Z2:
        return G2_INF
    A = fq2_sqr(X)
    B = fq2_sqr(Y)
    C = fq2_sqr(B)
    t = fq2_sqr(fq2_add(X, B))
    D = fq2_mul_fq(fq2_sub(fq2_sub(t, A), C), 2)
    E = fq2_mul_fq(A, 3)
    X3 = fq2_sub(fq2_sqr(E), fq2_mul_fq(D, 2))
    Y3 = fq2_sub(fq2_mul(E, fq2_sub(D, X3)), fq2_mul_fq(C, 8))
    return (X3, Y3, fq2_mul_fq(fq2_mul(Y, Z), 2))


def g2_add(P, P2):
    X1, Y1, Z1 = P
    X2, Y2, Z2 = P2
    if Z1 == _Z2:
        return P2
    if Z2 == _Z2:
        return P
    Z1Z1 = fq2_sqr(Z1)
    Z2Z2 = fq2_sqr(Z2)
    U1 = fq2_mul(X1, Z2Z2)
    U2 = fq2_mul(X2, Z1Z1)
    S1 = fq2_mul(fq2_mul(Y1, Z2), Z2Z2)
    S2 = fq2_mul(fq2_mul(Y2, Z1), Z1Z1)
    H = fq2_sub(U2, U1)
    r = fq2_mul_fq(fq2_sub(S2, S1), 2)
    if H == _Z2:
        return g2_double(P) if r == _Z2 else G2_INF
    I = fq2_mul_fq(fq2_sqr(H), 4)  # noqa: E741 - EFD's name
    J = fq2_mul(H, I)
    V = fq2_mul(U1, I)
    X3 = fq2_sub(fq2_sub(fq2_sqr(r), J), fq2_mul_fq(V, 2))
    Y3 = fq2_sub(fq2_mul(r, fq2_sub(V, X3)), fq2_mul_fq(fq2_mul(S1, J), 2))
    Z3 = fq2_mul(fq2_sub(fq2_sub(fq2_sqr(fq2_add(Z1, Z2)), Z1Z1), Z2Z2), H)
    return (X3, Y3, Z3)


def g2_to_affine(P):
    X, Y, Z = P
    if Z == _Z2:
        return None
    zi = fq2_inv(Z)
    zi2 = fq2_sqr(zi)
    return (fq2_mul(X, zi2), fq2_mul(fq2_mul(Y, zi2), zi))


def g2_from_affine(p):
    return G2_INF if p is None else (p[0], p[1], (1, 0))


def g2_neg(P):
    return (P[0], (-P[1][0] % Q, -P[1][1] % Q), P[2])


class _Group:
    """The group law of G1 or G2 as functions, for the code written once for both."""

    def __init__(self, name, inf, add, double, neg, to_affine, from_affine):
        self.name, self.inf = name, inf
        self.add, self.double, self.neg = add, double, neg
        self.to_affine, self.from_affine = to_affine, from_affine

    def is_inf(self, P) -> bool:
        return P[2] == self.inf[2]


G1 = _Group("G1", G1_INF, g1_add, g1_double, g1_neg, g1_to_affine, g1_from_affine)
G2 = _Group("G2", G2_INF, g2_add, g2_double, g2_neg, g2_to_affine, g2_from_affine)


def mul(group: _Group, P, k: int):
    """k P (Jacobian P) by double-and-add from k's top bit; k >= 0."""
    acc = group.inf
    for bit in bin(k)[2:]:
        acc = group.double(acc)
        if bit == "1":
            acc = group.add(acc, P)
    return acc


def msm(group: _Group, points: Sequence, scalars: Sequence[int]):
    """sum_i k_i P_i (affine points, None = infinity; 0 <= k_i < 2^256) as a Jacobian point.
    Pippenger: c-bit windows, bucket b of window w sums the P_i whose digit is b, and
    S_w = sum_b b B_b by the running sum from the top."""
    pts = [(group.from_affine(p), k) for p, k in zip(points, scalars, strict=True)
           if p is not None and k]
    if not pts:
        return group.inf
    if len(pts) == 1:
        return mul(group, pts[0][0], pts[0][1])
    n = len(pts)
    c = max(2, min(16, n.bit_length() - 2))
    bits = max(k.bit_length() for _, k in pts)
    mask = (1 << c) - 1
    add, inf = group.add, group.inf
    acc = inf
    for w in range((bits - 1) // c, -1, -1):
        for _ in range(c):
            acc = group.double(acc)
        buckets = [inf] * (1 << c)
        for P, k in pts:
            d = (k >> (w * c)) & mask
            if d:
                buckets[d] = add(buckets[d], P)
        running, total = inf, inf
        for b in range(mask, 0, -1):
            running = add(running, buckets[b])
            total = add(total, running)
        acc = add(acc, total)
    return acc


# --- validation of untrusted points -----------------------------------------------------------

_B2 = G2_B


def _check_coord(v, what: str, i: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{what} point #{i}: coordinate is not an integer: {v!r}")
    if not 0 <= v < Q:
        raise NonCanonicalError(f"Fq element of {what} point #{i} is not below the modulus: {v}")


def validate_g1(points: Sequence) -> None:
    """Canonical coordinates and y^2 = x^3 + 3 for each point (None = infinity passes)."""
    for i, p in enumerate(points):
        if p is None:
            continue
        x, y = p
        _check_coord(x, "G1", i)
        _check_coord(y, "G1", i)
        if (y * y - x * x * x - 3) % Q:
            raise NotOnCurveError(f"G1 point #{i} is not on the curve")


def g2_on_curve(p) -> bool:
    x, y = p
    return fq2_sub(fq2_sqr(y), fq2_add(fq2_mul(fq2_sqr(x), x), _B2)) == _Z2


def validate_g2(points: Sequence, *, subgroup: bool = True) -> None:
    """Canonical coordinates, on the twist, and (subgroup) r P = O for each point."""
    for i, p in enumerate(points):
        if p is None:
            continue
        for c in (*p[0], *p[1]):
            _check_coord(c, "G2", i)
        if not g2_on_curve(p):
            raise NotOnCurveError(f"G2 point #{i} is not on the curve")
    if subgroup:
        for i, p in enumerate(points):
            if p is not None and not G2.is_inf(mul(G2, g2_from_affine(p), R)):
                raise NotInSubgroupError(f"G2 point #{i} is not in the order-r subgroup")
