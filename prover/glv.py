"""The GLV endomorphism of BN254 and scalar decomposition (Gallant-Lambert-Vanstone 2001).

phi(x, y) = (beta x, y) with beta^3 = 1 in Fq acts on G1 and on G2 as multiplication by a cube
root of unity of Fr. With LAMBDA below, phi(P) = LAMBDA P for beta = BETA_G1 on G1 and
beta = BETA_G2 on G2 (tests/prover/test_powersoftau_kernels.py checks both), so any scalar
k = k1 + k2 LAMBDA (mod r) with |k1|, |k2| < 2^127 from the short lattice basis below.
"""

from __future__ import annotations

import numpy as np

from prover.constants import Q, R

LAMBDA = 0xB3C4D79D41A917585BFC41088D8DAAA78B17EA66B99C90DD  # LAMBDA^2 + LAMBDA + 1 = 0 mod r
_BETA = 0x30644E72E131A0295E6DD9E7E0ACCCB0C28F069FBB966E3DE4BD44E5607CFD48  # beta^3 = 1 mod q
BETA_G2 = _BETA
BETA_G1 = _BETA * _BETA % Q  # on G1, (x, y) -> (_BETA x, y) is LAMBDA^2: square it for LAMBDA

# A reduced basis of {(a, b): a + b LAMBDA = 0 mod r} (extended Euclid on (r, LAMBDA)).
_A1, _B1 = 0x89D3256894D213E3, -0x6F4D8248EEB859FC8211BBEB7D4F1128
_A2, _B2 = 0x6F4D8248EEB859FD0BE4E1541221250B, 0x89D3256894D213E3
_DET = _A1 * _B2 - _A2 * _B1  # = r
_M64 = (1 << 64) - 1


def decompose(k: int) -> tuple[int, int]:
    """(k1, k2) with k1 + k2 LAMBDA = k mod r and |k1|, |k2| < 2^127 (Babai rounding)."""
    k %= R
    c1 = (2 * _B2 * k + _DET) // (2 * _DET)
    c2 = (-2 * _B1 * k + _DET) // (2 * _DET)
    return k - c1 * _A1 - c2 * _A2, -c1 * _B1 - c2 * _B2


def decomposition_table(scalars) -> tuple[np.ndarray, np.ndarray]:
    """Rows (|k1| lo, |k1| hi, |k2| lo, |k2| hi) uint64 and (k1 < 0, k2 < 0) uint8, the layout
    of kernels.cpu.group_fft."""
    scalars = list(scalars)
    k = np.empty((len(scalars), 4), dtype=np.uint64)
    neg = np.empty((len(scalars), 2), dtype=np.uint8)
    for i, s in enumerate(scalars):
        k1, k2 = decompose(s)
        a1, a2 = abs(k1), abs(k2)
        k[i] = (a1 & _M64, a1 >> 64, a2 & _M64, a2 >> 64)
        neg[i] = (k1 < 0, k2 < 0)
    return k, neg

