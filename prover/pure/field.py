"""Fq2 = Fq[u]/(u^2 + 1), Fq6 = Fq2[v]/(v^3 - xi) with xi = 9 + u, Fq12 = Fq6[w]/(w^2 - v).

Plain ints: Fq2 is a pair (c0, c1) = c0 + c1 u, Fq6 a triple of Fq2, Fq12 a pair (c0, c1) of
Fq6 = c0 + c1 w (the tower of `prover.kernels.cpu.tower`). Every function returns reduced
coordinates in [0, q); inside a function the products stay unreduced (Python ints do not
overflow) and each output coordinate is reduced once.
"""

from __future__ import annotations

from prover.constants import Q

Fq2 = tuple[int, int]
Fq6 = tuple[Fq2, Fq2, Fq2]
Fq12 = tuple[Fq6, Fq6]

FQ2_ZERO: Fq2 = (0, 0)
FQ2_ONE: Fq2 = (1, 0)
FQ6_ZERO: Fq6 = (FQ2_ZERO, FQ2_ZERO, FQ2_ZERO)
FQ12_ONE: Fq12 = ((FQ2_ONE, FQ2_ZERO, FQ2_ZERO), FQ6_ZERO)


def fq_inv(a: int) -> int:
    """a^-1 mod q; 0 maps to 0 (as the kernels' Fermat inverse does)."""
    return pow(a, -1, Q) if a % Q else 0


# --- Fq2 ---------------------------------------------------------------------------------------

def fq2_add(a: Fq2, b: Fq2) -> Fq2:
    return ((a[0] + b[0]) % Q, (a[1] + b[1]) % Q)


def fq2_sub(a: Fq2, b: Fq2) -> Fq2:
    return ((a[0] - b[0]) % Q, (a[1] - b[1]) % Q)


def fq2_neg(a: Fq2) -> Fq2:
    return (-a[0] % Q, -a[1] % Q)


def fq2_mul(a: Fq2, b: Fq2) -> Fq2:
    a0, a1 = a
    b0, b1 = b
    return ((a0 * b0 - a1 * b1) % Q, (a0 * b1 + a1 * b0) % Q)


def fq2_sqr(a: Fq2) -> Fq2:
    a0, a1 = a
    return ((a0 + a1) * (a0 - a1) % Q, 2 * a0 * a1 % Q)


def fq2_mul_fq(a: Fq2, k: int) -> Fq2:
    return (a[0] * k % Q, a[1] * k % Q)


def fq2_conj(a: Fq2) -> Fq2:
    return (a[0], -a[1] % Q)


def fq2_inv(a: Fq2) -> Fq2:
    """(a0 - a1 u) / (a0^2 + a1^2); 0 maps to 0."""
    t = fq_inv((a[0] * a[0] + a[1] * a[1]) % Q)
    return (a[0] * t % Q, -a[1] * t % Q)


def fq2_pow(a: Fq2, e: int) -> Fq2:
    r = FQ2_ONE
    while e:
        if e & 1:
            r = fq2_mul(r, a)
        a = fq2_sqr(a)
        e >>= 1
    return r


# --- Fq6 (unreduced inner products, one reduction per output coordinate) -----------------------

def fq6_mul(a: Fq6, b: Fq6) -> Fq6:
    """Schoolbook over v^3 = xi, xi (x0 + x1 u) = (9 x0 - x1) + (x0 + 9 x1) u:
    c0 = a0 b0 + xi (a1 b2 + a2 b1), c1 = a0 b1 + a1 b0 + xi a2 b2, c2 = a0 b2 + a1 b1 + a2 b0."""
    (a00, a01), (a10, a11), (a20, a21) = a
    (b00, b01), (b10, b11), (b20, b21) = b
    # t = a1 b2 + a2 b1, s = a2 b2 (Fq2 products, u^2 = -1)
    t0 = a10 * b20 - a11 * b21 + a20 * b10 - a21 * b11
    t1 = a10 * b21 + a11 * b20 + a20 * b11 + a21 * b10
    s0 = a20 * b20 - a21 * b21
    s1 = a20 * b21 + a21 * b20
    return (
        ((a00 * b00 - a01 * b01 + 9 * t0 - t1) % Q,
         (a00 * b01 + a01 * b00 + t0 + 9 * t1) % Q),
        ((a00 * b10 - a01 * b11 + a10 * b00 - a11 * b01 + 9 * s0 - s1) % Q,
         (a00 * b11 + a01 * b10 + a10 * b01 + a11 * b00 + s0 + 9 * s1) % Q),
        ((a00 * b20 - a01 * b21 + a10 * b10 - a11 * b11 + a20 * b00 - a21 * b01) % Q,
         (a00 * b21 + a01 * b20 + a10 * b11 + a11 * b10 + a20 * b01 + a21 * b00) % Q),
    )


