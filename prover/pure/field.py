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
# gamma_{n,k} as (a, b) = a + b u, for n = 1, 2, 3 and k = 0..5 (tests recompute them)
_GAMMA = {
    1: (
        (0x0000000000000000000000000000000000000000000000000000000000000001,
         0x0000000000000000000000000000000000000000000000000000000000000000),
        (0x1284b71c2865a7dfe8b99fdd76e68b605c521e08292f2176d60b35dadcc9e470,
         0x246996f3b4fae7e6a6327cfe12150b8e747992778eeec7e5ca5cf05f80f362ac),
        (0x2fb347984f7911f74c0bec3cf559b143b78cc310c2c3330c99e39557176f553d,
         0x16c9e55061ebae204ba4cc8bd75a079432ae2a1d0b7c9dce1665d51c640fcba2),
        (0x063cf305489af5dcdc5ec698b6e2f9b9dbaae0eda9c95998dc54014671a0135a,
         0x07c03cbcac41049a0704b5a7ec796f2b21807dc98fa25bd282d37f632623b0e3),
        (0x05b54f5e64eea80180f3c0b75a181e84d33365f7be94ec72848a1f55921ea762,
         0x2c145edbe7fd8aee9f3a80b03b0b1c923685d2ea1bdec763c13b4711cd2b8126),
        (0x0183c1e74f798649e93a3661a4353ff4425c459b55aa1bd32ea2c810eab7692f,
         0x12acf2ca76fd0675a27fb246c7729f7db080cb99678e2ac024c6b8ee6e0c2c4b),
    ),
    2: (
        (0x0000000000000000000000000000000000000000000000000000000000000001,
         0x0000000000000000000000000000000000000000000000000000000000000000),
        (0x30644e72e131a0295e6dd9e7e0acccb0c28f069fbb966e3de4bd44e5607cfd49,
         0x0000000000000000000000000000000000000000000000000000000000000000),
        (0x30644e72e131a0295e6dd9e7e0acccb0c28f069fbb966e3de4bd44e5607cfd48,
         0x0000000000000000000000000000000000000000000000000000000000000000),
        (0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd46,
         0x0000000000000000000000000000000000000000000000000000000000000000),
        (0x000000000000000059e26bcea0d48bacd4f263f1acdb5c4f5763473177fffffe,
         0x0000000000000000000000000000000000000000000000000000000000000000),
        (0x000000000000000059e26bcea0d48bacd4f263f1acdb5c4f5763473177ffffff,
         0x0000000000000000000000000000000000000000000000000000000000000000),
    ),
    3: (
        (0x0000000000000000000000000000000000000000000000000000000000000001,
         0x0000000000000000000000000000000000000000000000000000000000000000),
        (0x19dc81cfcc82e4bbefe9608cd0acaa90894cb38dbe55d24ae86f7d391ed4a67f,
         0x00abf8b60be77d7306cbeee33576139d7f03a5e397d439ec7694aa2bf4c0c101),
        (0x0856e078b755ef0abaff1c77959f25ac805ffd3d5d6942d37b746ee87bdcfb6d,
         0x04f1de41b3d1766fa9f30e6dec26094f0fdf31bf98ff2631380cab2baaa586de),
        (0x2a275b6d9896aa4cdbf17f1dca9e5ea3bbd689a3bea870f45fcc8ad066dce9ed,
         0x28a411b634f09b8fb14b900e9507e9327600ecc7d8cf6ebab94d0cb3b2594c64),
        (0x0bc58c6611c08dab19bee0f7b5b2444ee633094575b06bcb0e1a92bc3ccbf066,
         0x23d5e999e1910a12feb0f6ef0cd21d04a44a9e08737f96e55fe3ed9d730c239f),
        (0x13c49044952c0905711699fa3b4d3f692ed68098967c84a5ebde847076261b43,
         0x16db366a59b1dd0b9fb1b2282a48633d3e2ddaea200280211f25041384282499),
    ),
}


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
