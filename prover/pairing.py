"""Pairing-product checks on BN254: prod_i e(P_i, Q_i) == 1, with the Numba optimal ate pairing.

This is the check a Groth16 verifier (and EIP-197's precompile) makes; one final exponentiation
is shared by all pairs. Points are validated by the caller (`G1.from_ints`, `G2.from_ints`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from prover.constants import BN_X, Q, R
from prover.curves import G1, G2
from prover.fields import Fq2
from prover.kernels.cpu import pairing as kp

# Loop parameter of the optimal ate pairing on BN curves: s = 6x + 2.
ATE_LOOP = 6 * BN_X + 2


def _words(e: int) -> tuple[np.ndarray, int]:
    n = max(1, (e.bit_length() + 63) // 64)
    return np.array([(e >> (64 * i)) & ((1 << 64) - 1) for i in range(n)], dtype=np.uint64), (
        e.bit_length()
    )


def _fq2_pow(a: tuple[int, int], e: int) -> tuple[int, int]:
    """Python-int Fq2 power (u^2 = -1), for the Frobenius constants only."""
    r = (1, 0)
    b = a
    while e:
        if e & 1:
            r = ((r[0] * b[0] - r[1] * b[1]) % Q, (r[0] * b[1] + r[1] * b[0]) % Q)
        b = ((b[0] * b[0] - b[1] * b[1]) % Q, (2 * b[0] * b[1]) % Q)
        e >>= 1
    return r


_XI = (9, 1)
# pi(x, y) = (x^q xi^((q-1)/3), y^q xi^((q-1)/2)); pi^2 uses xi^((q^2-1)/3), xi^((q^2-1)/2).
_FROB_INTS = (
    _fq2_pow(_XI, (Q - 1) // 3),
    _fq2_pow(_XI, (Q - 1) // 2),
    _fq2_pow(_XI, (Q * Q - 1) // 3),
    _fq2_pow(_XI, (Q * Q - 1) // 2),
)
_S_WORDS, _S_BITS = _words(ATE_LOOP)
_E2_WORDS, _E2_BITS = _words(Q * Q)
_E3_WORDS, _E3_BITS = _words((Q**4 - Q**2 + 1) // R)
_frob_cache: tuple | None = None


def _frob():
    global _frob_cache
    if _frob_cache is None:
        arr = Fq2.from_ints(list(_FROB_INTS))
        _frob_cache = tuple(G2._as_tuple(arr[i]) for i in range(4))
    return _frob_cache


def pairing_product_is_one(pairs: Iterable[tuple]) -> bool:
    """prod e(P_i, Q_i) == 1 for Python-int points (G1 (x, y), G2 ((x0, x1), (y0, y1)), None for
    infinity: such pairs contribute 1). Points must already be validated."""
    pairs = [(p, q) for p, q in pairs if p is not None and q is not None]
    if not pairs:
        return True
    P = G1.from_ints([p for p, _ in pairs], check=False)
    Qs = G2.from_ints([q for _, q in pairs], check=False)
    return bool(
        kp.product_is_one(
            np.ascontiguousarray(P[:, 0]),
            np.ascontiguousarray(P[:, 1]),
            np.ascontiguousarray(Qs[:, 0]),
            np.ascontiguousarray(Qs[:, 1]),
            _S_WORDS,
            _S_BITS,
            _frob(),
            _E2_WORDS,
            _E2_BITS,
            _E3_WORDS,
            _E3_BITS,
        )
    )