def fq6_add(a: Fq6, b: Fq6) -> Fq6:
    return (fq2_add(a[0], b[0]), fq2_add(a[1], b[1]), fq2_add(a[2], b[2]))


def fq6_sub(a: Fq6, b: Fq6) -> Fq6:
    return (fq2_sub(a[0], b[0]), fq2_sub(a[1], b[1]), fq2_sub(a[2], b[2]))


def fq6_neg(a: Fq6) -> Fq6:
    return (fq2_neg(a[0]), fq2_neg(a[1]), fq2_neg(a[2]))


def fq2_mul_xi(a: Fq2) -> Fq2:
    return ((9 * a[0] - a[1]) % Q, (a[0] + 9 * a[1]) % Q)


def fq6_mul_v(a: Fq6) -> Fq6:
    """a * v = (xi a2, a0, a1)."""
    return (fq2_mul_xi(a[2]), a[0], a[1])


def fq6_inv(a: Fq6) -> Fq6:
    """A = a0^2 - xi a1 a2, B = xi a2^2 - a0 a1, C = a1^2 - a0 a2,
    F = a0 A + xi (a2 B + a1 C); a^-1 = (A, B, C) / F."""
    a0, a1, a2 = a
    A = fq2_sub(fq2_sqr(a0), fq2_mul_xi(fq2_mul(a1, a2)))
    B = fq2_sub(fq2_mul_xi(fq2_sqr(a2)), fq2_mul(a0, a1))
    C = fq2_sub(fq2_sqr(a1), fq2_mul(a0, a2))
    F = fq2_add(fq2_mul(a0, A), fq2_mul_xi(fq2_add(fq2_mul(a2, B), fq2_mul(a1, C))))
    Fi = fq2_inv(F)
    return (fq2_mul(A, Fi), fq2_mul(B, Fi), fq2_mul(C, Fi))


def fq6_mul_by_01(a: Fq6, b0: Fq2, b1: Fq2) -> Fq6:
    """a (b0 + b1 v): (a0 b0 + xi a2 b1) + (a0 b1 + a1 b0) v + (a1 b1 + a2 b0) v^2."""
    return (fq2_add(fq2_mul(a[0], b0), fq2_mul_xi(fq2_mul(a[2], b1))),
            fq2_add(fq2_mul(a[0], b1), fq2_mul(a[1], b0)),
            fq2_add(fq2_mul(a[1], b1), fq2_mul(a[2], b0)))


def fq6_mul_fq(a: Fq6, k: int) -> Fq6:
    return (fq2_mul_fq(a[0], k), fq2_mul_fq(a[1], k), fq2_mul_fq(a[2], k))


# --- Fq12 --------------------------------------------------------------------------------------

def fq12_mul(a: Fq12, b: Fq12) -> Fq12:
    """(a0 + a1 w)(b0 + b1 w) = a0 b0 + a1 b1 v + ((a0+a1)(b0+b1) - a0 b0 - a1 b1) w."""
    t0 = fq6_mul(a[0], b[0])
    t1 = fq6_mul(a[1], b[1])
    c1 = fq6_sub(fq6_sub(fq6_mul(fq6_add(a[0], a[1]), fq6_add(b[0], b[1])), t0), t1)
    return (fq6_add(t0, fq6_mul_v(t1)), c1)


