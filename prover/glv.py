"""Short scalar decompositions along BN254's endomorphisms (GLV 2001, GLS 2008).

phi(x, y) = (beta x, y), beta^3 = 1 in Fq, acts on G1 and G2 as LAMBDA (a cube root of unity
of Fr) with beta = BETA_G1 on G1 and BETA_G2 on G2: k = k0 + k1 LAMBDA, |k_d| < 2^127.
psi(x, y) = (conj(x) c_x, conj(y) c_y), c_x = xi^((q-1)/3), c_y = xi^((q-1)/2), xi = 9 + u (the
untwist-Frobenius-twist map) acts on G2 as MU = 6 x^2 = q mod r: k = sum_d k_d MU^d, d < 4,
|k_d| < 2^66. Bases: extended Euclid on (r, LAMBDA); Galbraith-Scott's for BN curves
(x the BN parameter). tests/prover/kernels/test_group_fft.py checks the eigenvalues.
"""

from __future__ import annotations

import numpy as np

from prover.constants import BN_X, Q, R

LAMBDA = 0xB3C4D79D41A917585BFC41088D8DAAA78B17EA66B99C90DD  # LAMBDA^2 + LAMBDA + 1 = 0 mod r
_BETA = 0x30644E72E131A0295E6DD9E7E0ACCCB0C28F069FBB966E3DE4BD44E5607CFD48  # beta^3 = 1 mod q
BETA_G2 = _BETA
BETA_G1 = _BETA * _BETA % Q  # on G1, (x, y) -> (_BETA x, y) is LAMBDA^2: square it for LAMBDA
MU = 6 * BN_X * BN_X % R

_M64 = (1 << 64) - 1
_X = BN_X
# rows: lattice vectors v with sum_d v_d m^d = 0 mod r
_GLV_BASIS = ((0x89D3256894D213E3, -0x6F4D8248EEB859FC8211BBEB7D4F1128),
              (0x6F4D8248EEB859FD0BE4E1541221250B, 0x89D3256894D213E3))
_GLS_BASIS = ((_X + 1, _X, _X, -2 * _X),
              (2 * _X + 1, -_X, -(_X + 1), -_X),
              (2 * _X, 2 * _X + 1, 2 * _X + 1, 2 * _X + 1),
              (_X - 1, 4 * _X + 2, -2 * _X + 1, _X - 1))


def _fq2_pow(a: tuple[int, int], e: int) -> tuple[int, int]:
    r, b = (1, 0), a
    while e:
        if e & 1:
            r = ((r[0] * b[0] - r[1] * b[1]) % Q, (r[0] * b[1] + r[1] * b[0]) % Q)
        b = ((b[0] * b[0] - b[1] * b[1]) % Q, 2 * b[0] * b[1] % Q)
        e >>= 1
    return r


PSI_CX = _fq2_pow((9, 1), (Q - 1) // 3)
PSI_CY = _fq2_pow((9, 1), (Q - 1) // 2)


def _first_row_of_inverse(basis) -> tuple[list[int], int]:
    """(det B * (B^-1)[0], det B): (k, 0, .., 0) B^-1 is k times this row over det."""
    from fractions import Fraction

    n = len(basis)
    a = [[Fraction(x) for x in row] + [Fraction(int(i == j)) for j in range(n)]
         for i, row in enumerate(basis)]
    det = Fraction(1)
    for col in range(n):
        piv = next(r for r in range(col, n) if a[r][col] != 0)
        if piv != col:
            a[col], a[piv] = a[piv], a[col]
            det = -det
        det *= a[col][col]
        p = a[col][col]
        a[col] = [x / p for x in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0:
                f = a[r][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
    d = int(det)
    return [int(a[0][n + j] * d) for j in range(n)], d


_GLV_ROW = _first_row_of_inverse(_GLV_BASIS)
_GLS_ROW = _first_row_of_inverse(_GLS_BASIS)

# Babai rounding without a division, for the MSM kernels (kernels.cpu.msm.glv_split): with the
# rows (a1, b1), (a2, b2) of _GLV_BASIS (det = r), c1 = floor(k GLV_MUL[0] / 2^256) and
# c2 = floor(k GLV_MUL[1] / 2^256) underestimate k b2 / r and -k b1 / r by less than 2, so
# k0 = k - c1 a1 - c2 a2 and k1 = -c1 b1 - c2 b2 stay below 2 (|a1| + |a2|) < 2^128.
GLV_MUL = ((_GLV_BASIS[1][1] << 256) // R, ((-_GLV_BASIS[0][1]) << 256) // R)
GLV_A = (_GLV_BASIS[0][0], _GLV_BASIS[1][0])  # a1, a2 > 0
GLV_B = (-_GLV_BASIS[0][1], _GLV_BASIS[1][1])  # -b1, b2 > 0


def _babai(k: int, basis, row) -> list[int]:
    coef, det = row
    if det < 0:
        coef, det = [-c for c in coef], -det
    k %= R
    c = [(2 * k * cj + det) // (2 * det) for cj in coef]  # round(k cj / det)
    return [(k if i == 0 else 0) - sum(cj * v[i] for cj, v in zip(c, basis, strict=True))
            for i in range(len(basis))]


def decompose(k: int) -> tuple[int, int]:
    """(k0, k1): k0 + k1 LAMBDA = k mod r, |k_d| < 2^127."""
    k0, k1 = _babai(k, _GLV_BASIS, _GLV_ROW)
    return k0, k1


def split_floor(k: int) -> tuple[int, int]:
    """(k0, k1) as the MSM kernel computes them (GLV_MUL): k0 + k1 LAMBDA = k mod r,
    |k_d| < 2^128; the clear version of kernels.cpu.msm.glv_split, for tests."""
    k %= R
    c1, c2 = (k * GLV_MUL[0]) >> 256, (k * GLV_MUL[1]) >> 256
    return k - c1 * GLV_A[0] - c2 * GLV_A[1], c1 * GLV_B[0] - c2 * GLV_B[1]


def decompose4(k: int) -> list[int]:
    """[k0 .. k3]: sum k_d MU^d = k mod r, |k_d| < 2^66."""
    return _babai(k, _GLS_BASIS, _GLS_ROW)


def decomposition_table(scalars, dims: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Rows (|k_0| lo, |k_0| hi, .., |k_(D-1)| hi) uint64 and (k_d < 0) uint8, D = dims (2:
    LAMBDA, 4: MU), the layout of kernels.cpu.group_fft."""
    split = decompose if dims == 2 else decompose4
    scalars = list(scalars)
    k = np.empty((len(scalars), 2 * dims), dtype=np.uint64)
    neg = np.empty((len(scalars), dims), dtype=np.uint8)
    for i, s in enumerate(scalars):
        parts = split(s)
        for d, v in enumerate(parts):
            a = abs(v)
            k[i, 2 * d], k[i, 2 * d + 1] = a & _M64, a >> 64
            neg[i, d] = v < 0
    return k, neg