def fq12_sqr(a: Fq12) -> Fq12:
    """Complex squaring: c0 = (a0 + a1)(a0 + v a1) - t - v t, c1 = 2t with t = a0 a1."""
    t = fq6_mul(a[0], a[1])
    s = fq6_mul(fq6_add(a[0], a[1]), fq6_add(a[0], fq6_mul_v(a[1])))
    return (fq6_sub(fq6_sub(s, t), fq6_mul_v(t)), fq6_add(t, t))


def fq12_mul_by_line(f: Fq12, y: int, l1: Fq2, l2: Fq2) -> Fq12:
    """f * (y + (l1 + l2 v) w), y in Fq: the sparse line of the Miller loop.
    (f0 + f1 w)(L0 + L1 w) = f0 L0 + f1 L1 v + (f0 L1 + f1 L0) w with L0 = y."""
    f0, f1 = f
    return (fq6_add(fq6_mul_fq(f0, y), fq6_mul_v(fq6_mul_by_01(f1, l1, l2))),
            fq6_add(fq6_mul_by_01(f0, l1, l2), fq6_mul_fq(f1, y)))


def fq12_conj(a: Fq12) -> Fq12:
    """a^(q^6): w^(q^6) = -w."""
    return (a[0], fq6_neg(a[1]))


def fq12_inv(a: Fq12) -> Fq12:
    """(a0 - a1 w) / (a0^2 - v a1^2)."""
    t = fq6_sub(fq6_mul(a[0], a[0]), fq6_mul_v(fq6_mul(a[1], a[1])))
    ti = fq6_inv(t)
    return (fq6_mul(a[0], ti), fq6_neg(fq6_mul(a[1], ti)))


# Frobenius: write a = sum_k c_k w^k over Fq2 (k = 2j + i for the coefficient of v^j w^i, as
# w^2 = v); then a^(q^n) = sum_k conj^n(c_k) gamma_{n,k} w^k with gamma_{n,k} = w^(k(q^n - 1))
# = xi^(k (q^n - 1) / 6) (w^6 = xi, and 6 divides q^n - 1 since q = 1 mod 6).
_XI = (9, 1)
_GAMMA = {n: tuple(fq2_pow(_XI, k * (Q**n - 1) // 6) for k in range(6)) for n in (1, 2, 3)}


def fq12_frobenius(a: Fq12, n: int) -> Fq12:
    """a^(q^n) for n in 1, 2, 3."""
    g = _GAMMA[n]
    conj = fq2_conj if n % 2 else (lambda x: x)
    (c0, c2, c4), (c1, c3, c5) = a  # c_{ij} -> k = 2j + i
    return ((fq2_mul(conj(c0), g[0]), fq2_mul(conj(c2), g[2]), fq2_mul(conj(c4), g[4])),
            (fq2_mul(conj(c1), g[1]), fq2_mul(conj(c3), g[3]), fq2_mul(conj(c5), g[5])))


def fq12_pow(a: Fq12, e: int) -> Fq12:
    r = FQ12_ONE
    for bit in bin(e)[2:]:
        r = fq12_sqr(r)
        if bit == "1":
            r = fq12_mul(r, a)
    return r


def fq12_multi_pow(bases: list[Fq12], exps: list[int]) -> Fq12:
    """prod_i bases[i]^exps[i] by Straus: one squaring chain, a table of the 2^k subset
    products."""
    k = len(bases)
    table = [FQ12_ONE] * (1 << k)
    for m in range(1, 1 << k):
        low = (m & -m).bit_length() - 1
        rest = m & (m - 1)
        table[m] = bases[low] if rest == 0 else fq12_mul(table[rest], bases[low])
    r = FQ12_ONE
    for i in range(max(e.bit_length() for e in exps) - 1, -1, -1):
        r = fq12_sqr(r)
        m = 0
        for j, e in enumerate(exps):
            m |= ((e >> i) & 1) << j
        if m:
            r = fq12_mul(r, table[m])
    return r
